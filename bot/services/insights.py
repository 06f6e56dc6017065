"""Aggregate statistics for moderators (issue #8): ``/stats``.

One call, :meth:`InsightService.report`, reads every feature's tables with aggregate queries
(``COUNT``/``AVG``/``COUNT(DISTINCT)`` on indexed columns; medians are taken in Python over the
period's durations only) and returns plain numbers and weekly series. Nothing here is per member.

Definitions (the issue leaves them open):

* **period** — ``[now - days, now)``; **weeks** are ISO weeks (Monday-Sunday, UTC) overlapping it,
  so the first and last week may be partial.
* **active members** — distinct members whose last activity (``member_activity``) falls in the
  period. Per week: distinct members with an :class:`~bot.models.insights.InsightActivityDay` row
  in that week (that table is written by this service; ``member_activity`` keeps only the latest).
* **help** — requests *opened* in the period; *answered* = someone other than the asker wrote in
  the thread; median time to that first response; resolution rate = resolved / opened; unanswered
  share = (opened - answered) / opened.
* **check-ins** — participation = distinct members who checked in (not "not this week") in the
  period / active members in the period (per week: / members active that week), at most 100 %.
  Mood (1-5) is averaged over the period and per check-in week, and **hidden when fewer than
  :data:`MIN_GROUP` members gave a mood** — the same rule as the monthly pulse.
* **recognition** — entries created in the period and not revoked: count, points, and how many
  were thanks from members (the rest are automatic awards).
* **reports** — opened in the period; median time from filing to closing (resolved or dismissed)
  of reports *closed* in the period; open now = not closed, whenever filed.
* **prompts** — personal prompts sent to quiet members in the period, and how many of them were
  active in the guild again within 7 days of the prompt.
* **pulse** — :meth:`bot.services.surveys.SurveyService.pulse_summary` for pulses started in the period.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from statistics import median
from typing import Any

from sqlalchemy import and_, case, distinct, false, func, select

from bot.errors import InvalidInput
from bot.models.activity import InsightActivityDay, MemberActivity
from bot.models.checkins import CheckinAnswer
from bot.models.guild import GuildConfig
from bot.models.help import HelpRequest
from bot.models.nudges import Nudge
from bot.models.recognition import RecognitionEntry
from bot.models.reports import Report
from bot.services.context import ServiceContext
from bot.services.surveys import SurveyService

log = logging.getLogger(__name__)

#: Numbers about feelings (mood, pulse) are shown only when at least this many members contributed.
MIN_GROUP = 5
#: The periods ``/stats`` offers, in days.
PERIODS = (7, 30, 90)
#: A prompted member "came back" when active in the guild within this long after the prompt.
COME_BACK = timedelta(days=7)
#: Rows per INSERT when flushing the activity-day buffer (3 bound values each).
CHUNK = 500
CLOSED_REPORT_STATES = ("resolved", "dismissed")

_day = InsightActivityDay.__table__  # type: ignore[attr-defined]
_ma = MemberActivity.__table__  # type: ignore[attr-defined]
_help = HelpRequest.__table__  # type: ignore[attr-defined]
_ans = CheckinAnswer.__table__  # type: ignore[attr-defined]
_rec = RecognitionEntry.__table__  # type: ignore[attr-defined]
_rep = Report.__table__  # type: ignore[attr-defined]
_nudge = Nudge.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class WeekStats:
    """One ISO week of the period (``start`` is its Monday)."""

    week: str
    start: date
    active_members: int
    help_opened: int
    help_median_response_minutes: float | None
    checkin_members: int
    participation: float | None  # 0..1, None when nobody was active that week
    mood: float | None  # None when fewer than MIN_GROUP members gave a mood
    mood_members: int


@dataclass(frozen=True, slots=True)
class StatsReport:
    """Everything ``/stats`` shows, as plain numbers. Rates are 0..1; ``None`` means "no data"."""

    guild_id: int
    language: str
    days: int
    since: datetime
    until: datetime
    active_members: int
    help_opened: int
    help_answered: int
    help_resolved: int
    help_median_response_minutes: float | None
    help_resolution_rate: float | None
    help_unanswered_share: float | None
    checkin_members: int
    checkin_participation: float | None
    mood_average: float | None
    mood_members: int
    recognition_count: int
    recognition_points: int
    recognition_thanks: int
    reports_opened: int
    reports_median_resolution_hours: float | None
    reports_open_now: int
    prompts_sent: int
    prompts_came_back: int
    pulse_responses: int
    pulse_mean: float | None
    weeks: tuple[WeekStats, ...]

    @property
    def mood_hidden(self) -> bool:
        """Whether the period's mood is withheld (fewer than :data:`MIN_GROUP` members)."""
        return self.mood_average is None and self.mood_members > 0


