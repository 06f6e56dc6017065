"""Peer check-ins through Discord-shaped interactions with a controlled clock."""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import UTC, datetime

import discord
import pytest
from sqlalchemy import update

from bot.models.checkins import CheckinPost
from bot.services import Services
from bot.services.context import ServiceContext
from tests.harness.world import World

MONDAY_10 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)  # week 2026-W02


async def jump(world: World, when: datetime) -> None:
    """Move the virtual clock to ``when`` (a big jump: no view timeouts in between matter)."""
    world.env.backend.clock.advance((when - world.now()).total_seconds())
    await world.env.settle()


async def posted(world: World, when: datetime = MONDAY_10):
    await world.configure(checkin_channel_id=world.checkins.id)
    await jump(world, when)
    await world.tick("checkins.post")
    return the_post(world)


def the_post(world: World, index: int = -1):
    """The weekly post (the bot's message with the buttons) in the check-in channel."""
    posts = [m for m in world.checkins.history() if m.components]
    return posts[index] if posts else None


async def test_weekly_post_appears_with_buttons_and_thread(world: World) -> None:
    post = await posted(world)
    assert post is not None and post.embeds[0].title.startswith("Weekly check-in")
    labels = [c.label for row in post.components for c in row.children]
    assert labels == ["Check in", "Not this week"]
    assert [t.name for t in world.checkins.threads] == ["Check-in 2026-W02"]


def thread_of(world: World):
    return world.checkins.threads[-1]


async def test_check_in_opens_modal_and_stays_private_by_default(world: World) -> None:
    post = await posted(world)
    shown = await world.alice.click(post, label="Check in")
    assert shown.modal is not None and shown.modal["title"] == "Your check-in"
    r = await world.alice.submit_modal(shown, {"mood": "4", "note": "A hard week, but okay."})
    assert r.ephemeral
    assert "mood 4/5" in r.response.content and "**1** week(s) in a row" in r.response.content
    assert all("A hard week" not in m.content for m in thread_of(world).history())
    history = await world.services.checkins.history(world.guild.id, world.alice.id, world.now())
    assert history.entries[0].status == "checkin" and history.entries[0].note == "A hard week, but okay."


async def test_shared_note_goes_to_the_thread_and_pings_nobody(world: World) -> None:
    post = await posted(world)
    shown = await world.alice.click(post, label="Check in")
    note = f"Thanks @everyone and <@{world.bob.id}> for last week."
    r = await world.alice.submit_modal(shown, {"mood": "5", "note": note, "share": True})
    assert "Your note is in this week's thread." in r.response.content
    last = thread_of(world).last_message
    assert "**alice** checked in — mood 5/5" in last.content and note in last.content
    body = world.requests("POST", f"/channels/{thread_of(world).id}/messages")[-1].json
    assert body["allowed_mentions"]["parse"] == [] and not body["allowed_mentions"].get("users")


async def test_not_this_week_is_a_valid_answer_and_keeps_the_streak(world: World) -> None:
    post = await posted(world)
    r = await world.alice.click(post, label="Not this week")
    assert r.ephemeral and "That's okay" in r.response.content and "**1** week(s)" in r.response.content
    # next week: answer again, the streak goes on
    await jump(world, datetime(2026, 1, 12, 10, 0, tzinfo=UTC))
    await world.tick("checkins.post")
    shown = await world.alice.click(the_post(world), label="Check in")
    r = await world.alice.submit_modal(shown, {"mood": "2"})
    assert "**2** week(s) in a row" in r.response.content


async def test_old_post_buttons_are_closed(world: World) -> None:
    old = await posted(world)
    await jump(world, datetime(2026, 1, 12, 10, 0, tzinfo=UTC))
    await world.tick("checkins.post")
    r = await world.alice.click(old, label="Not this week")
    assert r.ephemeral and "That check-in has closed" in r.response.content


