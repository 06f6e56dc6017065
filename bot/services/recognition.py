"""Recognition points: thanks that mean something and cannot be gamed (issue #5).

Rules (all times aware UTC, ``now`` is always a parameter):

* Points live in an append-only ledger (:class:`~bot.models.recognition.RecognitionEntry`);
  totals are ``SUM(amount)`` over rows that were not revoked. A moderator's revocation is
  recorded on the row, never deleted. Deleting the thanked message changes nothing.
* No thanks to yourself or to bots. One thanks per giver→receiver pair per cooldown (default
  12 h). A daily cap per giver (default 5) over a **rolling 24 h** window. Every thanks a giver
  gave counts towards these limits, even one a moderator later revoked.
* Diminishing returns: the ``n``-th thanks between the same two people (in **either direction**,
  so A↔B ping-pong gains nothing) within 30 days earns ``base × (1, ½, 0.3, 0.2, 0.1)[n]``,
  rounded, at least 1 — with the default base 10: 10, 5, 3, 2, 1, 1, …
* Quiet work earns system awards (no giver), each once thanks to a unique ``award_key``:
  an answered check-in (not a skipped one), each helper of a resolved request, and the
  moderator who mediated a conflict that closed with outcome ``"agreement"``.
* Milestones: when a member's total reaches a threshold, a ``recognition_grant`` row (unique
  per guild, member and threshold) is written before the Discord layer gives the role, so a
  role is granted once only. Revocations lower the total but never take a role back.
* The weekly post covers the previous local week (Monday to Monday in the guild's time zone),
  is sent from Monday 09:00 local on, once per guild and ISO week.
"""

from __future__ import annotations

import logging
import time as systime
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, bindparam, case, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import InvalidInput, NotAllowed, NotFound, TryLater
from bot.models.guild import GuildConfig
from bot.models.recognition import (
    RecognitionConfig,
    RecognitionEntry,
    RecognitionGrant,
    RecognitionMember,
    RecognitionMilestone,
    RecognitionWeeklyPost,
)
from bot.services.context import ServiceContext
from bot.services.events import CheckinAnswered, ConflictClosed, HelpResolved
from bot.services.rows import dialect_insert
from bot.sharding import GuildScope, in_scope
from bot.statements import Prepared, Statements

log = logging.getLogger(__name__)

Period = Literal["week", "month", "all"]

#: Share of the base amount for the 1st, 2nd, 3rd… thanks between two people within 30 days.
DIMINISHING = (1.0, 0.5, 0.3, 0.2, 0.1)
DIMINISH_WINDOW = timedelta(days=30)
CAP_WINDOW = timedelta(hours=24)
PERIODS: dict[str, timedelta | None] = {"week": timedelta(days=7), "month": timedelta(days=30), "all": None}
#: Limits for the admin settings.
LIMITS: dict[str, tuple[int, int]] = {
    "thanks_points": (1, 100),
    "checkin_points": (0, 100),
    "help_points": (0, 100),
    "conflict_points": (0, 100),
    "cooldown_hours": (1, 168),
    "daily_cap": (1, 50),
}
MAX_REASON = 200
WEEKLY_POST_HOUR = 9
WEEKLY_SUPPORTERS = 20
#: A claimed grant or weekly post whose process died is taken over after this long.
STALE_CLAIM = timedelta(minutes=10)
#: How long a process may use recognition settings it read before (as guild settings: another
#: process's change shows after this; a change made through this process is seen at once).
CACHE_SECONDS = 30.0


def _monotonic() -> float:
    """``time.monotonic()`` looked up at each call, as ``services.guilds`` does (SimCord replaces
    it with its virtual clock, so the cache expires when a test or benchmark moves time)."""
    return systime.monotonic()


def diminished(base: int, previous: int) -> int:
    """Points for a thanks after ``previous`` thanks between the same two people in 30 days."""
    share = DIMINISHING[min(previous, len(DIMINISHING) - 1)]
    return max(1, int(base * share + 0.5))


def iso_week(day: datetime) -> str:
    """``2026-W05`` for the ISO week containing ``day``."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True, slots=True)
class RecognitionSettings:
    """A guild's amounts, limits and weekly-post choice."""

    guild_id: int
    thanks_points: int = 10
    checkin_points: int = 2
    help_points: int = 5
    conflict_points: int = 5
    cooldown_hours: int = 12
    daily_cap: int = 5
    weekly_enabled: bool = False
    weekly_channel_id: int | None = None


@dataclass(frozen=True, slots=True)
class MemberPrefs:
    """A member's recognition choices."""

    hidden: bool = False
    private: bool = False


@dataclass(frozen=True, slots=True)
class Grant:
    """A milestone role to give (or given)."""

    id: int
    guild_id: int
    member_id: int
    threshold: int
    role_id: int


