"""The reports queue, a case, its actions, reveal and member history on the web — the same service
calls and audit entries as the buttons, and the moderators' message in Discord follows."""

from __future__ import annotations

import discord

from bot.services.dashboard import EFFECT_KINDS
from tests.cogs.test_reports import _case_message, _configure, _field, _report_member, _report_message
from tests.web.conftest import Dash


async def _case_no_1(dash: Dash, reason: str = "He keeps insulting me") -> None:
    await _configure(dash.world)
    await _report_member(dash.world, dash.world.alice, dash.world.bob, reason=reason)


async def test_queue_lists_open_cases_and_never_the_reporter(dash: Dash) -> None:
    world = dash.world
    await _case_no_1(dash)
    await _report_member(world, world.carol, world.bob, reason="Second")
    await dash.login(world.mod)
    status, html = await dash.page(f"/g/{world.guild.id}/reports")
    assert status == 200
    assert 'data-testid="case-1"' in html and 'data-testid="case-2"' in html
    assert "Open queue (2)" in html
    for reporter in (world.alice, world.carol):  # reporters appear nowhere, not even as an id
        assert str(reporter.id) not in html
        case_html = (await dash.page(f"/g/{world.guild.id}/reports/1"))[1]
        assert str(reporter.id) not in case_html and "anonymous" in case_html
    _status, closed = await dash.page(f"/g/{world.guild.id}/reports?state=closed")
    assert 'data-testid="queue-empty"' in closed


async def test_claim_on_the_web_is_the_buttons_claim_and_shows_in_the_moderators_message(dash: Dash) -> None:
    world = dash.world
    await _case_no_1(dash)
    await dash.login(world.mod)
    r = await dash.post(f"/g/{world.guild.id}/reports/1/action", {"action": "claim"})
    assert r.status == 303 and r.headers["Location"] == f"/g/{world.guild.id}/reports/1"
    await dash.settle()
    case = await world.services.reports.case(world.guild.id, 1)
    assert case.report.state == "claimed" and case.report.claimed_by == world.mod.id
    assert [(e.action, e.actor_id) for e in case.history] == [("filed", None), ("claim", world.mod.id)]
    embed = _case_message(world.mods).embeds[0]
    assert embed.title == "Case #1 · claimed" and f"<@{world.mod.id}>" in _field(embed, "Claimed by")
    assert await world.services.dashboard.pending_effects(world.guild.id) == 0
    _status, html = await dash.page(r.headers["Location"])
    assert "You claimed case #1" in html and 'data-testid="case-state">claimed' in html
    # The button agrees: claiming again is refused just as on the web.
    again = await world.mod.click(_case_message(world.mods), label="Claim")
    assert "already claimed" in again.response.content
    r = await dash.post(f"/g/{world.guild.id}/reports/1/action", {"action": "claim"})
    _status, html = await dash.page(r.headers["Location"])
    assert 'class="flash error"' in html and "already" in html


async def test_note_and_resolve_notify_the_reporter_who_asked_once(dash: Dash) -> None:
    world = dash.world
    await _configure(world)
    receipt = await _report_member(world, world.alice, world.bob)
    await world.alice.click(receipt.response, label="Tell me when it's closed")
    await dash.login(world.mod)
    g = world.guild.id
    r = await dash.post(f"/g/{g}/reports/1/note", {"note": "Spoke with <b>bob</b>."})
    assert r.status == 303
    await dash.settle()
    assert "Spoke with <b>bob</b>." in _field(_case_message(world.mods).embeds[0], "History")
    _status, html = await dash.page(f"/g/{g}/reports/1")
    assert "Spoke with &lt;b&gt;bob&lt;/b&gt;." in html and "<b>bob</b>" not in html
    await dash.post(f"/g/{g}/reports/1/action", {"action": "resolve"})
    await dash.settle()
    assert _case_message(world.mods).embeds[0].title == "Case #1 · resolved"
    dms = [m.content for m in world.alice.user.dm_channel.history() if "case #1" in m.content and "closed" in m.content]
    assert len(dms) == 1
    history = [e.action for e in (await world.services.reports.case(g, 1)).history]
    assert history == ["filed", "note", "resolve"]
    # A closed case takes no more actions, and nothing is queued for Discord.
    r = await dash.post(f"/g/{g}/reports/1/action", {"action": "dismiss"})
    assert r.status == 303
    assert (await world.services.reports.case(g, 1)).report.state == "resolved"
    assert await world.services.dashboard.pending_effects(g) == 0