async def test_checkin_now_and_history(world: World) -> None:
    await posted(world)
    shown = await world.bob.slash(world.general, "checkin now")
    r = await world.bob.submit_modal(shown, {"mood": "3"})
    assert "mood 3/5" in r.response.content
    r = await world.bob.slash(world.general, "checkin history")
    assert r.ephemeral
    embed = r.response.embeds[0]
    assert embed.title == "Your last weeks" and "2026-W02" in embed.description and "mood 3/5" in embed.description


async def test_buttons_work_after_a_restart(world: World) -> None:
    post = await posted(world)
    await world.restart(clean=False)
    r = await world.alice.click(post, label="Not this week")
    assert r.ephemeral and "That's okay" in r.response.content
    shown = await world.bob.click(post, label="Check in")
    r = await world.bob.submit_modal(shown, {"mood": "1", "note": "rough"})
    assert "mood 1/5" in r.response.content


def posts_sent(world: World) -> int:
    return len([m for m in world.checkins.history() if m.components])


async def test_restart_and_retries_never_post_twice(world: World) -> None:
    await posted(world)
    await world.tick("checkins.post")
    await world.restart(clean=False)
    await world.advance(60)
    await world.tick("checkins.post")
    assert posts_sent(world) == 1


async def test_two_concurrent_runs_post_once(world: World) -> None:
    await world.configure(checkin_channel_id=world.checkins.id)
    await jump(world, MONDAY_10)
    await asyncio.gather(
        world.bot.scheduler.run("checkins.post", world.now()), world.bot.scheduler.run("checkins.post", world.now())
    )
    await world.env.settle()
    assert posts_sent(world) == 1


async def test_second_process_on_the_same_database_posts_once(world: World, test_db) -> None:
    """A second bot process (its own engine and services) sharing the database claims nothing."""
    await world.configure(checkin_channel_id=world.checkins.id)
    await jump(world, MONDAY_10)
    other_db = test_db.open()
    try:
        other = Services.build(ServiceContext(db=other_db))
        first, second = await asyncio.gather(
            world.services.checkins.claim_due_posts(world.now()), other.checkins.claim_due_posts(world.now())
        )
    finally:
        await other_db.close()
    assert len(first) + len(second) == 1
    # Neither "process" sent it (as if the claimer crashed): the claim is leased, so nobody posts now ...
    await world.tick("checkins.post")
    assert posts_sent(world) == 0
    # ... and once the lease ran out the post goes out exactly once.
    for _ in range(3):
        await world.advance(150)
        await world.tick("checkins.post")
    assert posts_sent(world) == 1


async def test_crash_after_sending_before_recording_does_not_post_twice(world: World) -> None:
    await posted(world)
    # The process died right after Discord accepted the message: the row still says "pending".
    async with world.db.session() as s:
        await s.exec(
            update(CheckinPost)
            .where(CheckinPost.week == "2026-W02")
            .values(state="pending", message_id=None, thread_id=None, claimed_until=None)
        )
    await world.restart(clean=False)
    await world.advance(60)
    await world.tick("checkins.post")
    assert posts_sent(world) == 1
    row = await world.services.checkins.post_of(world.guild.id, "2026-W02")
    assert row.state == "posted" and row.message_id == the_post(world).id


async def test_down_at_the_scheduled_time_posts_once_within_grace(world: World) -> None:
    await world.configure(checkin_channel_id=world.checkins.id)
    await jump(world, datetime(2026, 1, 5, 15, 0, tzinfo=UTC))  # 5 h late: the bot was down
    await world.restart(clean=False)
    await world.tick("checkins.post")
    await world.advance(60)
    await world.tick("checkins.post")
    assert posts_sent(world) == 1


async def test_down_beyond_grace_skips_the_week_and_logs(world: World, caplog: pytest.LogCaptureFixture) -> None:
    await world.configure(checkin_channel_id=world.checkins.id)
    await jump(world, datetime(2026, 1, 5, 22, 1, tzinfo=UTC))  # 12 h 1 min late
    with caplog.at_level(logging.WARNING, logger="bot.services.checkins"):
        await world.tick("checkins.post")
    assert posts_sent(world) == 0
    assert "2026-W02 skipped" in caplog.text
    row = await world.services.checkins.post_of(world.guild.id, "2026-W02")
    assert row is not None and row.state == "skipped" and row.reason == "missed"
    await jump(world, datetime(2026, 1, 12, 10, 0, tzinfo=UTC))
    await world.tick("checkins.post")
    assert posts_sent(world) == 1


