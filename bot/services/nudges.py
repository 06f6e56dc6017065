"""Quiet members: consent, the daily sweep, the prompt DMs and the moderators' digest (issue #7).

* A member is **quiet** when their last recorded activity is older than the guild's
  ``quiet_days`` and they joined more than ``quiet_days`` ago. Members we never saw active have no
  activity row: they are unknown, not quiet.
* Once a day, at the guild's ``sweep_hour`` (local time), :meth:`NudgeService.sweep` plans a prompt
  for each quiet member who opted in (``/nudges on``), is not paused, has not closed their DMs since
  they were last active, and was not prompted within ``cooldown_days``. The rows are written before
  anything is sent (state ``planned``), so a restart resumes without prompting anyone twice.
* :meth:`NudgeService.claim` hands out one planned prompt at a time (the Discord layer sends at most
  one DM per tick), unless DMs are paused bot-wide after Discord's 40003.
* Once a week, :meth:`NudgeService.digest_due` lists the long-quiet members who did *not* opt in,
  for the moderators only — nobody is DMed without consent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel import select as orm_select

from bot.errors import InvalidInput, NotFound
from bot.models.activity import MemberActivity
from bot.models.guild import GuildConfig
from bot.models.nudges import Nudge, NudgePolicy, NudgePreference, NudgeSweep, NudgeThrottle
from bot.retry import DM_PAUSE
from bot.services.context import ServiceContext
from bot.sharding import GuildScope, in_scope

Answer = Literal["okay", "talk", "stop"]
FailKind = Literal["retry", "forbidden", "missing", "dm_closed", "dm_too_fast", "gone"]

#: How many names the weekly digest lists (the rest are counted as "and N more").
DIGEST_NAMES = 40
#: Tries for a prompt that keeps failing with 5xx/network errors before it is given up.
MAX_ATTEMPTS = 5
#: A prompt claimed but never confirmed (the process died mid-send) is re-sent with the same
#: nonce while Discord still de-duplicates it; after this it is recorded as ``unknown``, never re-sent.
RESEND_WINDOW = timedelta(minutes=2)
STALE_CLAIM = timedelta(seconds=30)

_ma = MemberActivity.__table__  # type: ignore[attr-defined]
_pref = NudgePreference.__table__  # type: ignore[attr-defined]
_nudge = Nudge.__table__  # type: ignore[attr-defined]

#: Allowed ranges of the per-guild policy (``/setup nudges``).
LIMITS: dict[str, tuple[int, int]] = {
    "quiet_days": (3, 180),
    "sweep_hour": (0, 23),
    "cooldown_days": (7, 365),
    "max_per_sweep": (1, 200),
    "digest_weekday": (0, 6),
    "digest_weeks": (1, 26),
}


@dataclass(frozen=True, slots=True)
class Policy:
    """A guild's policy for quiet members."""

    guild_id: int
    enabled: bool = True
    quiet_days: int = 14
    sweep_hour: int = 18
    cooldown_days: int = 30
    max_per_sweep: int = 50
    digest_weekday: int = 0
    digest_weeks: int = 3


@dataclass(frozen=True, slots=True)
class Status:
    """A member's consent and their last prompt, for ``/nudges status``."""

    guild_id: int
    member_id: int
    opted_in: bool
    paused_until: datetime | None
    dm_closed: bool
    last_prompt_at: datetime | None
    last_outcome: str | None
    policy: Policy


@dataclass(frozen=True, slots=True)
class SweepResult:
    """What one daily sweep planned."""

    guild_id: int
    period: str
    planned: int


@dataclass(frozen=True, slots=True)
class Prompt:
    """One prompt to send now."""

    nudge_id: int
    guild_id: int
    member_id: int
    language: str
    nonce: str


@dataclass(frozen=True, slots=True)
class Digest:
    """A weekly moderators' digest to post."""

    sweep_id: int
    guild_id: int
    period: str
    channel_id: int
    language: str
    weeks: int
    total: int
    member_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Response:
    """A member's answer to a prompt; ``first`` is false when they had already given this answer."""

    nudge_id: int
    guild_id: int
    member_id: int
    outcome: Answer
    first: bool