def week_key(day: date) -> str:
    """``2026-W03`` for a date (the same keys as the check-ins)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_starts(since: datetime, until: datetime) -> list[date]:
    """The Mondays (UTC) of every ISO week overlapping ``[since, until)``."""
    first = since.astimezone(UTC).date()
    first -= timedelta(days=first.weekday())
    last = (until - timedelta(microseconds=1)).astimezone(UTC).date()
    out: list[date] = []
    while first <= last:
        out.append(first)
        first += timedelta(days=7)
    return out


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _ratio(part: int, whole: int) -> float | None:
    return min(1.0, part / whole) if whole else None


def _median_minutes(seconds: Iterable[float]) -> float | None:
    values = list(seconds)
    return round(median(values) / 60, 1) if values else None


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class InsightService:
    """Aggregate, never per-member, statistics for moderators (activity days come from ActivityService)."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db
        self.events = ctx.events
        # SurveyService holds no state and subscribes to nothing: reusing its pulse summary keeps
        # the pulse's rules (months below MIN_GROUP answers are not averaged) in one place.
        self._surveys = SurveyService(ctx)

    # ------------------------------------------------------------------ the report

    async def report(self, guild_id: int, *, now: datetime, days: int) -> StatsReport:
        """The statistics of the ``days`` before ``now`` (``days`` one of :data:`PERIODS`)."""
        if days not in PERIODS:
            raise InvalidInput("stats.errors.bad_period", value=str(days))
        until, since = now, now - timedelta(days=days)
        starts = week_starts(since, until)
        keys = [week_key(d) for d in starts]
        # Reads only (on SQLite it holds no command up), of every activity day: in the driver's thread.
        async with self.db.read(bulk=True) as s:
            config = await s.get(GuildConfig, guild_id)
            active = await _scalar(
                s, select(func.count()).where(_ma.c.guild_id == guild_id, _ma.c.last_active_at >= since)
            )
            weekly_active = [
                await _active_in(s, guild_id, max(since, _midnight(d)), _week_end(d, until)) for d in starts
            ]
            help_rows = (
                await s.exec(
                    select(_help.c.created_at, _help.c.first_response_at, _help.c.resolved_at).where(
                        _help.c.guild_id == guild_id, _help.c.created_at >= since, _help.c.created_at < until
                    )
                )
            ).all()
            checkin = await _checkins(s, guild_id, since, until)
            recognition = (
                await s.exec(
                    select(
                        func.count(),
                        func.coalesce(func.sum(_rec.c.amount), 0),
                        func.count(_rec.c.giver_id),
                    ).where(
                        _rec.c.guild_id == guild_id,
                        _rec.c.created_at >= since,
                        _rec.c.created_at < until,
                        _rec.c.revoked_at.is_(None),
                    )
                )
            ).one()
            reports_opened = await _scalar(
                s,
                select(func.count()).where(
                    _rep.c.guild_id == guild_id, _rep.c.created_at >= since, _rep.c.created_at < until
                ),
            )
            closed = (
                await s.exec(
                    select(_rep.c.created_at, _rep.c.closed_at).where(
                        _rep.c.guild_id == guild_id,
                        _rep.c.state.in_(CLOSED_REPORT_STATES),
                        _rep.c.closed_at >= since,
                        _rep.c.closed_at < until,
                    )
                )
            ).all()
            open_now = await _scalar(
                s,
                select(func.count()).where(_rep.c.guild_id == guild_id, _rep.c.state.not_in(CLOSED_REPORT_STATES)),
            )
            prompts = await _prompts(s, guild_id, since, until)
        pulse = await self._surveys.pulse_summary(guild_id, since)

        help_opened = len(help_rows)
        first = [(_aware(r[1]) - _aware(r[0])).total_seconds() for r in help_rows if r[1] is not None]
        resolved = sum(1 for r in help_rows if r[2] is not None)
        weeks = []
        for i, (start, key) in enumerate(zip(starts, keys, strict=True)):
            in_week = [r for r in help_rows if week_key(_aware(r[0]).date()) == key]
            mood_members, mood_avg, members = checkin.weeks.get(key, (0, None, 0))
            weeks.append(
                WeekStats(
                    week=key,
                    start=start,
                    active_members=weekly_active[i],
                    help_opened=len(in_week),
                    help_median_response_minutes=_median_minutes(
                        (_aware(r[1]) - _aware(r[0])).total_seconds() for r in in_week if r[1] is not None
                    ),
                    checkin_members=members,
                    participation=_ratio(members, weekly_active[i]),
                    mood=_shown(mood_avg, mood_members),
                    mood_members=mood_members,
                )
            )
        hours = [(_aware(c) - _aware(o)).total_seconds() / 3600 for o, c in closed]
        return StatsReport(
            guild_id=guild_id,
            language=config.language if config else "en",
            days=days,
            since=since,
            until=until,
            active_members=active,
            help_opened=help_opened,
            help_answered=len(first),
            help_resolved=resolved,
            help_median_response_minutes=_median_minutes(first),
            help_resolution_rate=_ratio(resolved, help_opened),
            help_unanswered_share=_ratio(help_opened - len(first), help_opened),
            checkin_members=checkin.members,
            checkin_participation=_ratio(checkin.members, active),
            mood_average=_shown(checkin.mood, checkin.mood_members),
            mood_members=checkin.mood_members,
            recognition_count=int(recognition[0]),
            recognition_points=int(recognition[1]),
            recognition_thanks=int(recognition[2]),
            reports_opened=reports_opened,
            reports_median_resolution_hours=round(median(hours), 1) if hours else None,
            reports_open_now=open_now,
            prompts_sent=prompts[0],
            prompts_came_back=prompts[1],
            pulse_responses=pulse.responses,
            pulse_mean=pulse.mean,
            weeks=tuple(weeks),
        )


