"""Help requests: asking, matching helpers, follow-through (issue #3).

The flow, as stored rows:

1. :meth:`HelpService.open_request` stores a request with ``thread_state="pending"`` before any
   Discord call. The Discord layer then creates the thread (immediately, and the ``help.deliver``
   job for every request still pending) and calls :meth:`HelpService.thread_posted`, which picks
   the first round of helpers and queues their ping in the outbox.
2. :meth:`HelpService.follow_up` turns the clock into outbox rows: a second round of pings after
   N minutes unanswered, the honest message to the asker and the moderators' alert after M
   minutes, the "is this resolved?" question after K idle hours and the archiving after that.
3. The Discord layer sends each outbox row and marks it done. Outbox rows are unique per
   request, kind and round, so nothing is ever queued twice.

Nothing here imports discord; times are aware UTC and always passed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.models.help import HelpConfig, HelpHelper, HelpOutbox, HelpParticipant, HelpPing, HelpRequest, HelpTopic
from bot.retry import PROBLEM_BACKOFF, backoff
from bot.services.context import ServiceContext
from bot.services.events import HelpResolved, MemberActive
from bot.services.guilds import validate_timezone
from bot.services.rows import by_key
from bot.sharding import GuildScope, in_scope
from bot.statements import Prepared

WANTS = ("listening", "advice", "resources")
THREAD_MODES = ("public", "private")
#: Bounds of the numeric help knobs (``/setup help-settings`` and the dashboard's settings form).
SETTING_LIMITS: dict[str, tuple[int, int]] = {
    "first_round_minutes": (1, 1440),
    "escalate_minutes": (1, 10080),
    "idle_hours": (1, 720),
    "archive_hours": (1, 720),
    "pings_per_round": (1, 10),
}
DEFAULT_MAX_OPEN = 3
MAX_TOPICS = 25  # a forum holds at most 20 tags; topics beyond that simply get no tag
TOPIC_NAME = re.compile(r"^[\w][\w &/+\-'.]{0,39}$")
QUIET = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
FailureOutcome = Literal["retry", "forbidden", "missing"]
#: How long whoever is creating a thread or sending an outbox item holds it before others may retry.
LEASE = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class Topic:
    """A help topic of a guild."""

    key: str
    name: str


@dataclass(frozen=True, slots=True)
class HelpSettings:
    """A guild's help knobs."""

    guild_id: int
    first_round_minutes: int = 15
    escalate_minutes: int = 60
    idle_hours: int = 48
    archive_hours: int = 24
    pings_per_round: int = 3
    thread_mode: str = "public"


@dataclass(frozen=True, slots=True)
class HelperProfile:
    """A helper's choices and boundaries."""

    guild_id: int
    member_id: int
    topics: tuple[str, ...]  # topic keys; empty = every topic
    excluded_topics: tuple[str, ...]
    status: str
    away_until: datetime | None
    max_open: int
    quiet_hours: str | None  # "22:00-07:00"
    timezone: str
    open_claims: int = 0


@dataclass(frozen=True, slots=True)
class Request:
    """A help request as plain data. ``helper_ids`` are the claimers, lead first."""

    id: int
    guild_id: int
    asker_id: int
    topic_key: str | None
    topic_name: str | None
    title: str
    body: str
    wants: str
    content_note: str | None
    state: str
    thread_state: str
    private: bool
    thread_id: int | None
    channel_id: int | None
    created_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    helper_ids: tuple[int, ...] = ()

    @property
    def lead_id(self) -> int | None:
        """The first helper who claimed the request."""
        return self.helper_ids[0] if self.helper_ids else None


@dataclass(frozen=True, slots=True)
class Posted:
    """The thread exists; ``ping_ids`` are the helpers to ping now (may be empty)."""

    request: Request
    ping_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One queued send. ``kind``: pings | wait | mods | idle | archive."""

    id: int
    kind: str
    round: int
    request: Request
    user_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Claim:
    """The result of "I can help"."""

    request: Request
    lead: bool
    already: bool


@dataclass(frozen=True, slots=True)
class Resolution:
    """A resolved request and the people to thank (everyone who claimed or answered)."""

    request: Request
    helper_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ResponseTimes:
    """For insights: seconds to first response and to resolution (``None`` when not reached)."""

    request_id: int
    created_at: datetime
    first_response_seconds: float | None
    resolution_seconds: float | None


@dataclass(frozen=True, slots=True)
class OpenRequestView:
    """An open request as the moderators' dashboard lists it (no body: it is gone once posted)."""

    id: int
    asker_id: int
    title: str
    topic_name: str | None
    private: bool
    thread_id: int | None
    created_at: datetime
    waiting_minutes: int
    first_response_at: datetime | None
    overdue: bool  # unanswered for longer than the escalation time
    escalated: bool  # the moderators were told
    helper_ids: tuple[int, ...]  # who claimed it


@dataclass(frozen=True, slots=True)
class HelpOverview:
    """Open requests now, and how fast requests of the last ``days`` got a first response."""

    escalate_minutes: int
    open_total: int
    unanswered_total: int
    overdue_total: int
    requests: tuple[OpenRequestView, ...]  # overdue first, then oldest first; at most ``limit``
    days: int
    opened: int
    answered: int
    median_first_response_minutes: float | None
    p90_first_response_minutes: float | None