def quiet_members_stmt(
    guild_id: int, now: datetime, *, quiet_days: int, cooldown_days: int, limit: int | None = None
) -> Any:
    """The daily sweep's one query: quiet members who opted in and may be prompted now.

    A range scan on ``member_activity (guild_id, last_active_at)`` (only quiet members are read,
    longest-quiet first), then for each of them a primary-key probe of their preference and an
    anti-join probe of ``nudge (guild_id, member_id, planned_at)`` for the cool-down: the cost grows
    with the number of quiet members, not with the size of the guild. (Correlated EXISTS rather than
    joins, fenced with ``OFFSET 0``, so that no planner scans every opted-in member or prompt first.)
    """
    cutoff = now - timedelta(days=quiet_days)
    consented = (
        select(1)
        .select_from(_pref)
        .where(
            _pref.c.guild_id == _ma.c.guild_id,
            _pref.c.member_id == _ma.c.member_id,
            _pref.c.opted_in == true(),
            or_(_pref.c.paused_until.is_(None), _pref.c.paused_until <= now),
            or_(_pref.c.dm_closed_at.is_(None), _pref.c.dm_closed_at < _ma.c.last_active_at),
        )
        .offset(0)  # keeps PostgreSQL from turning the probe into a hash join over every opted-in member
        .exists()
    )
    recent = (
        select(1)
        .select_from(_nudge)
        .where(
            _nudge.c.guild_id == _ma.c.guild_id,
            _nudge.c.member_id == _ma.c.member_id,
            _nudge.c.planned_at >= now - timedelta(days=cooldown_days),
        )
        .offset(0)
        .exists()
    )
    stmt = (
        select(_ma.c.member_id, _ma.c.last_active_at)
        .where(
            _ma.c.guild_id == guild_id,
            _ma.c.last_active_at < cutoff,
            or_(_ma.c.joined_at.is_(None), _ma.c.joined_at < cutoff),
            consented,
            ~recent,
        )
        .order_by(_ma.c.last_active_at)
    )
    return stmt.limit(limit) if limit is not None else stmt


def unconsented_quiet_stmt(guild_id: int, cutoff: datetime) -> Any:
    """Members quiet since ``cutoff`` who did not opt in to prompts (the digest), longest-quiet first."""
    consented = (
        select(1)
        .select_from(_pref)
        .where(_pref.c.guild_id == _ma.c.guild_id, _pref.c.member_id == _ma.c.member_id, _pref.c.opted_in == true())
        .offset(0)
        .exists()
    )
    return (
        select(_ma.c.member_id)
        .where(
            _ma.c.guild_id == guild_id,
            _ma.c.last_active_at < cutoff,
            or_(_ma.c.joined_at.is_(None), _ma.c.joined_at < cutoff),
            ~consented,
        )
        .order_by(_ma.c.last_active_at)
    )


