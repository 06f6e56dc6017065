"""Mentor programme (issue #11).

Mentors offer topics and a capacity. A member looking for a mentor gets a proposal: an active
mentor with the topic, free capacity (active pairings plus proposals the mentee already accepted),
nobody either of them blocked and nobody they were paired or proposed with before, nearest time
zone first (when both told us theirs), then the least busy. The mentee accepts first, then the
mentor is asked; only when both accepted does the pairing start — and that last accept re-checks
the capacity inside its transaction (mentor row locked), so a mentor never has more active mentees
than their capacity. Proposals not completed within :data:`PROPOSAL_TTL` lapse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.models.mentors import Mentor, MentorBlock, MentorCheckin, MentorMatch
from bot.services.context import ServiceContext
from bot.services.guilds import validate_timezone
from bot.sharding import GuildScope, in_scope

PROPOSAL_TTL = timedelta(days=2)
MAX_CAPACITY = 10
MAX_TOPICS = 10
#: A pairing gets its first check-in once it has run this long, then one per calendar month.
CHECKIN_AFTER = timedelta(days=28)
PROPOSED, ACTIVE, DECLINED, CANCELLED, ENDED = "proposed", "active", "declined", "cancelled", "ended"


@dataclass(frozen=True, slots=True)
class MentorInfo:
    """A mentor's offer as plain data."""

    guild_id: int
    member_id: int
    topics: tuple[str, ...]
    capacity: int
    status: str
    timezone: str | None


@dataclass(frozen=True, slots=True)
class MatchInfo:
    """A proposal or pairing as plain data."""

    id: int
    guild_id: int
    mentor_id: int
    mentee_id: int
    topic: str
    status: str
    mentee_accepted: bool
    mentor_accepted: bool
    mentor_checkin: bool
    mentee_checkin: bool
    thread_id: int | None

    def other(self, member_id: int) -> int:
        """The other side of the pairing."""
        return self.mentee_id if member_id == self.mentor_id else self.mentor_id

    def wants_checkin(self, member_id: int) -> bool:
        """Whether ``member_id`` chose the monthly check-in DM (each side decides for themselves)."""
        return self.mentor_checkin if member_id == self.mentor_id else self.mentee_checkin

    @property
    def checkin_recipients(self) -> tuple[int, ...]:
        """Who gets the monthly check-in DM."""
        return tuple(m for m in (self.mentor_id, self.mentee_id) if self.wants_checkin(m))


@dataclass(frozen=True, slots=True)
class AcceptOutcome:
    """After an accept: ``started`` (both accepted, pairing active), else waiting for ``waiting_for``;
    ``full`` when the mentor had no room left (the proposal is cancelled)."""

    match: MatchInfo
    started: bool
    waiting_for: str | None
    full: bool = False


def parse_topics(text: str) -> tuple[str, ...]:
    """Comma-separated topics, normalised (lower case, single spaces), without repeats."""
    topics = [" ".join(t.strip().lstrip("#").lower().split())[:40] for t in text.split(",")]
    return tuple(dict.fromkeys(t for t in topics if t))


def _offset_hours(tz: str | None, now: datetime) -> float | None:
    if not tz:
        return None
    offset = now.astimezone(ZoneInfo(tz)).utcoffset()
    return offset.total_seconds() / 3600 if offset is not None else None


def tz_distance(a: str | None, b: str | None, now: datetime) -> float:
    """Hours between two time zones now (12 when unknown: neither near nor far)."""
    x, y = _offset_hours(a, now), _offset_hours(b, now)
    if x is None or y is None:
        return 12.0
    d = abs(x - y)
    return min(d, 24 - d)


def _covers(mentor_topics: str, topic: str) -> bool:
    return any(topic == t or topic in t or t in topic for t in mentor_topics.split(","))