@dataclass(frozen=True, slots=True)
class ThanksResult:
    """What a thanks (or a system award) did."""

    entry_id: int
    receiver_id: int
    amount: int
    total: int
    previous: int
    private: bool
    milestones: tuple[Grant, ...] = ()


@dataclass(frozen=True, slots=True)
class Entry:
    """One ledger row as plain data."""

    id: int
    guild_id: int
    giver_id: int | None
    receiver_id: int
    amount: int
    reason: str
    source: str
    created_at: datetime
    message_id: int | None = None
    revoked_at: datetime | None = None
    revoked_by: int | None = None
    revoke_reason: str | None = None


@dataclass(frozen=True, slots=True)
class PointsSummary:
    """``/points``: totals over the rolling windows and the latest entries."""

    member_id: int
    total: int
    week: int
    month: int
    recent: tuple[Entry, ...]
    prefs: MemberPrefs


@dataclass(frozen=True, slots=True)
class Standing:
    """One leaderboard line."""

    member_id: int
    points: int


@dataclass(frozen=True, slots=True)
class Milestone:
    """A threshold and its role."""

    threshold: int
    role_id: int


@dataclass(frozen=True, slots=True)
class MilestoneStatus:
    """A milestone and how many members reached it (counts only, for the dashboard)."""

    threshold: int
    role_id: int
    granted: int
    pending: int
    failed: int


def validate_milestone_role(name: str, *, is_default: bool, managed: bool, assignable: bool) -> None:
    """A milestone role must be one Kinship can give: not @everyone, not a bot's role, and below
    Kinship's highest role while Kinship has Manage Roles (``assignable``)."""
    if is_default or managed:
        raise InvalidInput("recognition.errors.role_unusable", role=name)
    if not assignable:
        raise InvalidInput("recognition.errors.role_too_high", role=name)


@dataclass(frozen=True, slots=True)
class WeeklyPost:
    """A weekly post to send now (already claimed for ``week``)."""

    guild_id: int
    week: str
    channel_id: int | None
    language: str
    supporters: tuple[Standing, ...] = field(default_factory=tuple)
    #: Claimed again after a send that never reported back (a crash): it may be in the channel.
    resumed: bool = False