def _shown(value: float | None, contributors: int) -> float | None:
    return round(float(value), 2) if value is not None and contributors >= MIN_GROUP else None


def _week_end(monday: date, until: datetime) -> datetime:
    return min(until, _midnight(monday + timedelta(days=7)))


async def _scalar(s: Any, stmt: Any) -> int:
    return int((await s.exec(stmt)).scalar_one() or 0)


async def _active_in(s: Any, guild_id: int, start: datetime, end: datetime) -> int:
    """Distinct members with an activity day in ``[start, end)`` (days are midnights, so the
    first, partial day of the period counts when its midnight is inside)."""
    first_day = _midnight(start.astimezone(UTC).date())
    return await _scalar(
        s,
        select(func.count(distinct(_day.c.member_id))).where(
            _day.c.guild_id == guild_id, _day.c.day >= first_day, _day.c.day < end
        ),
    )


@dataclass(frozen=True, slots=True)
class _Checkins:
    members: int
    mood: float | None
    mood_members: int
    weeks: dict[str, tuple[int, float | None, int]]  # week → (mood members, mood average, members)


async def _checkins(s: Any, guild_id: int, since: datetime, until: datetime) -> _Checkins:
    in_period = and_(_ans.c.guild_id == guild_id, _ans.c.answered_at >= since, _ans.c.answered_at < until)
    checked_in = case((_ans.c.skipped == false(), _ans.c.member_id))
    with_mood = case((_ans.c.mood.is_not(None), _ans.c.member_id))
    total = (
        await s.exec(
            select(func.count(distinct(checked_in)), func.avg(_ans.c.mood), func.count(distinct(with_mood))).where(
                in_period
            )
        )
    ).one()
    rows: Sequence[Any] = (
        await s.exec(
            select(
                _ans.c.week, func.count(distinct(with_mood)), func.avg(_ans.c.mood), func.count(distinct(checked_in))
            )
            .where(in_period)
            .group_by(_ans.c.week)
        )
    ).all()
    return _Checkins(
        members=int(total[0]),
        mood=float(total[1]) if total[1] is not None else None,
        mood_members=int(total[2]),
        weeks={r[0]: (int(r[1]), float(r[2]) if r[2] is not None else None, int(r[3])) for r in rows},
    )


async def _prompts(s: Any, guild_id: int, since: datetime, until: datetime) -> tuple[int, int]:
    """Prompts sent in the period, and how many of those members were active within 7 days after.

    Interval arithmetic differs between SQLite and PostgreSQL, so the (few) prompts of the period
    are read and matched in Python against the activity days of just those members."""
    sent = (
        await s.exec(
            select(_nudge.c.member_id, _nudge.c.sent_at).where(
                _nudge.c.guild_id == guild_id, _nudge.c.sent_at >= since, _nudge.c.sent_at < until
            )
        )
    ).all()
    if not sent:
        return 0, 0
    members = sorted({m for m, _ in sent})
    days: dict[int, list[datetime]] = {}
    last: dict[int, datetime] = {}
    for start in range(0, len(members), CHUNK):
        chunk = members[start : start + CHUNK]
        for member_id, day in (
            await s.exec(
                select(_day.c.member_id, _day.c.day).where(
                    _day.c.guild_id == guild_id,
                    _day.c.member_id.in_(chunk),
                    _day.c.day >= since - timedelta(days=1),
                    _day.c.day <= until + COME_BACK,
                )
            )
        ).all():
            days.setdefault(member_id, []).append(_aware(day))
        for member_id, at in (
            await s.exec(
                select(_ma.c.member_id, _ma.c.last_active_at).where(
                    _ma.c.guild_id == guild_id, _ma.c.member_id.in_(chunk)
                )
            )
        ).all():
            last[member_id] = _aware(at)

    def came_back(member_id: int, at: datetime) -> bool:
        # An activity day from the prompt's own day up to 7 days later (a quiet member's activity
        # on the day of the prompt comes after it: the prompt is skipped if they were active since
        # the sweep), or their latest activity inside the window (not yet written as a day).
        first_day, end = _midnight(at.date()), at + COME_BACK
        if any(first_day <= d <= end for d in days.get(member_id, ())):
            return True
        latest = last.get(member_id)
        return latest is not None and at < latest <= end

    return len(sent), sum(1 for member_id, at in sent if came_back(member_id, _aware(at).astimezone(UTC)))
