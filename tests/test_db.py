"""The data layer: SQLite pragmas, IMMEDIATE transactions, migrations == models, aware datetimes."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, inspect, text

from bot import db as db_module
from bot.db import Database, alembic_config, script_heads
from bot.models import metadata
from bot.models.guild import GuildConfig
from tests.harness.world import TestDatabase

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


@pytest.fixture
async def migrated_for_real(test_db: TestDatabase, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database on ``test_db``'s backend migrated by Alembic here (other tests get a copy
    of such a run)."""
    backend = "sqlite" if test_db.schema is None else "postgresql"
    async with TestDatabase.create(backend, tmp_path / "real", migrated=False) as tdb:
        database = tdb.open()
        try:
            async with database.engine.connect() as conn:
                assert await conn.run_sync(lambda c: inspect(c).get_table_names()) == []
            await database.migrate()
            yield database
        finally:
            await database.close()


async def test_latest_migrations_match_the_models(migrated_for_real: Database) -> None:
    async with migrated_for_real.engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    assert diff == [], f"models and migrations disagree — write a migration: {diff}"


async def test_the_tests_copy_of_a_migrated_database_is_the_migrated_database(
    migrated_for_real: Database, db: Database
) -> None:
    """Every other test starts from the template copy; it must be what migrating produces."""

    def shape(conn: Connection) -> dict[str, Any]:
        insp = inspect(conn)
        return {
            table: (
                sorted((c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)),
                sorted(str(sorted(i.items(), key=str)) for i in insp.get_indexes(table)),
                sorted(str(sorted(u.items(), key=str)) for u in insp.get_unique_constraints(table)),
            )
            for table in sorted(insp.get_table_names())
        }

    async with migrated_for_real.engine.connect() as conn:
        real = await conn.run_sync(shape)
        real_heads = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    async with db.engine.connect() as conn:
        copied = await conn.run_sync(shape)
        copied_heads = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    assert len(real) > 10
    assert copied == real
    assert sorted(copied_heads) == sorted(real_heads)


async def test_migrations_are_idempotent(migrated_for_real: Database) -> None:
    await migrated_for_real.migrate()  # second run: nothing to do, nothing breaks
    async with migrated_for_real.engine.connect() as conn:
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


async def test_a_failed_transaction_is_rolled_back_before_its_connection_is_reused(db: Database) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with db.session() as s:
            s.add(GuildConfig(guild_id=5, updated_at=datetime.now(UTC)))
            await s.flush()  # the row is written inside the transaction
            raise RuntimeError("boom")
    for _ in range(8):  # more sessions than pooled connections: each must start a fresh transaction
        async with db.session() as s:
            assert await s.get(GuildConfig, 5) is None


def _count_hand_offs(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every function sent to aiosqlite's thread from now on."""
    import aiosqlite

    calls: list[object] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: object, *args: object, **kwargs: object) -> object:
        calls.append(fn)
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return calls


async def test_sqlite_bulk_sessions_hand_each_statement_to_the_driver_thread_once(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLAlchemy's adapter makes four hand-offs per statement plus BEGIN, COMMIT and the pool's
    rollback; ours makes one per statement (BEGIN travels with the first) and one for COMMIT."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite only")
    async with db.session() as s:
        s.add(GuildConfig(guild_id=6, updated_at=datetime.now(UTC)))
    calls = _count_hand_offs(monkeypatch)
    async with db.session(bulk=True) as s:
        assert await s.get(GuildConfig, 6) is not None
    assert len(calls) == 2, calls  # SELECT (with BEGIN IMMEDIATE) and COMMIT
    calls.clear()
    async with db.session(bulk=True) as s:
        row = await s.get(GuildConfig, 6)
        assert row is not None
        row.language = "de"
    assert len(calls) == 3, calls  # SELECT, UPDATE, COMMIT
    calls.clear()
    async with db.read(bulk=True) as s:
        assert (await s.get(GuildConfig, 6)).language == "de"  # type: ignore[union-attr]
    assert len(calls) == 2, calls  # SELECT (with BEGIN) and COMMIT
    calls.clear()
    async with db.session(bulk=True):
        pass
    assert calls == []  # no statement: nothing to begin or to end