async def test_deleted_channel_is_reported_and_never_crashes(world: World) -> None:
    gone = world.guild.create_text_channel("old-check-ins")
    await world.configure(checkin_channel_id=gone.id)
    await world.owner_deletes(gone)
    await jump(world, MONDAY_10)
    await world.tick("checkins.post")
    r = await world.owner.slash(world.general, "setup show")
    problems = next(f.value for f in r.response.embeds[0].fields if f.name == "Problems Kinship ran into")
    assert "A channel is missing" in problems
    row = await world.services.checkins.post_of(world.guild.id, "2026-W02")
    assert row.state == "pending" and row.next_attempt_at > world.now()
    # the admin picks a new channel; after the back-off the post goes out and the problem is cleared
    await world.owner.slash(world.general, "setup checkin-channel", channel=world.checkins)
    await world.tick("checkins.post")
    assert posts_sent(world) == 0  # still backing off: no hammering
    await world.advance(16 * 60)
    await world.tick("checkins.post")
    assert posts_sent(world) == 1
    assert await world.services.health.list(world.guild.id) == []


async def test_missing_permission_is_reported_and_retried_after_backoff(world: World) -> None:
    await world.configure(checkin_channel_id=world.checkins.id)
    await jump(world, MONDAY_10)
    world.env.inject_error("POST", f"/channels/{world.checkins.id}/messages", status=403, code=50013)
    await world.tick("checkins.post")
    problems = await world.services.health.list(world.guild.id)
    assert [p.code for p in problems] == ["missing_permission"]
    await world.advance(60)
    await world.tick("checkins.post")
    assert len(world.requests("POST", f"/channels/{world.checkins.id}/messages")) == 1  # no blind retry of a 403
    await world.advance(15 * 60)
    await world.tick("checkins.post")
    assert posts_sent(world) == 1


async def test_dst_spring_forward_berlin_posts_once_at_the_next_valid_time(world: World) -> None:
    await world.configure(checkin_channel_id=world.checkins.id, timezone="Europe/Berlin")
    r = await world.owner.slash(world.general, "setup checkins", day=6, time="02:30")
    assert "every Sunday at 02:30 (Europe/Berlin)" in r.response.content
    # Sunday 2026-03-29: 02:30 does not exist in Berlin; the post goes out at 03:30 CEST = 01:30 UTC.
    await jump(world, datetime(2026, 3, 29, 1, 29, tzinfo=UTC))
    await world.tick("checkins.post")
    count = posts_sent(world)
    await world.advance(60)
    await world.tick("checkins.post")
    assert posts_sent(world) == count + 1
    for minutes in (60, 120, 24 * 60):
        await world.advance(minutes * 60)
        await world.tick("checkins.post")
    assert posts_sent(world) == count + 1
    assert thread_of(world).name == "Check-in 2026-W13"


async def test_dst_fall_back_new_york_posts_once(world: World) -> None:
    await world.configure(checkin_channel_id=world.checkins.id, timezone="America/New_York")
    await world.owner.slash(world.general, "setup checkins", day=6, time="01:30")
    # Sunday 2026-11-01: 01:30 happens twice in New York; only the first (05:30 UTC, EDT) posts.
    await jump(world, datetime(2026, 11, 1, 5, 29, tzinfo=UTC))
    await world.tick("checkins.post")
    count = posts_sent(world)
    await world.advance(60)
    await world.tick("checkins.post")
    assert posts_sent(world) == count + 1
    await world.advance(60 * 60)  # 01:30 EST, the second 01:30
    await world.tick("checkins.post")
    assert posts_sent(world) == count + 1