class RecognitionService:
    """Thanks, the ledger, leaderboards, milestones and the weekly post."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db
        self.events = ctx.events
        self._cache: dict[int, tuple[float, RecognitionSettings]] = {}
        ctx.events.subscribe(CheckinAnswered, self._on_checkin)
        ctx.events.subscribe(HelpResolved, self._on_help_resolved)
        ctx.events.subscribe(ConflictClosed, self._on_conflict_closed)

    # ------------------------------------------------------------------ settings

    async def settings(self, guild_id: int) -> RecognitionSettings:
        """The guild's recognition settings (defaults when never configured), cached for
        :data:`CACHE_SECONDS`."""
        cached = self._cached(guild_id)
        if cached is not None:
            return cached
        async with self.db.direct(read=True) as q:
            return await self._config(q, guild_id)

    def _cached(self, guild_id: int) -> RecognitionSettings | None:
        cached = self._cache.get(guild_id)
        return cached[1] if cached is not None and cached[0] > _monotonic() else None

    async def _config(self, q: Statements, guild_id: int) -> RecognitionSettings:
        """The settings from the cache, else read in ``q`` (and cached)."""
        cached = self._cached(guild_id)
        if cached is not None:
            return cached
        row = await q.first(_CONFIG, guild=guild_id)
        conf = RecognitionSettings(*row) if row else RecognitionSettings(guild_id=guild_id)
        self._cache[guild_id] = (_monotonic() + CACHE_SECONDS, conf)
        return conf

    async def configure(self, guild_id: int, now: datetime, **changes: int | bool | None) -> RecognitionSettings:
        """Change amounts/limits (see :data:`LIMITS`) or the weekly post (``weekly_enabled``,
        ``weekly_channel_id``). ``None`` values are ignored."""
        changes = {k: v for k, v in changes.items() if v is not None}
        unknown = set(changes) - set(LIMITS) - {"weekly_enabled", "weekly_channel_id"}
        if unknown:
            raise TypeError(f"unknown recognition settings: {sorted(unknown)}")
        for name, value in changes.items():
            if name in LIMITS:
                low, high = LIMITS[name]
                if not low <= int(value) <= high:
                    raise InvalidInput("recognition.errors.out_of_range", low=low, high=high)
        async with self.db.session() as s:
            row = await s.get(RecognitionConfig, guild_id, with_for_update=True)
            if row is None:
                row = RecognitionConfig(guild_id=guild_id, updated_at=now)
                s.add(row)
            if changes.get("weekly_enabled") and not row.weekly_enabled:
                row.weekly_since = now
            for name, value in changes.items():
                setattr(row, name, value)
            row.updated_at = now
            await s.flush()
            conf = _settings(row)
        self._cache.pop(guild_id, None)
        return conf

    async def clear_weekly_channel(self, guild_id: int, now: datetime) -> RecognitionSettings:
        """Post the weekly recognition in the default channel again (the check-in channel)."""
        async with self.db.session() as s:
            row = await s.get(RecognitionConfig, guild_id, with_for_update=True)
            if row is not None and row.weekly_channel_id is not None:
                row.weekly_channel_id = None
                row.updated_at = now
            conf = _settings(row) if row else RecognitionSettings(guild_id=guild_id)
        self._cache.pop(guild_id, None)
        return conf

    # ------------------------------------------------------------------ preferences

    async def prefs(self, guild_id: int, member_id: int) -> MemberPrefs:
        """A member's choices."""
        async with self.db.session() as s:
            row = await s.get(RecognitionMember, (guild_id, member_id))
            return MemberPrefs(hidden=row.hidden, private=row.private) if row else MemberPrefs()

    async def set_prefs(
        self, guild_id: int, member_id: int, now: datetime, *, hidden: bool | None = None, private: bool | None = None
    ) -> MemberPrefs:
        """``/recognition hide|show`` and ``/recognition private on|off``."""
        async with self.db.session() as s:
            row = await _member_row(s, guild_id, member_id, now)
            if hidden is not None:
                row.hidden = hidden
            if private is not None:
                row.private = private
            row.updated_at = now
            return MemberPrefs(hidden=row.hidden, private=row.private)

    # ------------------------------------------------------------------ giving

    async def thank(
        self,
        guild_id: int,
        giver_id: int,
        receiver_id: int,
        *,
        reason: str,
        source: str,
        now: datetime,
        receiver_is_bot: bool = False,
        message_id: int | None = None,
        channel_id: int | None = None,
        ref: int | None = None,
    ) -> ThanksResult:
        """A member thanks another. Raises :class:`NotAllowed` (self, bots, already thanked for this
        ``ref``) or :class:`TryLater` (pair cooldown, daily cap) with the time it works again."""
        if giver_id == receiver_id:
            raise NotAllowed("recognition.errors.self")
        if receiver_is_bot:
            raise NotAllowed("recognition.errors.bot")
        reason = " ".join(reason.split())[:MAX_REASON]
        key = f"{source}:{ref}:by:{giver_id}" if ref is not None else None
        async with self.db.direct() as q:  # statements straight to the driver: the hot path
            # Serialise the giver's thanks (the cap) and the receiver's points (milestones): on
            # PostgreSQL each upsert locks its row until the end, in id order so two transactions
            # never wait for each other (SQLite's write transactions are serial anyway).
            for member_id in sorted((giver_id, receiver_id)):
                await q.run(_LOCK_MEMBER, guild_id=guild_id, member_id=member_id, updated_at=now)
            conf = await self._config(q, guild_id)
            if key is not None and await _has_key(q, guild_id, receiver_id, key):
                raise NotAllowed("recognition.errors.already_thanked")
            previous = await _check_limits(q, conf, giver_id, receiver_id, now)
            amount = diminished(conf.thanks_points, previous)
            entry_id = await q.scalar(
                _INSERT_ENTRY,
                guild_id=guild_id,
                giver_id=giver_id,
                receiver_id=receiver_id,
                amount=amount,
                reason=reason,
                source=source,
                ref=ref,
                award_key=key,
                channel_id=channel_id,
                message_id=message_id,
                created_at=now,
            )
            if entry_id is None:  # the same key, from a concurrent delivery
                raise NotAllowed("recognition.errors.already_thanked")
            return await _result(q, entry_id, guild_id, receiver_id, amount=amount, previous=previous, now=now)

    async def award(
        self, guild_id: int, receiver_id: int, *, amount: int, source: str, ref: int, key: str, now: datetime
    ) -> ThanksResult | None:
        """A system award for quiet work, once per ``key`` and receiver (``None`` if already given
        or worth nothing)."""
        if amount <= 0:
            return None
        async with self.db.direct() as q:
            await q.run(_LOCK_MEMBER, guild_id=guild_id, member_id=receiver_id, updated_at=now)  # as in thank()
            entry_id = await q.scalar(
                _INSERT_ENTRY,
                guild_id=guild_id,
                giver_id=None,
                receiver_id=receiver_id,
                amount=amount,
                reason="",
                source=source,
                ref=ref,
                award_key=key,
                channel_id=None,
                message_id=None,
                created_at=now,
            )
            if entry_id is None:  # given already (the event was delivered twice)
                return None
            return await _result(q, entry_id, guild_id, receiver_id, amount=amount, previous=0, now=now)

    async def _on_checkin(self, event: CheckinAnswered) -> None:
        if event.skipped:
            return
        conf = await self.settings(event.guild_id)
        await self.award(
            event.guild_id,
            event.member_id,
            amount=conf.checkin_points,
            source="checkin",
            ref=int("".join(ch for ch in event.week if ch.isdigit())[:18] or 0),
            key=f"checkin:{event.week}"[:80],
            now=event.at,
        )

    async def _on_help_resolved(self, event: HelpResolved) -> None:
        conf = await self.settings(event.guild_id)
        for helper in dict.fromkeys(event.helper_ids):
            if helper == event.asker_id:
                continue
            await self.award(
                event.guild_id,
                helper,
                amount=conf.help_points,
                source="help_resolved",
                ref=event.request_id,
                key=f"help_resolved:{event.request_id}",
                now=event.at,
            )

    async def _on_conflict_closed(self, event: ConflictClosed) -> None:
        if event.outcome != "agreement":
            return
        conf = await self.settings(event.guild_id)
        await self.award(
            event.guild_id,
            event.moderator_id,
            amount=conf.conflict_points,
            source="conflict",
            ref=event.case_id,
            key=f"conflict:{event.case_id}",
            now=event.at,
        )

    # ------------------------------------------------------------------ seeing

    async def points(self, guild_id: int, member_id: int, now: datetime, *, recent: int = 5) -> PointsSummary:
        """A member's totals (all time, rolling 7 and 30 days) and latest entries."""
        # The three totals and the member's choices in one statement, the latest entries in another.
        params = {
            "guild": guild_id,
            "member": member_id,
            "week": now - timedelta(days=7),
            "month": now - timedelta(days=30),
        }
        async with self.db.read() as s:
            total, week, month, hidden, private = (await s.exec(_TOTALS, params=params)).one()
            rows = (await s.exec(_RECENT, params={"guild": guild_id, "member": member_id, "limit": recent})).all()
        prefs = MemberPrefs(hidden=bool(hidden), private=bool(private)) if hidden is not None else MemberPrefs()
        entries = tuple(_entry(r) for r in rows)
        return PointsSummary(member_id, int(total), int(week), int(month), entries, prefs)

    async def leaderboard(self, guild_id: int, period: Period, now: datetime, *, limit: int = 10) -> list[Standing]:
        """Top members over a rolling window; hidden members are left out."""
        if period not in PERIODS:
            raise InvalidInput("recognition.errors.bad_period")
        window = PERIODS[period]
        async with self.db.read(bulk=True) as s:  # all time sums every entry of the guild
            return await _standings(s, guild_id, now - window if window else None, None, limit)

    async def revoke(self, guild_id: int, entry_id: int, moderator_id: int, reason: str, now: datetime) -> Entry:
        """Record a moderator's revocation (the row stays; its points stop counting)."""
        async with self.db.session() as s:
            row = await s.get(RecognitionEntry, entry_id, with_for_update=True)
            if row is None or row.guild_id != guild_id:
                raise NotFound("recognition.errors.no_entry", id=entry_id)
            if row.revoked_at is not None:
                raise InvalidInput("recognition.errors.already_revoked", id=entry_id)
            row.revoked_at, row.revoked_by = now, moderator_id
            row.revoke_reason = " ".join(reason.split())[:MAX_REASON]
            await s.flush()
            return _entry(row)

    # ------------------------------------------------------------------ milestones

    async def add_milestone(self, guild_id: int, threshold: int, role_id: int, now: datetime) -> Milestone:
        """Map ``threshold`` points to a role (replacing the role of an existing threshold). Grants of
        that threshold that failed before (e.g. a missing permission) are tried again."""
        if not 1 <= threshold <= 1_000_000:
            raise InvalidInput("recognition.errors.out_of_range", low=1, high=1_000_000)
        async with self.db.session() as s:
            row = await _milestone(s, guild_id, threshold)
            if row is None:
                s.add(RecognitionMilestone(guild_id=guild_id, threshold=threshold, role_id=role_id, created_at=now))
            else:
                row.role_id = role_id
            await s.exec(
                update(RecognitionGrant)
                .where(
                    col(RecognitionGrant.guild_id) == guild_id,
                    col(RecognitionGrant.threshold) == threshold,
                    col(RecognitionGrant.status) == "failed",
                )
                .values(status="pending", role_id=role_id)
            )
        return Milestone(threshold, role_id)

    async def remove_milestone(self, guild_id: int, threshold: int) -> None:
        """Forget a threshold (roles already given stay)."""
        async with self.db.session() as s:
            row = await _milestone(s, guild_id, threshold)
            if row is None:
                raise NotFound("recognition.errors.no_milestone", threshold=threshold)
            await s.delete(row)

    async def milestones(self, guild_id: int) -> list[Milestone]:
        """Thresholds and roles, lowest first."""
        async with self.db.session() as s:
            rows = (
                await s.exec(
                    select(RecognitionMilestone)
                    .where(RecognitionMilestone.guild_id == guild_id)
                    .order_by(col(RecognitionMilestone.threshold))
                )
            ).all()
        return [Milestone(r.threshold, r.role_id) for r in rows]

    async def milestone_overview(self, guild_id: int) -> list[MilestoneStatus]:
        """Each milestone with how many members got its role, are waiting for it, or could not get it."""
        milestones = await self.milestones(guild_id)
        async with self.db.session() as s:
            rows = (
                await s.exec(
                    select(RecognitionGrant.threshold, RecognitionGrant.status, func.count())
                    .where(RecognitionGrant.guild_id == guild_id)
                    .group_by(col(RecognitionGrant.threshold), col(RecognitionGrant.status))
                )
            ).all()
        counts: dict[tuple[int, str], int] = {(t, st): int(n) for t, st, n in rows}
        return [
            MilestoneStatus(
                threshold=m.threshold,
                role_id=m.role_id,
                granted=counts.get((m.threshold, "granted"), 0),
                pending=counts.get((m.threshold, "pending"), 0) + counts.get((m.threshold, "granting"), 0),
                failed=counts.get((m.threshold, "failed"), 0),
            )
            for m in milestones
        ]

    async def claim_grants(
        self, now: datetime, ids: list[int] | None = None, limit: int = 50, *, scope: GuildScope | None = None
    ) -> list[Grant]:
        """Claim grants to carry out now: the given ones, or every pending one (and any claim a dead
        process left behind). Each grant is claimed by one caller only; grants of guilds outside
        ``scope`` are left alone (pending) for the process that holds them."""
        if ids is not None and not ids:
            return []  # most thanks reach no milestone: no session (nor a turn in SQLite's queue)
        async with self.db.session() as s:
            query = select(RecognitionGrant).where(
                in_scope(scope, col(RecognitionGrant.guild_id)),
                or_(
                    col(RecognitionGrant.status) == "pending",
                    and_(
                        col(RecognitionGrant.status) == "granting",
                        col(RecognitionGrant.attempted_at) < now - STALE_CLAIM,
                    ),
                ),
            )
            if ids is not None:
                query = query.where(col(RecognitionGrant.id).in_(ids))
            rows = (await s.exec(query.order_by(col(RecognitionGrant.id)).limit(limit))).all()
            claimed: list[Grant] = []
            for row in rows:
                result = await s.exec(
                    update(RecognitionGrant)
                    .where(col(RecognitionGrant.id) == row.id, col(RecognitionGrant.status) == row.status)
                    .values(status="granting", attempted_at=now)
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    assert row.id is not None
                    claimed.append(Grant(row.id, row.guild_id, row.member_id, row.threshold, row.role_id))
            return claimed

    async def finish_grant(self, grant_id: int, ok: bool, now: datetime) -> None:
        """Record the outcome of a role call: ``granted``, or ``failed`` (not retried until an admin
        saves that milestone again)."""
        async with self.db.session() as s:
            row = await s.get(RecognitionGrant, grant_id)
            if row is not None:
                row.status = "granted" if ok else "failed"
                row.attempted_at = now

    # ------------------------------------------------------------------ weekly post

    async def due_weekly_posts(self, now: datetime, *, scope: GuildScope | None = None) -> list[WeeklyPost]:
        """Claim this week's post for every opted-in guild in ``scope`` whose time has come (Monday
        09:00 local). A post is claimed once per guild and ISO week; weeks with no supporters are
        skipped."""
        async with self.db.session() as s:
            rows = (
                await s.exec(
                    select(RecognitionConfig, GuildConfig)
                    .join(GuildConfig, col(GuildConfig.guild_id) == col(RecognitionConfig.guild_id), isouter=True)
                    .where(
                        col(RecognitionConfig.weekly_enabled).is_(True),
                        in_scope(scope, col(RecognitionConfig.guild_id)),
                    )
                )
            ).all()
        posts: list[WeeklyPost] = []
        for conf, guild in rows:
            tz = ZoneInfo(guild.timezone if guild else "UTC")
            local = now.astimezone(tz)
            start_local = datetime.combine(local.date() - timedelta(days=local.weekday()), time(0), tzinfo=tz)
            if local < start_local + timedelta(hours=WEEKLY_POST_HOUR):
                continue
            end = start_local.astimezone(now.tzinfo)
            begin = datetime.combine(start_local.date() - timedelta(days=7), time(0), tzinfo=tz).astimezone(now.tzinfo)
            if conf.weekly_since is not None and conf.weekly_since > end:
                continue
            post = await self._claim_week(
                conf=conf, guild=guild, week=iso_week(start_local - timedelta(days=7)), begin=begin, end=end, now=now
            )
            if post is not None:
                posts.append(post)
        return posts

    async def _claim_week(
        self,
        *,
        conf: RecognitionConfig,
        guild: GuildConfig | None,
        week: str,
        begin: datetime,
        end: datetime,
        now: datetime,
    ) -> WeeklyPost | None:
        async with self.db.session(bulk=True) as s:  # the week's standings sum all its entries
            row = (
                await s.exec(
                    select(RecognitionWeeklyPost).where(
                        RecognitionWeeklyPost.guild_id == conf.guild_id, RecognitionWeeklyPost.week == week
                    )
                )
            ).first()
            resumed = row is not None and row.status == "sending"
            if row is not None and row.status != "retry" and not (resumed and row.updated_at <= now - STALE_CLAIM):
                return None  # done, or being sent right now
            supporters = await _standings(s, conf.guild_id, begin, end, WEEKLY_SUPPORTERS)
            status = "sending" if supporters else "empty"
            channel_id = conf.weekly_channel_id or (guild.checkin_channel_id if guild else None)
            if row is None:
                try:
                    async with s.begin_nested():
                        s.add(
                            RecognitionWeeklyPost(
                                guild_id=conf.guild_id,
                                week=week,
                                status=status,
                                channel_id=channel_id,
                                created_at=now,
                                updated_at=now,
                            )
                        )
                except IntegrityError:
                    return None
            else:
                row.status, row.updated_at = status, now
        if not supporters:
            return None
        language = guild.language if guild else "en"
        return WeeklyPost(conf.guild_id, week, channel_id, language, tuple(supporters), resumed=resumed)

    async def finish_weekly_post(
        self,
        guild_id: int,
        week: str,
        status: Literal["sent", "retry", "failed"],
        now: datetime,
        message_id: int | None = None,
    ) -> None:
        """Record how sending went: ``retry`` lets the next run try again."""
        async with self.db.session() as s:
            row = (
                await s.exec(
                    select(RecognitionWeeklyPost).where(
                        RecognitionWeeklyPost.guild_id == guild_id, RecognitionWeeklyPost.week == week
                    )
                )
            ).first()
            if row is not None:
                row.status, row.message_id, row.updated_at = status, message_id, now


# ---------------------------------------------------------------------- helpers


def _settings(row: RecognitionConfig) -> RecognitionSettings:
    return RecognitionSettings(
        guild_id=row.guild_id,
        thanks_points=row.thanks_points,
        checkin_points=row.checkin_points,
        help_points=row.help_points,
        conflict_points=row.conflict_points,
        cooldown_hours=row.cooldown_hours,
        daily_cap=row.daily_cap,
        weekly_enabled=row.weekly_enabled,
        weekly_channel_id=row.weekly_channel_id,
    )


def _entry(row: RecognitionEntry) -> Entry:
    assert row.id is not None
    return Entry(
        id=row.id,
        guild_id=row.guild_id,
        giver_id=row.giver_id,
        receiver_id=row.receiver_id,
        amount=row.amount,
        reason=row.reason,
        source=row.source,
        created_at=row.created_at,
        message_id=row.message_id,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        revoke_reason=row.revoke_reason,
    )


async def _member_row(s: AsyncSession, guild_id: int, member_id: int, now: datetime) -> RecognitionMember:
    """A member's choices row, created if missing, locked for the change (PostgreSQL)."""
    row = await s.get(RecognitionMember, (guild_id, member_id), with_for_update=True)
    if row is not None:
        return row
    try:
        async with s.begin_nested():
            row = RecognitionMember(guild_id=guild_id, member_id=member_id, updated_at=now)
            s.add(row)
    except IntegrityError:  # created concurrently
        row = await s.get(RecognitionMember, (guild_id, member_id), with_for_update=True, populate_existing=True)
        assert row is not None
    return row


async def _has_key(q: Statements, guild_id: int, receiver_id: int, key: str) -> bool:
    return await q.first(_HAS_KEY, guild=guild_id, receiver=receiver_id, key=key) is not None


def _limits_query() -> Any:
    """:func:`_check_limits`' statement, built once with bound parameters (building and keying it
    for the compiled cache cost ~0.25 ms per thanks): the latest thanks of the pair within the
    cooldown, the oldest of the giver's last ``cap`` thanks within :data:`CAP_WINDOW` (NULL while
    under the cap), and how many thanks the two exchanged within :data:`DIMINISH_WINDOW`."""
    entry, created = RecognitionEntry, col(RecognitionEntry.created_at)
    guild, giver, receiver = bindparam("guild"), bindparam("giver"), bindparam("receiver")
    given = (col(entry.guild_id) == guild, col(entry.giver_id) == giver)
    last = select(func.max(created)).where(*given, col(entry.receiver_id) == receiver, created > bindparam("cooldown"))
    capped = (
        select(created)
        .where(*given, created > bindparam("cap_window"))
        .order_by(created.desc())
        .limit(1)
        .offset(bindparam("cap_skip", type_=Integer))
    )
    pair = or_(
        and_(col(entry.giver_id) == giver, col(entry.receiver_id) == receiver),
        and_(col(entry.giver_id) == receiver, col(entry.receiver_id) == giver),
    )
    exchanged = (
        select(func.count())
        .select_from(entry)
        .where(col(entry.guild_id) == guild, pair, created > bindparam("diminish_window"))
    )
    return select(last.scalar_subquery(), capped.scalar_subquery(), exchanged.scalar_subquery())


_LIMITS = Prepared(_limits_query())


async def _check_limits(
    q: Statements, conf: RecognitionSettings, giver_id: int, receiver_id: int, now: datetime
) -> int:
    """Refuse a thanks within the pair's cooldown or over the giver's daily cap; otherwise return
    how many thanks the two exchanged (either direction) within :data:`DIMINISH_WINDOW`. One
    statement (:data:`_LIMITS`)."""
    cooldown = timedelta(hours=conf.cooldown_hours)
    row = await q.first(
        _LIMITS,
        guild=conf.guild_id,
        giver=giver_id,
        receiver=receiver_id,
        cooldown=now - cooldown,
        cap_window=now - CAP_WINDOW,
        cap_skip=conf.daily_cap - 1,
        diminish_window=now - DIMINISH_WINDOW,
    )
    assert row is not None  # one row of three scalar subqueries
    latest, oldest_of_cap, previous = row
    if latest is not None:
        raise TryLater("recognition.errors.cooldown", retry_at=_aware(latest) + cooldown, hours=conf.cooldown_hours)
    if oldest_of_cap is not None:
        # The oldest of the last ``cap`` thanks leaves the window first.
        raise TryLater("recognition.errors.daily_cap", retry_at=_aware(oldest_of_cap) + CAP_WINDOW, cap=conf.daily_cap)
    return int(previous)


def _aware(value: datetime) -> datetime:
    # Defensive: aggregates must come back aware like the column itself.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _points() -> Any:
    return func.coalesce(func.sum(RecognitionEntry.amount), 0)


def _received(guild_id: Any, member_id: Any) -> tuple[Any, ...]:
    """What counts towards a member's total: entries they received that were not revoked."""
    return (
        RecognitionEntry.guild_id == guild_id,
        RecognitionEntry.receiver_id == member_id,
        col(RecognitionEntry.revoked_at).is_(None),
    )


@cache
def _standings_query(since: bool, until: bool) -> Any:
    """:func:`_standings`' statement for a window with or without each bound, built once with
    bound parameters (``guild``, ``since``, ``until``, ``limit``)."""
    guild = bindparam("guild")
    points = func.sum(RecognitionEntry.amount).label("points")
    hidden = select(RecognitionMember.member_id).where(
        col(RecognitionMember.guild_id) == guild, col(RecognitionMember.hidden).is_(True)
    )
    query = select(RecognitionEntry.receiver_id, points).where(
        col(RecognitionEntry.guild_id) == guild,
        col(RecognitionEntry.revoked_at).is_(None),
        col(RecognitionEntry.receiver_id).not_in(hidden),
    )
    if since:
        query = query.where(col(RecognitionEntry.created_at) >= bindparam("since"))
    if until:
        query = query.where(col(RecognitionEntry.created_at) < bindparam("until"))
    return (
        query.group_by(col(RecognitionEntry.receiver_id))
        .having(points > 0)
        .order_by(points.desc(), col(RecognitionEntry.receiver_id))
        .limit(bindparam("limit", type_=Integer))
    )


async def _standings(
    s: AsyncSession, guild_id: int, since: datetime | None, until: datetime | None, limit: int
) -> list[Standing]:
    query = _standings_query(since is not None, until is not None)
    params: dict[str, Any] = {"guild": guild_id, "limit": limit}
    if since is not None:
        params["since"] = since
    if until is not None:
        params["until"] = until
    rows = (await s.exec(query, params=params)).all()
    return [Standing(int(member), int(total)) for member, total in rows]


def _totals_query() -> Any:
    """``/points``' statement, built once with bound parameters: a member's total, totals since
    ``week`` and ``month``, and their hidden and private choices (NULL without a member row)."""
    created, amount = col(RecognitionEntry.created_at), col(RecognitionEntry.amount)
    guild, member = bindparam("guild"), bindparam("member")
    choice = (col(RecognitionMember.guild_id) == guild, col(RecognitionMember.member_id) == member)
    return select(
        _points(),
        func.coalesce(func.sum(case((created > bindparam("week"), amount))), 0),
        func.coalesce(func.sum(case((created > bindparam("month"), amount))), 0),
        select(RecognitionMember.hidden).where(*choice).scalar_subquery(),
        select(RecognitionMember.private).where(*choice).scalar_subquery(),
    ).where(*_received(guild, member))


def _reached_query() -> Any:
    """:func:`_result`'s statement, built once with bound parameters: the receiver's total and
    private flag, and every milestone reached but not yet granted — a one-row totals subquery
    outer-joined to the milestones (one row with NULL milestone columns when none is reached)."""
    guild, member = bindparam("guild"), bindparam("member")
    private = select(RecognitionMember.private).where(
        col(RecognitionMember.guild_id) == guild, col(RecognitionMember.member_id) == member
    )
    totals = (
        select(_points().label("total"), private.scalar_subquery().label("private"))
        .where(*_received(guild, member))
        .subquery()
    )
    threshold = col(RecognitionMilestone.threshold)
    granted = select(RecognitionGrant.threshold).where(
        col(RecognitionGrant.guild_id) == guild, col(RecognitionGrant.member_id) == member
    )
    reached = and_(col(RecognitionMilestone.guild_id) == guild, threshold <= totals.c.total, threshold.not_in(granted))
    return (
        select(totals.c.total, totals.c.private, threshold, col(RecognitionMilestone.role_id))
        .select_from(totals.outerjoin(RecognitionMilestone, reached))
        .order_by(threshold)
    )


_TOTALS = _totals_query()
_REACHED = Prepared(_reached_query())
_RECENT = (  # a member's latest entries (``/points``)
    select(RecognitionEntry)
    .where(
        col(RecognitionEntry.guild_id) == bindparam("guild"), col(RecognitionEntry.receiver_id) == bindparam("member")
    )
    .order_by(col(RecognitionEntry.created_at).desc(), col(RecognitionEntry.id).desc())
    .limit(bindparam("limit", type_=Integer))
)
_ENTRIES = RecognitionEntry.__table__  # type: ignore[attr-defined]
_GRANTS = RecognitionGrant.__table__  # type: ignore[attr-defined]
_ENTRY_COLUMNS = [
    "guild_id",
    "giver_id",
    "receiver_id",
    "amount",
    "reason",
    "source",
    "ref",
    "award_key",
    "channel_id",
    "message_id",
    "created_at",
]
#: A new entry's id, or no row when its ``award_key`` was given to the receiver already.
_INSERT_ENTRY = Prepared(
    lambda dialect: dialect_insert(dialect, _ENTRIES).on_conflict_do_nothing().returning(_ENTRIES.c.id),
    columns=_ENTRY_COLUMNS,
)
#: A pending grant's id, or no row when the member was granted the milestone already.
_INSERT_GRANT = Prepared(
    lambda dialect: dialect_insert(dialect, _GRANTS).on_conflict_do_nothing().returning(_GRANTS.c.id),
    columns=["guild_id", "member_id", "threshold", "role_id", "created_at"],
)
_HAS_KEY = Prepared(
    select(_ENTRIES.c.id).where(
        _ENTRIES.c.guild_id == bindparam("guild"),
        _ENTRIES.c.receiver_id == bindparam("receiver"),
        _ENTRIES.c.award_key == bindparam("key"),
    )
)
_CONFIG_TABLE = RecognitionConfig.__table__  # type: ignore[attr-defined]
#: :class:`RecognitionSettings`' fields, in its order.
_CONFIG = Prepared(
    select(*(_CONFIG_TABLE.c[name] for name in RecognitionSettings.__dataclass_fields__)).where(
        _CONFIG_TABLE.c.guild_id == bindparam("guild")
    )
)


def _lock_member(dialect: str) -> Any:
    """A member's choices row, created if missing, and on PostgreSQL locked until the end of the
    transaction (an upsert that changes nothing locks the row it meets)."""
    member = dialect_insert(dialect, RecognitionMember.__table__)
    if dialect == "sqlite":
        return member.on_conflict_do_nothing()
    return member.on_conflict_do_update(
        index_elements=["guild_id", "member_id"], set_={"updated_at": RecognitionMember.__table__.c.updated_at}
    )


_LOCK_MEMBER = Prepared(_lock_member, columns=["guild_id", "member_id", "updated_at"])


async def _result(
    q: Statements, entry_id: int, guild_id: int, member_id: int, *, amount: int, previous: int, now: datetime
) -> ThanksResult:
    """After inserting entry ``entry_id`` (``amount`` points for ``member_id``): the new total, and
    pending grants for every milestone reached."""
    rows = await q.rows(_REACHED, guild=guild_id, member=member_id)
    total, private_ = int(rows[0][0]), rows[0][1]
    grants: list[Grant] = []
    for _, _, reached_threshold, role_id in rows:
        if reached_threshold is None:
            continue
        grant_id = await q.scalar(
            _INSERT_GRANT,
            guild_id=guild_id,
            member_id=member_id,
            threshold=reached_threshold,
            role_id=role_id,
            created_at=now,
        )
        if grant_id is None:  # granted concurrently
            continue
        grants.append(Grant(grant_id, guild_id, member_id, reached_threshold, role_id))
    return ThanksResult(
        entry_id=entry_id,
        receiver_id=member_id,
        amount=amount,
        total=total,
        previous=previous,
        private=bool(private_),
        milestones=tuple(grants),
    )


async def _milestone(s: AsyncSession, guild_id: int, threshold: int) -> RecognitionMilestone | None:
    query = select(RecognitionMilestone).where(
        RecognitionMilestone.guild_id == guild_id, RecognitionMilestone.threshold == threshold
    )
    return (await s.exec(query)).first()