class MentorService:
    """Offers, matching, acceptance by both sides, ending kindly and monthly check-ins."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db
        self.events = ctx.events

    # ------------------------------------------------------------------ mentors

    async def offer(
        self, guild_id: int, member_id: int, *, topics: str, capacity: int, timezone: str | None, now: datetime
    ) -> MentorInfo:
        """Offer (or update, or resume) mentoring."""
        parsed = parse_topics(topics)
        if not parsed:
            raise InvalidInput("mentors.errors.no_topics")
        if len(parsed) > MAX_TOPICS or len(",".join(parsed)) > 300:
            raise InvalidInput("mentors.errors.too_many_topics", limit=MAX_TOPICS)
        if not 1 <= capacity <= MAX_CAPACITY:
            raise InvalidInput("mentors.errors.bad_capacity", limit=MAX_CAPACITY)
        tz = validate_timezone(timezone) if timezone else None
        async with self.db.session() as s:
            row = await _mentor(s, guild_id, member_id, lock=True)
            if row is None:
                row = Mentor(guild_id=guild_id, member_id=member_id, topics="", created_at=now, updated_at=now)
                s.add(row)
            row.topics, row.capacity, row.status, row.updated_at = ",".join(parsed), capacity, "active", now
            if tz:
                row.timezone = tz
            await s.flush()
            return _mentor_info(row)

    async def pause(self, guild_id: int, member_id: int, now: datetime) -> MentorInfo:
        """Stop new proposals (running pairings go on). ``/mentor offer`` resumes."""
        async with self.db.session() as s:
            row = await _mentor(s, guild_id, member_id, lock=True)
            if row is None:
                raise NotFound("mentors.errors.not_mentor")
            row.status, row.updated_at = "paused", now
            await s.flush()
            return _mentor_info(row)

    async def leave(self, guild_id: int, member_id: int, now: datetime) -> int:
        """Stop being a mentor: open proposals lapse; returns how many pairings still run (they
        go on until either side ends them)."""
        async with self.db.session() as s:
            row = await _mentor(s, guild_id, member_id, lock=True)
            if row is None:
                raise NotFound("mentors.errors.not_mentor")
            await s.delete(row)
            matches = (
                await s.exec(
                    select(MentorMatch).where(
                        MentorMatch.guild_id == guild_id,
                        MentorMatch.mentor_id == member_id,
                        col(MentorMatch.status).in_((PROPOSED, ACTIVE)),
                    )
                )
            ).all()
            running = 0
            for m in matches:
                if m.status == PROPOSED:
                    m.status, m.ended_at = CANCELLED, now
                else:
                    running += 1
        return running

    async def block(self, guild_id: int, member_id: int, blocked_id: int, now: datetime) -> None:
        """``member_id`` is never matched with ``blocked_id`` (either way round)."""
        if member_id == blocked_id:
            raise InvalidInput("mentors.errors.block_self")
        try:
            async with self.db.session() as s:
                s.add(MentorBlock(guild_id=guild_id, member_id=member_id, blocked_id=blocked_id, created_at=now))
        except IntegrityError:
            return  # already blocked

    async def get_mentor(self, guild_id: int, member_id: int) -> MentorInfo | None:
        """A member's mentor offer, if any."""
        async with self.db.session() as s:
            row = await _mentor(s, guild_id, member_id)
        return _mentor_info(row) if row else None

    # ----------------------------------------------------------------- matching

    async def find(
        self, guild_id: int, mentee_id: int, topic: str, now: datetime, timezone: str | None = None
    ) -> MatchInfo:
        """Propose a mentor for ``topic`` (an open proposal of the mentee is returned again)."""
        wanted = parse_topics(topic)
        if not wanted:
            raise InvalidInput("mentors.errors.no_topics")
        topic = wanted[0]
        tz = validate_timezone(timezone) if timezone else None
        async with self.db.session() as s:
            open_proposal = (
                await s.exec(
                    select(MentorMatch).where(
                        MentorMatch.guild_id == guild_id,
                        MentorMatch.mentee_id == mentee_id,
                        MentorMatch.status == PROPOSED,
                        col(MentorMatch.created_at) > now - PROPOSAL_TTL,
                    )
                )
            ).first()
            if open_proposal is not None:
                return _match_info(open_proposal)
            mentors = (
                await s.exec(
                    select(Mentor).where(
                        Mentor.guild_id == guild_id, Mentor.status == "active", Mentor.member_id != mentee_id
                    )
                )
            ).all()
            candidates = [m for m in mentors if _covers(m.topics, topic)]
            if not candidates:
                raise NotFound("mentors.errors.no_match", topic=topic)
            ids = [m.member_id for m in candidates]
            blocked = set(
                (
                    await s.exec(
                        select(MentorBlock.blocked_id).where(
                            MentorBlock.guild_id == guild_id, MentorBlock.member_id == mentee_id
                        )
                    )
                ).all()
            ) | set(
                (
                    await s.exec(
                        select(MentorBlock.member_id).where(
                            MentorBlock.guild_id == guild_id, MentorBlock.blocked_id == mentee_id
                        )
                    )
                ).all()
            )
            had_before = set(
                (
                    await s.exec(
                        select(MentorMatch.mentor_id).where(
                            MentorMatch.guild_id == guild_id,
                            MentorMatch.mentee_id == mentee_id,
                            MentorMatch.status != CANCELLED,
                        )
                    )
                ).all()
            )
            load = await _load(s, guild_id, ids, now)
            pool = [
                m
                for m in candidates
                if m.member_id not in blocked
                and m.member_id not in had_before
                and load.get(m.member_id, 0) < m.capacity
            ]
            if not pool:
                raise NotFound("mentors.errors.no_match", topic=topic)
            pool.sort(
                key=lambda m: (
                    tz_distance(tz, m.timezone, now),
                    load.get(m.member_id, 0) / m.capacity,
                    m.created_at,
                    m.member_id,
                )
            )
            match = MentorMatch(
                guild_id=guild_id, mentor_id=pool[0].member_id, mentee_id=mentee_id, topic=topic, created_at=now
            )
            s.add(match)
            await s.flush()
            return _match_info(match)

    async def accept(self, match_id: int, member_id: int, now: datetime) -> AcceptOutcome:
        """One side accepts. The mentee accepts first; the mentor's accept starts the pairing when
        they still have room (checked here, with the mentor's row locked)."""
        async with self.db.session() as s:
            match = await _open_match(s, match_id, member_id, now)
            if member_id == match.mentee_id:
                match.mentee_accepted = True
                await s.flush()
                if not match.mentor_accepted:
                    return AcceptOutcome(_match_info(match), started=False, waiting_for="mentor")
            else:
                if not match.mentee_accepted:
                    raise InvalidInput("mentors.errors.mentee_first")
                match.mentor_accepted = True
            mentor = await _mentor(s, match.guild_id, match.mentor_id, lock=True)
            active = (
                await s.exec(
                    select(func.count()).where(
                        MentorMatch.guild_id == match.guild_id,
                        MentorMatch.mentor_id == match.mentor_id,
                        MentorMatch.status == ACTIVE,
                    )
                )
            ).one()
            if mentor is None or active >= mentor.capacity:
                match.status, match.ended_at = CANCELLED, now
                await s.flush()
                return AcceptOutcome(_match_info(match), started=False, waiting_for=None, full=True)
            match.status, match.started_at = ACTIVE, now
            await s.flush()
            return AcceptOutcome(_match_info(match), started=True, waiting_for=None)

    async def decline(self, match_id: int, member_id: int, now: datetime) -> MatchInfo:
        """Either side says no to a proposal (kindly: the other is told without reasons)."""
        async with self.db.session() as s:
            match = await _open_match(s, match_id, member_id, now)
            match.status, match.ended_at = DECLINED, now
            await s.flush()
            return _match_info(match)

    async def unreachable(self, match_id: int, now: datetime) -> MatchInfo:
        """The mentor could not be asked (DMs closed): cancel, and pause the mentor so they are not
        proposed again until they offer anew."""
        async with self.db.session() as s:
            match = await s.get(MentorMatch, match_id, with_for_update=True)
            if match is None:
                raise NotFound("mentors.errors.not_found")
            match.status, match.ended_at = CANCELLED, now
            mentor = await _mentor(s, match.guild_id, match.mentor_id, lock=True)
            if mentor is not None:
                mentor.status, mentor.updated_at = "paused", now
            await s.flush()
            return _match_info(match)

    async def set_thread(self, match_id: int, thread_id: int) -> None:
        """Remember the pairing's private thread."""
        async with self.db.session() as s:
            match = await s.get(MentorMatch, match_id)
            if match is not None:
                match.thread_id = thread_id

    async def end(self, guild_id: int, member_id: int, other_id: int, now: datetime) -> MatchInfo:
        """End the active pairing between two members (either side may)."""
        async with self.db.session() as s:
            match = (
                await s.exec(
                    select(MentorMatch).where(
                        MentorMatch.guild_id == guild_id,
                        MentorMatch.status == ACTIVE,
                        or_(
                            (col(MentorMatch.mentor_id) == member_id) & (col(MentorMatch.mentee_id) == other_id),
                            (col(MentorMatch.mentor_id) == other_id) & (col(MentorMatch.mentee_id) == member_id),
                        ),
                    )
                )
            ).first()
            if match is None:
                raise NotFound("mentors.errors.no_pairing")
            match.status, match.ended_at = ENDED, now
            await s.flush()
            return _match_info(match)

    async def set_checkin(self, match_id: int, member_id: int) -> MatchInfo:
        """Turn the monthly check-in DM on or off for ``member_id`` only (never for the other side)."""
        async with self.db.session() as s:
            match = await s.get(MentorMatch, match_id, with_for_update=True)
            if match is None or member_id not in (match.mentor_id, match.mentee_id):
                raise NotFound("mentors.errors.not_found")
            if match.status != ACTIVE:
                raise InvalidInput("mentors.errors.not_active")
            if member_id == match.mentor_id:
                match.mentor_checkin = not match.mentor_checkin
            else:
                match.mentee_checkin = not match.mentee_checkin
            await s.flush()
            return _match_info(match)

    async def pairings(self, guild_id: int, member_id: int) -> list[MatchInfo]:
        """A member's active pairings (as mentor or mentee)."""
        async with self.db.session() as s:
            rows = (
                await s.exec(
                    select(MentorMatch).where(
                        MentorMatch.guild_id == guild_id,
                        MentorMatch.status == ACTIVE,
                        or_(col(MentorMatch.mentor_id) == member_id, col(MentorMatch.mentee_id) == member_id),
                    )
                )
            ).all()
        return [_match_info(r) for r in rows]

    async def claim_checkins(
        self, now: datetime, limit: int = 10, *, scope: GuildScope | None = None
    ) -> list[MatchInfo]:
        """Pairings (of the guilds in ``scope``) whose monthly check-in is due now; each is claimed
        once per (pairing, month) by a unique row, so restarts and a second process never send it twice."""
        month = f"{now.year:04d}-{now.month:02d}"
        async with self.db.session() as s:
            done = select(MentorCheckin.match_id).where(MentorCheckin.month == month)
            rows = (
                await s.exec(
                    select(MentorMatch)
                    .where(
                        MentorMatch.status == ACTIVE,
                        or_(col(MentorMatch.mentor_checkin).is_(True), col(MentorMatch.mentee_checkin).is_(True)),
                        col(MentorMatch.started_at) <= now - CHECKIN_AFTER,
                        col(MentorMatch.id).not_in(done),
                        in_scope(scope, col(MentorMatch.guild_id)),
                    )
                    .order_by(col(MentorMatch.id))
                    .limit(limit)
                )
            ).all()
            claimed: list[MatchInfo] = []
            for row in rows:
                try:
                    async with s.begin_nested():
                        s.add(MentorCheckin(match_id=row.id, month=month, sent_at=now))
                except IntegrityError:
                    continue
                claimed.append(_match_info(row))
        return claimed