async def test_setup_checkins_is_for_admins_only(world: World) -> None:
    world.allow_command_for("setup", world.alice)
    r = await world.alice.slash(world.general, "setup checkins", day=2, time="18:30")
    assert r.ephemeral and "permissions" in r.response.content.lower()
    assert (await world.services.checkins.get_schedule(world.guild.id)).hour == 10
    r = await world.owner.slash(world.general, "setup checkins", day=2, time="25:00")
    assert "isn't a time I understand" in r.response.content


async def test_setup_checkins_can_turn_the_post_off(world: World) -> None:
    await world.owner.slash(world.general, "setup checkins", day=0, time="10:00", enabled=False)
    await posted(world)
    assert posts_sent(world) == 0


async def test_post_follows_guild_language(world: World) -> None:
    await world.configure(language="de")
    post = await posted(world)
    assert post.embeds[0].title.startswith("Wöchentlicher Check-in")
    assert [c.label for row in post.components for c in row.children] == ["Einchecken", "Diese Woche nicht"]


EVENING = datetime(2026, 1, 5, 18, 0, tzinfo=UTC)  # reminder hour (18:00, UTC guild)


def dms(member) -> list:
    return [m for m in member.user.dm_channel.history() if m.author.bot]


async def test_reminder_dm_once_per_week_with_a_way_out(world: World) -> None:
    for m in (world.alice, world.bob):
        r = await m.slash(world.general, "checkin reminders", state="on")
        assert "Reminders are on" in r.response.content and "18:00" in r.response.content
    post = await posted(world)
    await world.bob.click(post, label="Not this week")  # bob answered: no reminder for him
    await world.tick("checkins.remind")
    assert dms(world.alice) == []  # not before the reminder hour
    await jump(world, EVENING)
    for _ in range(3):
        await world.tick("checkins.remind")
        await world.advance(2)
    [dm] = dms(world.alice)
    assert "gentle reminder" in dm.content and "/resources" in dm.content
    assert dms(world.bob) == []
    r = await world.alice.user.click(dm, label="Turn off reminders")
    assert "Reminders for that server are off" in r.response.content
    assert not (await world.services.checkins.prefs(world.guild.id, world.alice.id)).reminders
    # next week: no reminder any more
    await jump(world, datetime(2026, 1, 12, 18, 0, tzinfo=UTC))
    await world.tick("checkins.post")
    await world.tick("checkins.remind")
    assert len(dms(world.alice)) == 1


async def test_reminder_dms_are_paced(world: World) -> None:
    members = [world.member(f"m{i}") for i in range(4)]
    for m in members:
        await m.slash(world.general, "checkin reminders", state="on")
    await posted(world)
    await jump(world, EVENING)
    await world.tick("checkins.remind")
    await world.tick("checkins.remind")  # same instant: the pacing allows no second DM
    assert sum(len(dms(m)) for m in members) == 1
    for _ in range(3):
        await world.advance(2)
        await world.tick("checkins.remind")
    assert [len(dms(m)) for m in members] == [1, 1, 1, 1]
    sent = sorted(dms(m)[0].created_at for m in members)
    assert all((b - a).total_seconds() >= 1 for a, b in itertools.pairwise(sent))


async def test_closed_dms_are_remembered_and_the_reminder_goes_to_the_thread_when_chosen(world: World) -> None:
    r = await world.owner.slash(world.general, "setup checkins", closed_dms="thread")
    assert "members whose DMs are closed: a mention in the week's thread" in r.response.content
    await world.alice.slash(world.general, "checkin reminders", state="on")
    await posted(world)
    await jump(world, EVENING)
    world.env.inject_error("POST", "/channels/*/messages", status=403, code=50007)
    await world.tick("checkins.remind")
    assert (await world.services.checkins.prefs(world.guild.id, world.alice.id)).dm_closed
    line = thread_of(world).last_message
    assert world.alice.mention in line.content and "gentle reminder" in line.content
    body = world.requests("POST", f"/channels/{thread_of(world).id}/messages")[-1].json
    assert body["allowed_mentions"]["users"] == [str(world.alice.id)] or body["allowed_mentions"]["users"] == [
        world.alice.id
    ]
    # next week: no DM attempt at all, straight to the thread
    await jump(world, datetime(2026, 1, 12, 18, 0, tzinfo=UTC))
    await world.tick("checkins.post")
    dm_posts = len(world.requests("POST", "/users/@me/channels"))
    await world.tick("checkins.remind")
    assert len(world.requests("POST", "/users/@me/channels")) == dm_posts
    assert world.alice.mention in thread_of(world).last_message.content
    # interacting again re-opens DMs
    await world.alice.click(the_post(world), label="Not this week")
    assert not (await world.services.checkins.prefs(world.guild.id, world.alice.id)).dm_closed