async def test_mediation_from_the_web_opens_the_thread_and_invites_by_dm(dash: Dash) -> None:
    world = dash.world
    await _case_no_1(dash)
    await dash.login(world.mod)
    g = world.guild.id
    r = await dash.post(f"/g/{g}/reports/1/action", {"action": "mediate"})
    assert r.status == 303
    await dash.settle()
    thread = next(t for t in world.help.threads if t.name == "Mediation #1")
    stored = world.env.backend.get_channel(thread.id)
    assert stored.type == discord.ChannelType.private_thread.value
    assert set(stored.thread_members) == {world.bot.user.id, world.mod.id}  # nobody pulled in
    assert "Join" in [c.label for row in world.bob.user.dm_channel.last_message.components for c in row.children]
    assert "other person will see you" in world.alice.user.dm_channel.last_message.content
    assert _case_message(world.mods).embeds[0].title == "Case #1 · in mediation"
    _status, html = await dash.page(f"/g/{g}/reports/1")
    assert 'data-testid="do-agreement"' in html and 'data-testid="do-claim"' in html
    await dash.post(f"/g/{g}/reports/1/action", {"action": "agreement"})
    await dash.settle()
    case = await world.services.reports.case(g, 1)
    assert case.report.state == "claimed" and case.report.mediation_outcome == "agreement"
    assert stored.thread_metadata.archived and stored.thread_metadata.locked
    assert _field(_case_message(world.mods).embeds[0], "Mediation") == "Agreement"


async def test_mediation_without_a_help_channel_is_refused_at_once(dash: Dash) -> None:
    world = dash.world
    await _case_no_1(dash)
    await world.configure(help_channel_id=None)
    await dash.login(world.mod)
    r = await dash.post(f"/g/{world.guild.id}/reports/1/action", {"action": "mediate"})
    _status, html = await dash.page(r.headers["Location"])
    assert 'class="flash error"' in html
    assert await world.services.dashboard.pending_effects(world.guild.id) == 0
    assert (await world.services.reports.case(world.guild.id, 1)).report.state == "open"


async def test_reveal_needs_two_moderators_and_shows_the_reporter_only_to_the_second(dash: Dash) -> None:
    world = dash.world
    await _case_no_1(dash)
    g = world.guild.id
    await dash.login(world.mod)
    r = await dash.post(f"/g/{g}/reports/1/reveal")
    assert r.status == 303
    _status, html = await dash.page(r.headers["Location"])
    assert "A second moderator must approve" in html and str(world.alice.id) not in html
    # The same moderator again does not count twice.
    r = await dash.post(f"/g/{g}/reports/1/reveal")
    assert r.status == 303
    dash.logout_cookies()
    await dash.login(world.owner)
    r = await dash.post(f"/g/{g}/reports/1/reveal")
    assert r.status == 200 and "no-store" in r.headers["Cache-Control"]
    html = await r.text()
    assert 'data-testid="revealed"' in html and str(world.alice.id) in html
    assert str(world.alice.id) not in r.headers.get("Set-Cookie", "")
    history = [(e.action, e.actor_id) for e in (await world.services.reports.case(g, 1)).history]
    assert history[-3:] == [
        ("reveal_approved", world.mod.id),
        ("reveal_approved", world.owner.id),
        ("revealed", world.owner.id),
    ]
    # Reloading the case shows nobody.
    assert str(world.alice.id) not in (await dash.page(f"/g/{g}/reports/1"))[1]


async def test_a_reporter_who_deleted_their_data_cannot_be_revealed(dash: Dash) -> None:
    world = dash.world
    await _case_no_1(dash)
    await world.services.privacy.delete(world.guild.id, world.alice.id, world.now())
    for moderator in (world.mod, world.owner):
        dash.logout_cookies()
        await dash.login(moderator)
        r = await dash.post(f"/g/{world.guild.id}/reports/1/reveal")
    assert r.status == 200 and "asked Kinship to delete their data" in await r.text()


