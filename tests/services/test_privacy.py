"""Privacy: export, delete and retention over every table that exists at test time.

Rows are synthesised generically from the schema (one per personal table and its foreign-key
ancestors), so a table added by any feature is covered without naming it here.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.types import TypeDecorator

from bot.db import Database
from bot.errors import InvalidInput, TryLater
from bot.models import metadata
from bot.models.privacy import Retention
from bot.services import Services
from bot.services.privacy import (
    EXPORT_COOLDOWN,
    MemberDataDeleted,
    _guild_condition,
    personal_tables,
    retention_rules,
)

GUILD_A = 1_400_000_000_000_000_001
GUILD_B = 1_400_000_000_000_000_002
MEMBER = 1_400_000_000_000_000_100
OTHER = 1_400_000_000_000_000_200
STRANGER = 1_400_000_000_000_000_300  # the non-personal snowflakes (channels, messages, …)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)

_counter = itertools.count(1)


def _value(table: Table, column: Any, when: datetime) -> Any:  # noqa: PLR0911, RUF100
    kind = column.type.impl if isinstance(column.type, TypeDecorator) else column.type
    if isinstance(column.type, TypeDecorator) and isinstance(kind, DateTime):
        return when
    n = next(_counter)
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, BigInteger):
        return STRANGER + n
    if isinstance(kind, Integer):
        return n
    if isinstance(kind, (Float, Numeric)):
        return 1.0
    if isinstance(kind, DateTime):
        return when
    if isinstance(kind, Date):
        return when.date() if isinstance(when, datetime) else date(2026, 1, 1)
    if isinstance(kind, Enum):
        return kind.enums[0]
    if isinstance(kind, JSON):
        return {}
    if isinstance(kind, (String, Text)):
        text = f"v{n}"
        length = getattr(kind, "length", None)
        return text[:length] if length else text
    raise AssertionError(f"teach the synthesiser about {table.name}.{column.name}: {column.type!r}")


def _ancestors(tables: Iterable[Table]) -> set[str]:
    wanted: set[str] = set()
    todo = list(tables)
    while todo:
        table = todo.pop()
        if table.name in wanted:
            continue
        wanted.add(table.name)
        todo.extend(fk.column.table for fk in table.foreign_keys if fk.column.table is not table)
    return wanted


def _guilded(table: Table) -> bool:
    """Whether ``table`` reaches a guild (its own ``guild_id`` or through a foreign key)."""
    return _guild_condition(table, GUILD_A) is not None


async def synthesize(
    db: Database, guild_id: int, member_id: int, when: datetime = NOW, only: Iterable[Table] | None = None
) -> dict[str, Any]:
    """Insert one row in every personal table (or in ``only``) and in their foreign-key ancestors:
    personal columns hold ``member_id``, ``guild_id`` columns ``guild_id``, datetimes ``when``.
    Returns table name → primary key of the row inserted."""
    targets = list(only) if only is not None else [t for t, _ in personal_tables()]
    wanted = _ancestors(targets)
    personal = dict(personal_tables())
    inserted: dict[str, Any] = {}
    async with db.engine.begin() as conn:
        for table in metadata.sorted_tables:
            if table.name not in wanted:
                continue
            mine = personal.get(table, {})
            values: dict[str, Any] = {}
            for column in table.c:
                if column.primary_key and isinstance(column.type, Integer) and column.name == "id":
                    continue  # surrogate key
                fk = next(iter(column.foreign_keys), None)
                if fk is not None and fk.column.table.name in inserted:
                    values[column.name] = inserted[fk.column.table.name][fk.column.name]
                elif column.name in mine:
                    values[column.name] = member_id
                elif column.name == "guild_id":
                    values[column.name] = guild_id
                else:
                    values[column.name] = _value(table, column, when)
            result = await conn.execute(insert(table).values(values))
            key = dict(values)
            key.update(dict(zip([c.name for c in table.primary_key.columns], result.inserted_primary_key, strict=True)))
            inserted[table.name] = key
    return inserted


async def rows_of(db: Database, table: Table, member_id: int, guild_id: int | None = None) -> int:
    """How many rows of ``table`` name ``member_id`` in a personal column (in ``guild_id`` if given)."""
    personal = dict(personal_tables())[table]
    condition = or_(*(table.c[name] == member_id for name in personal))
    if guild_id is not None:
        scope = _guild_condition(table, guild_id)
        if scope is not None:
            condition = condition & scope
    async with db.engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table).where(condition))).scalar_one()


async def count(db: Database, table: Table, guild_id: int) -> int:
    scope = _guild_condition(table, guild_id)
    async with db.engine.connect() as conn:
        stmt = select(func.count()).select_from(table)
        if scope is not None:
            stmt = stmt.where(scope)
        return (await conn.execute(stmt)).scalar_one()


# --------------------------------------------------------------------------- schema declarations


def test_every_table_is_discovered_and_retention_declarations_are_valid() -> None:
    names = {t.name for t, _ in personal_tables()}
    assert {"privacy_export", "care_resource"} <= names
    rules = dict((t.name, r) for t, r in retention_rules())
    assert rules["privacy_export"] == Retention("activity", "requested_at")


def test_personal_tables_come_children_first() -> None:
    order = [t.name for t, _ in personal_tables()]
    for table, _ in personal_tables():
        for fk in table.foreign_keys:
            parent = fk.column.table.name
            if parent in order and parent != table.name:
                assert order.index(table.name) < order.index(parent), (table.name, parent)


# --------------------------------------------------------------------------- export


async def test_export_has_every_personal_table_and_only_this_member_in_this_guild(
    services: Services, db: Database
) -> None:
    await synthesize(db, GUILD_A, MEMBER)
    await synthesize(db, GUILD_B, MEMBER)
    await synthesize(db, GUILD_A, OTHER)

    data = await services.privacy.export(GUILD_A, MEMBER)

    assert set(data) == {t.name for t, _ in personal_tables()}
    for table, personal in personal_tables():
        rows = data[table.name]
        # A table with no path to a guild (a member's dashboard logins) is theirs everywhere: both rows.
        assert len(rows) == (1 if _guilded(table) else 2), (table.name, rows)
        assert any(rows[0][name] == str(MEMBER) for name in personal)
        if "guild_id" in table.c:
            assert rows[0]["guild_id"] == str(GUILD_A)
    json.dumps(data)  # JSON-safe as it is
    everywhere = await services.privacy.export(None, MEMBER)
    assert all(len(rows) == 2 for rows in everywhere.values())


async def test_export_of_a_member_without_data_is_empty(services: Services) -> None:
    assert await services.privacy.export(GUILD_A, MEMBER) == {}


async def test_request_export_is_rate_limited_and_returns_a_json_file(services: Services) -> None:
    first = await services.privacy.request_export(GUILD_A, MEMBER, NOW)
    document = json.loads(first.to_json())
    assert document["member_id"] == str(MEMBER) and document["guild_id"] == str(GUILD_A)
    assert document["tables"]["privacy_export"][0]["requested_at"] == NOW.isoformat()
    with pytest.raises(TryLater) as err:
        await services.privacy.request_export(GUILD_A, MEMBER, NOW + timedelta(minutes=1))
    assert err.value.retry_at == NOW + EXPORT_COOLDOWN
    again = await services.privacy.request_export(GUILD_A, MEMBER, NOW + EXPORT_COOLDOWN)
    assert again.row_count >= 1


# --------------------------------------------------------------------------- delete


async def test_delete_leaves_no_personal_row_and_keeps_others(services: Services, db: Database) -> None:
    await synthesize(db, GUILD_A, MEMBER)
    await synthesize(db, GUILD_B, MEMBER)
    await synthesize(db, GUILD_A, OTHER)
    before_other = {t.name: await rows_of(db, t, OTHER, GUILD_A) for t, _ in personal_tables()}
    events: list[MemberDataDeleted] = []

    async def seen(event: MemberDataDeleted) -> None:
        events.append(event)

    services.ctx.events.subscribe(MemberDataDeleted, seen)
    result = await services.privacy.delete(GUILD_A, MEMBER, NOW)

    for table, _ in personal_tables():  # scan every table's personal columns
        assert await rows_of(db, table, MEMBER, GUILD_A) == 0, table.name
        if not _guilded(table):  # the member's everywhere (module docstring): gone everywhere
            assert await rows_of(db, table, MEMBER) == 0, table.name
            continue
        assert await rows_of(db, table, MEMBER, GUILD_B) == 1, f"{table.name}: another guild was touched"
        assert await rows_of(db, table, OTHER, GUILD_A) == before_other[table.name], table.name
    assert await services.privacy.export(GUILD_A, MEMBER) == {}
    assert result.total_deleted >= 1 and result.deleted["privacy_export"] == 1
    assert events == [MemberDataDeleted(GUILD_A, MEMBER, NOW)]


async def test_anonymised_rows_are_kept_without_the_member(services: Services, db: Database) -> None:
    anonymize_only = [
        t
        for t, personal in personal_tables()
        if set(personal.values()) == {"anonymize"}
        and not any(dict(personal_tables()).get(fk.column.table) for fk in t.foreign_keys)
    ]
    assert any(t.name == "care_resource" for t in anonymize_only)
    await synthesize(db, GUILD_A, MEMBER, only=anonymize_only)
    before = {t.name: await count(db, t, GUILD_A) for t in anonymize_only}

    result = await services.privacy.delete(GUILD_A, MEMBER, NOW)

    for table in anonymize_only:
        assert await count(db, table, GUILD_A) == before[table.name], f"{table.name} rows must stay"
        assert await rows_of(db, table, MEMBER, GUILD_A) == 0
        assert result.anonymized[table.name] == 1
    assert result.deleted == {}


async def test_delete_twice_finds_nothing(services: Services, db: Database) -> None:
    await synthesize(db, GUILD_A, MEMBER)
    await services.privacy.delete(GUILD_A, MEMBER, NOW)
    again = await services.privacy.delete(GUILD_A, MEMBER, NOW)
    assert again.total_deleted == 0 and again.total_anonymized == 0


# --------------------------------------------------------------------------- retention


async def test_retention_settings_are_validated_and_kept(services: Services) -> None:
    assert (await services.privacy.retention(GUILD_A)).notes_days == 0
    saved = await services.privacy.set_retention(GUILD_A, NOW, notes_days=30)
    assert (saved.notes_days, saved.activity_days) == (30, 0)
    saved = await services.privacy.set_retention(GUILD_A, NOW, activity_days=90)
    assert (saved.notes_days, saved.activity_days) == (30, 90)
    with pytest.raises(InvalidInput):
        await services.privacy.set_retention(GUILD_A, NOW, notes_days=-1)
    with pytest.raises(InvalidInput):
        await services.privacy.set_retention(GUILD_A, NOW, notes_days=100_000)


async def test_retention_deletes_only_old_rows_of_declared_tables(services: Services, db: Database) -> None:
    rules = retention_rules()
    tables = [t for t, _ in rules]
    old, new = NOW - timedelta(days=40), NOW - timedelta(days=5)
    await synthesize(db, GUILD_A, MEMBER, when=old, only=tables)
    await synthesize(db, GUILD_A, OTHER, when=new, only=tables)
    await synthesize(db, GUILD_B, MEMBER, when=old, only=tables)  # no retention set there
    await services.privacy.set_retention(GUILD_A, NOW, notes_days=30, activity_days=30)

    report = await services.privacy.apply_retention(NOW)

    for table, rule in rules:
        if rule.clear:
            continue
        assert await rows_of(db, table, MEMBER, GUILD_A) == 0, table.name
        assert await rows_of(db, table, OTHER, GUILD_A) == 1, table.name
        assert await rows_of(db, table, MEMBER, GUILD_B) == 1, table.name
    assert report[GUILD_A]["privacy_export"] == 1 and GUILD_B not in report
    # Runs once a day per guild, whatever the clock says in between.
    assert await services.privacy.apply_retention(NOW + timedelta(hours=1)) == {}
    assert GUILD_A in await services.privacy.apply_retention(NOW + timedelta(days=1))


async def test_retention_zero_keeps_forever(services: Services, db: Database) -> None:
    tables = [t for t, _ in retention_rules()]
    await synthesize(db, GUILD_A, MEMBER, when=NOW - timedelta(days=3000), only=tables)
    await services.privacy.set_retention(GUILD_A, NOW, notes_days=0, activity_days=0)
    assert await services.privacy.apply_retention(NOW) == {}
    for table in tables:
        assert await rows_of(db, table, MEMBER, GUILD_A) == 1


async def test_retention_can_clear_columns_instead_of_deleting(services: Services, db: Database) -> None:
    # A clear-rule, applied to a table that exists at test time (the mechanism is generic).
    care = next(t for t, _ in personal_tables() if t.name == "care_resource")
    rule = Retention("notes", "created_at", ("url",))
    old = await synthesize(db, GUILD_A, MEMBER, when=NOW - timedelta(days=40), only=[care])
    new = await synthesize(db, GUILD_A, OTHER, when=NOW - timedelta(days=1), only=[care])
    await services.privacy.set_retention(GUILD_A, NOW, notes_days=30)

    report = await services.privacy.apply_retention(NOW, rules=[(care, rule)])

    assert report == {GUILD_A: {"care_resource": 1}}
    async with db.engine.connect() as conn:
        urls = dict((await conn.execute(select(care.c.id, care.c.url))).all())
    assert urls[old["care_resource"]["id"]] is None
    assert urls[new["care_resource"]["id"]] is not None


def test_a_retention_rule_must_name_real_columns() -> None:
    from bot.services.privacy import _validate_rule

    care = next(t for t, _ in personal_tables() if t.name == "care_resource")
    with pytest.raises(TypeError):
        _validate_rule(care, Retention("notes", "nope"))
    with pytest.raises(TypeError):
        _validate_rule(care, Retention("weekly", "created_at"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _validate_rule(care, Retention("notes", "created_at", ("guild_id",)))  # not nullable, not text


async def test_a_moderators_export_and_delete_keep_reporters_anonymous_and_forget_the_moderator(
    services: Services,
) -> None:
    """The moderator who handled a case finds it in their export without the reporter (revealing
    needs two moderators), and their /privacy delete keeps the case but forgets them."""
    reporter, reported, mod = OTHER, OTHER + 1, MEMBER
    receipt = await services.reports.file_report(
        GUILD_A, reporter, reported, reported_is_bot=False, reason="Keeps insulting me", now=NOW
    )
    await services.reports.act(receipt.report_id, GUILD_A, mod, "claim", now=NOW)
    await services.reports.act(receipt.report_id, GUILD_A, mod, "resolve", now=NOW)

    (case,) = (await services.privacy.export(GUILD_A, mod))["report"]
    assert (case["claimed_by"], case["closed_by"], case["case_no"]) == (str(mod), str(mod), receipt.case_no)
    # That they handled the case, not the case: no reporter, no reported member, no reporter's words.
    assert not {"reporter_id", "reported_id", "reason", "details", "evidence_content"} & set(case)
    (own,) = (await services.privacy.export(GUILD_A, reporter))["report"]
    assert own["reporter_id"] == str(reporter)  # the reporter sees their own name

    await services.privacy.delete(GUILD_A, mod, NOW)
    view = (await services.reports.case(GUILD_A, receipt.case_no)).report
    assert (view.claimed_by, view.closed_by, view.state) == (None, None, "resolved")
    assert "report" not in await services.privacy.export(GUILD_A, mod)
    (own,) = (await services.privacy.export(GUILD_A, reporter))["report"]
    assert own["reporter_id"] == str(reporter)