async def test_sqlite_short_statements_run_on_the_loop_without_a_hand_off(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hand-off to aiosqlite's thread costs more than a short statement: sessions run theirs on
    the loop's thread, BEGIN and COMMIT included; an executemany still goes to the thread."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite only")
    monkeypatch.setattr(db_module, "INLINE_LIMIT_MS", 10_000.0)  # a loaded machine's slow run stays inline
    # ... and statements an earlier test of this process ran slowly on a loaded machine are forgotten
    monkeypatch.setattr(db_module, "_slow_once", set())
    monkeypatch.setattr(db_module, "_slow_statements", set())
    calls = _count_hand_offs(monkeypatch)
    async with db.session() as s:
        s.add(GuildConfig(guild_id=6, updated_at=datetime.now(UTC)))
    async with db.session() as s:
        row = await s.get(GuildConfig, 6)
        assert row is not None
        row.language = "de"
    async with db.read() as s:
        assert (await s.get(GuildConfig, 6)).language == "de"  # type: ignore[union-attr]
    assert calls == []
    async with db.session() as s:
        await s.exec(text("CREATE TEMP TABLE probe (n INTEGER)"))  # type: ignore[call-overload]
    assert calls == []
    async with db.session() as s:
        insert = text("INSERT INTO probe (n) VALUES (:n)")
        await s.exec(insert, params=[{"n": 1}, {"n": 2}])  # type: ignore[call-overload]
    assert len(calls) == 2, calls  # the executemany (with BEGIN IMMEDIATE), then the COMMIT
    async with db.session() as s:
        assert (await s.exec(text("SELECT sum(n) FROM probe"))).scalar() == 3  # type: ignore[call-overload]


async def test_sqlite_inline_begin_waits_in_the_thread_while_another_process_writes(db: Database) -> None:
    """The loop never sleeps in SQLite's busy handler: while another connection (the dashboard's
    process, say) holds the write lock, the session's BEGIN IMMEDIATE fails at once on the loop
    and is retried in aiosqlite's thread, which waits; the loop keeps serving meanwhile."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite only")
    other = sqlite3.connect(str(db.engine.url.database), timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # holds the write lock

    async def write() -> str | None:
        async with db.session() as s:
            s.add(GuildConfig(guild_id=12, updated_at=datetime.now(UTC)))
        async with db.session() as s:
            row = await s.get(GuildConfig, 12)
            return None if row is None else row.language

    task = asyncio.create_task(write())
    ticks = 0
    for _ in range(20):  # the loop keeps turning while the session waits for the lock
        await asyncio.sleep(0.005)
        ticks += 1
    assert not task.done()
    other.execute("COMMIT")
    other.close()
    assert await asyncio.wait_for(task, 5) == "en"
    assert ticks == 20
    async with db.session() as s:  # the connection is back to the loop's thread and its timeout
        assert (await s.exec(text("PRAGMA busy_timeout"))).scalar() == 10_000  # type: ignore[call-overload]


async def test_sqlite_a_slow_statement_leaves_the_loop_for_good(
    db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A statement that held the loop longer than ``INLINE_LIMIT_MS`` twice runs in aiosqlite's
    thread from then on (and is named in the log once); a ``bulk`` session starts there."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite only")
    slow = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) SELECT count(*) FROM n"
    calls = _count_hand_offs(monkeypatch)
    with caplog.at_level("INFO", logger="bot.db"):
        for _ in range(2):
            async with db.read() as s:
                assert (await s.exec(text(slow))).scalar() == 300_000  # type: ignore[call-overload]
        assert calls == []  # the first two times on the loop, and measured
        async with db.read() as s:
            assert (await s.exec(text(slow))).scalar() == 300_000  # type: ignore[call-overload]
        assert len(calls) == 2, calls  # then in the thread (the transaction ends there too)
        calls.clear()
        async with db.read(bulk=True) as s:
            await s.exec(text(slow + " -- another"))  # type: ignore[call-overload]
        assert len(calls) == 2, calls
    moved = [r.getMessage() for r in caplog.records if "held the event loop" in r.getMessage()]
    assert len(moved) == 1 and "WITH RECURSIVE" in moved[0]


async def test_sqlite_transactions_stay_immediate_with_begin_sent_alongside(db: Database) -> None:
    """The first statement of a session takes the write lock (BEGIN IMMEDIATE), so a second
    writer waits for the first instead of failing when it upgrades from reading."""
    if db.dialect != "sqlite":
        pytest.skip("SQLite only")
    async with db.session() as s:
        await s.get(GuildConfig, 7)
        conn = await s.connection()
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None and raw._conn.in_transaction  # a read alone opened the transaction
        other = sqlite3.connect(str(db.engine.url.database), timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()


async def test_a_statement_cancelled_mid_flight_leaves_no_transaction_open(tmp_path: Path) -> None:
    """A statement still running in the driver thread when its task is cancelled must not leave
    its transaction open on a pooled connection (SQLAlchemy drops the connection; the adapter's
    skip-the-rollback shortcut would not trust the handle while a hand-off runs either)."""
    db = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'cancel.db'}", pool_size=1, max_overflow=0)
    entered, release = threading.Event(), threading.Event()

    def block() -> int:
        entered.set()
        release.wait(10)
        return 1

    @event.listens_for(db.engine.sync_engine, "connect")
    def _add_block(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function("block", 0, block)

    try:
        await db.migrate()

        async def writer() -> None:
            async with db.session(bulk=True) as s:  # in aiosqlite's thread, where it can be cancelled
                s.add(GuildConfig(guild_id=8, updated_at=datetime.now(UTC)))
                await s.flush()
                await s.exec(text("SELECT block()"))  # type: ignore[call-overload]

        task = asyncio.create_task(writer())
        await asyncio.to_thread(entered.wait, 10)
        task.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with db.session() as s:  # the only pooled connection, or a fresh one if it was dropped
            assert await s.get(GuildConfig, 8) is None
            s.add(GuildConfig(guild_id=9, updated_at=datetime.now(UTC)))
        async with db.session() as s:
            assert await s.get(GuildConfig, 9) is not None
    finally:
        release.set()
        await db.close()


async def test_a_session_opened_inside_another_of_the_same_task_does_not_wait_for_it(db: Database) -> None:
    """This process's SQLite sessions queue for the write lock; a nested one must not queue
    behind its own task (it would wait forever)."""

    async def nested() -> GuildConfig | None:
        async with db.session() as outer:
            async with db.session() as inner:  # no statement ran in ``outer`` yet: nothing is locked
                inner.add(GuildConfig(guild_id=10, updated_at=datetime.now(UTC)))
            return await outer.get(GuildConfig, 10)

    assert await asyncio.wait_for(nested(), 10) is not None  # the timeout only guards a deadlock


async def test_postgresql_sessions_beyond_the_pool_wait_in_line_for_a_connection(test_db: TestDatabase) -> None:
    """More sessions than connections: each waits its turn in Kinship's queue (first come, first
    served) instead of in SQLAlchemy's pool, and never more sessions run than there are connections."""
    if test_db.schema is None:
        pytest.skip("PostgreSQL only")
    db = Database.from_url(test_db.url, schema=test_db.schema, pool_size=2, max_overflow=0)
    inside, most, order = 0, 0, []

    async def one(n: int) -> None:
        nonlocal inside, most
        async with db.session() as s:
            inside += 1
            most = max(most, inside)
            order.append(n)
            await s.exec(text("SELECT pg_sleep(0.002)"))  # type: ignore[call-overload]
            inside -= 1

    try:
        await asyncio.wait_for(asyncio.gather(*(one(n) for n in range(40))), 30)
    finally:
        await db.close()
    assert most == 2
    assert order == list(range(40)), "first come, first served"