async def test_by_default_a_member_whose_dms_are_closed_gets_no_public_reminder(world: World) -> None:
    await world.alice.slash(world.general, "checkin reminders", state="on")
    await world.bob.slash(world.general, "checkin reminders", state="on")
    await posted(world)
    thread = thread_of(world)
    in_thread = len(world.requests("POST", f"/channels/{thread.id}/messages"))
    await jump(world, EVENING)
    world.env.inject_error("POST", "/channels/*/messages", status=403, code=50007)
    await world.tick("checkins.remind")  # alice's DM fails: DMs closed
    assert (await world.services.checkins.prefs(world.guild.id, world.alice.id)).dm_closed
    for _ in range(4):
        await world.advance(2)
        await world.tick("checkins.remind")
    assert len(dms(world.bob)) == 1, "the others are reminded as usual"
    assert len(world.requests("POST", f"/channels/{thread.id}/messages")) == in_thread, "nothing in the thread"
    assert all(world.alice.mention not in m.content for m in thread.history())
    dm_opens = len(world.requests("POST", "/users/@me/channels"))
    await world.advance(3600)
    await world.tick("checkins.remind")
    assert len(world.requests("POST", "/users/@me/channels")) == dm_opens, "recorded: not retried"
    # next week: no DM attempt (closed) and still nothing in public
    await jump(world, datetime(2026, 1, 12, 18, 0, tzinfo=UTC))
    await world.tick("checkins.post")
    week2 = thread_of(world)
    for _ in range(3):
        await world.tick("checkins.remind")
        await world.advance(2)
    assert all(world.alice.mention not in m.content for m in week2.history())
    assert len(dms(world.bob)) == 2
    r = await world.owner.slash(world.general, "setup show")
    field = next(f for f in r.response.embeds[0].fields if f.name == "Check-in reminders when DMs are closed")
    assert field.value == "no public reminder"


async def test_setup_checkins_in_german_names_the_closed_dm_setting(world: World) -> None:
    world.set_locale(world.owner, "de")
    r = await world.owner.slash(world.general, "setup checkins", closed_dms="thread")
    assert "Mitglieder mit geschlossenen DMs: eine Erwähnung im Thread der Woche" in r.response.content
    assert (await world.services.checkins.get_schedule(world.guild.id)).thread_reminders
    r = await world.owner.slash(world.general, "setup show")
    field = next(f for f in r.response.embeds[0].fields if f.name == "Check-in-Erinnerung bei geschlossenen DMs")
    assert field.value == "eine Erwähnung im Thread der Woche"
    r = await world.owner.slash(world.general, "setup checkins")
    assert "jeden Montag um 10:00" in r.response.content, "without options it shows the settings"


async def test_dms_pause_for_ten_minutes_after_opening_too_fast(world: World) -> None:
    for m in (world.alice, world.bob):
        await m.slash(world.general, "checkin reminders", state="on")
    await posted(world)
    await jump(world, EVENING)
    world.env.inject_error("POST", "/channels/*/messages", status=400, code=40003)
    await world.tick("checkins.remind")
    for _ in range(5):
        await world.advance(60)
        await world.tick("checkins.remind")
    assert dms(world.alice) == [] and dms(world.bob) == []
    await world.advance(6 * 60)
    for _ in range(3):
        await world.tick("checkins.remind")
        await world.advance(2)
    assert len(dms(world.alice)) == 1 and len(dms(world.bob)) == 1


def buddy_threads(world: World) -> list:
    return [t for t in world.checkins.threads if t.name.startswith("Buddies")]


