"""Quiet members through Discord-shaped interactions, with the virtual clock (issue #7).

The clock starts on Thursday 2026-01-01 00:00 UTC; the guild's time zone is UTC unless a test
changes it, so the default daily sweep runs from 18:00 and the digest on Mondays from 18:00.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import discord

from tests.harness.world import World

START = datetime(2026, 1, 1, tzinfo=UTC)


async def at(world: World, day: int, hour: int = 18) -> None:
    """Jump the virtual clock to ``day`` days after the start, at ``hour``:00 UTC."""
    target = (START.timestamp() + day * 86400 + hour * 3600) - world.now().timestamp()
    assert target >= 0, "tests only move forward"
    world.env.backend.clock.advance(target)
    await world.env.settle()


async def daily_run(world: World, deliveries: int = 6) -> None:
    """What the clock does around the sweep hour: flush activity, sweep, then deliver (one DM per run)."""
    await world.tick("activity.flush")
    await world.tick("nudges.sweep")
    for _ in range(deliveries):
        await world.tick("nudges.deliver")
        await world.advance(2)


def dms(member: Any) -> list[discord.Message]:
    """Messages the bot sent to ``member`` by DM."""
    return [m for m in member.user.dm_channel.history() if m.author.bot]


def prompts(member: Any) -> list[discord.Message]:
    """The prompt DMs (the ones with buttons) ``member`` received."""
    return [m for m in dms(member) if m.components or "/resources" in m.content]


async def opt_in(world: World, *members: Any) -> None:
    for member in members:
        r = await member.slash(world.general, "nudges on")
        assert r.ephemeral and "**on**" in r.response.content


async def test_quiet_member_who_opted_in_gets_one_warm_dm_with_three_buttons(world: World) -> None:
    await opt_in(world, world.alice)
    await world.bob.send(world.general, "hello everyone")  # active, but never opted in
    await at(world, 15, hour=17)
    await daily_run(world)
    assert prompts(world.alice) == [], "not before the guild's sweep hour"

    await at(world, 15, hour=18)
    await daily_run(world)
    [dm] = prompts(world.alice)
    assert "Kinship Test" in dm.content and "/resources" in dm.content
    labels = [c.label for row in dm.components for c in row.children]
    assert labels == ["I'm okay", "I'd like to talk", "Stop these messages"]
    assert all(
        c.custom_id.startswith("kinship:nudges:") and str(world.guild.id) in c.custom_id
        for row in dm.components
        for c in row.children
    )
    assert prompts(world.bob) == [], "no DM without consent"

    await at(world, 15, hour=22)  # the sweep runs every few minutes: the same day never plans twice
    await daily_run(world)
    assert len(prompts(world.alice)) == 1
    [row] = await world.services.nudges.history(world.guild.id, world.alice.id)
    assert row.state == "sent" and row.sent_at is not None and row.message_id == dm.id


async def test_quiet_threshold_and_new_members_are_excluded(world: World) -> None:
    await opt_in(world, world.alice)
    await at(world, 10, hour=12)
    dave = world.member("dave")
    await opt_in(world, dave)  # joined and active on day 10
    await world.carol.send(world.general, "hi")  # active on day 10, not opted in

    await at(world, 13)
    await daily_run(world)
    assert prompts(world.alice) == [], "13 days without activity is not quiet yet (default 14)"

    await at(world, 15)
    await daily_run(world)
    assert len(prompts(world.alice)) == 1
    assert prompts(dave) == [], "dave joined 5 days ago"

    await world.owner.slash(world.general, "setup nudges", quiet_days=3)
    await at(world, 16)
    await daily_run(world)
    assert len(prompts(dave)) == 1, "quiet for 6 days, in the guild for 6 days, threshold 3"
    assert prompts(world.carol) == []


async def test_off_and_pause_are_respected(world: World) -> None:
    await opt_in(world, world.alice, world.bob, world.carol)
    r = await world.alice.slash(world.general, "nudges off")
    assert "**off**" in r.response.content
    r = await world.bob.slash(world.general, "nudges pause", weeks=4)
    assert r.ephemeral and "**paused**" in r.response.content
    r = await world.bob.slash(world.general, "nudges status")
    assert r.ephemeral and "**paused**" in r.response.content

    await at(world, 15)
    await daily_run(world)
    assert prompts(world.alice) == [] and prompts(world.bob) == []
    assert len(prompts(world.carol)) == 1

    await at(world, 29)  # bob's pause (4 weeks from day 0) is over
    await daily_run(world)
    assert len(prompts(world.bob)) == 1
    assert prompts(world.alice) == []
    assert len(prompts(world.carol)) == 1, "still within carol's 30-day cool-down"


async def test_at_most_one_prompt_per_member_per_30_days(world: World) -> None:
    await opt_in(world, world.alice)
    for day in range(15, 47):
        await at(world, day)
        await daily_run(world, deliveries=1)
    first, second = prompts(world.alice)
    assert (second.created_at - first.created_at).days >= 30
    states = [n.state for n in await world.services.nudges.history(world.guild.id, world.alice.id)]
    assert states == ["sent", "sent"]


async def test_weekly_digest_lists_only_members_who_did_not_opt_in(world: World) -> None:
    await world.configure(mod_channel_id=world.mods.id, mod_role_id=world.mod_role.id)
    await opt_in(world, world.alice)
    await world.bob.send(world.general, "hi")
    await world.carol.send(world.general, "hey")

    await at(world, 18)  # Monday 19 January: quiet for 2.5 weeks only
    await daily_run(world, deliveries=1)
    assert [m for m in world.mods.history() if m.embeds] == []

    await at(world, 25, hour=17)  # Monday 26 January, before the hour
    await daily_run(world, deliveries=1)
    assert [m for m in world.mods.history() if m.embeds] == []
    await at(world, 25)
    await daily_run(world, deliveries=1)
    [digest] = [m for m in world.mods.history() if m.embeds]
    text = digest.embeds[0].description
    assert "2 members have been quiet for 3+ weeks" in text
    assert "bob" in text and "carol" in text and "alice" not in text
    assert prompts(world.bob) == [] and prompts(world.carol) == []
    post = [r for r in world.requests("POST", f"/channels/{world.mods.id}/messages")][-1]
    assert post.json["allowed_mentions"] == {"parse": []}

    await at(world, 25, hour=23)
    await daily_run(world, deliveries=1)
    assert len([m for m in world.mods.history() if m.embeds]) == 1, "one digest per week"


async def test_digest_stays_within_embed_limits_and_forgets_members_who_left(world: World) -> None:
    await world.configure(mod_channel_id=world.mods.id)
    many = [world.member(f"member{i:02d}") for i in range(55)]
    for member in many:
        await member.send(world.general, "hi")
    world.guild.remove_member(many[0])
    await at(world, 25)
    await daily_run(world, deliveries=0)
    [digest] = [m for m in world.mods.history() if m.embeds]
    text = digest.embeds[0].description
    assert "55 members have been quiet" in text
    assert "…and 16 more" in text  # 40 looked up, one of them had left
    assert "member00" not in text
    assert await world.services.activity.get(world.guild.id, many[0].id) is None


async def _prompted(world: World, member: Any) -> discord.Message:
    await opt_in(world, member)
    await at(world, 15)
    await daily_run(world, deliveries=1)
    [dm] = prompts(member)
    return dm


async def test_im_okay_records_the_answer_and_removes_the_buttons(world: World) -> None:
    dm = await _prompted(world, world.alice)
    r = await world.alice.user.click(dm, label="I'm okay")
    assert "good to hear" in r.followups[0].content
    assert prompts(world.alice)[0].components == []
    [row] = await world.services.nudges.history(world.guild.id, world.alice.id)
    assert row.outcome == "okay" and row.outcome_at is not None
    r = await world.alice.slash(world.general, "nudges status")
    assert "you said you're okay" in r.response.content


async def test_id_like_to_talk_opens_a_private_thread_nobody_else_sees(world: World) -> None:
    await world.configure(mod_channel_id=world.mods.id, help_channel_id=world.help.id)  # public thread mode
    dm = await _prompted(world, world.alice)
    r = await world.alice.user.click(dm, label="I'd like to talk")
    assert "/resources" in r.followups[0].content
    [row] = await world.services.nudges.history(world.guild.id, world.alice.id)
    assert row.outcome == "talk"
    [request] = await world.services.help.open_requests(world.guild.id, world.alice.id)
    assert request.title == "Would like to talk" and request.wants == "listening" and request.private
    await world.tick("help.deliver")
    [handle] = world.help.threads
    thread = world.env.backend.get_channel(handle.id)
    assert thread.type == discord.ChannelType.private_thread.value, "the request must not be announced publicly"
    assert world.alice.id in thread.thread_members
    assert prompts(world.alice)[0].components == [], "buttons are gone: no second request by double-clicking"


async def test_id_like_to_talk_without_a_text_help_channel_tells_the_moderators(world: World) -> None:
    await world.configure(mod_channel_id=world.mods.id)  # no help channel
    dm = await _prompted(world, world.alice)
    await world.alice.user.click(dm, label="I'd like to talk")
    assert await world.services.help.open_requests(world.guild.id, world.alice.id) == []
    note = world.mods.last_message
    assert "alice" in note.content and "would like to talk" in note.content
    post = world.requests("POST", f"/channels/{world.mods.id}/messages")[-1]
    assert post.json["allowed_mentions"] == {"parse": []}


async def test_stop_these_messages_opts_out(world: World) -> None:
    dm = await _prompted(world, world.alice)
    r = await world.alice.user.click(dm, label="Stop these messages")
    assert "/nudges on" in r.followups[0].content
    r = await world.alice.slash(world.general, "nudges status")
    assert "**off**" in r.response.content
    await at(world, 60)
    await daily_run(world)
    assert len(prompts(world.alice)) == 1


async def test_closed_dms_are_remembered_until_the_member_is_active_again(world: World) -> None:
    await opt_in(world, world.alice)
    world.env.inject_error("POST", "/channels/*/messages", status=403, code=50007, message="Cannot send messages")
    await at(world, 15)
    await daily_run(world)
    assert prompts(world.alice) == []
    [row] = await world.services.nudges.history(world.guild.id, world.alice.id)
    assert row.state == "dm_closed"
    sends = len(world.requests("POST", "/messages"))

    await at(world, 50)  # past the cool-down, still quiet: never retried
    await daily_run(world)
    assert len(world.requests("POST", "/messages")) == sends
    r = await world.alice.slash(world.general, "nudges status")
    assert "couldn't DM you" in r.response.content

    await world.alice.send(world.general, "I'm back for a bit")  # active again
    await at(world, 66)
    await daily_run(world)
    assert len(prompts(world.alice)) == 1


async def test_40003_pauses_every_dm_for_ten_minutes_even_across_a_restart(world: World) -> None:
    await opt_in(world, world.alice, world.bob)
    world.env.inject_error("POST", "/channels/*/messages", status=403, code=40003, message="Opening DMs too fast")
    await at(world, 15)
    await world.tick("activity.flush")
    await world.tick("nudges.sweep")
    await world.tick("nudges.deliver")
    sends = len(world.requests("POST", "/messages"))

    await world.restart(clean=False)
    for _ in range(4):  # 8 minutes later: still paused
        await world.advance(120)
        await world.tick("nudges.deliver")
    assert len(world.requests("POST", "/messages")) == sends
    assert prompts(world.alice) == [] and prompts(world.bob) == []

    await world.advance(150)
    await daily_run(world, deliveries=3)
    assert len(prompts(world.alice)) == 1 and len(prompts(world.bob)) == 1


async def test_restart_halfway_through_a_sweep_prompts_nobody_twice(world: World) -> None:
    dave = world.member("dave")
    members = [world.alice, world.bob, world.carol, dave]
    await opt_in(world, *members)
    await at(world, 15)
    await world.tick("activity.flush")
    await world.tick("nudges.sweep")
    for _ in range(2):
        await world.tick("nudges.deliver")
        await world.advance(2)
    already = [m for m in members if prompts(m)]
    assert len(already) == 2

    await world.restart(clean=False)
    await world.advance(60)
    await daily_run(world, deliveries=6)
    assert [len(prompts(m)) for m in members] == [1, 1, 1, 1]
    r = await already[0].user.click(prompts(already[0])[0], label="I'm okay")  # sent by the crashed process
    assert "good to hear" in r.followups[0].content


async def test_max_dms_per_sweep(world: World) -> None:
    await world.owner.slash(world.general, "setup nudges", max_per_sweep=2)
    members = [world.alice, world.bob, world.carol]
    await opt_in(world, *members)
    await at(world, 15)
    await daily_run(world)
    assert sum(len(prompts(m)) for m in members) == 2
    await at(world, 16)
    await daily_run(world)
    assert [len(prompts(m)) for m in members] == [1, 1, 1]


async def test_setup_nudges_is_for_admins_and_follows_the_server_time_zone(world: World) -> None:
    r = await world.owner.slash(world.general, "setup nudges", hour=9, quiet_days=7, digest_day=4)
    assert r.ephemeral and "**7** days" in r.response.content and "09:00" in r.response.content
    assert "Friday" in r.response.content
    world.allow_command_for("setup", world.alice)
    r = await world.alice.slash(world.general, "setup nudges", enabled=False)
    assert "permissions" in r.response.content.lower()
    assert (await world.services.nudges.policy(world.guild.id)).enabled

    await world.owner.slash(world.general, "setup timezone", name="Asia/Tokyo")  # UTC+9
    await opt_in(world, world.alice)
    await at(world, 8, hour=0)  # 09:00 in Tokyo
    await daily_run(world, deliveries=1)
    assert len(prompts(world.alice)) == 1


async def test_prompt_and_replies_in_german(world: World) -> None:
    world.set_locale(world.alice, "de")
    r = await world.alice.slash(world.general, "nudges on")
    assert "behutsame DM" in r.response.content
    await at(world, 15)
    await daily_run(world, deliveries=1)
    [dm] = prompts(world.alice)
    assert "Du fehlst uns" in dm.content and "/resources" in dm.content
    r = await world.alice.user.click(dm, label="Mir geht's gut")
    assert "schön zu hören" in r.followups[0].content
