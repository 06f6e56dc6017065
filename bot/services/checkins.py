"""Weekly check-ins, streaks that never punish, reminders and buddies (issue #4).

Time rules (all in the guild's time zone, ``services.guilds``):

* A week is the ISO week of the *local* scheduled date, e.g. ``"2026-W49"``. There is at most one
  :class:`~bot.models.checkins.CheckinPost` per (guild, week): the unique key is the guarantee that a
  restart, a retry or a second process never posts twice.
* The scheduled instant is the configured wall-clock time on the configured weekday. Across DST the
  rule is zoneinfo's ``fold=0``: a wall time that does not exist (spring forward, e.g. 02:30 in
  Europe/Berlin on the last Sunday of March) is read with the offset *before* the change, so the
  post goes out at 03:30 local; a wall time that happens twice (fall back) means the *first*
  occurrence. Either way there is exactly one instant per week, so DST never skips or doubles.
* Missed because the bot was down: the post still goes out while ``now`` is within the grace window
  (default 12 h) after the scheduled instant; later, the week is marked ``skipped`` and logged.
* Streaks count weeks in which the member answered (a check-in *or* "not this week"). Weeks without a
  post do not count either way; the week still open never counts as missed; the streak breaks only
  after two consecutive missed weeks.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import combinations
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, bindparam, false, func, literal_column, or_, true, union_all, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import InvalidInput
from bot.models.checkins import (
    BuddyGroup,
    BuddyMember,
    BuddyRound,
    CheckinAnswer,
    CheckinMember,
    CheckinPost,
    CheckinReminder,
    CheckinSchedule,
)
from bot.models.guild import GuildConfig
from bot.services.context import ServiceContext
from bot.services.events import CheckinAnswered, MemberActive
from bot.services.rows import dialect_insert
from bot.sharding import GuildScope, in_scope
from bot.statements import Prepared, Statements

log = logging.getLogger(__name__)

#: How long a claimed post is reserved for the process that claimed it.
CLAIM_LEASE = timedelta(minutes=2)
#: Longest optional note.
NOTE_MAX = 1000
#: Buddy introductions handled per tick (thread mode).
INTROS_PER_TICK = 5
#: Rows per statement when a buddy round is written (the loop runs others between statements).
WRITE_CHUNK = 1000
WEEK_RE = re.compile(r"^(?P<year>[0-9]{4})-W(?P<week>[0-9]{2})$")
#: Bounds of the numeric schedule settings (``/setup checkins|buddies`` and the dashboard).
SCHEDULE_LIMITS: dict[str, tuple[int, int]] = {
    "weekday": (0, 6),
    "grace_hours": (0, 72),
    "reminder_hour": (0, 23),
    "buddy_weeks": (1, 8),
}
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


# ----------------------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class Schedule:
    """A guild's check-in settings."""

    guild_id: int
    enabled: bool = True
    weekday: int = 0
    hour: int = 10
    minute: int = 0
    grace_hours: int = 12
    reminder_hour: int = 18
    buddy_weeks: int = 1
    buddy_dm: bool = False
    #: Members whose DMs are closed: a mention in the week's thread (True) or no reminder (False).
    thread_reminders: bool = False

    @property
    def time_text(self) -> str:
        """``HH:MM``."""
        return f"{self.hour:02d}:{self.minute:02d}"


@dataclass(frozen=True, slots=True)
class PostJob:
    """A claimed weekly post the Discord layer should send now."""

    post_id: int
    guild_id: int
    week: str
    channel_id: int
    language: str
    attempts: int
    scheduled_at: datetime

    @property
    def nonce(self) -> str:
        """A stable message nonce (≤ 25 chars) so Discord drops a duplicate of the same post."""
        return "ck" + hashlib.sha256(f"{self.guild_id}:{self.week}".encode()).hexdigest()[:23]


@dataclass(frozen=True, slots=True)
class OpenWeek:
    """The week members answer now, and its thread (if the post went out)."""

    week: str
    thread_id: int | None
    posted: bool


@dataclass(frozen=True, slots=True)
class AnswerResult:
    """What happened when a member answered."""

    week: str
    skipped: bool
    streak: int
    mood: int | None = None
    shared_note: str | None = None  # set when the member chose to share (and a thread exists)
    thread_id: int | None = None
    share_unavailable: bool = False
    changed: bool = False  # an earlier answer of the same week was replaced


@dataclass(frozen=True, slots=True)
class WeekEntry:
    """One line of ``/checkin history``: ``status`` is checkin/skip/missed/open."""

    week: str
    status: Literal["checkin", "skip", "missed", "open"]
    mood: int | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class History:
    """A member's last weeks (newest first) and streak."""

    entries: tuple[WeekEntry, ...]
    streak: int


@dataclass(frozen=True, slots=True)
class MemberPrefs:
    """A member's opt-ins."""

    guild_id: int
    member_id: int
    reminders: bool
    buddies: bool
    dm_closed: bool


@dataclass(frozen=True, slots=True)
class ReminderJob:
    """A claimed reminder: send a DM (``via="dm"``) or mention in the week's thread."""

    guild_id: int
    member_id: int
    week: str
    via: Literal["dm", "thread"]
    thread_id: int | None
    language: str


@dataclass(frozen=True, slots=True)
class BuddyIntro:
    """A buddy group to introduce (``recipients`` are the members still to DM in DM mode)."""

    group_id: int
    guild_id: int
    period: str
    member_ids: tuple[int, ...]
    channel_id: int | None
    language: str
    dm: bool
    recipients: tuple[int, ...] = ()
    attempts: int = 0


