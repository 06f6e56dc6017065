"""Check-in rules on a real database: schedule and DST, once-only claims, streaks, reminders, buddies."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection

from bot.db import Database
from bot.errors import InvalidInput
from bot.services import Services
from bot.services.checkins import (
    Schedule,
    compute_streak,
    make_groups,
    next_post_at,
    parse_time,
    reminder_instant,
    scheduled_instant,
    week_key,
)
from bot.services.context import ServiceContext
from bot.services.events import CheckinAnswered, MemberActive

G = 111
CH = 222
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def configured(services: Services, *, tz: str = "UTC", **schedule: object) -> None:
    await services.guilds.update(G, utc(2026, 1, 1), checkin_channel_id=CH, timezone=tz)
    if schedule:
        await services.checkins.configure(G, utc(2026, 1, 1), **schedule)


async def post_now(services: Services, now: datetime) -> str:
    """Claim and record the due post (what the cog does); returns the week."""
    [job] = await services.checkins.claim_due_posts(now)
    await services.checkins.post_done(job.post_id, now, channel_id=CH, message_id=1000 + job.post_id, thread_id=5000)
    return job.week


# ------------------------------------------------------------------------------ time rules


@pytest.mark.parametrize(
    ("tz", "week", "weekday", "hm", "expected"),
    [
        # Europe/Berlin spring forward, Sun 2026-03-29 02:00 → 03:00: 02:30 does not exist → 03:30 CEST
        (BERLIN, "2026-W13", 6, (2, 30), utc(2026, 3, 29, 1, 30)),
        # Europe/Berlin fall back, Sun 2026-10-25 03:00 → 02:00: 02:30 happens twice → the first (CEST)
        (BERLIN, "2026-W43", 6, (2, 30), utc(2026, 10, 25, 0, 30)),
        # America/New_York spring forward, Sun 2026-03-08 02:00 → 03:00: 02:30 → 03:30 EDT
        (NEW_YORK, "2026-W10", 6, (2, 30), utc(2026, 3, 8, 7, 30)),
        # America/New_York fall back, Sun 2026-11-01 02:00 → 01:00: 01:30 happens twice → the first (EDT)
        (NEW_YORK, "2026-W44", 6, (1, 30), utc(2026, 11, 1, 5, 30)),
        # ordinary wall-clock time keeps its local time on both sides of the change
        (BERLIN, "2026-W13", 0, (10, 0), utc(2026, 3, 23, 9, 0)),
        (BERLIN, "2026-W14", 0, (10, 0), utc(2026, 3, 30, 8, 0)),
        (NEW_YORK, "2026-W45", 0, (10, 0), utc(2026, 11, 2, 15, 0)),
        (NEW_YORK, "2026-W44", 0, (10, 0), utc(2026, 10, 26, 14, 0)),
    ],
)
def test_scheduled_instant_across_dst(tz: ZoneInfo, week: str, weekday: int, hm: tuple[int, int], expected) -> None:
    assert scheduled_instant(tz, week, weekday, *hm) == expected


def test_week_key_is_the_iso_week_of_the_local_date() -> None:
    assert week_key(date(2026, 12, 31)) == "2026-W53"
    assert week_key(date(2027, 1, 4)) == "2027-W01"
    # Sunday 23:30 in New York is already Monday in UTC: the local date decides
    late = utc(2026, 3, 9, 3, 30).astimezone(NEW_YORK)
    assert week_key(late.date()) == "2026-W10"


def test_parse_time_and_next_post() -> None:
    assert parse_time("7:05") == (7, 5)
    with pytest.raises(InvalidInput):
        parse_time("24:00")
    schedule = Schedule(G, weekday=2, hour=18, minute=30)
    assert next_post_at(schedule, BERLIN, utc(2026, 1, 5)) == utc(2026, 1, 7, 17, 30)
    assert next_post_at(schedule, BERLIN, utc(2026, 1, 8)) == utc(2026, 1, 14, 17, 30)


def test_reminder_is_later_that_day_or_the_next() -> None:
    assert reminder_instant(Schedule(G, reminder_hour=18), UTC, utc(2026, 1, 5, 10)) == utc(2026, 1, 5, 18)
    assert reminder_instant(Schedule(G, reminder_hour=9), UTC, utc(2026, 1, 5, 10)) == utc(2026, 1, 6, 9)


@pytest.mark.parametrize(
    ("tz", "weekday", "hm", "start", "expected"),
    [
        ("Europe/Berlin", 6, "02:30", utc(2026, 3, 28, 12), utc(2026, 3, 29, 1, 30)),
        ("Europe/Berlin", 6, "02:30", utc(2026, 10, 24, 12), utc(2026, 10, 25, 0, 30)),
        ("America/New_York", 6, "02:30", utc(2026, 3, 7, 12), utc(2026, 3, 8, 7, 30)),
        ("America/New_York", 6, "01:30", utc(2026, 10, 31, 12), utc(2026, 11, 1, 5, 30)),
    ],
)
async def test_dst_week_posts_exactly_once_at_the_right_instant(
    services: Services, tz: str, weekday: int, hm: str, start: datetime, expected: datetime
) -> None:
    """Tick every 15 minutes through the DST day: one claim, at the expected instant, never again."""
    await configured(services, tz=tz, weekday=weekday, time=hm)
    claims = []
    now = start
    while now < start + timedelta(days=2):
        for job in await services.checkins.claim_due_posts(now):
            claims.append(now)
            await services.checkins.post_done(job.post_id, now, channel_id=CH, message_id=1, thread_id=None)
        now += timedelta(minutes=15)
    assert len(claims) == 1
    assert expected <= claims[0] < expected + timedelta(minutes=15)


# ---------------------------------------------------------------------------- once only


async def test_concurrent_claims_from_two_processes_give_one_post(services: Services, test_db) -> None:
    await configured(services)
    second_db = test_db.open()
    try:
        other = Services.build(ServiceContext(db=second_db))
        now = utc(2026, 1, 5, 10, 1)
        results = await asyncio.gather(
            services.checkins.claim_due_posts(now),
            other.checkins.claim_due_posts(now),
            services.checkins.claim_due_posts(now),
        )
    finally:
        await second_db.close()
    assert sum(len(r) for r in results) == 1


async def test_failed_post_backs_off_then_skips_after_grace(services: Services) -> None:
    await configured(services, grace_hours=2)
    [job] = await services.checkins.claim_due_posts(utc(2026, 1, 5, 10))
    await services.checkins.post_failed(job.post_id, utc(2026, 1, 5, 10, 30))
    assert await services.checkins.claim_due_posts(utc(2026, 1, 5, 10, 10)) == []
    [again] = await services.checkins.claim_due_posts(utc(2026, 1, 5, 10, 30))
    assert again.attempts == 2 and again.nonce == job.nonce and len(job.nonce) <= 25
    await services.checkins.post_failed(again.post_id, utc(2026, 1, 5, 11))
    assert await services.checkins.claim_due_posts(utc(2026, 1, 5, 12, 1)) == []
    row = await services.checkins.post_of(G, "2026-W02")
    assert row.state == "skipped" and row.reason == "failed"


async def test_disabled_or_unconfigured_guilds_get_no_post(services: Services) -> None:
    assert await services.checkins.claim_due_posts(utc(2026, 1, 5, 10)) == []
    await configured(services, enabled=False)
    assert await services.checkins.claim_due_posts(utc(2026, 1, 5, 10)) == []


async def test_late_sunday_post_is_still_posted_early_next_week(services: Services) -> None:
    """Grace windows that cross the week boundary still belong to the scheduled week."""
    await configured(services, weekday=6, time="23:00")
    [job] = await services.checkins.claim_due_posts(utc(2026, 1, 12, 2))  # Monday 02:00, 3 h late
    assert job.week == "2026-W02"


async def test_schedule_validation(services: Services) -> None:
    with pytest.raises(InvalidInput):
        await services.checkins.configure(G, utc(2026, 1, 1), grace_hours=100)
    with pytest.raises(InvalidInput):
        await services.checkins.configure(G, utc(2026, 1, 1), time="noon")
    schedule = await services.checkins.configure(G, utc(2026, 1, 1), weekday=4, time="18:30", buddy_weeks=3)
    assert (schedule.weekday, schedule.time_text, schedule.buddy_weeks) == (4, "18:30", 3)


# ------------------------------------------------------------------------ answers, streaks


def test_streak_rules() -> None:
    weeks = [f"2026-W{i:02d}" for i in range(1, 9)]
    # answered every week (check-in or "not this week" — both are answers)
    assert compute_streak(weeks[:5], weeks[:5], weeks[4]) == 5
    # one missed week does not break the streak
    assert compute_streak([weeks[0], weeks[1], weeks[3]], weeks[:4], weeks[3]) == 3
    # two missed weeks in a row do
    assert compute_streak([weeks[0], weeks[1], weeks[4]], weeks[:5], weeks[4]) == 1
    # the open week without an answer yet is not a miss
    assert compute_streak([weeks[0], weeks[2]], weeks[:4], weeks[3]) == 2
    # weeks without a post (bot down, check-ins off) do not count against anyone
    assert compute_streak([weeks[0], weeks[5]], [weeks[0], weeks[5]], weeks[5]) == 2


async def test_answers_publish_events_and_count_the_streak(services: Services) -> None:
    seen: list[object] = []

    async def record(event: object) -> None:
        seen.append(event)

    services.ctx.events.subscribe(CheckinAnswered, record)
    services.ctx.events.subscribe(MemberActive, record)
    await configured(services)
    await post_now(services, utc(2026, 1, 5, 10))
    first = await services.checkins.answer(G, 7, utc(2026, 1, 5, 11), skipped=True)
    assert first.streak == 1 and first.week == "2026-W02"
    # changing the answer within the week replaces it
    changed = await services.checkins.answer(G, 7, utc(2026, 1, 5, 12), mood=4, note="ok", share=True)
    assert changed.changed and changed.shared_note == "ok" and changed.thread_id == 5000 and changed.streak == 1
    answered = [e for e in seen if isinstance(e, CheckinAnswered)]
    assert [e.skipped for e in answered] == [True, False]
    assert sum(isinstance(e, MemberActive) for e in seen) == 2
    # two weeks later, after one missed week: the streak holds
    await post_now(services, utc(2026, 1, 12, 10))
    await post_now(services, utc(2026, 1, 19, 10))
    assert (await services.checkins.answer(G, 7, utc(2026, 1, 19, 11), mood=3)).streak == 2
    # then two missed weeks break it
    await post_now(services, utc(2026, 1, 26, 10))
    await post_now(services, utc(2026, 2, 2, 10))
    await post_now(services, utc(2026, 2, 9, 10))
    assert (await services.checkins.answer(G, 7, utc(2026, 2, 9, 11), skipped=True)).streak == 1
    history = await services.checkins.history(G, 7, utc(2026, 2, 9, 12))
    assert [e.status for e in history.entries][:4] == ["skip", "missed", "missed", "checkin"]
    assert history.streak == 1


async def test_answer_validation(services: Services) -> None:
    await configured(services)
    await post_now(services, utc(2026, 1, 5, 10))
    with pytest.raises(InvalidInput):
        await services.checkins.answer(G, 7, utc(2026, 1, 5, 11), mood=6)
    with pytest.raises(InvalidInput):
        await services.checkins.answer(G, 7, utc(2026, 1, 5, 11), mood=3, note="x" * 1001)
    with pytest.raises(InvalidInput):
        await services.checkins.answer(G, 7, utc(2026, 1, 5, 11), mood=3, week="2026-W01")
    private = await services.checkins.answer(G, 7, utc(2026, 1, 5, 11), mood=3, note="only me")
    assert private.shared_note is None


async def test_sharing_without_a_thread_stays_private(services: Services) -> None:
    await configured(services)
    result = await services.checkins.answer(G, 7, utc(2026, 1, 5, 11), mood=3, note="hi", share=True)
    assert result.share_unavailable and result.shared_note is None


# ----------------------------------------------------------------------------- reminders


async def test_one_reminder_per_member_per_week(services: Services) -> None:
    await configured(services, thread_reminders=True)  # closed DMs: a mention in the thread
    for member in (7, 8, 9):
        await services.checkins.set_reminders(G, member, True, utc(2026, 1, 1))
    await post_now(services, utc(2026, 1, 5, 10))
    await services.checkins.answer(G, 9, utc(2026, 1, 5, 11), skipped=True)
    assert await services.checkins.claim_reminders(utc(2026, 1, 5, 17, 59), 5) == []
    jobs = await services.checkins.claim_reminders(utc(2026, 1, 5, 18), 1)
    assert [(j.member_id, j.via) for j in jobs] == [(7, "dm")]
    await services.checkins.reminder_result(G, 7, "2026-W02", "dm_closed")
    jobs = await services.checkins.claim_reminders(utc(2026, 1, 5, 18, 1), 5)
    assert [(j.member_id, j.via) for j in jobs] == [(8, "dm")]
    await services.checkins.reminder_result(G, 8, "2026-W02", "release")  # e.g. 40003: retry later
    assert [j.member_id for j in await services.checkins.claim_reminders(utc(2026, 1, 5, 18, 2), 5)] == [8]
    assert await services.checkins.claim_reminders(utc(2026, 1, 5, 18, 3), 5) == []
    # next week member 7 (DMs closed) is reminded in the thread, without using a DM slot
    await post_now(services, utc(2026, 1, 12, 10))
    jobs = await services.checkins.claim_reminders(utc(2026, 1, 12, 18), 0)
    assert [(j.member_id, j.via) for j in jobs] == [(7, "thread")]


async def test_by_default_a_member_whose_dms_are_closed_is_not_reminded_in_public(services: Services) -> None:
    await configured(services)
    assert not (await services.checkins.get_schedule(G)).thread_reminders, "no public reminder by default"
    for member in (7, 8):
        await services.checkins.set_reminders(G, member, True, utc(2026, 1, 1))
    await post_now(services, utc(2026, 1, 5, 10))
    [job] = await services.checkins.claim_reminders(utc(2026, 1, 5, 18), 1)
    assert (job.member_id, job.via) == (7, "dm")
    assert await services.checkins.reminder_result(G, 7, "2026-W02", "dm_closed") is False, "no mention in the thread"
    assert (await services.checkins.prefs(G, 7)).dm_closed
    jobs = await services.checkins.claim_reminders(utc(2026, 1, 5, 18, 1), 5)
    assert [(j.member_id, j.via) for j in jobs] == [(8, "dm")], "member 7 is recorded: not retried"
    assert await services.checkins.reminder_result(G, 8, "2026-W02", "sent") is False
    assert await services.checkins.claim_reminders(utc(2026, 1, 5, 20), 5) == [], "never twice"
    # next week: no DM is tried (closed) and no thread mention either
    await post_now(services, utc(2026, 1, 12, 10))
    jobs = await services.checkins.claim_reminders(utc(2026, 1, 12, 18), 5)
    assert [(j.member_id, j.via) for j in jobs] == [(8, "dm")]
    # the admin turns the thread reminder on: member 7 is mentioned there, once
    await services.checkins.configure(G, utc(2026, 1, 12, 18), thread_reminders=True)
    jobs = await services.checkins.claim_reminders(utc(2026, 1, 12, 18, 1), 0)
    assert [(j.member_id, j.via) for j in jobs] == [(7, "thread")]
    assert await services.checkins.claim_reminders(utc(2026, 1, 12, 18, 2), 5) == []


async def test_a_dm_that_fails_becomes_a_thread_mention_only_with_the_setting_and_a_thread(services: Services) -> None:
    await configured(services, thread_reminders=True)
    await services.checkins.set_reminders(G, 7, True, utc(2026, 1, 1))
    [job] = await services.checkins.claim_due_posts(utc(2026, 1, 5, 10))
    await services.checkins.post_done(job.post_id, utc(2026, 1, 5, 10), channel_id=CH, message_id=1, thread_id=None)
    [reminder] = await services.checkins.claim_reminders(utc(2026, 1, 5, 18), 1)
    assert await services.checkins.reminder_result(G, 7, reminder.week, "dm_closed") is False, "no thread to post in"
    assert await services.checkins.claim_reminders(utc(2026, 1, 5, 19), 5) == []


async def test_guilds_configured_before_the_setting_get_no_public_reminder(db: Database) -> None:
    """checkins_0002 on a database with a schedule from before it: the new default, off."""
    from alembic import command
    from sqlalchemy import text

    from bot.db import alembic_config

    def down(conn: Connection) -> None:
        command.downgrade(alembic_config(conn), "checkins_0001")

    async with db.engine.begin() as conn:
        await conn.run_sync(down)
        await conn.execute(
            text(
                "INSERT INTO checkin_schedule (guild_id, enabled, weekday, hour, minute, grace_hours, reminder_hour,"
                " buddy_weeks, buddy_dm, updated_at) VALUES (:g, true, 2, 9, 0, 12, 18, 1, false, :t)"
            ),
            {"g": G, "t": utc(2026, 1, 1)},
        )
    await db.migrate()
    schedule = await Services.build(ServiceContext(db=db)).checkins.get_schedule(G)
    assert (schedule.weekday, schedule.hour, schedule.thread_reminders) == (2, 9, False)


async def test_the_closed_dm_setting_is_on_or_off(services: Services) -> None:
    with pytest.raises(TypeError):
        await services.checkins.configure(G, utc(2026, 1, 1), thread_reminders="thread")
    schedule = await services.checkins.configure(G, utc(2026, 1, 1), thread_reminders=True)
    assert schedule.thread_reminders and (await services.checkins.get_schedule(G)).thread_reminders


# ------------------------------------------------------------------------------- buddies


def test_make_groups_avoids_last_pairs_and_makes_one_trio() -> None:
    groups = make_groups([1, 2, 3, 4], {frozenset((1, 2)), frozenset((3, 4))}, "seed")
    assert sorted(groups) == [(1, 3), (2, 4)] or sorted(groups) == [(1, 4), (2, 3)]
    groups = make_groups([1, 2, 3, 4, 5], set(), "seed")
    assert sorted(len(g) for g in groups) == [2, 3]
    assert sorted(m for g in groups for m in g) == [1, 2, 3, 4, 5]
    assert make_groups([1], set(), "seed") == []
    # unavoidable repeat: two members are paired again
    assert make_groups([1, 2], {frozenset((1, 2))}, "seed") == [(1, 2)]


async def test_buddy_rounds_once_per_period(services: Services) -> None:
    await configured(services, buddy_weeks=1)
    for member in (7, 8, 9, 10):
        await services.checkins.set_buddies(G, member, True, utc(2026, 1, 1))
    assert await services.checkins.pair_buddies(utc(2026, 1, 5, 10)) == 0  # no post yet
    await post_now(services, utc(2026, 1, 5, 10))
    assert await services.checkins.pair_buddies(utc(2026, 1, 5, 10, 1)) == 1
    assert await services.checkins.pair_buddies(utc(2026, 1, 5, 10, 2)) == 0
    first = await services.checkins.buddy_groups(G, "2026-W02")
    intros = await services.checkins.pending_intros(utc(2026, 1, 5, 10, 2), 0)
    assert len(intros) == 2 and all(not i.dm and i.channel_id == CH for i in intros)
    for intro in intros:
        await services.checkins.intro_done(intro.group_id, thread_id=99)
    assert await services.checkins.pending_intros(utc(2026, 1, 5, 10, 3), 0) == []
    await post_now(services, utc(2026, 1, 12, 10))
    assert await services.checkins.pair_buddies(utc(2026, 1, 12, 10, 1)) == 1
    second = await services.checkins.buddy_groups(G, "2026-W03")
    assert not set(first) & set(second)


# ------------------------------------------------------------------------- shards (issue #10)


def _guild_on(shard: int, count: int = 2) -> int:
    """A guild id Discord puts on ``shard`` of ``count``."""
    return ((1_000_000 + shard) << 22) | 12345


async def test_each_shard_scope_claims_only_its_own_guilds_work(services: Services) -> None:
    from bot.sharding import GuildScope

    scopes = {shard: GuildScope(2, frozenset({shard})) for shard in (0, 1)}
    guilds = {shard: _guild_on(shard) for shard in (0, 1)}
    for shard, guild_id in guilds.items():
        assert scopes[shard].owns(guild_id) and not scopes[1 - shard].owns(guild_id)
        await services.guilds.update(guild_id, utc(2026, 1, 1), checkin_channel_id=CH + shard)
        for member in (7, 8):
            await services.checkins.set_reminders(guild_id, member, True, utc(2026, 1, 1))
            await services.checkins.set_buddies(guild_id, member, True, utc(2026, 1, 1))
    monday = utc(2026, 1, 5, 10)

    # the weekly post: shard 0 neither creates nor claims shard 1's row
    [job] = await services.checkins.claim_due_posts(monday, scope=scopes[0])
    assert job.guild_id == guilds[0]
    assert await services.checkins.post_of(guilds[1], "2026-W02") is None
    assert await services.checkins.claim_due_posts(monday, scope=scopes[0]) == []
    # ... not even long after shard 1's grace window: its week is not marked skipped by shard 0
    assert await services.checkins.claim_due_posts(utc(2026, 1, 5, 23), scope=scopes[0]) == []
    assert await services.checkins.post_of(guilds[1], "2026-W02") is None
    [other] = await services.checkins.claim_due_posts(monday, scope=scopes[1])
    assert other.guild_id == guilds[1] and other.attempts == 1
    for claimed in (job, other):
        await services.checkins.post_done(claimed.post_id, monday, channel_id=CH, message_id=1, thread_id=5000)

    # reminders: each scope claims its own members, the others stay claimable
    evening = utc(2026, 1, 5, 18)
    reminded = await services.checkins.claim_reminders(evening, 5, scope=scopes[1])
    assert {(j.guild_id, j.member_id) for j in reminded} == {(guilds[1], 7), (guilds[1], 8)}
    reminded = await services.checkins.claim_reminders(evening, 5, scope=scopes[0])
    assert {(j.guild_id, j.member_id) for j in reminded} == {(guilds[0], 7), (guilds[0], 8)}

    # buddies: pairing and introductions are per scope too
    assert await services.checkins.pair_buddies(monday, scope=scopes[0]) == 1
    assert await services.checkins.buddy_groups(guilds[1], "2026-W02") == []
    assert await services.checkins.pending_intros(monday, 5, scope=scopes[1]) == []
    assert await services.checkins.pair_buddies(monday, scope=scopes[1]) == 1
    for shard, guild_id in guilds.items():
        [intro] = await services.checkins.pending_intros(monday, 5, scope=scopes[shard])
        assert intro.guild_id == guild_id and intro.member_ids == (7, 8)
    # no scope (a process holding every shard) sees both
    assert {i.guild_id for i in await services.checkins.pending_intros(monday, 5)} == set(guilds.values())


async def test_history_finds_the_open_week_in_the_guilds_time_zone(services: Services) -> None:
    await configured(services, tz="Pacific/Auckland")
    sunday_noon_utc = utc(2026, 1, 11, 12)  # already Monday 01:00 in Auckland: week 3 there, week 2 in UTC
    history = await services.checkins.history(G, 7, sunday_noon_utc)
    assert [(e.week, e.status) for e in history.entries] == [("2026-W03", "open")] and history.streak == 0
    await post_now(services, utc(2026, 1, 4, 22))  # Monday 11:00 in Auckland, week 2
    await services.checkins.answer(G, 7, utc(2026, 1, 4, 23), mood=4, note="fine")
    history = await services.checkins.history(G, 7, sunday_noon_utc)
    assert [(e.week, e.status, e.mood, e.note) for e in history.entries] == [("2026-W02", "checkin", 4, "fine")]
    assert history.streak == 1
    assert (await services.checkins.history(G, 8, sunday_noon_utc)).entries[0].status == "open"
