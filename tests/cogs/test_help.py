"""Help requests through Discord-shaped interactions, with SimCord's virtual clock.

The virtual clock starts at 2026-01-01 00:00 UTC: 01:00 in Berlin, 16:00 (the day before) in
Los Angeles.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import discord

from cogs._ids import thank_custom_id
from tests.harness.world import World


async def _ready(world: World, *topics: str) -> None:
    await world.configure(help_channel_id=world.help.id, mod_channel_id=world.mods.id, mod_role_id=world.mod_role.id)
    for name in topics or ("Anxiety", "Grief"):
        r = await world.owner.slash(world.general, "setup topics add", name=name)
        assert r.ephemeral and name in r.response.content


async def _ask(world: World, member: Any = None, topic: str | None = "Anxiety", title: str = "Can't sleep") -> Any:
    member = member or world.alice
    options = {"topic": topic} if topic else {}
    shown = await member.slash(world.general, "ask new", **options)
    assert shown.modal is not None, shown
    return await member.submit_modal(
        shown, {"title": title, "body": "Exam tomorrow and my heart races.", "wants": ["listening"], "note": ""}
    )


def _text(result: Any) -> str:
    messages = ([result.response] if result.response else []) + result.followups
    return "\n".join(m.content for m in messages if m is not None)


def _threads(channel: Any) -> list[Any]:
    return channel.threads


def _pings(world: World) -> list[Any]:
    """Bot messages that ping someone."""
    out = []
    for r in world.requests("POST", "/messages"):
        mentions = (r.json or {}).get("allowed_mentions") or {}
        if mentions.get("users") or mentions.get("roles"):
            out.append(r)
    return out


def _pinged_users(request: Any) -> set[int]:
    return {int(u) for u in request.json["allowed_mentions"].get("users", [])}


async def _tick(world: World, minutes: float, job: str = "help.follow_up") -> None:
    world.env.backend.clock.advance(minutes * 60)
    await world.env.settle()
    await world.tick(job)


# ------------------------------------------------------------------ tests


async def test_admin_manages_topics_and_members_cannot(world: World) -> None:
    await _ready(world, "Anxiety", "Grief")
    r = await world.owner.slash(world.general, "setup topics list")
    assert "Anxiety" in r.response.embeds[0].description and "Grief" in r.response.embeds[0].description
    r = await world.owner.slash(world.general, "setup topics add", name="anxiety")
    assert r.ephemeral and "already exists" in r.response.content
    choices = await world.owner.autocomplete(world.general, "setup topics remove", "name", "gr")
    assert [c["value"] for c in choices] == ["Grief"]
    r = await world.owner.slash(world.general, "setup topics remove", name="Grief")
    assert "Removed" in r.response.content
    assert [t.name for t in await world.services.help.topics(world.guild.id)] == ["Anxiety"]
    world.allow_command_for("setup", world.alice)
    r = await world.alice.slash(world.general, "setup topics add", name="Chaos")
    assert r.ephemeral and "permissions" in r.response.content.lower()
    assert len(await world.services.help.topics(world.guild.id)) == 1


async def test_ask_opens_a_thread_and_pings_only_matching_helpers(world: World) -> None:
    await _ready(world)
    r = await world.bob.slash(world.general, "helper join", topics="Anxiety")
    assert r.ephemeral and "Anxiety" in r.response.content
    await world.carol.slash(world.general, "helper join", topics="Grief")
    choices = await world.alice.autocomplete(world.general, "ask new", "topic", "anx")
    assert [c["value"] for c in choices] == ["Anxiety"]

    result = await _ask(world)
    threads = _threads(world.help)
    assert len(threads) == 1
    thread = threads[0]
    assert f"<#{thread.id}>" in _text(result) and result.ephemeral
    history = thread.history()
    starter = history[0]
    assert starter.embeds[0].title == "Can't sleep"
    assert "Exam tomorrow" in starter.embeds[0].description
    labels = [c.label for row in starter.components for c in row.children]
    assert labels == ["I can help", "Resolved", "Still need help"]
    pings = _pings(world)
    helper_pings = [p for p in pings if world.bob.mention in p.json.get("content", "")]
    assert len(helper_pings) == 1 and _pinged_users(helper_pings[0]) == {world.bob.id}
    assert not any(world.carol.mention in p.json.get("content", "") for p in pings)
    assert all("roles" not in (p.json["allowed_mentions"]) or not p.json["allowed_mentions"]["roles"] for p in pings)
    request = (await world.services.help.open_requests(world.guild.id, world.alice.id))[0]
    assert request.thread_id == thread.id and request.body == ""  # the text lives in Discord only

    mine = await world.alice.slash(world.general, "ask mine")
    assert mine.ephemeral and f"<#{thread.id}>" in mine.response.embeds[0].description


async def test_unknown_topic_is_refused_before_the_form(world: World) -> None:
    await _ready(world)
    r = await world.alice.slash(world.general, "ask new", topic="Astrology")
    assert r.ephemeral and r.modal is None and "isn't one of this server's topics" in r.response.content


async def test_quiet_hours_are_respected_in_each_helpers_time_zone(world: World) -> None:
    await _ready(world)
    # 00:00 UTC: 01:00 in Berlin (quiet), 16:00 in Los Angeles (awake).
    for member, tz in ((world.bob, "Europe/Berlin"), (world.carol, "America/Los_Angeles")):
        await member.slash(world.general, "helper join", topics="Anxiety")
        r = await member.slash(world.general, "helper limits", quiet_hours="22:00-07:00", timezone=tz)
        assert "22:00-07:00" in r.response.content and tz in r.response.content
    await _ask(world)
    pinged = set().union(*(_pinged_users(p) for p in _pings(world) if "someone is asking" in p.json["content"]))
    assert pinged == {world.carol.id}


async def test_claiming_leads_joins_and_respects_max_open(world: World) -> None:
    await _ready(world)
    await world.bob.slash(world.general, "helper join")
    await world.bob.slash(world.general, "helper limits", max_open=1)
    await _ask(world, title="First")
    await _ask(world, member=world.mod, title="Second")
    first, second = sorted(_threads(world.help), key=lambda t: t.id)
    starter_1, starter_2 = first.history()[0], second.history()[0]

    r = await world.bob.click(starter_1, label="I can help")
    assert r.ephemeral and "lead" in _text(r)
    r = await world.carol.click(starter_1, label="I can help")
    assert r.ephemeral and "joined" in _text(r) and "lead" not in _text(r)
    r = await world.bob.click(starter_2, label="I can help")
    assert r.ephemeral and "your limit" in _text(r)
    r = await world.alice.click(starter_1, label="I can help")
    assert r.ephemeral and "your own request" in _text(r)
    request = await world.services.help.by_thread(first.id)
    assert request is not None and request.helper_ids == (world.bob.id, world.carol.id)
    assert (await world.services.help.by_thread(second.id)).helper_ids == ()  # type: ignore[union-attr]
    notes = [m.content for m in first.history()]
    assert any("leads this request" in n for n in notes)


async def test_unanswered_requests_escalate_after_15_and_60_minutes_once(world: World) -> None:
    await _ready(world)
    await world.owner.slash(world.general, "setup help-settings", pings_per_round=1)
    dave = world.member("dave")
    for member in (world.bob, world.carol, dave):
        await member.slash(world.general, "helper join", topics="Anxiety")
    await _ask(world)
    thread = _threads(world.help)[0]
    rounds = lambda: [p for p in _pings(world) if "someone is asking" in p.json["content"]]  # noqa: E731
    assert [_pinged_users(p) for p in rounds()] == [{world.bob.id}]

    await _tick(world, 14)
    assert len(rounds()) == 1
    await _tick(world, 1)
    assert [_pinged_users(p) for p in rounds()] == [{world.bob.id}, {world.carol.id}]
    await _tick(world, 44)
    assert not world.mods.history()
    await _tick(world, 1)
    mods = world.mods.history()
    assert len(mods) == 1 and world.mod_role.mention in mods[0].content and f"<#{thread.id}>" in mods[0].content
    mod_ping = next(p for p in _pings(world) if p.path.endswith(f"/channels/{world.mods.id}/messages"))
    assert [int(r) for r in mod_ping.json["allowed_mentions"]["roles"]] == [world.mod_role.id]
    assert not mod_ping.json["allowed_mentions"].get("users") and "everyone" not in mod_ping.json[
        "allowed_mentions"
    ].get("parse", [])
    wait = [m for m in thread.history() if "nobody has been able to answer yet" in m.content]
    assert len(wait) == 1 and world.alice.mention in wait[0].content
    for _ in range(3):
        await _tick(world, 5)
    assert len(world.mods.history()) == 1 and len(rounds()) == 2


async def test_an_answer_in_the_thread_is_recorded_and_stops_escalation(world: World) -> None:
    await _ready(world)
    await _ask(world)
    thread = _threads(world.help)[0]
    await world.alice.send(thread, "still here")  # the asker's own message is not a response
    await world.advance(7 * 60)
    await world.bob.send(thread, "I'm here for you")
    request = await world.services.help.by_thread(thread.id)
    assert request is not None and request.first_response_at == request.created_at + timedelta(minutes=7)
    await _tick(world, 90)
    assert not world.mods.history()


async def test_idle_request_is_asked_then_archived(world: World) -> None:
    await _ready(world)
    await _ask(world)
    thread = _threads(world.help)[0]
    await world.bob.send(thread, "hi")
    await _tick(world, 47 * 60)
    assert not any("quiet here" in m.content for m in thread.history())
    await _tick(world, 60)
    idle = [m for m in thread.history() if "quiet here" in m.content]
    assert len(idle) == 1 and world.alice.mention in idle[0].content
    await _tick(world, 23 * 60)
    assert not world.env.backend.get_channel(thread.id).thread_metadata.archived
    await _tick(world, 60)
    assert world.env.backend.get_channel(thread.id).thread_metadata.archived
    assert (await world.services.help.by_thread(thread.id)).state == "archived"  # type: ignore[union-attr]
    await _tick(world, 60)
    assert len([m for m in thread.history() if "archiving" in m.content]) == 1


async def test_still_need_help_restarts_the_idle_timer_and_pings_more(world: World) -> None:
    await _ready(world)
    await world.owner.slash(world.general, "setup help-settings", pings_per_round=1)
    await world.bob.slash(world.general, "helper join")
    await world.carol.slash(world.general, "helper join")
    await _ask(world)
    thread = _threads(world.help)[0]
    await world.bob.send(thread, "hi")
    await _tick(world, 48 * 60)
    idle = next(m for m in thread.history() if "quiet here" in m.content)
    r = await world.alice.click(idle, label="Still need help")
    assert r.ephemeral and "asked more helpers" in _text(r)
    assert any(world.carol.mention in m.content for m in thread.history())
    await _tick(world, 24 * 60)
    assert (await world.services.help.by_thread(thread.id)).state == "open"  # type: ignore[union-attr]


async def test_resolving_offers_one_tap_thanks_for_each_helper(world: World) -> None:
    await _ready(world)
    await _ask(world)
    thread = _threads(world.help)[0]
    starter = thread.history()[0]
    await world.bob.click(starter, label="I can help")
    await world.carol.send(thread, "sending a hug")
    r = await world.bob.click(starter, label="Resolved")
    assert r.ephemeral and "Only the person who asked" in _text(r)
    r = await world.alice.click(starter, label="Resolved")
    assert r.ephemeral
    message = r.followups[-1] if r.followups else r.response
    custom_ids = [c["custom_id"] for row in message.components for c in row["components"]]
    request = await world.services.help.by_thread(thread.id)
    assert request is not None and request.state == "resolved"
    assert custom_ids == [
        thank_custom_id(world.bob.id, "help", request.id),
        thank_custom_id(world.carol.id, "help", request.id),
    ]
    labels = [c["label"] for row in message.components for c in row["components"]]
    assert labels == ["Thank bob", "Thank carol"]
    assert any("marked this as resolved" in m.content for m in thread.history())
    assert world.env.backend.get_channel(thread.id).thread_metadata.archived
    assert (await world.alice.slash(world.general, "ask mine")).response.content == "You have no open requests."


async def test_ask_resolve_command_picks_the_only_open_request(world: World) -> None:
    await _ready(world)
    await _ask(world)
    r = await world.alice.slash(world.general, "ask resolve")
    assert r.ephemeral and "Marked as resolved" in _text(r)
    r = await world.alice.slash(world.general, "ask resolve")
    assert "pick which request" in _text(r)


async def test_restart_in_the_middle_of_a_pending_escalation(world: World) -> None:
    await _ready(world)
    await world.owner.slash(world.general, "setup help-settings", pings_per_round=1)
    await world.bob.slash(world.general, "helper join")
    await world.carol.slash(world.general, "helper join")
    await _ask(world)
    thread = _threads(world.help)[0]
    await _tick(world, 10)
    await world.restart(clean=False)
    await _tick(world, 6)
    await _tick(world, 1)
    carol_pings = [m for m in thread.history() if world.carol.mention in m.content]
    assert len(carol_pings) == 1
    r = await world.carol.click(thread.history()[0], label="I can help")  # buttons survive the restart
    assert "lead" in _text(r)


async def test_a_helper_leaving_is_not_pinged_and_their_claim_is_released(world: World) -> None:
    await _ready(world)
    await world.owner.slash(world.general, "setup help-settings", pings_per_round=1)
    await world.bob.slash(world.general, "helper join")
    await world.carol.slash(world.general, "helper join")
    await _ask(world)
    thread = _threads(world.help)[0]
    await world.bob.click(thread.history()[0], label="I can help")
    r = await world.bob.slash(world.general, "helper leave")
    assert "no longer a helper" in r.response.content
    await _tick(world, 15)
    round_two = [m for m in thread.history() if "someone is asking" in m.content][-1]
    assert world.carol.mention in round_two.content and world.bob.mention not in round_two.content
    r = await world.bob.slash(world.general, "helper status", status="away")
    assert "not a helper" in r.response.content


async def test_deleted_help_channel_gives_a_clear_error_and_warns_the_admin(world: World) -> None:
    await _ready(world)
    await world.owner_deletes(world.help)
    r = await world.alice.slash(world.general, "ask new", topic="Anxiety")
    assert r.ephemeral and r.modal is None and "help channel has been deleted" in r.response.content
    show = await world.owner.slash(world.general, "setup show")
    problems = next(f.value for f in show.response.embeds[0].fields if f.name == "Problems Kinship ran into")
    assert f"<#{world.help.id}>" in problems


async def test_channel_deleted_after_the_form_keeps_the_request_and_posts_it_later(world: World) -> None:
    await _ready(world)
    shown = await world.alice.slash(world.general, "ask new", topic="Anxiety")
    await world.owner_deletes(world.help)
    r = await world.alice.submit_modal(shown, {"title": "Still here", "body": "…", "wants": ["advice"]})
    assert r.ephemeral and "Your request is saved" in _text(r) and "as soon as it's fixed" in _text(r)
    new_help = world.guild.create_text_channel("help-new")
    await world.owner.slash(world.general, "setup help-channel", channel=new_help)
    await _tick(world, 16, job="help.deliver")
    assert len(_threads(new_help)) == 1
    await _tick(world, 16, job="help.deliver")
    assert len(_threads(new_help)) == 1
    assert not await world.services.health.list(world.guild.id)


async def test_discord_5xx_is_retried_by_the_deliver_job_exactly_once(world: World) -> None:
    await _ready(world)
    world.env.inject_error("POST", f"/channels/{world.help.id}/threads", status=500)
    r = await _ask(world)
    assert "keep trying" in _text(r) and not _threads(world.help)
    await _tick(world, 1, job="help.deliver")
    await _tick(world, 1, job="help.deliver")
    assert len(_threads(world.help)) == 1


async def test_quiet_members_flow_opens_a_thread_from_the_stored_row_alone(world: World) -> None:
    await _ready(world)
    await world.bob.slash(world.general, "helper join")
    request = await world.services.help.open_request(
        world.guild.id, world.alice.id, topic=None, title="Alice would like to talk", body="", wants="listening",
        content_note=None, now=world.now(),
    )  # fmt: skip
    await world.tick("help.deliver")
    thread = _threads(world.help)[0]
    assert (await world.services.help.get(request.id)).thread_id == thread.id
    assert any(world.bob.mention in m.content for m in thread.history())


async def test_forum_help_channel_gets_a_post_with_the_topic_tag(world: World) -> None:
    forum = world.guild.create_forum_channel("help-forum")
    await _ready(world)
    await world.configure(help_channel_id=forum.id)
    await _ask(world)
    await _ask(world, member=world.bob, title="Again")
    posts = _threads(forum)
    assert len(posts) == 2
    tags = world.env.backend.get_channel(forum.id).available_tags
    assert [t["name"] for t in tags] == ["Anxiety"]  # created once, reused
    assert all(world.env.backend.get_channel(p.id).applied_tags == [int(tags[0]["id"])] for p in posts)
    assert posts[0].history()[0].embeds[0].title == "Can't sleep"


async def test_private_thread_mode_adds_the_asker_and_pinged_helpers(world: World) -> None:
    await _ready(world)
    r = await world.owner.slash(world.general, "setup help-settings", thread_mode="private")
    assert "private" in r.response.content
    await world.bob.slash(world.general, "helper join")
    await _ask(world)
    thread = world.env.backend.get_channel(_threads(world.help)[0].id)
    assert thread.type == discord.ChannelType.private_thread.value
    assert {world.alice.id, world.bob.id} <= set(thread.thread_members)
    assert world.carol.id not in thread.thread_members


async def test_helper_status_away_until_and_back(world: World) -> None:
    await _ready(world)
    await world.bob.slash(world.general, "helper join")
    r = await world.bob.slash(world.general, "helper status", status="away", until="8h")
    assert "away until" in r.response.content
    await _ask(world)
    assert not _pings(world)[1:]  # only the asker's intro pings
    r = await world.bob.slash(world.general, "helper status", status="available")
    assert "available again" in r.response.content
    r = await world.bob.slash(world.general, "helper status", status="away", until="yesterday-ish")
    assert "couldn't read" in r.response.content


async def test_the_form_speaks_german(world: World) -> None:
    await _ready(world)
    world.set_locale(world.alice, "de")
    shown = await world.alice.slash(world.general, "ask new")
    assert shown.modal["title"] == "Um Hilfe bitten"


async def test_ask_requires_the_code_of_conduct_first(world: World) -> None:
    await _ready(world)
    await world.services.conduct.set_text(world.guild.id, "1. Be kind", "", world.now())
    await world.services.conduct.set_required(world.guild.id, True, world.now())
    r = await world.alice.slash(world.general, "ask new")
    assert r.ephemeral and r.modal is None and not _threads(world.help)
