"""Resource approvals on the web: the same service as the queue buttons, the queue post in Discord
updated by the bot afterwards, member text escaped and never a live link before approval."""

from __future__ import annotations

from cogs.library import refresh_queue_post
from tests.web.conftest import Dash


async def _suggest(dash: Dash, title: str, content: str) -> int:
    world = dash.world
    shown = await world.alice.slash(world.general, "resource add")
    await world.alice.submit_modal(shown, {"title": title, "content": content, "topic": "sleep", "language": "en"})
    (item,) = [i for i in await world.services.library.pending(world.guild.id) if i.title == title]
    return item.id


async def test_approve_on_the_web_updates_the_queue_post_in_discord(dash: Dash) -> None:
    world = dash.world
    g = world.guild.id
    rid = await _suggest(dash, "Sleep <hygiene>", "https://example.org/sleep?a=1&b=<2>")
    queue = world.mods.last_message
    assert queue.components  # Approve / Reject buttons in Discord
    await dash.login(world.mod)
    status, html = await dash.page(f"/g/{g}/library")
    assert status == 200 and f'data-testid="pending-{rid}"' in html
    assert "Sleep &lt;hygiene&gt;" in html and "<hygiene>" not in html
    pending = html.split(f'data-testid="pending-{rid}"')[1].split("</li>")[0]
    assert "<a " not in pending  # not clickable before approval
    r = await dash.post(f"/g/{g}/library/{rid}/approve")
    assert r.status == 303 and dash.wakes
    item = await world.services.library.get(g, rid)
    assert (item.status, item.decided_by) == ("approved", world.mod.id)
    # The bot does the effect (woken in this process): the queue post shows the decision, no buttons.
    await dash.settle()
    assert await world.services.dashboard.pending_effects(g) == 0
    # A second click (an old tab) is refused kindly and queues nothing more.
    r = await dash.post(f"/g/{g}/library/{rid}/reject")
    assert r.status == 303 and await world.services.dashboard.pending_effects(g) == 0
    assert (await world.services.library.get(g, rid)).status == "approved"
    queue = world.mods.last_message
    assert "Approved by" in queue.content and not queue.components
    found = await world.alice.slash(world.general, "resource search", query="sleep")
    assert "Sleep <hygiene>" in found.response.embeds[0].fields[0].name
    edits = world.requests("PATCH", f"/channels/{world.mods.id}/messages/{queue.id}")
    assert len(edits) == 1 and edits[0].json["allowed_mentions"]["parse"] == []
    assert await refresh_queue_post(world.bot, g, rid, world.mod.id)  # done again: harmless, same text
    status, html = await dash.page(f"/g/{g}/library")
    assert f'data-testid="approved-{rid}"' in html and 'rel="noopener noreferrer nofollow"' in html


async def test_reject_and_remove_and_another_guilds_resource_is_not_found(dash: Dash) -> None:
    world = dash.world
    g = world.guild.id
    rid = await _suggest(dash, "Spam", "buy things")
    await dash.login(world.mod)
    r = await dash.post(f"/g/{g}/library/{rid}/reject")
    assert r.status == 303 and (await world.services.library.get(g, rid)).status == "rejected"
    keep = await _suggest(dash, "Breathing", "Box breathing: 4-4-4-4")
    await world.services.library.approve(g, keep, world.mod.id, world.now())
    foreign = await world.services.library.suggest_resource(
        dash.other.id, dash.foreign_mod.id, title="Theirs", content="x", topic="t", language="en", now=world.now()
    )
    for path in (f"/g/{g}/library/{foreign.id}/approve", f"/g/{g}/library/{foreign.id}/remove"):
        r = await dash.post(path)
        assert r.status == 303
        _, html = await dash.page(r.headers["Location"])
        assert 'class="flash error"' in html
    assert (await world.services.library.get(dash.other.id, foreign.id)).status == "suggested"
    r = await dash.post(f"/g/{g}/library/{keep}/remove")
    assert r.status == 303 and await world.services.library.list(g) == []