async def test_member_history_and_evidence_are_escaped(dash: Dash) -> None:
    world = dash.world
    await _configure(world)
    message = await world.bob.send(world.general, "<script>alert('x')</script> & more")
    await _report_message(world, world.alice, message, reason="<img src=x onerror=alert(1)>")
    await _report_member(world, world.carol, world.bob, reason="Second")
    await dash.login(world.mod)
    g = world.guild.id
    r = await dash.client.get(f"/g/{g}/members", params={"member": f"<@{world.bob.id}>"}, allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == f"/g/{g}/members/{world.bob.id}"
    status, html = await dash.page(r.headers["Location"])
    assert status == 200 and 'data-testid="case-1"' in html and 'data-testid="case-2"' in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    _status, case_html = await dash.page(f"/g/{g}/reports/1")
    assert (
        "<script>alert" not in case_html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more" in case_html
    )
    status, _html = await dash.page(f"/g/{g}/members/{world.carol.id}")
    assert status == 200 and 'data-testid="member-empty"' in _html
    assert (await dash.page(f"/g/{g}/reports/99"))[0] == 404
    assert (await dash.page(f"/g/{g}/members/not-an-id"))[0] == 404


async def test_effects_queued_by_a_separate_dashboard_process_are_done_by_the_bots_job(dash: Dash) -> None:
    """``python -m bot.web`` cannot wake the bot: the row waits for the job's tick, then it is done once."""
    world = dash.world
    await _case_no_1(dash)
    dash.dashboard.wake = None
    await dash.login(world.mod)
    await dash.post(f"/g/{world.guild.id}/reports/1/action", {"action": "claim"})
    await dash.settle()
    assert _case_message(world.mods).embeds[0].title == "Case #1 · open"  # not yet
    assert await world.services.dashboard.pending_effects(world.guild.id) == 1
    await world.tick("dashboard.effects")
    assert _case_message(world.mods).embeds[0].title == "Case #1 · claimed"
    assert await world.services.dashboard.pending_effects(world.guild.id) == 0
    assert "refresh_case" in EFFECT_KINDS


async def test_the_queue_pages_through_many_cases(dash: Dash) -> None:
    world = dash.world
    await _configure(world)
    for n in range(55):  # 55 reporters, one report each (the per-reporter limits stay untouched)
        await world.services.reports.file_report(
            world.guild.id, 10_000 + n, world.bob.id, reported_is_bot=False, reason=f"case {n + 1}", now=world.now()
        )
    await dash.login(world.mod)
    g = world.guild.id
    status, html = await dash.page(f"/g/{g}/reports")
    assert status == 200 and 'data-testid="case-50"' in html and 'data-testid="case-51"' not in html
    assert f'href="/g/{g}/reports?state=active&amp;page=1"' in html
    status, html = await dash.page(f"/g/{g}/reports?state=active&page=1")
    assert status == 200 and 'data-testid="case-51"' in html and 'data-testid="case-55"' in html
    assert 'data-testid="case-50"' not in html


async def test_a_moderators_message_discord_fails_to_edit_is_retried_until_it_shows(dash: Dash) -> None:
    world = dash.world
    await _case_no_1(dash)
    message = _case_message(world.mods)
    world.env.inject_error("PATCH", f"/channels/{world.mods.id}/messages/{message.id}", status=500, times=1)
    await dash.login(world.mod)
    await dash.post(f"/g/{world.guild.id}/reports/1/action", {"action": "claim"})
    await dash.settle()
    assert _case_message(world.mods).embeds[0].title == "Case #1 · open"  # Discord said 500
    assert await world.services.dashboard.pending_effects(world.guild.id) == 1
    await world.tick("dashboard.effects")  # not yet due: the retry waits its back-off
    assert await world.services.dashboard.pending_effects(world.guild.id) == 1
    await world.advance(60)
    await world.tick("dashboard.effects")
    assert _case_message(world.mods).embeds[0].title == "Case #1 · claimed"
    assert await world.services.dashboard.pending_effects(world.guild.id) == 0
    edits = world.requests("PATCH", f"/messages/{message.id}")
    assert len(edits) == 2  # the failed one and the retry, nothing more