def _seconds_between(dialect: str, start: Any, end: Any) -> Any:
    """``end - start`` in seconds, computed by the database (SQLite stores naive UTC text)."""
    if dialect == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile of ``values`` (``None`` when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))  # ceil(n * q), at least 1
    return ordered[int(rank) - 1]


def topic_key(name: str) -> str:
    """The comparison key of a topic name."""
    return " ".join(name.split()).lower()


def parse_quiet_hours(text: str) -> tuple[int, int]:
    """``"22:00-07:00"`` → minutes after midnight (start, end); raises :class:`InvalidInput`."""
    m = QUIET.match(text)
    if not m:
        raise InvalidInput("help.errors.bad_quiet_hours", value=text[:32])
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59 or (h1, m1) == (h2, m2):
        raise InvalidInput("help.errors.bad_quiet_hours", value=text[:32])
    return h1 * 60 + m1, h2 * 60 + m2


def format_quiet_hours(start: int | None, end: int | None) -> str | None:
    """Minutes after midnight → ``"22:00-07:00"``."""
    if start is None or end is None:
        return None
    return f"{time(start // 60, start % 60):%H:%M}-{time(end // 60, end % 60):%H:%M}"


def in_quiet_hours(start: int | None, end: int | None, tz: str, now: datetime) -> bool:
    """Whether ``now`` falls in the quiet hours ``[start, end)`` of the helper's own time zone."""
    if start is None or end is None:
        return False
    local = now.astimezone(ZoneInfo(tz))
    minute = local.hour * 60 + local.minute
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end  # wraps midnight


def _csv(values: Iterable[str]) -> str:
    return ",".join(values)


def _uncsv(text: str) -> tuple[str, ...]:
    return tuple(v for v in text.split(",") if v)