# ------------------------------------------------------------------------------- time functions


def week_key(day: date) -> str:
    """The ISO week of ``day`` as ``"YYYY-Www"``."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_monday(key: str) -> date:
    """The Monday of an ISO week key."""
    m = WEEK_RE.match(key)
    if not m:
        raise ValueError(f"not a week key: {key!r}")
    return date.fromisocalendar(int(m["year"]), int(m["week"]), 1)


def scheduled_instant(tz: ZoneInfo, week: str, weekday: int, hour: int, minute: int) -> datetime:
    """The UTC instant of the weekly post in ``week`` (see the module docstring for DST)."""
    local_day = week_monday(week) + timedelta(days=weekday)
    local = datetime.combine(local_day, time(hour, minute), tzinfo=tz)  # fold=0
    return local.astimezone(UTC)


def parse_time(text: str) -> tuple[int, int]:
    """``"HH:MM"`` (24 h) → (hour, minute), or :class:`InvalidInput`."""
    m = re.fullmatch(r"\s*([0-9]{1,2})[:.]([0-9]{2})\s*", text)
    if not m or int(m[1]) > 23 or int(m[2]) > 59:
        raise InvalidInput("checkins.errors.bad_time", value=text[:20])
    return int(m[1]), int(m[2])


def next_post_at(schedule: Schedule, tz: ZoneInfo, now: datetime) -> datetime:
    """The next scheduled instant at or after ``now``."""
    this_week = week_key(now.astimezone(tz).date())
    at = scheduled_instant(tz, this_week, schedule.weekday, schedule.hour, schedule.minute)
    if at >= now:
        return at
    next_week = week_key(week_monday(this_week) + timedelta(days=7))
    return scheduled_instant(tz, next_week, schedule.weekday, schedule.hour, schedule.minute)


def reminder_instant(schedule: Schedule, tz: ZoneInfo, post_at: datetime) -> datetime:
    """The reminder time of a week: ``reminder_hour`` on the post's local day, or the next day
    when that hour is not after the post."""
    local_day = post_at.astimezone(tz).date()
    at = datetime.combine(local_day, time(schedule.reminder_hour), tzinfo=tz).astimezone(UTC)
    if at <= post_at:
        at = datetime.combine(local_day + timedelta(days=1), time(schedule.reminder_hour), tzinfo=tz)
        at = at.astimezone(UTC)
    return at


def compute_streak(answered: Iterable[str], opportunities: Iterable[str], open_week: str) -> int:
    """Weeks answered in the current run; two missed weeks in a row end the run."""
    answered_set = set(answered)
    streak = misses = 0
    for week in sorted(set(opportunities) | answered_set, reverse=True):
        if week > open_week:
            continue
        if week in answered_set:
            streak, misses = streak + 1, 0
        elif week == open_week:
            continue
        else:
            misses += 1
            if misses >= 2:
                break
    return streak


def make_groups(
    member_ids: Sequence[int], avoid: set[frozenset[int]], seed: str, tries: int = 200
) -> list[tuple[int, ...]]:
    """Pairs (and one trio when the count is odd), avoiding pairs in ``avoid`` when possible."""
    members = sorted(set(member_ids))
    if len(members) < 2:
        return []
    rng = random.Random(int(hashlib.sha256(seed.encode()).hexdigest()[:16], 16))
    best: list[tuple[int, ...]] = []
    best_score = None
    for _ in range(tries):
        rng.shuffle(members)
        groups = [tuple(members[i : i + 2]) for i in range(0, len(members) - 1, 2)]
        if len(members) % 2:
            groups[-1] = (*groups[-1], members[-1])
        score = sum(1 for g in groups for pair in combinations(g, 2) if frozenset(pair) in avoid)
        if best_score is None or score < best_score:
            best, best_score = [tuple(sorted(g)) for g in groups], score
        if score == 0:
            break
    return best


async def _insert_rows(s: AsyncSession, table: Any, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (values in ``columns``' order, as the driver takes them: ints, strings,
    bools, ``None``) with the driver's own executemany, :data:`WRITE_CHUNK` rows a statement. The
    statement is SQLAlchemy's, compiled once for this dialect (its placeholders and casts)."""
    conn = await s.connection()
    compiled = table.insert().inline().compile(dialect=conn.dialect, column_keys=list(columns))
    order = [columns.index(name) for name in compiled.positiontup or ()]
    if len(order) != len(columns):  # not positional: let SQLAlchemy bind them
        for start in range(0, len(rows), WRITE_CHUNK):
            chunk = [dict(zip(columns, row, strict=True)) for row in rows[start : start + WRITE_CHUNK]]
            await s.exec(table.insert(), params=chunk)  # type: ignore[call-overload]
        return
    if order != list(range(len(columns))):
        rows = [tuple(row[i] for i in order) for row in rows]
    sql = str(compiled)
    for start in range(0, len(rows), WRITE_CHUNK):
        await conn.exec_driver_sql(sql, list(rows[start : start + WRITE_CHUNK]))


# ------------------------------------------------------------------------------------ service