async def test_buddies_are_paired_weekly_in_private_threads(world: World) -> None:
    dave = world.member("dave")
    members = [world.alice, world.bob, world.carol, dave]
    for m in members:
        r = await m.slash(world.general, "buddy join")
        assert "You're in" in r.response.content
    await posted(world)
    await world.tick("checkins.buddies")
    await world.tick("checkins.buddies")  # idempotent
    threads = buddy_threads(world)
    assert len(threads) == 2
    assert all(world.bot.get_channel(t.id).type == discord.ChannelType.private_thread for t in threads)
    first = await world.services.checkins.buddy_groups(world.guild.id, "2026-W02")
    assert sorted(len(g) for g in first) == [2, 2]
    for thread in threads:
        intro = thread.last_message
        assert "check-in buddies" in intro.content
        mentioned = {m for m in members if m.mention in intro.content}
        assert len(mentioned) == 2
        body = world.requests("POST", f"/channels/{thread.id}/messages")[-1].json
        assert sorted(int(u) for u in body["allowed_mentions"]["users"]) == sorted(m.id for m in mentioned)
    # the next week's pairs differ from the last ones
    await jump(world, datetime(2026, 1, 12, 10, 0, tzinfo=UTC))
    await world.tick("checkins.post")
    await world.tick("checkins.buddies")
    second = await world.services.checkins.buddy_groups(world.guild.id, "2026-W03")
    assert second and not set(first) & set(second)
    assert len(buddy_threads(world)) == 4


async def test_a_buddy_thread_that_could_not_be_set_up_is_removed_and_made_again(world: World) -> None:
    for m in (world.alice, world.bob):
        await m.slash(world.general, "buddy join")
    await posted(world)
    world.env.inject_error("PUT", "/channels/*/thread-members/*", status=503, times=1)
    await world.tick("checkins.buddies")
    assert buddy_threads(world) == [], "the half-made thread is gone"
    assert world.requests("DELETE", "/channels/")
    await world.advance(24 * 3600)  # past the back-off
    await world.tick("checkins.buddies")
    (thread,) = buddy_threads(world)
    assert world.alice.mention in thread.last_message.content and world.bob.mention in thread.last_message.content


async def test_odd_number_makes_a_trio_and_leavers_are_not_paired(world: World) -> None:
    dave = world.member("dave")
    for m in (world.alice, world.bob, world.carol, dave):
        await m.slash(world.general, "buddy join")
    r = await dave.slash(world.general, "buddy leave")
    assert "left" in r.response.content
    await posted(world)
    await world.tick("checkins.buddies")
    groups = await world.services.checkins.buddy_groups(world.guild.id, "2026-W02")
    assert groups == [tuple(sorted((world.alice.id, world.bob.id, world.carol.id)))]
    assert len(buddy_threads(world)) == 1


async def test_buddies_every_two_weeks_introduced_by_dm(world: World) -> None:
    r = await world.owner.slash(world.general, "setup buddies", every_weeks=2, intro="dm")
    assert "every 2 week(s)" in r.response.content and "direct message" in r.response.content
    for m in (world.alice, world.bob):
        await m.slash(world.general, "buddy join")
    await posted(world)  # 2026-W02: even week number → a round
    for _ in range(3):
        await world.tick("checkins.buddies")
        await world.advance(2)
    assert buddy_threads(world) == []
    [to_alice] = dms(world.alice)
    [to_bob] = dms(world.bob)
    assert world.bob.mention in to_alice.content and world.alice.mention in to_bob.content
    r = await world.bob.user.click(to_bob, label="Leave buddies")
    assert "left the buddy pairing" in r.response.content
    assert not (await world.services.checkins.prefs(world.guild.id, world.bob.id)).buddies
    await jump(world, datetime(2026, 1, 12, 10, 0, tzinfo=UTC))  # W03: no round
    await world.tick("checkins.post")
    await world.tick("checkins.buddies")
    assert await world.services.checkins.buddy_groups(world.guild.id, "2026-W03") == []
