"""Export and delete a member's data; retention of notes and activity (issue #8).

Everything here is generic over the schema: no feature table is named. At call time the service
walks every mapped table and reads two class-level declarations:

``__personal__`` (required, see :mod:`bot.models.base`)
    column → ``"delete"`` | ``"anonymize"``. ``/privacy export`` returns every row where any
    personal column equals the member. ``/privacy delete`` deletes every row where a ``"delete"``
    column equals the member, and sets ``"anonymize"`` columns that equal the member to ``NULL``
    (``0`` when the column is not nullable) while keeping the row — reports a member filed stay
    for the moderators' safety, without the reporter. Columns not declared personal (e.g. the
    member a report is *about*) are neither exported nor touched.

``__retention__`` (optional, :class:`bot.models.privacy.Retention` or a plain tuple)
    ``(kind, age_column[, clear_columns])`` with ``kind`` ``"notes"`` or ``"activity"``: the
    daily ``privacy.retention`` job applies the guild's ``notes_days``/``activity_days`` (``0``
    keeps forever) to rows whose ``age_column`` is older than that — deleting them, or, when
    ``clear_columns`` are given, emptying only those columns. Examples::

        __retention__ = ("activity", "day")                        # delete old activity rows
        __retention__ = Retention("notes", "answered_at", ("note",))  # forget old notes, keep the mood

Scope: Kinship is self-hosted and may serve several guilds, so export, delete and retention are
**per guild** — the guild the command runs in. A table is tied to a guild by its ``guild_id``
column, or through a foreign key to a table that is (e.g. the participants of a help request).
Rows of a table with no path to a guild belong to the member everywhere and are included by
``/privacy`` in any guild; such tables cannot declare ``__retention__`` (no guild setting applies).

Foreign keys are respected: tables are processed children first (``metadata.sorted_tables``
reversed) and, when a deleted row is referenced by rows of another table without an ``ON DELETE``
rule, those rows are deleted first. Each call is one transaction.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, String, Table, and_, case, delete, false, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel, col
from sqlmodel import select as orm_select

from bot.errors import InvalidInput, TryLater
from bot.models import metadata
from bot.models.privacy import PrivacyExport, PrivacySettings, Retention
from bot.services.context import ServiceContext
from bot.services.events import MemberDataDeleted

log = logging.getLogger(__name__)

#: The largest retention an admin can set (ten years); 0 keeps forever.
MAX_RETENTION_DAYS = 3650
#: How often a member may ask for an export (it reads every table).
EXPORT_COOLDOWN = timedelta(minutes=10)
#: The retention job runs hourly but does a guild's work at most once per this interval.
RETENTION_INTERVAL = timedelta(hours=23)
#: Version of the export file's layout.
EXPORT_FORMAT = 1

_CASCADING = {"CASCADE", "SET NULL", "SET DEFAULT"}


@dataclass(frozen=True, slots=True)
class DeletionResult:
    """What ``/privacy delete`` did: rows deleted and rows anonymised, per table."""

    deleted: Mapping[str, int] = field(default_factory=dict)
    anonymized: Mapping[str, int] = field(default_factory=dict)

    @property
    def total_deleted(self) -> int:
        """Rows deleted in all tables."""
        return sum(self.deleted.values())

    @property
    def total_anonymized(self) -> int:
        """Rows kept with the member removed."""
        return sum(self.anonymized.values())


@dataclass(frozen=True, slots=True)
class Export:
    """A member's data in one guild, ready to be written as JSON."""

    guild_id: int | None
    member_id: int
    exported_at: datetime
    tables: Mapping[str, list[dict[str, Any]]]

    @property
    def row_count(self) -> int:
        """Rows in the export."""
        return sum(len(rows) for rows in self.tables.values())

    def to_json(self) -> bytes:
        """The file the member receives (UTF-8 JSON, snowflakes as strings)."""
        document = {
            "format": EXPORT_FORMAT,
            "guild_id": str(self.guild_id) if self.guild_id is not None else None,
            "member_id": str(self.member_id),
            "exported_at": self.exported_at.isoformat(),
            "tables": self.tables,
        }
        return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=False).encode()


