"""Last-active tracking, buffered in memory and written in batches (issue #7).

:meth:`ActivityService.record` is called for every guild message, reaction and interaction, so it
only updates a dict (the latest time per member) and a set (the UTC days a member was active, for
the weekly series of ``/stats``); :meth:`ActivityService.flush` writes both in one transaction, in
chunks. Nothing about *what* a member did is ever stored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import case, func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.models.activity import InsightActivityDay, MemberActivity
from bot.services.context import ServiceContext
from bot.services.events import MemberActive, MemberDataDeleted

log = logging.getLogger(__name__)

#: Rows per INSERT statement (4 bound values each; well under SQLite's variable limit).
CHUNK = 500

Key = tuple[int, int]
DayKey = tuple[int, int, date]


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
        self._buffer: dict[Key, list[Any]] = {}  # (guild, member) → [last_active_at, joined_at]
        self._days: set[DayKey] = set()
        self._days_written: set[DayKey] = set()  # today's, so repeated activity costs nothing
        ctx.events.subscribe(MemberActive, self._on_member_active)
        ctx.events.subscribe(MemberDataDeleted, self._on_data_deleted)

    async def _on_member_active(self, event: MemberActive) -> None:
        self.record(event.guild_id, event.member_id, event.at)

    async def _on_data_deleted(self, event: MemberDataDeleted) -> None:
        """After ``/privacy delete``: drop what is still buffered, or the next flush writes it back."""

        def theirs(key: Key | DayKey) -> bool:
            return key[1] == event.member_id and event.guild_id in (None, key[0])

        for key in [k for k in self._buffer if theirs(k)]:
            del self._buffer[key]
        self._days = {k for k in self._days if not theirs(k)}
        self._days_written = {k for k in self._days_written if not theirs(k)}

    def record(self, guild_id: int, member_id: int, at: datetime, joined_at: datetime | None = None) -> None:
        """Remember that a member was active at ``at`` (memory only; :meth:`flush` writes it).

        Called for every message: a dict lookup and, at most, one comparison. The member's UTC day
        is noted only when it is new to the buffer (the first event since the last flush, or the
        first after midnight)."""
        key = (guild_id, member_id)
        entry = self._buffer.get(key)
        if entry is None:
            self._buffer[key] = [at, joined_at]
            self._note_day(guild_id, member_id, at)
            return
        if at > entry[0]:
            if at.date() != entry[0].date():
                self._note_day(guild_id, member_id, at)
            entry[0] = at
        if joined_at is not None:
            entry[1] = joined_at

    def _note_day(self, guild_id: int, member_id: int, at: datetime) -> None:
        day = (guild_id, member_id, (at if at.tzinfo is UTC else at.astimezone(UTC)).date())
        if day not in self._days_written:
            self._days.add(day)

    @property
    def pending(self) -> int:
        """How many members are waiting in the buffer."""
        return len(self._buffer)

    @property
    def pending_days(self) -> int:
        """How many member-days are waiting in the buffer."""
        return len(self._days)

    def buffered(self, guild_id: int, member_id: int) -> datetime | None:
        """The latest not-yet-written activity of a member, if any."""
        entry = self._buffer.get((guild_id, member_id))
        return entry[0] if entry else None

    async def flush(self, now: datetime | None = None) -> int:
        """Write the buffer (upsert keeping the later time). Returns how many members were written.

        On a database error the batch goes back into the buffer, so nothing is lost but the error
        is raised to the caller (the scheduler logs it and the next run tries again).
        """
        if not self._buffer and not self._days:
            return 0
        batch, self._buffer = self._buffer, {}
        days, self._days = self._days, set()
        rows = [
            {"guild_id": g, "member_id": m, "last_active_at": at, "joined_at": joined}
            for (g, m), (at, joined) in batch.items()
        ]
        day_rows = [
            {"guild_id": g, "member_id": m, "day": datetime.combine(d, time(), UTC)} for g, m, d in sorted(days)
        ]
        try:
            async with self.db.session() as s:
                for start in range(0, len(rows), CHUNK):
                    await s.exec(self._upsert(rows[start : start + CHUNK]))
                for start in range(0, len(day_rows), CHUNK):
                    await s.exec(self._insert_days(day_rows[start : start + CHUNK]))
        except Exception:
            for (g, m), (at, joined) in batch.items():
                self.record(g, m, at, joined)
            self._days |= days
            raise
        if days:  # remember only the newest day's keys, so the set stays small
            newest = max(d for _, _, d in days)
            self._days_written = {k for k in self._days_written | days if k[2] >= newest}
        return len(rows)

    async def flush_now(self) -> None:
        """Flush on shutdown (a no-argument hook for ``bot.on_shutdown``)."""
        written = await self.flush()
        if written:
            log.info("flushed %d buffered activity rows on shutdown", written)

    def _insert_days(self, rows: list[dict[str, Any]]) -> Any:
        insert = pg_insert if self.db.dialect == "postgresql" else sqlite_insert
        return insert(InsightActivityDay.__table__).values(rows).on_conflict_do_nothing()  # type: ignore[attr-defined]

    def _upsert(self, rows: list[dict[str, Any]]) -> Any:
        insert = pg_insert if self.db.dialect == "postgresql" else sqlite_insert
        table = MemberActivity.__table__  # type: ignore[attr-defined]
        stmt = insert(table).values(rows)
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
        joined = self._buffer.get((guild_id, member_id), [None, None])[1] or (row.joined_at if row else None)
        return Activity(guild_id, member_id, last, joined)

    async def forget(self, guild_id: int, member_ids: Iterable[int]) -> int:
        """Delete what we know of these members (privacy requests). Returns rows deleted."""
        ids = list(member_ids)
        for m in ids:
            self._buffer.pop((guild_id, m), None)
        if not ids:
            return 0
        async with self.db.session() as s:
            table = MemberActivity.__table__  # type: ignore[attr-defined]
            result = await s.exec(table.delete().where(table.c.guild_id == guild_id, table.c.member_id.in_(ids)))
        return int(result.rowcount or 0)