async def test_a_read_session_neither_waits_for_nor_holds_up_a_writer(db: Database) -> None:
    """``db.read()`` sees the committed snapshot while another task's write session holds the
    write lock (on SQLite: a deferred BEGIN, no turn to queue for), and a writer can commit while a
    read is open (on SQLite the read keeps its snapshot until it ends)."""
    async with db.session() as s:
        s.add(GuildConfig(guild_id=11, language="de", updated_at=datetime.now(UTC)))
    written, read_done = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with db.session() as s:
            row = await s.get(GuildConfig, 11)
            assert row is not None
            row.language = "en"
            await s.flush()  # the write lock is taken and the change is not committed
            written.set()
            await read_done.wait()

    async def reader() -> str:
        await written.wait()
        async with db.read() as s:
            row = await s.get(GuildConfig, 11)
        read_done.set()
        assert row is not None
        return row.language

    task = asyncio.create_task(writer())
    assert await asyncio.wait_for(reader(), 10) == "de"  # the timeout only guards a deadlock
    await task
    async with db.read() as r:
        assert (await r.get(GuildConfig, 11)).language == "en"  # type: ignore[union-attr]
        async with db.session() as w:  # a writer commits while the read is open
            (await w.get(GuildConfig, 11)).language = "fr"  # type: ignore[union-attr]
        r.expunge_all()
        snapshot = "en" if db.dialect == "sqlite" else "fr"  # PostgreSQL reads committed rows
        assert (await r.get(GuildConfig, 11)).language == snapshot  # type: ignore[union-attr]
    async with db.read() as r:
        assert (await r.get(GuildConfig, 11)).language == "fr"  # type: ignore[union-attr]


def test_the_heads_read_from_the_migration_files_are_alembics_heads(tmp_path: Path) -> None:
    """``migrate`` skips Alembic when the database is at these heads: they must be Alembic's."""
    assert script_heads() == set(ScriptDirectory.from_config(alembic_config()).get_heads())
    (tmp_path / "a.py").write_text("revision = 'a'\ndown_revision = None\ndepends_on = None\n")
    (tmp_path / "b.py").write_text("revision: str = 'b'\ndown_revision: str | None = ('a',)\ndepends_on = None\n")
    assert script_heads(tmp_path) == {"b"}
    (tmp_path / "c.py").write_text("revision = 'c'\ndown_revision = PARENT\n")  # not a literal: ask Alembic
    assert script_heads(tmp_path) is None


