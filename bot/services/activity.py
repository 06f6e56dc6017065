"""Last-active tracking, buffered in memory and written in batches (issue #7).

:meth:`ActivityService.record` is called for every guild message, reaction and interaction, so it
only updates two dicts per guild (member → latest time, member → join date) and, when a member's
UTC day is new to the buffer, a set of members per guild and day (for the weekly series of
``/stats``); :meth:`ActivityService.flush` writes both in one transaction, in chunks. Nothing about
*what* a member did is ever stored.

The buffer holds plain ints — microseconds since the Unix epoch, days since the epoch — and makes
datetimes only when it is flushed or read: up to 100k members can be active between two flushes,
and a datetime, a tuple key and a list per member cost about twice the memory (issue #9).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func

from bot.models.activity import InsightActivityDay, MemberActivity
from bot.services.context import ServiceContext
from bot.services.events import MemberActive, MemberDataDeleted
from bot.services.rows import dialect_insert

log = logging.getLogger(__name__)

#: Rows per executemany of the flush (the event loop gets a turn between two chunks).
CHUNK = 500

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
#: Microseconds in a (UTC) day: ``at_us // DAY_US`` is the day, counted from the epoch.
DAY_US = 86_400_000_000

#: One guild's buffer: member → latest activity (µs since the epoch), member → latest join time.
GuildBuffer = tuple[dict[int, int], dict[int, datetime]]
#: (guild, day since the epoch) → the members active that UTC day.
Days = dict[tuple[int, int], set[int]]


def to_us(at: datetime) -> int:
    """An aware datetime as whole microseconds since the Unix epoch."""
    return (at - EPOCH) // MICROSECOND


def from_us(at_us: int) -> datetime:
    """The aware UTC datetime of :func:`to_us`."""
    return EPOCH + timedelta(microseconds=at_us)


@dataclass(frozen=True, slots=True)
class Activity:
    """What we know about one member's activity in a guild."""

    guild_id: int
    member_id: int
    last_active_at: datetime
    joined_at: datetime | None