def iso_week(day: Any) -> str:
    """``2026-W03`` for a date."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


class NudgeService:
    """Consent, policy, sweeps, prompts and digests for quiet members."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db
        self.events = ctx.events
        # When claim() should look at the database again (None: nothing is pending until a sweep
        # plans something). Saves a write transaction every few seconds while there is nothing to send.
        self._wake_at: datetime | None = datetime.min.replace(tzinfo=UTC)

    def _wake(self, at: datetime) -> None:
        self._wake_at = at if self._wake_at is None else min(self._wake_at, at)

    # ------------------------------------------------------------------ policy

    async def policy(self, guild_id: int) -> Policy:
        """The guild's policy (defaults until an admin changes it)."""
        async with self.db.session() as s:
            row = await s.get(NudgePolicy, guild_id)
        return _policy(row) if row else Policy(guild_id)

    async def update_policy(self, guild_id: int, now: datetime, **changes: int | bool | None) -> Policy:
        """Change some policy values (``None`` leaves a value as it is)."""
        changes = {k: v for k, v in changes.items() if v is not None}
        unknown = set(changes) - set(LIMITS) - {"enabled"}
        if unknown:
            raise TypeError(f"unknown nudge policy settings: {sorted(unknown)}")
        for name, value in changes.items():
            if name in LIMITS:
                low, high = LIMITS[name]
                if not low <= int(value) <= high:  # type: ignore[arg-type]
                    raise InvalidInput("nudges.errors.out_of_range", name=name, low=low, high=high)
        async with self.db.session() as s:
            row = await s.get(NudgePolicy, guild_id, with_for_update=True)
            if row is None:
                row = NudgePolicy(guild_id=guild_id, updated_at=now)
                s.add(row)
            for name, value in changes.items():
                setattr(row, name, value)
            row.updated_at = now
            await s.flush()
            return _policy(row)

    # ------------------------------------------------------------------ consent

    async def opt_in(self, guild_id: int, member_id: int, now: datetime, language: str | None = None) -> Status:
        """``/nudges on``: personal prompts allowed; clears a pause and a remembered closed-DM error."""
        return await self._set(
            guild_id, member_id, now, opted_in=True, paused_until=None, dm_closed_at=None, language=language
        )

    async def opt_out(self, guild_id: int, member_id: int, now: datetime) -> Status:
        """``/nudges off`` (or **Stop these messages**): no more prompts."""
        return await self._set(guild_id, member_id, now, opted_in=False, paused_until=None)

    async def pause(self, guild_id: int, member_id: int, weeks: int, now: datetime) -> Status:
        """``/nudges pause``: no prompts for ``weeks`` weeks (1-12)."""
        if not 1 <= weeks <= 12:
            raise InvalidInput("nudges.errors.bad_weeks")
        return await self._set(guild_id, member_id, now, paused_until=now + timedelta(weeks=weeks))

    async def _set(self, guild_id: int, member_id: int, now: datetime, **values: Any) -> Status:
        async with self.db.session() as s:
            row = await s.get(NudgePreference, (guild_id, member_id), with_for_update=True)
            if row is None:
                row = NudgePreference(guild_id=guild_id, member_id=member_id, updated_at=now)
                s.add(row)
            for name, value in values.items():
                if name == "language" and value is None:
                    continue
                setattr(row, name, value)
            row.updated_at = now
            await s.flush()
        return await self.status(guild_id, member_id, now)

    async def status(self, guild_id: int, member_id: int, now: datetime) -> Status:
        """A member's consent, pause and last prompt."""
        async with self.db.session() as s:
            pref = await s.get(NudgePreference, (guild_id, member_id))
            last = (
                await s.exec(
                    select(_nudge.c.sent_at, _nudge.c.outcome)
                    .where(_nudge.c.guild_id == guild_id, _nudge.c.member_id == member_id, _nudge.c.state == "sent")
                    .order_by(_nudge.c.sent_at.desc())
                    .limit(1)
                )
            ).first()
            policy_row = await s.get(NudgePolicy, guild_id)
        paused = pref.paused_until if pref and pref.paused_until and pref.paused_until > now else None
        return Status(
            guild_id=guild_id,
            member_id=member_id,
            opted_in=bool(pref and pref.opted_in),
            paused_until=paused,
            dm_closed=bool(pref and pref.dm_closed_at),
            last_prompt_at=last[0] if last else None,
            last_outcome=last[1] if last else None,
            policy=_policy(policy_row) if policy_row else Policy(guild_id),
        )

    # ------------------------------------------------------------------ daily sweep

    async def sweep(self, guild_id: int, now: datetime) -> SweepResult | None:
        """Plan today's prompts for a guild once its local sweep hour has come (once per local day).

        Everything happens in one transaction: the sweep row (unique per guild and local date) and
        one ``planned`` nudge per member (unique per guild, member and date). Returns ``None`` when
        it is not time yet or the sweep already ran.
        """
        try:
            async with self.db.session(bulk=True) as s:  # one nudge per quiet member
                policy_row = await s.get(NudgePolicy, guild_id)
                policy = _policy(policy_row) if policy_row else Policy(guild_id)
                if not policy.enabled:
                    return None
                local = now.astimezone(await _tz(s, guild_id))
                if local.hour < policy.sweep_hour:
                    return None
                period = local.date().isoformat()
                if await _sweep_exists(s, guild_id, "daily", period):
                    return None
                rows = (
                    await s.exec(
                        quiet_members_stmt(
                            guild_id,
                            now,
                            quiet_days=policy.quiet_days,
                            cooldown_days=policy.cooldown_days,
                            limit=policy.max_per_sweep,
                        )
                    )
                ).all()
                s.add(
                    NudgeSweep(
                        guild_id=guild_id, kind="daily", period=period, created_at=now, done_at=now, planned=len(rows)
                    )
                )
                for member_id, last_active_at in rows:
                    s.add(
                        Nudge(
                            guild_id=guild_id,
                            member_id=member_id,
                            period=period,
                            quiet_since=last_active_at,
                            planned_at=now,
                            due_at=now,
                        )
                    )
        except IntegrityError:  # another process swept this guild today
            return None
        if rows:
            self._wake(now)
        return SweepResult(guild_id, period, len(rows))

    # ------------------------------------------------------------------ sending

    async def dm_pause(self, now: datetime) -> datetime | None:
        """Until when all prompt DMs are paused (after Discord's 40003), if they are."""
        async with self.db.session() as s:
            row = await s.get(NudgeThrottle, "dm")
        return row.paused_until if row and row.paused_until > now else None

    async def claim(self, now: datetime, *, scope: GuildScope | None = None) -> Prompt | None:
        """The next prompt to send, marked ``sending`` — or ``None`` (nothing due, or DMs paused).

        Consent is checked again here: a member who opted out, paused, closed their DMs or became
        active since the sweep is skipped (and the row says why). Only prompts of the guilds in
        ``scope`` (this process's shards; ``None``: every guild) are looked at or changed: another
        process's prompts are left for it.
        """
        if self._wake_at is None or now < self._wake_at:
            return None
        async with self.db.session() as s:
            throttle = await s.get(NudgeThrottle, "dm")
            if throttle is not None and throttle.paused_until > now:
                self._wake_at = throttle.paused_until
                return None
            # A claim whose process died mid-send: too old to re-send safely → recorded, never re-sent.
            await s.exec(
                update(_nudge)
                .where(
                    _nudge.c.state == "sending",
                    _nudge.c.claimed_at < now - RESEND_WINDOW,
                    in_scope(scope, _nudge.c.guild_id),
                )
                .values(state="unknown", detail="process stopped while sending")
            )
            for _ in range(25):
                nudge = (
                    await s.exec(
                        orm_select(Nudge)
                        .where(
                            or_(
                                and_(col(Nudge.state) == "planned", col(Nudge.due_at) <= now),
                                and_(col(Nudge.state) == "sending", col(Nudge.claimed_at) < now - STALE_CLAIM),
                            ),
                            in_scope(scope, col(Nudge.guild_id)),
                        )
                        .order_by(col(Nudge.due_at), col(Nudge.id))
                        .limit(1)
                        .with_for_update(skip_locked=True)
                    )
                ).first()
                if nudge is None:
                    self._wake_at = await _next_due(s, scope)
                    return None
                reason = await _no_longer_eligible(s, nudge, now)
                if reason:
                    nudge.state, nudge.detail = "skipped", reason
                    await s.flush()
                    continue
                nudge.state, nudge.claimed_at = "sending", now
                nudge.attempts += 1
                pref = await s.get(NudgePreference, (nudge.guild_id, nudge.member_id))
                language = pref.language if pref and pref.language else None
                if language is None:
                    config = await s.get(GuildConfig, nudge.guild_id)
                    language = config.language if config else "en"
                assert nudge.id is not None
                return Prompt(nudge.id, nudge.guild_id, nudge.member_id, language, f"kinship-nudge-{nudge.id}")
        return None

    async def mark_sent(self, nudge_id: int, message_id: int, now: datetime) -> None:
        """The DM went out."""
        async with self.db.session() as s:
            nudge = await s.get(Nudge, nudge_id, with_for_update=True)
            if nudge is None:
                return
            nudge.state, nudge.sent_at, nudge.message_id, nudge.detail = "sent", now, message_id, ""

    async def mark_failed(self, nudge_id: int, kind: FailKind, now: datetime, detail: str = "") -> None:
        """Record why a DM could not be sent (see :func:`bot.delivery.classify`).

        ``dm_closed`` (50007) is remembered on the member and never retried until they are active
        again; ``dm_too_fast`` (40003) pauses every prompt DM for ``DM_PAUSE`` and leaves this one
        planned; ``retry`` tries again with back-off, a few times.
        """
        async with self.db.session() as s:
            nudge = await s.get(Nudge, nudge_id, with_for_update=True)
            if nudge is None:
                return
            nudge.detail = detail[:200]
            if kind == "dm_closed":
                nudge.state = "dm_closed"
                pref = await s.get(NudgePreference, (nudge.guild_id, nudge.member_id), with_for_update=True)
                if pref is not None:
                    pref.dm_closed_at, pref.updated_at = now, now
            elif kind == "dm_too_fast":
                nudge.state, nudge.due_at = "planned", now + DM_PAUSE
                nudge.attempts = max(0, nudge.attempts - 1)
                throttle = await s.get(NudgeThrottle, "dm", with_for_update=True)
                if throttle is None:
                    s.add(NudgeThrottle(key="dm", paused_until=now + DM_PAUSE))
                else:
                    throttle.paused_until = max(throttle.paused_until, now + DM_PAUSE)
            elif kind == "retry" and nudge.attempts < MAX_ATTEMPTS:
                nudge.state, nudge.due_at = "planned", now + timedelta(seconds=min(3600, 30 * 2**nudge.attempts))
            else:
                nudge.state = "failed"
            if nudge.state == "planned":
                self._wake(nudge.due_at)

    # ------------------------------------------------------------------ answers

    async def respond(self, guild_id: int, nudge_id: int, member_id: int, answer: Answer, now: datetime) -> Response:
        """A member pressed a button on their prompt. **Stop these messages** also opts them out."""
        if answer not in ("okay", "talk", "stop"):
            raise InvalidInput()
        async with self.db.session() as s:
            nudge = await s.get(Nudge, nudge_id, with_for_update=True)
            if nudge is None or nudge.guild_id != guild_id or nudge.member_id != member_id:
                raise NotFound("nudges.errors.not_yours")
            first = nudge.outcome != answer
            nudge.outcome, nudge.outcome_at = answer, now
            if answer == "stop":
                pref = await s.get(NudgePreference, (guild_id, member_id), with_for_update=True)
                if pref is not None:
                    pref.opted_in, pref.updated_at = False, now
        return Response(nudge_id, guild_id, member_id, answer, first)

    # ------------------------------------------------------------------ weekly digest

    async def digest_due(self, guild_id: int, now: datetime) -> Digest | None:
        """This week's moderators' digest, when it is due and not posted yet (unique per guild/week).

        Lists members quiet for ``digest_weeks`` weeks who did not opt in to prompts. Returns
        ``None`` when it is not the day/hour, there is no moderators' channel, or nobody is quiet.
        """
        try:
            async with self.db.session() as s:
                policy_row = await s.get(NudgePolicy, guild_id)
                policy = _policy(policy_row) if policy_row else Policy(guild_id)
                config = await s.get(GuildConfig, guild_id)
                if not policy.enabled or config is None or config.mod_channel_id is None:
                    return None
                local = now.astimezone(ZoneInfo(config.timezone))
                period = iso_week(local.date())
                sweep = (
                    await s.exec(
                        orm_select(NudgeSweep).where(
                            NudgeSweep.guild_id == guild_id, NudgeSweep.kind == "digest", NudgeSweep.period == period
                        )
                    )
                ).first()
                if sweep is None:
                    if local.weekday() != policy.digest_weekday or local.hour < policy.sweep_hour:
                        return None
                    sweep = NudgeSweep(guild_id=guild_id, kind="digest", period=period, state="planned", created_at=now)
                    s.add(sweep)
                elif sweep.state != "planned":
                    return None
                cutoff = now - timedelta(weeks=policy.digest_weeks)
                listed = unconsented_quiet_stmt(guild_id, cutoff)
                total = (await s.exec(select(func.count()).select_from(listed.subquery()))).scalar_one()
                ids = tuple((await s.exec(listed.limit(DIGEST_NAMES))).scalars())
                if total == 0:
                    sweep.state, sweep.done_at = "skipped", now
                    return None
                sweep.planned = total
                await s.flush()
                assert sweep.id is not None
                return Digest(
                    sweep.id, guild_id, period, config.mod_channel_id, config.language, policy.digest_weeks, total, ids
                )
        except IntegrityError:
            return None

    async def digest_done(self, sweep_id: int, now: datetime, *, posted: bool = True) -> None:
        """The digest was posted (or could not be, and is given up)."""
        async with self.db.session() as s:
            sweep = await s.get(NudgeSweep, sweep_id, with_for_update=True)
            if sweep is not None:
                sweep.state, sweep.done_at = ("posted" if posted else "failed"), now

    # ------------------------------------------------------------------ records

    async def history(self, guild_id: int, member_id: int) -> list[Nudge]:
        """Every prompt planned for a member (who, when, outcome) — newest first."""
        async with self.db.session() as s:
            rows = await s.exec(
                orm_select(Nudge)
                .where(Nudge.guild_id == guild_id, Nudge.member_id == member_id)
                .order_by(col(Nudge.planned_at).desc(), col(Nudge.id).desc())
            )
            return list(rows.all())