class CheckinService:
    """The weekly check-in and everything around it."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db
        self.events = ctx.events

    # ------------------------------------------------------------------------------ settings

    async def get_schedule(self, guild_id: int) -> Schedule:
        """The guild's schedule (defaults when never configured)."""
        async with self.db.direct(read=True) as q:  # ``/setup show`` reads it every time
            row = await q.first(_SCHEDULE, guild=guild_id)
        return Schedule(*row) if row else Schedule(guild_id=guild_id)

    async def configure(self, guild_id: int, now: datetime, **changes: Any) -> Schedule:
        """Change the schedule. ``time="HH:MM"`` is parsed; ranges are checked."""
        if "time" in changes:
            changes["hour"], changes["minute"] = parse_time(str(changes.pop("time")))
        for name, (lo, hi) in SCHEDULE_LIMITS.items():
            if name in changes and not lo <= int(changes[name]) <= hi:
                raise InvalidInput("checkins.errors.out_of_range", value=str(changes[name]), low=lo, high=hi)
        allowed = set(Schedule.__dataclass_fields__) - {"guild_id"}
        if set(changes) - allowed:
            raise TypeError(f"unknown check-in settings: {sorted(set(changes) - allowed)}")
        for name in ("enabled", "buddy_dm", "thread_reminders"):
            if name in changes and not isinstance(changes[name], bool):
                raise TypeError(f"check-in setting {name} is on or off, not {changes[name]!r}")
        async with self.db.session() as s:
            row = await s.get(CheckinSchedule, guild_id, with_for_update=True)
            if row is None:
                row = CheckinSchedule(guild_id=guild_id, updated_at=now)
                s.add(row)
            for name, value in changes.items():
                setattr(row, name, value)
            row.updated_at = now
            await s.flush()
            return _schedule(row)

    # ---------------------------------------------------------------------------- the post

    async def claim_due_posts(self, now: datetime, *, scope: GuildScope | None = None) -> list[PostJob]:
        """Create this week's post rows where due and claim those to send now.

        Idempotent and safe with several processes: rows are inserted only if absent (unique
        guild/week) and claimed with a conditional UPDATE, so exactly one caller gets each post.
        Only guilds in ``scope`` (this process's shards) are looked at: the others' posts are
        neither created, claimed nor skipped here.
        """
        jobs: list[PostJob] = []
        async with self.db.session() as s:
            guilds = (
                await s.exec(
                    select(GuildConfig).where(
                        col(GuildConfig.checkin_channel_id).is_not(None), in_scope(scope, col(GuildConfig.guild_id))
                    )
                )
            ).all()
            schedules = await _schedules(s, [g.guild_id for g in guilds])
            for guild in guilds:
                schedule = schedules.get(guild.guild_id) or Schedule(guild_id=guild.guild_id)
                if not schedule.enabled:
                    continue
                jobs.extend(await self._claim_guild(s, guild, schedule, now))
        return jobs

    async def _claim_guild(
        self, s: AsyncSession, guild: GuildConfig, schedule: Schedule, now: datetime
    ) -> list[PostJob]:
        tz = ZoneInfo(guild.timezone)
        grace = timedelta(hours=schedule.grace_hours)
        this_week = week_key(now.astimezone(tz).date())
        last_week = week_key(week_monday(this_week) - timedelta(days=7))
        for week in (last_week, this_week):
            at = scheduled_instant(tz, week, schedule.weekday, schedule.hour, schedule.minute)
            if at > now or (week == last_week and now > at + grace):
                continue
            state, reason = ("pending", "") if now <= at + grace else ("skipped", "missed")
            stmt = (
                dialect_insert(self.db.dialect, CheckinPost)
                .values(guild_id=guild.guild_id, week=week, scheduled_at=at, state=state, reason=reason, attempts=0)
                .on_conflict_do_nothing(index_elements=["guild_id", "week"])
            )
            result = await s.exec(stmt)  # type: ignore[call-overload]
            if result.rowcount and state == "skipped":
                log.warning(
                    "check-in for guild %s week %s skipped: the bot was not running within %s h of %s",
                    guild.guild_id,
                    week,
                    schedule.grace_hours,
                    at.isoformat(),
                )
        pending = (
            await s.exec(
                select(CheckinPost).where(CheckinPost.guild_id == guild.guild_id, CheckinPost.state == "pending")
            )
        ).all()
        jobs = []
        for post in pending:
            if now > post.scheduled_at + grace:
                await s.exec(  # type: ignore[call-overload]
                    update(CheckinPost)
                    .where(col(CheckinPost.id) == post.id, col(CheckinPost.state) == "pending")
                    .values(state="skipped", reason="failed" if post.attempts else "missed", claimed_until=None)
                )
                log.warning(
                    "check-in for guild %s week %s skipped after %d failed attempt(s)",
                    guild.guild_id,
                    post.week,
                    post.attempts,
                )
                continue
            attempts = post.attempts
            claimed = await s.exec(  # type: ignore[call-overload]
                update(CheckinPost)
                .where(
                    col(CheckinPost.id) == post.id,
                    col(CheckinPost.state) == "pending",
                    or_(col(CheckinPost.claimed_until).is_(None), col(CheckinPost.claimed_until) < now),
                    or_(col(CheckinPost.next_attempt_at).is_(None), col(CheckinPost.next_attempt_at) <= now),
                )
                .values(claimed_until=now + CLAIM_LEASE, attempts=col(CheckinPost.attempts) + 1)
            )
            if claimed.rowcount == 1:
                jobs.append(
                    PostJob(
                        post_id=post.id or 0,
                        guild_id=guild.guild_id,
                        week=post.week,
                        channel_id=guild.checkin_channel_id or 0,
                        language=guild.language,
                        attempts=attempts + 1,
                        scheduled_at=post.scheduled_at,
                    )
                )
        return jobs

    async def post_done(
        self, post_id: int, now: datetime, *, channel_id: int, message_id: int, thread_id: int | None
    ) -> None:
        """The post went out."""
        async with self.db.session() as s:
            await s.exec(  # type: ignore[call-overload]
                update(CheckinPost)
                .where(col(CheckinPost.id) == post_id)
                .values(
                    state="posted",
                    reason="",
                    channel_id=channel_id,
                    message_id=message_id,
                    thread_id=thread_id,
                    posted_at=now,
                    claimed_until=None,
                    next_attempt_at=None,
                )
            )

    async def post_failed(self, post_id: int, retry_at: datetime) -> None:
        """The post could not go out; keep it pending and try again at ``retry_at``."""
        async with self.db.session() as s:
            await s.exec(  # type: ignore[call-overload]
                update(CheckinPost)
                .where(col(CheckinPost.id) == post_id)
                .values(claimed_until=None, next_attempt_at=retry_at)
            )

    async def post_of(self, guild_id: int, week: str) -> CheckinPost | None:
        """The stored post row of a week (for tests and diagnostics)."""
        async with self.db.session() as s:
            return (
                await s.exec(select(CheckinPost).where(CheckinPost.guild_id == guild_id, CheckinPost.week == week))
            ).first()

    async def open_week(self, guild_id: int, now: datetime) -> OpenWeek:
        """The week answered now: the latest post of the last 7 days, else the local ISO week."""
        async with self.db.direct(read=True) as q:
            return await _open_week(q, guild_id, now)

    # ------------------------------------------------------------------------------ answers

    async def answer(
        self,
        guild_id: int,
        member_id: int,
        now: datetime,
        *,
        week: str | None = None,
        skipped: bool = False,
        mood: int | None = None,
        note: str | None = None,
        share: bool = False,
    ) -> AnswerResult:
        """Record a check-in (mood 1-5, optional note, shared or private) or "not this week"."""
        if not skipped and (mood is None or not 1 <= mood <= 5):
            raise InvalidInput("checkins.errors.bad_mood")
        note = (note or "").strip() or None
        if note and len(note) > NOTE_MAX:
            raise InvalidInput("checkins.errors.note_too_long", limit=NOTE_MAX)
        if skipped:
            mood, note, share = None, None, False
        async with self.db.direct() as q:  # statements straight to the driver: the hot path
            open_ = await _open_week(q, guild_id, now)
            if week is not None and week != open_.week:
                raise InvalidInput("checkins.errors.week_closed")
            share_unavailable = bool(share and note and open_.thread_id is None)
            shared = bool(share and note and open_.thread_id is not None)
            # Four statements before the answer: the open week, every week the member answered
            # (with "skipped") and every posted week in one, then two upserts.
            answered, posted = await _answers_and_posts(q, guild_id, member_id)
            before = answered.get(open_.week)  # None: first answer of the week
            changed = before is not None
            publish = before is None or before != skipped
            await q.run(
                _UPSERT_ANSWER,
                guild_id=guild_id,
                member_id=member_id,
                week=open_.week,
                skipped=skipped,
                mood=mood,
                note=note,
                shared=shared,
                answered_at=now,
            )
            await q.run(_REOPEN_MEMBER, guild_id=guild_id, member_id=member_id, updated_at=now)
            streak = compute_streak([*answered, open_.week], posted, open_.week)
        if publish:
            await self.events.publish(CheckinAnswered(guild_id, member_id, open_.week, skipped, now))
        await self.events.publish(MemberActive(guild_id, member_id, now))
        return AnswerResult(
            week=open_.week,
            skipped=skipped,
            streak=streak,
            mood=mood,
            shared_note=note if shared else None,
            thread_id=open_.thread_id,
            share_unavailable=share_unavailable,
            changed=changed,
        )

    async def history(self, guild_id: int, member_id: int, now: datetime, weeks: int = 8) -> History:
        """The member's own last ``weeks`` weeks (newest first) and streak."""
        async with self.db.read() as s:
            # Two statements: the guild's posted weeks with its time zone (the open week is found
            # among them, as :func:`_open_week` would), then the member's answers.
            timezone, posts = await _posts_and_timezone(s, guild_id)
            answers = {
                a.week: a for a in (await s.exec(_MEMBER_ANSWERS, params={"guild": guild_id, "member": member_id}))
            }
        open_ = _open_among(posts, now) or OpenWeek(week_key(now.astimezone(ZoneInfo(timezone)).date()), None, False)
        posted = [week for week, _, _ in posts]
        streak = compute_streak(answers, posted, open_.week)
        entries = []
        for week in sorted((set(answers) | set(posted) | {open_.week}), reverse=True):
            if week > open_.week:
                continue
            a = answers.get(week)
            if a is not None:
                entries.append(WeekEntry(week, "skip" if a.skipped else "checkin", a.mood, a.note))
            elif week == open_.week:
                entries.append(WeekEntry(week, "open"))
            else:
                entries.append(WeekEntry(week, "missed"))
            if len(entries) >= weeks:
                break
        return History(tuple(entries), streak)

    # ---------------------------------------------------------------------------- opt-ins

    async def set_reminders(self, guild_id: int, member_id: int, on: bool, now: datetime) -> MemberPrefs:
        """Opt in to (or out of) the weekly reminder DM."""
        return await self._set_pref(guild_id, member_id, now, reminders=on)

    async def set_buddies(self, guild_id: int, member_id: int, on: bool, now: datetime) -> MemberPrefs:
        """Join (or leave) the buddy pairing."""
        return await self._set_pref(guild_id, member_id, now, buddies=on)

    async def prefs(self, guild_id: int, member_id: int) -> MemberPrefs:
        """A member's opt-ins."""
        async with self.db.session() as s:
            row = await _member(s, guild_id, member_id)
        if row is None:
            return MemberPrefs(guild_id, member_id, False, False, False)
        return _prefs(row)

    async def _set_pref(self, guild_id: int, member_id: int, now: datetime, **values: bool) -> MemberPrefs:
        async with self.db.session() as s:
            row = await _touch_member(s, self.db.dialect, guild_id, member_id, now)
            for name, value in values.items():
                setattr(row, name, value)
            await s.flush()
            return _prefs(row)

    # ---------------------------------------------------------------------------- reminders

    async def claim_reminders(
        self, now: datetime, dm_slots: int, *, scope: GuildScope | None = None
    ) -> list[ReminderJob]:
        """Reminders due now, claimed (one per member per week): up to ``dm_slots`` DMs, plus, where
        the guild chose ``thread_reminders``, every member whose DMs are closed (they are mentioned
        in the week's thread instead). Without that setting (the default) a member whose DMs are
        closed is not reminded. Only guilds in ``scope`` (this process's shards)."""
        jobs: list[ReminderJob] = []
        async with self.db.session() as s:
            posts = (
                await s.exec(
                    select(CheckinPost).where(
                        CheckinPost.state == "posted",
                        CheckinPost.scheduled_at > now - timedelta(days=7),
                        in_scope(scope, col(CheckinPost.guild_id)),
                    )
                )
            ).all()
            for post in posts:
                guild = await s.get(GuildConfig, post.guild_id)
                schedule = (await _schedules(s, [post.guild_id])).get(post.guild_id) or Schedule(post.guild_id)
                tz = ZoneInfo(guild.timezone if guild else "UTC")
                if now < reminder_instant(schedule, tz, post.scheduled_at):
                    continue
                answered = select(CheckinAnswer.member_id).where(
                    CheckinAnswer.guild_id == post.guild_id, CheckinAnswer.week == post.week
                )
                reminded = select(CheckinReminder.member_id).where(
                    CheckinReminder.guild_id == post.guild_id, CheckinReminder.week == post.week
                )
                reachable = true() if schedule.thread_reminders else col(CheckinMember.dm_closed).is_(False)
                members = (
                    await s.exec(
                        select(CheckinMember)
                        .where(
                            CheckinMember.guild_id == post.guild_id,
                            col(CheckinMember.reminders).is_(True),
                            col(CheckinMember.member_id).not_in(answered),
                            col(CheckinMember.member_id).not_in(reminded),
                            reachable,
                        )
                        .order_by(col(CheckinMember.dm_closed).desc(), col(CheckinMember.id))
                    )
                ).all()
                for m in members:
                    via: Literal["dm", "thread"] = "thread" if m.dm_closed else "dm"
                    if via == "dm" and dm_slots <= 0:
                        continue
                    if via == "thread" and post.thread_id is None:
                        continue
                    stmt = (
                        dialect_insert(self.db.dialect, CheckinReminder)
                        .values(guild_id=m.guild_id, member_id=m.member_id, week=post.week, via=via, created_at=now)
                        .on_conflict_do_nothing(index_elements=["guild_id", "member_id", "week"])
                    )
                    if (await s.exec(stmt)).rowcount != 1:  # type: ignore[call-overload]
                        continue
                    dm_slots -= via == "dm"
                    language = guild.language if guild else "en"
                    jobs.append(ReminderJob(m.guild_id, m.member_id, post.week, via, post.thread_id, language))
        return jobs

    async def reminder_result(
        self,
        guild_id: int,
        member_id: int,
        week: str,
        outcome: Literal["sent", "dm_closed", "failed", "release"],
    ) -> bool:
        """Record how a reminder went. ``dm_closed`` remembers it (no more DMs until the member
        interacts again); where the guild chose ``thread_reminders`` and the week has a thread,
        the reminder becomes a mention there and this returns ``True`` (mention them now).
        Otherwise the member is simply not reminded this week: the claim stays, recorded as
        ``dm_closed``, so it is never retried nor sent twice. ``release`` frees the claim so a
        later tick retries."""
        async with self.db.session() as s:
            row = (
                await s.exec(
                    select(CheckinReminder).where(
                        CheckinReminder.guild_id == guild_id,
                        CheckinReminder.member_id == member_id,
                        CheckinReminder.week == week,
                    )
                )
            ).first()
            if row is None:
                return False
            if outcome == "release":
                await s.delete(row)
                return False
            if outcome == "dm_closed":
                member = await _member(s, guild_id, member_id)
                if member is not None:
                    member.dm_closed = True
                if await _thread_reminder_possible(s, guild_id, week):
                    row.via, row.state = "thread", "sending"
                    return True
            row.state = outcome
            return False

    # ----------------------------------------------------------------------------- buddies

    async def pair_buddies(self, now: datetime, *, scope: GuildScope | None = None) -> int:
        """Make this period's buddy groups where due (once per guild and period). Returns how many
        rounds were made. A round is due in the week of a check-in post whose week number is a
        multiple of the guild's ``buddy_weeks``. Only guilds in ``scope`` (this process's shards).

        A big guild has thousands of buddies: the members are read in one transaction, the groups
        are made in a worker thread (shuffling and scoring up to 200 tries is CPU work that would
        stall the event loop), and the round is claimed and its groups written in a second, short
        transaction (a few multi-row inserts); a concurrent caller that loses the claim writes
        nothing."""
        made = 0
        async with self.db.read(bulk=True) as s:
            counts = (
                await s.exec(
                    select(CheckinMember.guild_id, func.count())
                    .where(col(CheckinMember.buddies).is_(True), in_scope(scope, col(CheckinMember.guild_id)))
                    .group_by(col(CheckinMember.guild_id))
                )
            ).all()
        for guild_id, count in counts:
            if count < 2:
                continue
            plan = await self._buddy_plan(guild_id, now)
            if plan is None:
                continue
            week, dm, members, avoid = plan
            groups = await asyncio.to_thread(make_groups, members, avoid, f"{guild_id}:{week}")
            if await self._save_round(guild_id, week, dm, groups, now):
                made += 1
        return made

    async def _buddy_plan(
        self, guild_id: int, now: datetime
    ) -> tuple[str, bool, list[int], set[frozenset[int]]] | None:
        """The period, DM mode, buddies and last round's pairs of a guild whose round is due."""
        open_ = await self.open_week(guild_id, now)
        async with self.db.read(bulk=True) as s:  # every buddy of the guild
            if not open_.posted:
                return None
            schedule = (await _schedules(s, [guild_id])).get(guild_id) or Schedule(guild_id)
            if (week_monday(open_.week).toordinal() // 7) % schedule.buddy_weeks:
                return None
            done = await s.exec(
                select(BuddyRound.id).where(BuddyRound.guild_id == guild_id, BuddyRound.period == open_.week)
            )
            if done.first() is not None:
                return None
            members = (
                await s.exec(
                    select(CheckinMember.member_id).where(
                        CheckinMember.guild_id == guild_id, col(CheckinMember.buddies).is_(True)
                    )
                )
            ).all()
            avoid = await _last_pairs(s, guild_id, open_.week)
        return open_.week, schedule.buddy_dm, list(members), avoid

    async def _save_round(
        self, guild_id: int, week: str, dm: bool, groups: list[tuple[int, ...]], now: datetime
    ) -> bool:
        """Claim the guild's round for ``week`` and write its groups; False if it was taken."""
        async with self.db.session(bulk=True) as s:  # thousands of rows
            stmt = (
                dialect_insert(self.db.dialect, BuddyRound)
                .values(guild_id=guild_id, period=week, created_at=now)
                .on_conflict_do_nothing(index_elements=["guild_id", "period"])
            )
            if (await s.exec(stmt)).rowcount != 1:  # type: ignore[call-overload]
                return False
            round_id = (
                await s.exec(select(BuddyRound.id).where(BuddyRound.guild_id == guild_id, BuddyRound.period == week))
            ).one()
            if not groups:
                return True
            # The round's group rows are alike until their members are written, so any order of
            # ids fits (a RETURNING in parameter order would cost SQLite one statement per row).
            group_table, member_table = BuddyGroup.__table__, BuddyMember.__table__  # type: ignore[attr-defined]
            # The rows go to the driver as tuples, WRITE_CHUNK at a time: SQLAlchemy's per-row
            # parameter work (~5 µs a row, on the event loop) would hold the database's turn twice
            # as long for a 10k-buddy round; between statements the loop runs others.
            await _insert_rows(
                s,
                group_table,
                ("round_id", "guild_id", "dm", "state", "attempts"),
                [(round_id, guild_id, dm, "pending", 0)] * len(groups),
            )
            ids = (
                await s.exec(select(BuddyGroup.id).where(BuddyGroup.round_id == round_id).order_by(col(BuddyGroup.id)))
            ).all()
            await _insert_rows(
                s,
                member_table,
                ("group_id", "guild_id", "member_id", "notified"),
                [
                    (group_id, guild_id, member_id, False)
                    for group_id, group in zip(ids, groups, strict=True)
                    for member_id in group
                ],
            )
        return True

    async def pending_intros(
        self, now: datetime, dm_slots: int, *, scope: GuildScope | None = None
    ) -> list[BuddyIntro]:
        """Buddy groups to introduce now (thread mode: a few per tick; DM mode: ``dm_slots`` DMs).
        Only guilds in ``scope`` (this process's shards), filtered before the per-tick limit."""
        intros: list[BuddyIntro] = []
        async with self.db.session(bulk=True) as s:  # looks through every round's groups
            rows = (
                await s.exec(
                    select(BuddyGroup, BuddyRound)
                    .join(BuddyRound, col(BuddyRound.id) == col(BuddyGroup.round_id))
                    .where(
                        BuddyGroup.state == "pending",
                        or_(col(BuddyGroup.next_attempt_at).is_(None), col(BuddyGroup.next_attempt_at) <= now),
                        in_scope(scope, col(BuddyGroup.guild_id)),
                    )
                    .order_by(col(BuddyGroup.id))
                    .limit(50)
                )
            ).all()
            threads = 0
            for group, round_ in rows:
                members = (await s.exec(select(BuddyMember).where(BuddyMember.group_id == group.id))).all()
                guild = await s.get(GuildConfig, group.guild_id)
                base = {
                    "group_id": group.id or 0,
                    "guild_id": group.guild_id,
                    "period": round_.period,
                    "member_ids": tuple(m.member_id for m in members),
                    "channel_id": guild.checkin_channel_id if guild else None,
                    "language": guild.language if guild else "en",
                    "dm": group.dm,
                    "attempts": group.attempts,
                }
                if group.dm:
                    todo = tuple(m.member_id for m in members if not m.notified)[: max(0, dm_slots)]
                    if todo:
                        dm_slots -= len(todo)
                        intros.append(BuddyIntro(**base, recipients=todo))
                elif threads < INTROS_PER_TICK:
                    threads += 1
                    intros.append(BuddyIntro(**base))
        return intros

    async def intro_done(self, group_id: int, *, thread_id: int | None = None, member_id: int | None = None) -> None:
        """A thread introduction went out, or (DM mode) one member was told."""
        async with self.db.session() as s:
            group = await s.get(BuddyGroup, group_id)
            if group is None:
                return
            if member_id is not None:
                for m in (await s.exec(select(BuddyMember).where(BuddyMember.group_id == group_id))).all():
                    if m.member_id == member_id:
                        m.notified = True
                await s.flush()
                left = (
                    await s.exec(
                        select(BuddyMember).where(
                            BuddyMember.group_id == group_id, col(BuddyMember.notified).is_(False)
                        )
                    )
                ).first()
                if left is None:
                    group.state = "introduced"
            else:
                group.state, group.thread_id = "introduced", thread_id

    async def intro_failed(self, group_id: int, retry_at: datetime | None) -> None:
        """An introduction failed: retry at ``retry_at`` (``None``: give up)."""
        async with self.db.session() as s:
            group = await s.get(BuddyGroup, group_id)
            if group is None:
                return
            group.attempts += 1
            if retry_at is None:
                group.state = "failed"
            else:
                group.next_attempt_at = retry_at

    async def buddy_groups(self, guild_id: int, period: str) -> list[tuple[int, ...]]:
        """The groups of one period (sorted member ids)."""
        async with self.db.session() as s:
            return await _groups(s, guild_id, period)


# ----------------------------------------------------------------------------------- helpers


def _schedule(row: CheckinSchedule) -> Schedule:
    return Schedule(
        guild_id=row.guild_id,
        enabled=row.enabled,
        weekday=row.weekday,
        hour=row.hour,
        minute=row.minute,
        grace_hours=row.grace_hours,
        reminder_hour=row.reminder_hour,
        buddy_weeks=row.buddy_weeks,
        buddy_dm=row.buddy_dm,
        thread_reminders=row.thread_reminders,
    )


def _prefs(row: CheckinMember) -> MemberPrefs:
    return MemberPrefs(row.guild_id, row.member_id, row.reminders, row.buddies, row.dm_closed)


async def _schedules(s: AsyncSession, guild_ids: list[int]) -> dict[int, Schedule]:
    if not guild_ids:
        return {}
    rows = (await s.exec(select(CheckinSchedule).where(col(CheckinSchedule.guild_id).in_(guild_ids)))).all()
    return {r.guild_id: _schedule(r) for r in rows}


async def _thread_reminder_possible(s: AsyncSession, guild_id: int, week: str) -> bool:
    """Whether the guild reminds members with closed DMs in the thread and that week has one."""
    query = (
        select(CheckinPost.thread_id)
        .join(CheckinSchedule, col(CheckinSchedule.guild_id) == col(CheckinPost.guild_id))
        .where(
            CheckinPost.guild_id == guild_id,
            CheckinPost.week == week,
            col(CheckinSchedule.thread_reminders).is_(True),
            col(CheckinPost.thread_id).is_not(None),
        )
    )
    return (await s.exec(query)).first() is not None


async def _member(s: AsyncSession, guild_id: int, member_id: int) -> CheckinMember | None:
    return (
        await s.exec(
            select(CheckinMember).where(CheckinMember.guild_id == guild_id, CheckinMember.member_id == member_id)
        )
    ).first()


async def _touch_member(s: AsyncSession, dialect: str, guild_id: int, member_id: int, now: datetime) -> CheckinMember:
    """The member's row (created if absent); interacting again re-opens DMs we found closed."""
    stmt = (
        dialect_insert(dialect, CheckinMember)
        .values(guild_id=guild_id, member_id=member_id, updated_at=now)
        .on_conflict_do_nothing(index_elements=["guild_id", "member_id"])
    )
    await s.exec(stmt)  # type: ignore[call-overload]
    row = await _member(s, guild_id, member_id)
    assert row is not None
    row.dm_closed = False
    row.updated_at = now
    return row


def _upsert_answer(dialect: str) -> Any:
    """A member's answer of a week, replacing an earlier one."""
    answer = dialect_insert(dialect, CheckinAnswer.__table__)
    return answer.on_conflict_do_update(
        index_elements=["guild_id", "member_id", "week"],
        set_={name: answer.excluded[name] for name in ("skipped", "mood", "note", "shared", "answered_at")},
    )


def _reopen_member(dialect: str) -> Any:
    """:func:`_touch_member` in one statement, for callers that do not need the row: the member
    is created, or their DMs are open again."""
    member = dialect_insert(dialect, CheckinMember.__table__)
    return member.on_conflict_do_update(
        index_elements=["guild_id", "member_id"],
        set_={"dm_closed": false(), "updated_at": member.excluded.updated_at},
    )


_SCHEDULE_TABLE = CheckinSchedule.__table__  # type: ignore[attr-defined]
#: :class:`Schedule`'s fields, in its order.
_SCHEDULE = Prepared(
    select(*(_SCHEDULE_TABLE.c[name] for name in Schedule.__dataclass_fields__)).where(
        _SCHEDULE_TABLE.c.guild_id == bindparam("guild")
    )
)
_UPSERT_ANSWER = Prepared(
    _upsert_answer, columns=["guild_id", "member_id", "week", "skipped", "mood", "note", "shared", "answered_at"]
)
_REOPEN_MEMBER = Prepared(_reopen_member, columns=["guild_id", "member_id", "updated_at"])


def _answers_and_posts_query() -> Any:
    """Every week a member answered (with "skipped") and every posted week of the guild, in one
    statement, built once with bound parameters."""
    answers = select(
        col(CheckinAnswer.week).label("week"), col(CheckinAnswer.skipped).label("skipped"), literal_column("1")
    ).where(col(CheckinAnswer.guild_id) == bindparam("guild"), col(CheckinAnswer.member_id) == bindparam("member"))
    posts = select(col(CheckinPost.week), false(), literal_column("0")).where(
        col(CheckinPost.guild_id) == bindparam("guild"), col(CheckinPost.state) == "posted"
    )
    return union_all(answers, posts)


_ANSWERS_AND_POSTS = Prepared(_answers_and_posts_query())
#: The guild's latest check-in post between ``since`` and ``now`` (the week being answered).
_LATEST_POST = Prepared(
    select(col(CheckinPost.week), col(CheckinPost.thread_id))
    .where(
        col(CheckinPost.guild_id) == bindparam("guild"),
        col(CheckinPost.state) == "posted",
        col(CheckinPost.scheduled_at) > bindparam("since"),
        col(CheckinPost.scheduled_at) <= bindparam("now"),
    )
    .order_by(col(CheckinPost.scheduled_at).desc())
    .limit(1)
)
_GUILD_TIMEZONE = Prepared(select(col(GuildConfig.timezone)).where(col(GuildConfig.guild_id) == bindparam("guild")))


async def _open_week(q: Statements, guild_id: int, now: datetime) -> OpenWeek:
    """:meth:`CheckinService.open_week` inside a transaction."""
    post = await q.first(_LATEST_POST, guild=guild_id, since=now - timedelta(days=7), now=now)
    if post is not None:
        week, thread_id = post
        return OpenWeek(week, thread_id, True)
    timezone = await q.scalar(_GUILD_TIMEZONE, guild=guild_id)
    return OpenWeek(week_key(now.astimezone(ZoneInfo(timezone or "UTC")).date()), None, False)


async def _answers_and_posts(q: Statements, guild_id: int, member_id: int) -> tuple[dict[str, bool], list[str]]:
    """``({week: skipped} of the member's answers, [posted weeks])`` in one statement."""
    answered: dict[str, bool] = {}
    posted: list[str] = []
    for week, skipped, is_answer in await q.rows(_ANSWERS_AND_POSTS, guild=guild_id, member=member_id):
        if is_answer:
            answered[week] = bool(skipped)
        else:
            posted.append(week)
    return answered, posted


def _posts_and_timezone_query() -> Any:
    """The guild's time zone and its posted weeks (week, thread, scheduled time) in one statement,
    built once with bound parameters: a one-row time-zone subquery outer-joined to the posts."""
    guild_id = bindparam("guild")
    zone = select(GuildConfig.timezone).where(col(GuildConfig.guild_id) == guild_id).scalar_subquery()
    guild = select(zone.label("timezone")).subquery()
    posted = and_(col(CheckinPost.guild_id) == guild_id, col(CheckinPost.state) == "posted")
    return select(
        guild.c.timezone, col(CheckinPost.week), col(CheckinPost.thread_id), col(CheckinPost.scheduled_at)
    ).select_from(guild.outerjoin(CheckinPost, posted))


_POSTS_AND_TIMEZONE = _posts_and_timezone_query()
_MEMBER_ANSWERS = select(CheckinAnswer).where(
    col(CheckinAnswer.guild_id) == bindparam("guild"), col(CheckinAnswer.member_id) == bindparam("member")
)


async def _posts_and_timezone(s: AsyncSession, guild_id: int) -> tuple[str, list[tuple[str, int | None, datetime]]]:
    """The guild's time zone ("UTC" if never configured) and its posted weeks (week, thread,
    scheduled time), in one statement (:data:`_POSTS_AND_TIMEZONE`)."""
    rows = (await s.exec(_POSTS_AND_TIMEZONE, params={"guild": guild_id})).all()  # type: ignore[call-overload]
    timezone = rows[0][0] or "UTC"
    return timezone, [(week, thread, at) for _, week, thread, at in rows if week is not None]


def _open_among(posts: Iterable[tuple[str, int | None, datetime]], now: datetime) -> OpenWeek | None:
    """:func:`_open_week` over already-read posted weeks: the latest posted within
    the last 7 days."""
    recent = [p for p in posts if now - timedelta(days=7) < p[2] <= now]
    if not recent:
        return None
    week, thread_id, _ = max(recent, key=lambda p: p[2])
    return OpenWeek(week, thread_id, True)


async def _groups(s: AsyncSession, guild_id: int, period: str) -> list[tuple[int, ...]]:
    rows = (
        await s.exec(
            select(BuddyMember.group_id, BuddyMember.member_id)
            .join(BuddyGroup, col(BuddyGroup.id) == col(BuddyMember.group_id))
            .join(BuddyRound, col(BuddyRound.id) == col(BuddyGroup.round_id))
            .where(BuddyRound.guild_id == guild_id, BuddyRound.period == period)
        )
    ).all()
    by_group: dict[int, list[int]] = {}
    for group_id, member_id in rows:
        by_group.setdefault(group_id, []).append(member_id)
    return sorted(tuple(sorted(v)) for v in by_group.values())


async def _last_pairs(s: AsyncSession, guild_id: int, period: str) -> set[frozenset[int]]:
    last = (
        await s.exec(
            select(BuddyRound.period)
            .where(BuddyRound.guild_id == guild_id, BuddyRound.period < period)
            .order_by(col(BuddyRound.period).desc())
        )
    ).first()
    if last is None:
        return set()
    return {frozenset(p) for g in await _groups(s, guild_id, last) for p in combinations(g, 2)}