class ActivityService:
    """Records when members were last active; one write per batch, never one per message."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db
        self.events = ctx.events
        self._buffer: dict[int, GuildBuffer] = {}
        self._days: Days = {}
        self._days_written: Days = {}  # the newest day's, so repeated activity costs nothing
        self._flushing = 0
        self._deleted_in_flight: list[tuple[int | None, int]] = []  # (guild or None = all, member)
        ctx.events.subscribe(MemberActive, self._on_member_active)
        ctx.events.subscribe(MemberDataDeleted, self._on_data_deleted)

    async def _on_member_active(self, event: MemberActive) -> None:
        self.record(event.guild_id, event.member_id, event.at)

    async def _on_data_deleted(self, event: MemberDataDeleted) -> None:
        """After ``/privacy delete``: drop what is still buffered, or the next flush writes it back."""
        member, guild = event.member_id, event.guild_id
        for guild_id, (last, joined) in self._buffer.items():
            if guild in (None, guild_id):
                last.pop(member, None)
                joined.pop(member, None)
        for days in (self._days, self._days_written):
            for (guild_id, _), members in days.items():
                if guild in (None, guild_id):
                    members.discard(member)
        if self._flushing:  # a batch taken out before the deletion must not bring the member back
            self._deleted_in_flight.append((guild, member))

    def record(self, guild_id: int, member_id: int, at: datetime, joined_at: datetime | None = None) -> None:
        """Remember that a member was active at ``at`` (memory only; :meth:`flush` writes it)."""
        self.record_us(guild_id, member_id, to_us(at), joined_at)

    def record_us(self, guild_id: int, member_id: int, at_us: int, joined_at: datetime | None = None) -> None:
        """:meth:`record` with the time as microseconds since the Unix epoch (UTC), for the
        per-message hook, which has it without making a datetime.

        Called for every message: two dict lookups, a comparison and a dict store. The member's UTC
        day is noted only when it is new to the buffer (the first event since the last flush, or
        the first after midnight)."""
        try:
            last, joined = self._buffer[guild_id]
        except KeyError:
            last, joined = self._buffer[guild_id] = ({}, {})
        old = last.get(member_id)
        if old is None:
            last[member_id] = at_us
            self._note_day(guild_id, member_id, at_us // DAY_US)
        elif at_us > old:
            last[member_id] = at_us
            if at_us // DAY_US != old // DAY_US:
                self._note_day(guild_id, member_id, at_us // DAY_US)
        if joined_at is not None:
            joined[member_id] = joined_at

    def _note_day(self, guild_id: int, member_id: int, day: int) -> None:
        key = (guild_id, day)
        written = self._days_written.get(key)
        if written is not None and member_id in written:
            return
        members = self._days.get(key)
        if members is None:
            self._days[key] = {member_id}
        else:
            members.add(member_id)

    @property
    def pending(self) -> int:
        """How many members are waiting in the buffer."""
        return sum(len(last) for last, _ in self._buffer.values())

    @property
    def pending_days(self) -> int:
        """How many member-days are waiting in the buffer."""
        return sum(len(members) for members in self._days.values())

    def buffered(self, guild_id: int, member_id: int) -> datetime | None:
        """The latest not-yet-written activity of a member, if any."""
        at_us = self._buffer.get(guild_id, ({}, {}))[0].get(member_id)
        return None if at_us is None else from_us(at_us)

    async def flush(self, now: datetime | None = None) -> int:
        """Write the buffer (upsert keeping the later time). Returns how many members were written.

        On a database error the batch goes back into the buffer, so nothing is lost but the error
        is raised to the caller (the scheduler logs it and the next run tries again).
        """
        if not self.pending and not self.pending_days:
            return 0
        batch, self._buffer = self._buffer, {}
        days, self._days = self._days, {}
        written = 0
        self._flushing += 1
        # One transaction per chunk: a big guild's flush (100k members: 400 chunks) never holds
        # the database for long, and sessions queued meanwhile (commands) run between chunks.
        upsert, insert_days = self._upsert(), self._insert_days()
        committed = False
        try:
            for statement, chunks in ((upsert, _member_rows(batch)), (insert_days, _day_rows(days))):
                for rows in chunks:
                    async with self.db.session() as s:
                        await s.exec(statement, params=rows)
                    committed = True
                    if statement is upsert:
                        written += len(rows)
        except Exception:
            self._flushing -= 1
            deleted = self._take_deleted()
            self._restore(batch, days, deleted)
            if committed and deleted:  # chunks written before the error may hold them again
                try:
                    await self._delete_again(deleted)
                except Exception:
                    self._deleted_in_flight.extend(deleted)
            raise
        self._flushing -= 1
        deleted = self._take_deleted()
        try:
            await self._delete_again(deleted)
        except Exception:
            self._deleted_in_flight.extend(deleted)  # deleted after the next flush, then
            raise
        if days:  # remember only the newest day's members, so this stays small
            newest = max(day for _, day in days)
            written_days = {k: v for k, v in self._days_written.items() if k[1] >= newest}
            for key, members in days.items():
                if key[1] >= newest:
                    if key in written_days:
                        written_days[key] |= members
                    else:
                        written_days[key] = members
            self._days_written = written_days
        return written

    def _take_deleted(self) -> list[tuple[int | None, int]]:
        if self._flushing:  # another flush is still writing: it needs them too
            return list(self._deleted_in_flight)
        deleted, self._deleted_in_flight = self._deleted_in_flight, []
        return deleted

    async def _delete_again(self, deleted: list[tuple[int | None, int]]) -> None:
        """Members whose data was deleted while their activity was being written: delete it again."""
        if not deleted:
            return
        async with self.db.session() as s:
            for table in (MemberActivity.__table__, InsightActivityDay.__table__):  # type: ignore[attr-defined]
                for guild_id, member_id in deleted:
                    where = [table.c.member_id == member_id]
                    if guild_id is not None:
                        where.append(table.c.guild_id == guild_id)
                    await s.exec(table.delete().where(*where))

    def _restore(
        self,
        batch: dict[int, GuildBuffer],
        days: Days,
        deleted: Iterable[tuple[int | None, int]] = (),
    ) -> None:
        """Put an unwritten batch back, under what was recorded while it was being written, without
        the members whose data was deleted meanwhile."""
        gone = {(g, m) for g, m in deleted}
        everywhere = {m for g, m in gone if g is None}

        def kept(guild_id: int, member_id: int) -> bool:
            return member_id not in everywhere and (guild_id, member_id) not in gone

        for guild_id, (last, joined) in batch.items():
            now_last, now_joined = self._buffer.setdefault(guild_id, ({}, {}))
            for member_id, at_us in last.items():
                if not kept(guild_id, member_id):
                    continue
                if now_last.get(member_id, at_us) <= at_us:
                    now_last[member_id] = at_us
            for member_id, joined_at in joined.items():
                if kept(guild_id, member_id):
                    now_joined.setdefault(member_id, joined_at)
        for (guild_id, day), members in days.items():
            self._days.setdefault((guild_id, day), set()).update(m for m in members if kept(guild_id, m))

    async def flush_now(self) -> None:
        """Flush on shutdown (a no-argument hook for ``bot.on_shutdown``)."""
        written = await self.flush()
        if written:
            log.info("flushed %d buffered activity rows on shutdown", written)

    def _insert_days(self) -> Any:
        """Insert-or-ignore of day rows, executed once per chunk with the rows as parameters (an
        ``executemany``: one statement compiled once, not one of 2,000 bound values per chunk)."""
        return dialect_insert(self.db.dialect, InsightActivityDay.__table__).on_conflict_do_nothing()  # type: ignore[attr-defined]

    def _upsert(self) -> Any:
        """Upsert of member rows keeping the later time, executed like :meth:`_insert_days`."""
        table = MemberActivity.__table__  # type: ignore[attr-defined]
        stmt = dialect_insert(self.db.dialect, table)
        new, old = stmt.excluded, table.c
        return stmt.on_conflict_do_update(
            index_elements=[old.guild_id, old.member_id],
            set_={
                "last_active_at": case(
                    (new.last_active_at > old.last_active_at, new.last_active_at), else_=old.last_active_at
                ),
                "joined_at": func.coalesce(new.joined_at, old.joined_at),
            },
        )

    async def get(self, guild_id: int, member_id: int) -> Activity | None:
        """What we know of one member (including the unwritten buffer)."""
        async with self.db.session() as s:
            row = await s.get(MemberActivity, (guild_id, member_id))
        buffered = self.buffered(guild_id, member_id)
        if row is None and buffered is None:
            return None
        last = max(t for t in (row.last_active_at if row else None, buffered) if t is not None)
        joined = self._buffer.get(guild_id, ({}, {}))[1].get(member_id) or (row.joined_at if row else None)
        return Activity(guild_id, member_id, last, joined)

    async def forget(self, guild_id: int, member_ids: Iterable[int]) -> int:
        """Delete what we know of these members (privacy requests). Returns rows deleted."""
        ids = list(member_ids)
        last, joined = self._buffer.get(guild_id, ({}, {}))
        for m in ids:
            last.pop(m, None)
            joined.pop(m, None)
        if not ids:
            return 0
        async with self.db.session() as s:
            table = MemberActivity.__table__  # type: ignore[attr-defined]
            result = await s.exec(table.delete().where(table.c.guild_id == guild_id, table.c.member_id.in_(ids)))
        return int(result.rowcount or 0)


def _member_rows(batch: dict[int, GuildBuffer]) -> Iterator[list[dict[str, Any]]]:
    """The buffered members as rows, :data:`CHUNK` at a time (so a flush never holds them all)."""
    rows: list[dict[str, Any]] = []
    for guild_id, (last, joined) in batch.items():
        for member_id, at_us in last.items():
            rows.append(
                {
                    "guild_id": guild_id,
                    "member_id": member_id,
                    "last_active_at": from_us(at_us),
                    "joined_at": joined.get(member_id),
                }
            )
            if len(rows) == CHUNK:
                yield rows
                rows = []
    if rows:
        yield rows


def _day_rows(days: Days) -> Iterator[list[dict[str, Any]]]:
    """The buffered member-days as rows (day = midnight UTC), :data:`CHUNK` at a time."""
    rows: list[dict[str, Any]] = []
    for (guild_id, day), members in sorted(days.items()):
        midnight = from_us(day * DAY_US)
        for member_id in sorted(members):
            rows.append({"guild_id": guild_id, "member_id": member_id, "day": midnight})
            if len(rows) == CHUNK:
                yield rows
                rows = []
    if rows:
        yield rows