@dataclass(frozen=True, slots=True)
class RetentionSettings:
    """A guild's retention, in days (``0`` = keep forever)."""

    guild_id: int
    notes_days: int = 0
    activity_days: int = 0


# --------------------------------------------------------------------------- schema discovery


def _table_classes() -> dict[str, type[SQLModel]]:
    return {
        mapper.local_table.name: mapper.class_
        for mapper in SQLModel._sa_registry.mappers
        if isinstance(mapper.local_table, Table)
    }


def personal_tables() -> list[tuple[Table, dict[str, str]]]:
    """Every table with personal columns, children before parents."""
    classes = _table_classes()
    out = []
    for table in reversed(metadata.sorted_tables):
        cls = classes.get(table.name)
        personal = dict(getattr(cls, "__personal__", {}) or {}) if cls else {}
        if personal:
            out.append((table, personal))
    return out


def retention_rules() -> list[tuple[Table, Retention]]:
    """Every table's ``__retention__``, validated (children before parents)."""
    classes = _table_classes()
    out = []
    for table in reversed(metadata.sorted_tables):
        cls = classes.get(table.name)
        raw = getattr(cls, "__retention__", None) if cls else None
        if not raw:
            continue
        rule = Retention(raw[0], raw[1], tuple(raw[2]) if len(raw) > 2 else ())
        _validate_rule(table, rule)
        out.append((table, rule))
    return out


def _validate_rule(table: Table, rule: Retention) -> None:
    if rule.kind not in ("notes", "activity"):
        raise TypeError(f"{table.name}.__retention__: kind must be 'notes' or 'activity', not {rule.kind!r}")
    for name in (rule.age_column, *rule.clear):
        if name not in table.c:
            raise TypeError(f"{table.name}.__retention__ names unknown column {name!r}")
    for name in rule.clear:
        column = table.c[name]
        if not column.nullable and not isinstance(column.type, String):
            raise TypeError(f"{table.name}.__retention__ cannot clear non-nullable, non-text column {name!r}")
    if _guild_condition(table, 0) is None:
        raise TypeError(f"{table.name}.__retention__: the table is not tied to a guild")


def _guild_condition(table: Table, guild_id: int, _seen: frozenset[str] = frozenset()) -> ColumnElement[bool] | None:
    """``table``'s rows in ``guild_id`` (directly or through foreign keys); ``None`` if not tied to a guild."""
    if "guild_id" in table.c:
        return table.c.guild_id == guild_id
    for fk in sorted(table.foreign_keys, key=lambda f: f.parent.name):
        parent = fk.column.table
        if parent.name in _seen or parent is table:
            continue
        inner = _guild_condition(parent, guild_id, _seen | {table.name})
        if inner is not None:
            return fk.parent.in_(select(fk.column).where(inner))
    return None


def _scope(table: Table, guild_id: int | None) -> ColumnElement[bool]:
    if guild_id is None:
        return true()
    condition = _guild_condition(table, guild_id)
    return true() if condition is None else condition


# --------------------------------------------------------------------------- helpers


def _exported(cls: Any, table: Table, row: Mapping[str, Any], member_id: int) -> dict[str, Any]:
    """One exported row. A confidential column (a report's reporter) is shown only to the member it
    names; a row naming the member only elsewhere keeps just ``__export_for_others__`` when the
    table declares it (see :mod:`bot.models.base`)."""
    hidden = set(getattr(cls, "__confidential__", ()))
    keep = getattr(cls, "__export_for_others__", None)
    if hidden and keep is not None and not any(row[c] == member_id for c in hidden):
        row = {k: v for k, v in row.items() if k in keep}
    return {k: None if k in hidden and v != member_id else _jsonable(table, k, v) for k, v in row.items()}


def _jsonable(table: Table, name: str, value: Any) -> Any:
    if value is None or isinstance(value, (bool, str, float)):
        return value
    if isinstance(value, int):
        return str(value) if isinstance(table.c[name].type, BigInteger) else value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return None  # never personal text; binary blobs are not exported
    if isinstance(value, (dict, list)):
        return value
    return str(value)