async def test_a_database_at_every_head_is_not_migrated_again_and_one_behind_is(migrated_for_real: Database) -> None:
    """At every head, ``migrate`` only reads ``alembic_version``; a database one revision behind
    (``checkins_0002`` undone) is brought to every head by Alembic."""
    db = migrated_for_real
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    await db.migrate()
    assert statements and all(
        "alembic_version" in s or s.lstrip().upper().startswith(("SELECT", "PRAGMA")) for s in statements
    )
    assert not any(s.lstrip().upper().startswith(("CREATE", "ALTER", "INSERT", "UPDATE")) for s in statements)
    async with db.engine.begin() as conn:
        await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "checkins_0001"))
    async with db.engine.connect() as conn:
        behind = set((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    assert "checkins_0002" not in behind and "checkins_0001" in behind
    statements.clear()
    await db.migrate()
    assert any(s.lstrip().upper().startswith("UPDATE") for s in statements)  # Alembic moved the version
    async with db.engine.connect() as conn:
        heads = set((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    assert heads == script_heads()


async def test_a_connection_held_outside_sessions_is_not_offered_to_them(test_db: TestDatabase) -> None:
    """The scheduler's leadership holds one pooled connection for good (``held=1`` in
    ``bot/__main__.py``): the sessions' queue admits only as many as are left."""
    if test_db.schema is None:
        pytest.skip("PostgreSQL only")
    db = Database.from_url(test_db.url, schema=test_db.schema, pool_size=3, max_overflow=0, held=1)
    inside = most = 0

    async def one() -> None:
        nonlocal inside, most
        async with db.session() as s:
            inside += 1
            most = max(most, inside)
            await s.exec(text("SELECT pg_sleep(0.002)"))  # type: ignore[call-overload]
            inside -= 1

    try:
        leader = await db.engine.connect()  # as PostgresLeadership does
        try:
            await asyncio.wait_for(asyncio.gather(*(one() for _ in range(12))), 20)
        finally:
            await leader.close()
    finally:
        await db.close()
    assert most == 2


async def test_a_close_that_never_waits_runs_in_the_callers_task() -> None:
    """``_run_to_completion`` costs no task (and no turn of the loop) for a coroutine that finishes
    without waiting, and hands back its value or its error."""

    async def finishes() -> str:
        return "closed"

    async def fails() -> None:
        raise ValueError("bad close")

    loop = asyncio.get_running_loop()
    made: list[object] = []
    factory = loop.get_task_factory()
    loop.set_task_factory(lambda lp, coro, **kw: made.append(coro) or asyncio.Task(coro, loop=lp, **kw))
    try:
        assert await db_module._run_to_completion(finishes()) == "closed"
        with pytest.raises(ValueError, match="bad close"):
            await db_module._run_to_completion(fails())
    finally:
        loop.set_task_factory(factory)
    assert made == []


async def test_a_close_that_waits_finishes_even_when_its_caller_is_cancelled() -> None:
    """Once the coroutine waits, it carries on in a task of its own; a cancellation of the caller
    is raised only after the coroutine has finished, as SQLAlchemy's own close does."""
    gate = asyncio.Event()
    steps: list[str] = []

    async def slow_close() -> str:
        steps.append("started")
        await gate.wait()
        await asyncio.sleep(0)
        steps.append("finished")
        return "closed"

    caller = asyncio.create_task(db_module._run_to_completion(slow_close()))
    await asyncio.sleep(0)
    assert steps == ["started"]
    caller.cancel()
    await asyncio.sleep(0)
    assert not caller.done()  # still waiting for the close
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert steps == ["started", "finished"]

    async def waits_then_returns() -> str:
        await asyncio.sleep(0)
        return "closed"

    assert await db_module._run_to_completion(waits_then_returns()) == "closed"


async def test_a_session_starts_no_task_of_its_own(db: Database) -> None:
    """A session's close runs in the task that used it: ``async with AsyncSession()`` would start
    a task per session, a turn of the loop behind everything else that is ready."""
    async with db.session() as s:  # the pool's connection exists
        await s.get(GuildConfig, 1)
    loop = asyncio.get_running_loop()
    made: list[object] = []
    factory = loop.get_task_factory()
    loop.set_task_factory(lambda lp, coro, **kw: made.append(coro) or asyncio.Task(coro, loop=lp, **kw))
    try:
        async with db.session() as s:
            s.add(GuildConfig(guild_id=11, updated_at=datetime.now(UTC)))
        async with db.read() as s:
            assert await s.get(GuildConfig, 11) is not None
    finally:
        loop.set_task_factory(factory)
    assert made == []