async def _tz(s: Any, guild_id: int) -> ZoneInfo:
    config = await s.get(GuildConfig, guild_id)
    return ZoneInfo(config.timezone if config else "UTC")


async def _sweep_exists(s: Any, guild_id: int, kind: str, period: str) -> bool:
    found = await s.exec(
        orm_select(NudgeSweep.id).where(
            NudgeSweep.guild_id == guild_id, NudgeSweep.kind == kind, NudgeSweep.period == period
        )
    )
    return found.first() is not None


async def _next_due(s: Any, scope: GuildScope | None) -> datetime | None:
    """When the next planned prompt (or a claim left behind by a crash) of ``scope`` becomes due, if any."""
    mine = in_scope(scope, _nudge.c.guild_id)
    planned = (
        await s.exec(select(func.min(_nudge.c.due_at)).where(_nudge.c.state == "planned", mine))
    ).scalar_one_or_none()
    claimed = (
        await s.exec(select(func.min(_nudge.c.claimed_at)).where(_nudge.c.state == "sending", mine))
    ).scalar_one_or_none()
    times = [t for t in (planned, claimed + STALE_CLAIM if claimed else None) if t is not None]
    return _aware(min(times)) if times else None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def _no_longer_eligible(s: Any, nudge: Nudge, now: datetime) -> str:
    pref = await s.get(NudgePreference, (nudge.guild_id, nudge.member_id))
    if pref is None or not pref.opted_in:
        return "opted out"
    if pref.paused_until is not None and pref.paused_until > now:
        return "paused"
    activity = await s.get(MemberActivity, (nudge.guild_id, nudge.member_id))
    if activity is not None and activity.last_active_at > nudge.quiet_since:
        return "active again"
    if pref.dm_closed_at is not None and (activity is None or pref.dm_closed_at >= activity.last_active_at):
        return "dms closed"
    return ""


def _policy(row: NudgePolicy) -> Policy:
    return Policy(
        guild_id=row.guild_id,
        enabled=row.enabled,
        quiet_days=row.quiet_days,
        sweep_hour=row.sweep_hour,
        cooldown_days=row.cooldown_days,
        max_per_sweep=row.max_per_sweep,
        digest_weekday=row.digest_weekday,
        digest_weeks=row.digest_weeks,
    )
