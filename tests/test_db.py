"""The data layer: SQLite pragmas, IMMEDIATE transactions, migrations == models, aware datetimes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from bot.db import Database, alembic_config
from bot.models import metadata
from bot.models.guild import GuildConfig

# Full-text search tables are created by hand in migrations (FTS5 / tsvector), not in metadata.
_FTS_SUFFIXES = ("_fts", "_fts_data", "_fts_idx", "_fts_content", "_fts_docsize", "_fts_config")


def _diff(conn: Connection) -> list[object]:
    ctx = MigrationContext.configure(
        conn,
        opts={
            "compare_type": True,
            "include_name": lambda name, type_, _parent: not (type_ == "table" and name.endswith(_FTS_SUFFIXES)),
        },
    )
    return [d for d in compare_metadata(ctx, metadata) if not _ignorable(d)]


def _ignorable(diff: object) -> bool:
    # An index that only exists in the database for an FTS shadow table is not ours to compare.
    text_ = repr(diff)
    return any(s in text_ for s in _FTS_SUFFIXES)


async def test_latest_migrations_match_the_models(db: Database) -> None:
    async with db.engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    assert diff == [], f"models and migrations disagree — write a migration: {diff}"


async def test_migrations_are_idempotent(db: Database) -> None:
    await db.migrate()  # second run: nothing to do, nothing breaks
    async with db.engine.connect() as conn:
        heads = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    assert set(heads) == set(ScriptDirectory.from_config(alembic_config()).get_heads())


async def test_sqlite_connections_get_wal_foreign_keys_and_busy_timeout(db: Database) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite only")
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 10_000


async def test_concurrent_read_modify_write_does_not_deadlock_or_lose_updates(db: Database) -> None:
    """Each session reads then writes; with BEGIN IMMEDIATE (SQLite) / row locks (PostgreSQL)
    they queue instead of failing with 'database is locked' on upgrade."""
    now = datetime.now(UTC)
    async with db.session() as s:
        s.add(GuildConfig(guild_id=1, updated_at=now, timezone="UTC"))

    async def bump(i: int) -> None:
        async with db.session() as s:
            row = await s.get(GuildConfig, 1, with_for_update=True)
            assert row is not None
            await asyncio.sleep(0)  # let the others try to interleave
            row.language = "de" if i % 2 else "en"
            row.mod_role_id = (row.mod_role_id or 0) + 1

    await asyncio.gather(*(bump(i) for i in range(20)))
    async with db.session() as s:
        row = await s.get(GuildConfig, 1)
    assert row is not None and row.mod_role_id == 20


async def test_datetimes_come_back_aware_utc_and_naive_ones_are_refused(db: Database) -> None:
    berlin = timezone(timedelta(hours=1))
    written = datetime(2026, 3, 29, 2, 30, tzinfo=berlin)
    async with db.session() as s:
        s.add(GuildConfig(guild_id=2, updated_at=written))
    async with db.session() as s:
        row = await s.get(GuildConfig, 2)
    assert row is not None
    assert row.updated_at == written and row.updated_at.tzinfo is not None
    assert row.updated_at.utcoffset() == timedelta(0)
    with pytest.raises(Exception, match="naive datetime"):
        async with db.session() as s:
            s.add(GuildConfig(guild_id=3, updated_at=datetime(2026, 1, 1)))  # noqa: DTZ001


async def test_snowflakes_beyond_32_bits_round_trip(db: Database) -> None:
    big = 1_456_074_443_980_800_004
    async with db.session() as s:
        s.add(GuildConfig(guild_id=big, mod_role_id=big + 1, updated_at=datetime.now(UTC)))
    async with db.session() as s:
        row = await s.get(GuildConfig, big)
    assert row is not None and row.mod_role_id == big + 1


def test_memory_sqlite_is_refused() -> None:
    with pytest.raises(ValueError, match="SQLite file"):
        Database.from_url("sqlite+aiosqlite:///:memory:")