class HelpService:
    """Help requests, helpers and the follow-through timers."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db
        self.events = ctx.events

    # ------------------------------------------------------------------ settings

    async def settings(self, guild_id: int) -> HelpSettings:
        """The guild's help knobs (defaults when never changed)."""
        async with self.db.read() as s:
            row = await by_key(s, HelpConfig, guild_id)
        return _settings(row) if row else HelpSettings(guild_id=guild_id)

    async def update_settings(self, guild_id: int, now: datetime, **changes: int | str) -> HelpSettings:
        """Change some knobs; bad values raise :class:`InvalidInput`."""
        allowed = set(HelpSettings.__dataclass_fields__) - {"guild_id"}
        if set(changes) - allowed:
            raise TypeError(f"unknown help settings: {sorted(set(changes) - allowed)}")
        if "thread_mode" in changes and changes["thread_mode"] not in THREAD_MODES:
            raise InvalidInput("help.errors.bad_setting", value=str(changes["thread_mode"])[:16])
        for name, value in changes.items():
            low, high = SETTING_LIMITS.get(name, (1, 1))
            if name != "thread_mode" and (not isinstance(value, int) or not low <= value <= high):
                raise InvalidInput("help.errors.bad_setting", value=str(value)[:16])
        async with self.db.session() as s:
            row = await s.get(HelpConfig, guild_id, with_for_update=True)
            if row is None:
                row = HelpConfig(guild_id=guild_id, updated_at=now)
                s.add(row)
            for name, value in changes.items():
                setattr(row, name, value)
            row.updated_at = now
            await s.flush()
            return _settings(row)

    # -------------------------------------------------------------------- topics

    async def add_topic(self, guild_id: int, name: str, now: datetime) -> Topic:
        """Add a topic; names are 1-40 characters and unique (case-insensitive)."""
        name = " ".join(name.split())
        if not TOPIC_NAME.match(name) or "," in name:
            raise InvalidInput("help.errors.bad_topic_name", value=name[:40])
        async with self.db.session() as s:
            count = (await s.exec(select(func.count()).where(HelpTopic.guild_id == guild_id))).one()
            if count >= MAX_TOPICS:
                raise InvalidInput("help.errors.too_many_topics", limit=MAX_TOPICS)
            existing = await _topic(s, guild_id, topic_key(name))
            if existing is not None:
                raise InvalidInput("help.errors.topic_exists", name=existing.name)
            s.add(HelpTopic(guild_id=guild_id, key=topic_key(name), name=name, created_at=now))
        return Topic(topic_key(name), name)

    async def remove_topic(self, guild_id: int, name: str) -> Topic:
        """Remove a topic (helpers keep helping on every other topic they chose)."""
        async with self.db.session() as s:
            row = await _topic(s, guild_id, topic_key(name))
            if row is None:
                raise NotFound("help.errors.unknown_topic", name=name[:40])
            await s.delete(row)
            return Topic(row.key, row.name)

    async def topics(self, guild_id: int) -> list[Topic]:
        """The guild's topics, alphabetically."""
        async with self.db.session() as s:
            rows = (await s.exec(select(HelpTopic).where(HelpTopic.guild_id == guild_id).order_by(HelpTopic.key))).all()
        return [Topic(r.key, r.name) for r in rows]

    async def suggest_topics(self, guild_id: int, query: str, limit: int = 25) -> list[Topic]:
        """Topics matching what was typed (for autocomplete); for a comma list, the last item."""
        q = topic_key(query.rsplit(",", maxsplit=1)[-1])
        topics = await self.topics(guild_id)
        starts = [t for t in topics if t.key.startswith(q)]
        rest = [t for t in topics if q in t.key and t not in starts]
        return (starts + rest)[:limit]

    async def resolve_topic(self, guild_id: int, name: str | None) -> Topic | None:
        """The topic called ``name`` (``None`` for no topic); unknown names raise :class:`InvalidInput`."""
        if name is None or not name.strip():
            return None
        async with self.db.session() as s:
            row = await _topic(s, guild_id, topic_key(name))
        if row is None:
            raise InvalidInput("help.errors.unknown_topic", name=name[:40])
        return Topic(row.key, row.name)

    # ------------------------------------------------------------------- helpers

    async def join(self, guild_id: int, member_id: int, topics: str | None, now: datetime) -> HelperProfile:
        """Become a helper (or change topics). ``topics`` is comma-separated; empty means all."""
        keys = await self._validate_topics(guild_id, topics)
        async with self.db.session() as s:
            row = await _helper(s, guild_id, member_id)
            if row is None:
                row = HelpHelper(guild_id=guild_id, member_id=member_id, joined_at=now)
                s.add(row)
            row.topics = _csv(keys)
            await s.flush()
            profile = await _profile(s, row)
        await self.events.publish(MemberActive(guild_id, member_id, now))
        return profile

    async def leave(self, guild_id: int, member_id: int, now: datetime) -> list[int]:
        """Stop being a helper. Their claims on open requests are released so those requests are
        followed up again; returns the ids of the released requests."""
        async with self.db.session() as s:
            row = await _helper(s, guild_id, member_id)
            if row is None:
                raise NotFound("help.errors.not_helper")
            await s.delete(row)
            claims = (
                await s.exec(
                    select(HelpParticipant)
                    .join(HelpRequest, col(HelpRequest.id) == HelpParticipant.request_id)
                    .where(
                        HelpRequest.guild_id == guild_id,
                        HelpRequest.state == "open",
                        HelpParticipant.member_id == member_id,
                        col(HelpParticipant.claimed).is_(True),
                    )
                )
            ).all()
            for claim in claims:
                claim.claimed = False
            return [c.request_id for c in claims]

    async def set_status(
        self, guild_id: int, member_id: int, status: str, until: datetime | None, now: datetime
    ) -> HelperProfile:
        """``available`` or ``away`` (optionally until an aware time)."""
        if status not in ("available", "away"):
            raise InvalidInput("help.errors.bad_status", value=status[:16])
        if until is not None and until <= now:
            raise InvalidInput("help.errors.until_in_past")
        async with self.db.session() as s:
            row = await self._require_helper(s, guild_id, member_id)
            row.status = status
            row.away_until = until if status == "away" else None
            await s.flush()
            return await _profile(s, row)

    async def set_limits(
        self,
        guild_id: int,
        member_id: int,
        now: datetime,
        *,
        max_open: int | None = None,
        quiet_hours: str | None = None,
        timezone: str | None = None,
        exclude_topics: str | None = None,
    ) -> HelperProfile:
        """Change boundaries. ``quiet_hours`` "22:00-07:00" (or "off"); ``exclude_topics`` comma list
        (or "none")."""
        if max_open is not None and not 1 <= max_open <= 20:
            raise InvalidInput("help.errors.bad_max_open")
        quiet: tuple[int | None, int | None] | None = None
        if quiet_hours is not None:
            quiet = (
                (None, None) if quiet_hours.strip().lower() in ("off", "none", "-") else parse_quiet_hours(quiet_hours)
            )
        tz = validate_timezone(timezone) if timezone is not None else None
        excluded: tuple[str, ...] | None = None
        if exclude_topics is not None:
            excluded = (
                ()
                if exclude_topics.strip().lower() in ("none", "-")
                else await self._validate_topics(guild_id, exclude_topics)
            )
        async with self.db.session() as s:
            row = await self._require_helper(s, guild_id, member_id)
            if max_open is not None:
                row.max_open = max_open
            if quiet is not None:
                row.quiet_start, row.quiet_end = quiet
            if tz is not None:
                row.timezone = tz
            if excluded is not None:
                row.excluded_topics = _csv(excluded)
            await s.flush()
            return await _profile(s, row)

    async def helper(self, guild_id: int, member_id: int) -> HelperProfile | None:
        """A member's helper profile, or ``None``."""
        async with self.db.session() as s:
            row = await _helper(s, guild_id, member_id)
            return await _profile(s, row) if row else None

    async def _require_helper(self, s: AsyncSession, guild_id: int, member_id: int) -> HelpHelper:
        row = await _helper(s, guild_id, member_id)
        if row is None:
            raise NotFound("help.errors.not_helper")
        return row

    async def _validate_topics(self, guild_id: int, text: str | None) -> tuple[str, ...]:
        names = [n for n in (text or "").split(",") if n.strip()]
        known = {t.key: t for t in await self.topics(guild_id)}
        keys: list[str] = []
        for name in names:
            key = topic_key(name)
            if key not in known:
                raise InvalidInput("help.errors.unknown_topic", name=name.strip()[:40])
            if key not in keys:
                keys.append(key)
        return tuple(keys)

    # ------------------------------------------------------------------ requests

    async def open_request(
        self,
        guild_id: int,
        asker_id: int,
        *,
        topic: str | None,
        title: str,
        body: str,
        wants: str,
        content_note: str | None,
        now: datetime,
        private: bool = False,
    ) -> Request:
        """Store a request before anything is sent. The thread is created by the Discord layer
        (right away, and by the ``help.deliver`` job while ``thread_state`` is ``pending``);
        ``private`` requests always get a private thread, whatever the guild's thread mode."""
        title = " ".join(title.split())[:100]
        if not title:
            raise InvalidInput("help.errors.empty_title")
        if wants not in WANTS:
            raise InvalidInput("help.errors.bad_wants", value=wants[:16])
        found = await self.resolve_topic(guild_id, topic)
        note = (content_note or "").strip()[:200] or None
        # Plain values, not a HelpRequest: building a model instance costs more than the insert.
        fields = {
            "guild_id": guild_id,
            "asker_id": asker_id,
            "topic_key": found.key if found else None,
            "topic_name": found.name if found else None,
            "title": title,
            "body": body.strip()[:4000],
            "wants": wants,
            "content_note": note,
            "private": private,
            "created_at": now,
        }
        row = {**fields, "last_activity_at": now, "next_attempt_at": now}
        async with self.db.direct() as q:  # straight to the driver: the hot path
            request_id = await q.scalar(_INSERT_REQUEST, **row)
        request = Request(
            id=request_id,
            **fields,
            state=_NEW_REQUEST_STATE,
            thread_state=_NEW_THREAD_STATE,
            thread_id=None,
            channel_id=None,
            first_response_at=None,
            resolved_at=None,
        )
        await self.events.publish(MemberActive(guild_id, asker_id, now))
        return request

    async def get(self, request_id: int) -> Request:
        """A request by id."""
        async with self.db.session() as s:
            row = await s.get(HelpRequest, request_id)
            if row is None:
                raise NotFound("help.errors.unknown_request")
            return _request(row, await _claimers(s, request_id))

    async def by_thread(self, thread_id: int) -> Request | None:
        """The request whose thread is ``thread_id``."""
        async with self.db.session() as s:
            row = (await s.exec(select(HelpRequest).where(HelpRequest.thread_id == thread_id))).first()
            return _request(row, await _claimers(s, row.id)) if row and row.id else None

    async def open_requests(self, guild_id: int, asker_id: int) -> list[Request]:
        """A member's open requests, newest first."""
        async with self.db.read() as s:
            rows = (
                await s.exec(
                    select(HelpRequest)
                    .where(HelpRequest.guild_id == guild_id, HelpRequest.asker_id == asker_id)
                    .where(HelpRequest.state == "open")
                    .order_by(col(HelpRequest.id).desc())
                )
            ).all()
            return [_request(r, await _claimers(s, r.id or 0)) for r in rows]

    async def pending_threads(
        self, now: datetime, *, limit: int = 20, scope: GuildScope | None = None
    ) -> list[Request]:
        """Requests whose thread still has to be created and whose next attempt is due (of the
        guilds in ``scope`` only: another process's guilds are not this caller's to create)."""
        async with self.db.session() as s:
            rows = (
                await s.exec(
                    select(HelpRequest)
                    .where(HelpRequest.thread_state == "pending", HelpRequest.state == "open")
                    .where(col(HelpRequest.next_attempt_at) <= now)
                    .where(in_scope(scope, col(HelpRequest.guild_id)))
                    .order_by(col(HelpRequest.id))
                    .limit(limit)
                )
            ).all()
        return [_request(r, ()) for r in rows]

    async def lease_thread(self, request_id: int, now: datetime) -> bool:
        """Take the right to create this request's thread for :data:`LEASE` (compare-and-set), so the
        immediate path after the form and the ``help.deliver`` job never both create one."""
        async with self.db.session() as s:
            result = await s.exec(
                update(HelpRequest)  # type: ignore[call-overload]
                .where(col(HelpRequest.id) == request_id, HelpRequest.thread_state == "pending")
                .where(col(HelpRequest.next_attempt_at) <= now)
                .values(next_attempt_at=now + LEASE)
            )
            return bool(result.rowcount)

    async def thread_failed(self, request_id: int, outcome: FailureOutcome, now: datetime) -> datetime:
        """Creating the thread failed; returns when it is tried again."""
        async with self.db.session() as s:
            row = await _require_request(s, request_id)
            row.attempts += 1
            retry_at = backoff(row.attempts, now)
            if outcome != "retry":
                retry_at = max(retry_at, now + PROBLEM_BACKOFF)
            row.next_attempt_at = retry_at
            return retry_at

    async def thread_created(self, request_id: int, thread_id: int, channel_id: int) -> None:
        """The thread exists but is not set up yet (asker added, request posted): remember it, so a
        retry finishes this thread instead of opening a second one."""
        async with self.db.session() as s:
            row = await _require_request(s, request_id, lock=True)
            if row.thread_state != "posted":
                row.thread_id, row.channel_id = thread_id, channel_id

    async def thread_posted(self, request_id: int, thread_id: int, channel_id: int, now: datetime) -> Posted:
        """The thread exists: remember it, forget the body and pick the first helpers to ping.
        Calling it again for the same request changes nothing."""
        async with self.db.session() as s:
            row = await _require_request(s, request_id, lock=True)
            if row.thread_state == "posted":
                return Posted(_request(row, await _claimers(s, request_id)), ())
            row.thread_state, row.thread_id, row.channel_id = "posted", thread_id, channel_id
            row.posted_at, row.body, row.next_attempt_at = now, "", None
            ping_ids = await self._queue_round(s, row, now)
            return Posted(_request(row, ()), ping_ids)

    async def _queue_round(self, s: AsyncSession, row: HelpRequest, now: datetime) -> tuple[int, ...]:
        """Pick the next helpers for ``row`` and queue their ping (a round with nobody is skipped)."""
        assert row.id is not None
        config = await s.get(HelpConfig, row.guild_id)
        settings = _settings(config) if config else HelpSettings(guild_id=row.guild_id)
        already = set((await s.exec(select(HelpPing.member_id).where(HelpPing.request_id == row.id))).all())
        claimers = set(await _claimers(s, row.id))
        helpers = (await s.exec(select(HelpHelper).where(HelpHelper.guild_id == row.guild_id))).all()
        loads = await _open_claims(s, row.guild_id)
        chosen = choose_helpers(
            helpers,
            topic=row.topic_key,
            now=now,
            skip=already | claimers | {row.asker_id},
            loads=loads,
            limit=settings.pings_per_round,
        )
        row.ping_round += 1
        for helper in chosen:
            helper.last_pinged_at = now
            s.add(HelpPing(request_id=row.id, member_id=helper.member_id, round=row.ping_round, at=now))
        if chosen:
            s.add(
                HelpOutbox(request_id=row.id, kind="pings", round=row.ping_round, next_attempt_at=now, created_at=now)
            )
        return tuple(h.member_id for h in chosen)

    # ---------------------------------------------------------------- follow-up

    async def follow_up(self, now: datetime, *, scope: GuildScope | None = None) -> int:
        """Queue whatever the clock says is due (idempotent), for the guilds in ``scope``; returns
        how many rows were queued."""
        queued = 0
        async with self.db.session() as s:
            rows = (
                await s.exec(
                    select(HelpRequest)
                    .where(HelpRequest.state == "open", HelpRequest.thread_state == "posted")
                    .where(in_scope(scope, col(HelpRequest.guild_id)))
                )
            ).all()
            configs_q = select(HelpConfig).where(in_scope(scope, col(HelpConfig.guild_id)))
            configs = {c.guild_id: _settings(c) for c in (await s.exec(configs_q)).all()}
            for row in rows:
                assert row.id is not None
                cfg = configs.get(row.guild_id) or HelpSettings(guild_id=row.guild_id)
                answered = row.first_response_at is not None or bool(await _claimers(s, row.id))
                age = now - row.created_at
                posted_for = now - (row.posted_at or now)
                if not answered and row.ping_round < 2 and posted_for >= timedelta(minutes=cfg.first_round_minutes):
                    await self._queue_round(s, row, now)
                    queued += 1
                if not answered and row.escalated_at is None and age >= timedelta(minutes=cfg.escalate_minutes):
                    row.escalated_at = now
                    for kind in ("wait", "mods"):
                        s.add(HelpOutbox(request_id=row.id, kind=kind, next_attempt_at=now, created_at=now))
                        queued += 1
                idle = timedelta(hours=cfg.idle_hours)
                if row.idle_asked_at is None and now - row.last_activity_at >= idle:
                    row.idle_asked_at = now
                    row.idle_count += 1
                    s.add(
                        HelpOutbox(
                            request_id=row.id, kind="idle", round=row.idle_count, next_attempt_at=now, created_at=now
                        )
                    )
                    queued += 1
                elif row.idle_asked_at is not None and now - row.idle_asked_at >= timedelta(hours=cfg.archive_hours):
                    row.state, row.archived_at = "archived", now
                    s.add(
                        HelpOutbox(
                            request_id=row.id, kind="archive", round=row.idle_count, next_attempt_at=now, created_at=now
                        )
                    )
                    queued += 1
        return queued

    async def due_outbox(
        self, now: datetime, *, request_id: int | None = None, limit: int = 50, scope: GuildScope | None = None
    ) -> list[OutboxItem]:
        """Queued sends that are due (optionally for one request; only of the guilds in ``scope``),
        each leased for :data:`LEASE` (compare-and-set) so that two callers never send the same item."""
        async with self.db.session() as s:
            q = select(HelpOutbox).where(HelpOutbox.state == "pending", col(HelpOutbox.next_attempt_at) <= now)
            if request_id is not None:
                q = q.where(HelpOutbox.request_id == request_id)
            if scope is not None:
                q = q.join(HelpRequest, col(HelpRequest.id) == col(HelpOutbox.request_id)).where(
                    in_scope(scope, col(HelpRequest.guild_id))
                )
            items = (await s.exec(q.order_by(col(HelpOutbox.id)).limit(limit))).all()
            out = []
            for item in items:
                leased = await s.exec(
                    update(HelpOutbox)  # type: ignore[call-overload]
                    .where(col(HelpOutbox.id) == item.id, col(HelpOutbox.next_attempt_at) <= now)
                    .values(next_attempt_at=now + LEASE)
                    .execution_options(synchronize_session=False)
                )
                if not leased.rowcount:
                    continue
                row = await s.get(HelpRequest, item.request_id)
                if row is None:
                    continue
                users: tuple[int, ...] = ()
                if item.kind == "pings":
                    users = tuple(
                        (
                            await s.exec(
                                select(HelpPing.member_id)
                                .where(HelpPing.request_id == item.request_id, HelpPing.round == item.round)
                                .order_by(col(HelpPing.id))
                            )
                        ).all()
                    )
                assert item.id is not None
                out.append(
                    OutboxItem(item.id, item.kind, item.round, _request(row, await _claimers(s, row.id or 0)), users)
                )
            return out

    async def outbox_done(self, item_id: int, *, dropped: bool = False) -> None:
        """The send worked (or can never work: ``dropped``)."""
        async with self.db.session() as s:
            await s.exec(
                update(HelpOutbox)  # type: ignore[call-overload]
                .where(col(HelpOutbox.id) == item_id)
                .values(state="dropped" if dropped else "done")
            )

    async def outbox_failed(self, item_id: int, outcome: FailureOutcome, now: datetime) -> datetime:
        """The send failed; returns when it is tried again."""
        async with self.db.session() as s:
            item = await s.get(HelpOutbox, item_id)
            if item is None:
                raise NotFound("help.errors.unknown_request")
            item.attempts += 1
            retry_at = backoff(item.attempts, now)
            if outcome != "retry":
                retry_at = max(retry_at, now + PROBLEM_BACKOFF)
            item.next_attempt_at = retry_at
            return retry_at

    # --------------------------------------------------------------- in-thread

    async def claim(self, request_id: int, member_id: int, now: datetime) -> Claim:
        """ "I can help": join the request (the first claimer leads). A helper at their ``max_open``
        is refused kindly; the asker cannot claim their own request."""
        async with self.db.session() as s:
            row = await _require_request(s, request_id, lock=True)
            if row.state != "open":
                raise NotAllowed("help.errors.closed")
            if row.asker_id == member_id:
                raise NotAllowed("help.errors.own_request")
            part = await _participant(s, request_id, member_id)
            if part is not None and part.claimed:
                return Claim(_request(row, await _claimers(s, request_id)), lead=False, already=True)
            helper = await _helper(s, row.guild_id, member_id)
            limit = helper.max_open if helper else DEFAULT_MAX_OPEN
            if (await _open_claims(s, row.guild_id)).get(member_id, 0) >= limit:
                raise NotAllowed("help.errors.at_limit", limit=limit)
            lead = not await _claimers(s, request_id)
            if part is None:
                part = HelpParticipant(request_id=request_id, member_id=member_id)
                s.add(part)
            part.claimed, part.claimed_at = True, now
            row.last_activity_at, row.idle_asked_at = now, None
            await s.flush()
            claim = Claim(_request(row, await _claimers(s, request_id)), lead=lead, already=False)
        await self.events.publish(MemberActive(row.guild_id, member_id, now))
        return claim

    async def record_message(self, thread_id: int, author_id: int, now: datetime) -> Request | None:
        """A message was written in a thread (author and time only). Records the first response by
        someone other than the asker and resets the idle timer; ``None`` if not a help thread."""
        async with self.db.session() as s:
            row = (await s.exec(select(HelpRequest).where(HelpRequest.thread_id == thread_id))).first()
            if row is None or row.id is None:
                return None
            row.last_activity_at, row.idle_asked_at = now, None
            if author_id != row.asker_id:
                if row.first_response_at is None:
                    row.first_response_at = now
                part = await _participant(s, row.id, author_id)
                if part is None:
                    s.add(HelpParticipant(request_id=row.id, member_id=author_id, responded_at=now))
                elif part.responded_at is None:
                    part.responded_at = now
            request = _request(row, ())
        await self.events.publish(MemberActive(request.guild_id, author_id, now))
        return request

    async def resolve(self, request_id: int, member_id: int, now: datetime, *, moderator: bool = False) -> Resolution:
        """The asker (or a moderator) marks the request resolved. Publishes :class:`HelpResolved`."""
        async with self.db.session() as s:
            row = await _require_request(s, request_id, lock=True)
            if row.asker_id != member_id and not moderator:
                raise NotAllowed("help.errors.only_asker")
            if row.state == "resolved":
                raise InvalidInput("help.errors.already_resolved")
            row.state, row.resolved_at, row.last_activity_at = "resolved", now, now
            parts = (
                await s.exec(
                    select(HelpParticipant)
                    .where(HelpParticipant.request_id == request_id)
                    .order_by(col(HelpParticipant.id))
                )
            ).all()
            helpers = tuple(
                p.member_id for p in sorted(parts, key=lambda p: (not p.claimed, p.claimed_at or p.responded_at or now))
            )
            resolution = Resolution(_request(row, await _claimers(s, request_id)), helpers)
        await self.events.publish(HelpResolved(row.guild_id, request_id, row.asker_id, helpers, now))
        return resolution

    async def still_need_help(self, request_id: int, member_id: int, now: datetime) -> Request:
        """The asker still needs help: the idle timer restarts, and if nobody has claimed the
        request, another round of helpers is pinged."""
        async with self.db.session() as s:
            row = await _require_request(s, request_id, lock=True)
            if row.asker_id != member_id:
                raise NotAllowed("help.errors.only_asker")
            if row.state == "resolved":
                raise InvalidInput("help.errors.already_resolved")
            row.state, row.archived_at = "open", None
            row.last_activity_at, row.idle_asked_at = now, None
            if row.thread_state == "posted" and not await _claimers(s, request_id):
                await self._queue_round(s, row, now)
            return _request(row, await _claimers(s, request_id))

    async def response_times(self, guild_id: int, since: datetime, until: datetime) -> list[ResponseTimes]:
        """Time to first response and to resolution of requests opened in ``[since, until)``."""
        async with self.db.session() as s:
            rows = (
                await s.exec(
                    select(HelpRequest)
                    .where(HelpRequest.guild_id == guild_id)
                    .where(col(HelpRequest.created_at) >= since, col(HelpRequest.created_at) < until)
                    .order_by(col(HelpRequest.id))
                )
            ).all()
        return [
            ResponseTimes(
                r.id or 0,
                r.created_at,
                (r.first_response_at - r.created_at).total_seconds() if r.first_response_at else None,
                (r.resolved_at - r.created_at).total_seconds() if r.resolved_at else None,
            )
            for r in rows
        ]

    async def overview(self, guild_id: int, now: datetime, *, days: int = 30, limit: int = 50) -> HelpOverview:
        """The dashboard's help page: open requests (overdue = no first response for longer than
        the guild's escalation time) and the time to first response of requests opened in the
        ``days`` before ``now`` (median and 90th percentile, answered requests only)."""
        cfg = await self.settings(guild_id)
        overdue_before = now - timedelta(minutes=cfg.escalate_minutes)
        is_open = (HelpRequest.guild_id == guild_id, HelpRequest.state == "open")
        unanswered = col(HelpRequest.first_response_at).is_(None)
        async with self.db.session() as s:
            totals = (
                await s.exec(
                    select(
                        func.count(),
                        func.count(func.nullif(unanswered, False)),
                        func.count(func.nullif(unanswered & (col(HelpRequest.created_at) < overdue_before), False)),
                    ).where(*is_open)
                )
            ).one()
            overdue_first = unanswered & (col(HelpRequest.created_at) < overdue_before)
            r = HelpRequest
            rows = (
                await s.exec(
                    select(
                        r.id,
                        r.asker_id,
                        r.title,
                        r.topic_name,
                        r.private,
                        r.thread_id,
                        r.created_at,
                        r.first_response_at,
                        r.escalated_at,
                    )
                    .where(*is_open)
                    .order_by(overdue_first.desc(), col(HelpRequest.created_at), col(HelpRequest.id))
                    .limit(limit)
                )
            ).all()
            ids = [row[0] for row in rows]
            claims: dict[int, list[int]] = {}
            if ids:
                for request_id, member_id in (
                    await s.exec(
                        select(HelpParticipant.request_id, HelpParticipant.member_id)
                        .where(col(HelpParticipant.request_id).in_(ids), col(HelpParticipant.claimed).is_(True))
                        .order_by(col(HelpParticipant.id))
                    )
                ).all():
                    claims.setdefault(request_id, []).append(member_id)
            in_period = (
                HelpRequest.guild_id == guild_id,
                col(HelpRequest.created_at) >= now - timedelta(days=days),
                col(HelpRequest.created_at) < now,
            )
            # Seconds in SQL (NULL while unanswered): one pass over the period, floats not datetimes.
            seconds = _seconds_between(self.db.dialect, col(HelpRequest.created_at), col(HelpRequest.first_response_at))
            period = (await s.exec(select(seconds).where(*in_period))).all()
        views = tuple(
            OpenRequestView(
                id=rid,
                asker_id=asker_id,
                title=title,
                topic_name=topic_name,
                private=private,
                thread_id=thread_id,
                created_at=created,
                waiting_minutes=max(0, int((now - created).total_seconds() // 60)),
                first_response_at=first,
                overdue=first is None and created < overdue_before,
                escalated=escalated is not None,
                helper_ids=tuple(claims.get(rid, ())),
            )
            for rid, asker_id, title, topic_name, private, thread_id, created, first, escalated in rows
        )
        minutes = [float(value) / 60 for value in period if value is not None]
        p50, p90 = _percentile(minutes, 0.5), _percentile(minutes, 0.9)
        return HelpOverview(
            escalate_minutes=cfg.escalate_minutes,
            open_total=int(totals[0]),
            unanswered_total=int(totals[1]),
            overdue_total=int(totals[2]),
            requests=views,
            days=days,
            opened=len(period),
            answered=len(minutes),
            median_first_response_minutes=round(p50, 1) if p50 is not None else None,
            p90_first_response_minutes=round(p90, 1) if p90 is not None else None,
        )


def choose_helpers(
    helpers: Sequence[HelpHelper],
    *,
    topic: str | None,
    now: datetime,
    skip: set[int],
    loads: dict[int, int],
    limit: int,
) -> list[HelpHelper]:
    """Who to ping: helpers of the topic who are available, under their ``max_open`` and outside
    their quiet hours (in their own time zone) — least recently pinged first, so it rotates."""
    fit = []
    for h in helpers:
        if h.member_id in skip:
            continue
        topics, excluded = _uncsv(h.topics), _uncsv(h.excluded_topics)
        if topic is not None and ((topics and topic not in topics) or topic in excluded):
            continue
        if h.status == "away" and (h.away_until is None or h.away_until > now):
            continue
        if loads.get(h.member_id, 0) >= h.max_open:
            continue
        if in_quiet_hours(h.quiet_start, h.quiet_end, h.timezone, now):
            continue
        fit.append(h)
    epoch = datetime.min.replace(tzinfo=now.tzinfo)
    fit.sort(key=lambda h: (h.last_pinged_at or epoch, h.joined_at, h.member_id))
    return fit[: max(0, limit)]


async def _topic(s: AsyncSession, guild_id: int, key: str) -> HelpTopic | None:
    return (await s.exec(select(HelpTopic).where(HelpTopic.guild_id == guild_id, HelpTopic.key == key))).first()


async def _helper(s: AsyncSession, guild_id: int, member_id: int) -> HelpHelper | None:
    return (
        await s.exec(select(HelpHelper).where(HelpHelper.guild_id == guild_id, HelpHelper.member_id == member_id))
    ).first()


async def _participant(s: AsyncSession, request_id: int, member_id: int) -> HelpParticipant | None:
    return (
        await s.exec(
            select(HelpParticipant).where(
                HelpParticipant.request_id == request_id, HelpParticipant.member_id == member_id
            )
        )
    ).first()


async def _claimers(s: AsyncSession, request_id: int) -> tuple[int, ...]:
    rows = (
        await s.exec(
            select(HelpParticipant.member_id)
            .where(HelpParticipant.request_id == request_id, col(HelpParticipant.claimed).is_(True))
            .order_by(col(HelpParticipant.claimed_at), col(HelpParticipant.id))
        )
    ).all()
    return tuple(rows)


async def _open_claims(s: AsyncSession, guild_id: int) -> dict[int, int]:
    rows = (
        await s.exec(
            select(HelpParticipant.member_id, func.count())
            .join(HelpRequest, col(HelpRequest.id) == HelpParticipant.request_id)
            .where(
                HelpRequest.guild_id == guild_id, HelpRequest.state == "open", col(HelpParticipant.claimed).is_(True)
            )
            .group_by(HelpParticipant.member_id)
        )
    ).all()
    return {member_id: count for member_id, count in rows}


async def _require_request(s: AsyncSession, request_id: int, *, lock: bool = False) -> HelpRequest:
    row = await s.get(HelpRequest, request_id, with_for_update=lock)
    if row is None:
        raise NotFound("help.errors.unknown_request")
    return row


async def _profile(s: AsyncSession, row: HelpHelper) -> HelperProfile:
    loads = await _open_claims(s, row.guild_id)
    return HelperProfile(
        guild_id=row.guild_id,
        member_id=row.member_id,
        topics=_uncsv(row.topics),
        excluded_topics=_uncsv(row.excluded_topics),
        status=row.status,
        away_until=row.away_until,
        max_open=row.max_open,
        quiet_hours=format_quiet_hours(row.quiet_start, row.quiet_end),
        timezone=row.timezone,
        open_claims=loads.get(row.member_id, 0),
    )


def _settings(row: HelpConfig) -> HelpSettings:
    return HelpSettings(
        guild_id=row.guild_id,
        first_round_minutes=row.first_round_minutes,
        escalate_minutes=row.escalate_minutes,
        idle_hours=row.idle_hours,
        archive_hours=row.archive_hours,
        pings_per_round=row.pings_per_round,
        thread_mode=row.thread_mode,
    )


_REQUESTS = HelpRequest.__table__  # type: ignore[attr-defined]
_INSERT_REQUEST = Prepared(
    _REQUESTS.insert().returning(_REQUESTS.c.id),
    columns=[
        "guild_id",
        "asker_id",
        "topic_key",
        "topic_name",
        "title",
        "body",
        "wants",
        "content_note",
        "private",
        "created_at",
        "last_activity_at",
        "next_attempt_at",
    ],
)
_NEW_REQUEST_STATE = _REQUESTS.c.state.default.arg  # what the insert gives a new request
_NEW_THREAD_STATE = _REQUESTS.c.thread_state.default.arg


def _request(row: HelpRequest, helper_ids: tuple[int, ...]) -> Request:
    assert row.id is not None
    return Request(
        id=row.id,
        guild_id=row.guild_id,
        asker_id=row.asker_id,
        topic_key=row.topic_key,
        topic_name=row.topic_name,
        title=row.title,
        body=row.body,
        wants=row.wants,
        content_note=row.content_note,
        state=row.state,
        thread_state=row.thread_state,
        private=row.private,
        thread_id=row.thread_id,
        channel_id=row.channel_id,
        created_at=row.created_at,
        first_response_at=row.first_response_at,
        resolved_at=row.resolved_at,
        helper_ids=helper_ids,
    )