async def _delete_rows(
    conn: AsyncConnection,
    table: Table,
    condition: ColumnElement[bool],
    counts: dict[str, int],
    _path: frozenset[str] = frozenset(),
) -> None:
    """Delete ``table`` rows matching ``condition`` after the rows that reference them without an
    ``ON DELETE`` rule of their own."""
    for child in metadata.sorted_tables:
        if child is table or child.name in _path:
            continue
        for fk in child.foreign_keys:
            if fk.column.table is table and (fk.ondelete or "").upper() not in _CASCADING:
                referencing = fk.parent.in_(select(fk.column).where(condition))
                await _delete_rows(conn, child, referencing, counts, _path | {table.name})
    result = await conn.execute(delete(table).where(condition))
    if result.rowcount:
        counts[table.name] = counts.get(table.name, 0) + result.rowcount


def _days(value: int | None) -> int | None:
    if value is None:
        return None
    if not 0 <= value <= MAX_RETENTION_DAYS:
        raise InvalidInput("privacy.errors.bad_days", max=MAX_RETENTION_DAYS)
    return value


# --------------------------------------------------------------------------- the service


class PrivacyService:
    """Export and delete a member's data, and apply each guild's retention."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db
        self.events = ctx.events

    async def export(self, guild_id: int | None, member_id: int) -> dict[str, list[dict[str, Any]]]:
        """Every row in every table with a personal column equal to ``member_id`` (in ``guild_id``,
        or everywhere when ``None``), as JSON-safe dicts: table name → rows."""
        async with self.db.session(bulk=True) as s:  # every personal table
            conn = await s.connection()
            return await self._collect(conn, guild_id, member_id)

    async def request_export(self, guild_id: int, member_id: int, now: datetime) -> Export:
        """``/privacy export``: at most one per :data:`EXPORT_COOLDOWN`; returns the member's data."""
        async with self.db.session(bulk=True) as s:  # every personal table
            stmt = orm_select(PrivacyExport).where(
                PrivacyExport.guild_id == guild_id, PrivacyExport.member_id == member_id
            )
            row = (await s.exec(stmt.with_for_update())).first()
            if row is not None and row.requested_at + EXPORT_COOLDOWN > now:
                raise TryLater("privacy.errors.export_too_soon", retry_at=row.requested_at + EXPORT_COOLDOWN)
            if row is None:
                s.add(PrivacyExport(guild_id=guild_id, member_id=member_id, requested_at=now))
            else:
                row.requested_at = now
            await s.flush()
            tables = await self._collect(await s.connection(), guild_id, member_id)
        return Export(guild_id=guild_id, member_id=member_id, exported_at=now, tables=tables)

    async def _collect(
        self, conn: AsyncConnection, guild_id: int | None, member_id: int
    ) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        classes = _table_classes()
        for table, personal in sorted(personal_tables(), key=lambda tp: tp[0].name):
            mine = or_(*(table.c[name] == member_id for name in personal))
            stmt = select(table).where(mine, _scope(table, guild_id)).order_by(*table.primary_key.columns)
            rows = (await conn.execute(stmt)).mappings().all()
            if rows:
                out[table.name] = [_exported(classes.get(table.name), table, row, member_id) for row in rows]
        return out

    async def delete(self, guild_id: int | None, member_id: int, now: datetime) -> DeletionResult:
        """``/privacy delete``: delete the member's rows, anonymise what is kept for safety."""
        deleted: dict[str, int] = {}
        anonymized: dict[str, int] = {}
        async with self.db.session(bulk=True) as s:  # every personal table
            conn = await s.connection()
            for table, personal in personal_tables():
                scope = _scope(table, guild_id)
                to_delete = [name for name, action in personal.items() if action == "delete"]
                if to_delete:
                    mine = or_(*(table.c[name] == member_id for name in to_delete))
                    await _delete_rows(conn, table, and_(mine, scope), deleted)
                to_blank = [name for name, action in personal.items() if action == "anonymize"]
                if to_blank:
                    named = or_(*(table.c[name] == member_id for name in to_blank))
                    values = {
                        name: case(
                            (table.c[name] == member_id, None if table.c[name].nullable else 0),
                            else_=table.c[name],
                        )
                        for name in to_blank
                    }
                    result = await conn.execute(update(table).where(named, scope).values(values))
                    if result.rowcount:
                        anonymized[table.name] = result.rowcount
        log.info(
            "privacy delete in guild %s: %d rows deleted, %d anonymised",
            guild_id,
            sum(deleted.values()),
            sum(anonymized.values()),
        )
        await self.events.publish(MemberDataDeleted(guild_id=guild_id, member_id=member_id, at=now))
        return DeletionResult(deleted=deleted, anonymized=anonymized)

    # ----------------------------------------------------------------------- retention

    async def retention(self, guild_id: int) -> RetentionSettings:
        """The guild's retention settings (keep forever until an admin sets them)."""
        async with self.db.session() as s:
            row = await s.get(PrivacySettings, guild_id)
        if row is None:
            return RetentionSettings(guild_id=guild_id)
        return RetentionSettings(guild_id=guild_id, notes_days=row.notes_days, activity_days=row.activity_days)

    async def set_retention(
        self, guild_id: int, now: datetime, *, notes_days: int | None = None, activity_days: int | None = None
    ) -> RetentionSettings:
        """Change how long notes/activity are kept (``None`` leaves a value alone); applies at the next run."""
        notes_days, activity_days = _days(notes_days), _days(activity_days)
        async with self.db.session() as s:
            row = await s.get(PrivacySettings, guild_id, with_for_update=True)
            if row is None:
                row = PrivacySettings(guild_id=guild_id, updated_at=now)
                s.add(row)
            if notes_days is not None:
                row.notes_days = notes_days
            if activity_days is not None:
                row.activity_days = activity_days
            row.updated_at = now
            row.last_run_at = None  # the next run applies the new setting at once
            await s.flush()
            return RetentionSettings(guild_id=guild_id, notes_days=row.notes_days, activity_days=row.activity_days)

    async def apply_retention(
        self, now: datetime, *, rules: Iterable[tuple[Table, Retention]] | None = None
    ) -> dict[int, dict[str, int]]:
        """The ``privacy.retention`` job: for each guild not done in the last day, delete (or clear)
        rows older than its settings. Returns guild → table → rows changed. One transaction per guild."""
        rule_list = list(rules) if rules is not None else retention_rules()
        async with self.db.session() as s:
            due = (
                await s.exec(
                    orm_select(PrivacySettings.guild_id).where(
                        or_(col(PrivacySettings.notes_days) > 0, col(PrivacySettings.activity_days) > 0),
                        or_(
                            col(PrivacySettings.last_run_at).is_(None),
                            col(PrivacySettings.last_run_at) <= now - RETENTION_INTERVAL,
                        ),
                    )
                )
            ).all()
        report: dict[int, dict[str, int]] = {}
        for guild_id in due:
            report[guild_id] = await self._retain_guild(guild_id, now, rule_list)
        return report

    async def _retain_guild(self, guild_id: int, now: datetime, rules: list[tuple[Table, Retention]]) -> dict[str, int]:
        changed: dict[str, int] = {}
        async with self.db.session(bulk=True) as s:  # deletes a guild's expired rows
            settings = await s.get(PrivacySettings, guild_id, with_for_update=True)
            if settings is None:
                return changed
            conn = await s.connection()
            for table, rule in rules:
                days = settings.notes_days if rule.kind == "notes" else settings.activity_days
                scope = _guild_condition(table, guild_id)
                if days <= 0 or scope is None:
                    continue
                old = and_(scope, table.c[rule.age_column] < now - timedelta(days=days))
                if not rule.clear:
                    await _delete_rows(conn, table, old, changed)
                    continue
                blanks = {name: (None if table.c[name].nullable else "") for name in rule.clear}
                filled = or_(
                    false(),
                    *(
                        table.c[name].is_not(None) if blank is None else table.c[name] != blank
                        for name, blank in blanks.items()
                    ),
                )
                result = await conn.execute(update(table).where(old, filled).values(blanks))
                if result.rowcount:
                    changed[table.name] = changed.get(table.name, 0) + result.rowcount
            settings.last_run_at = now
        if changed:
            log.info("retention in guild %s: %s", guild_id, changed)
        return changed