async def _mentor(s: AsyncSession, guild_id: int, member_id: int, *, lock: bool = False) -> Mentor | None:
    stmt = select(Mentor).where(Mentor.guild_id == guild_id, Mentor.member_id == member_id)
    if lock:
        stmt = stmt.with_for_update()
    return (await s.exec(stmt)).first()


async def _load(s: AsyncSession, guild_id: int, mentor_ids: list[int], now: datetime) -> dict[int, int]:
    """Active pairings plus live proposals the mentee already accepted, per mentor."""
    rows = (
        await s.exec(
            select(MentorMatch.mentor_id, func.count())
            .where(
                MentorMatch.guild_id == guild_id,
                col(MentorMatch.mentor_id).in_(mentor_ids),
                or_(
                    col(MentorMatch.status) == ACTIVE,
                    (col(MentorMatch.status) == PROPOSED)
                    & col(MentorMatch.mentee_accepted).is_(True)
                    & (col(MentorMatch.created_at) > now - PROPOSAL_TTL),
                ),
            )
            .group_by(col(MentorMatch.mentor_id))
        )
    ).all()
    return {mentor_id: count for mentor_id, count in rows}


async def _open_match(s: AsyncSession, match_id: int, member_id: int, now: datetime) -> MentorMatch:
    match = await s.get(MentorMatch, match_id, with_for_update=True)
    if match is None or member_id not in (match.mentor_id, match.mentee_id):
        raise NotFound("mentors.errors.not_found")
    if match.status != PROPOSED:
        raise NotAllowed("mentors.errors.already_decided")
    if match.created_at <= now - PROPOSAL_TTL:  # lapsed (find() and capacity ignore it already)
        raise InvalidInput("mentors.errors.expired")
    return match


def _mentor_info(row: Mentor) -> MentorInfo:
    return MentorInfo(
        guild_id=row.guild_id,
        member_id=row.member_id,
        topics=tuple(t for t in row.topics.split(",") if t),
        capacity=row.capacity,
        status=row.status,
        timezone=row.timezone,
    )


def _match_info(row: MentorMatch) -> MatchInfo:
    assert row.id is not None
    return MatchInfo(
        id=row.id,
        guild_id=row.guild_id,
        mentor_id=row.mentor_id,
        mentee_id=row.mentee_id,
        topic=row.topic,
        status=row.status,
        mentee_accepted=row.mentee_accepted,
        mentor_accepted=row.mentor_accepted,
        mentor_checkin=row.mentor_checkin,
        mentee_checkin=row.mentee_checkin,
        thread_id=row.thread_id,
    )
