"""One scheduler leader among processes sharing a PostgreSQL database (issue #10)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from bot.leadership import PostgresLeadership
from bot.scheduler import Scheduler
from tests.harness.world import PG_ENV, TestDatabase

pytestmark = pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"needs PostgreSQL ({PG_ENV})")

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
async def pg(tmp_path):
    async with TestDatabase.create("postgresql", tmp_path) as tdb:
        yield tdb


async def test_exactly_one_leader_and_failover_when_it_stops(pg: TestDatabase) -> None:
    db_a, db_b = pg.open(), pg.open()
    # A key of this test's own, so parallel test runs on the same server don't interfere.
    key = int.from_bytes(os.urandom(6), "big")
    a, b = PostgresLeadership(db_a.engine, key), PostgresLeadership(db_b.engine, key)
    try:
        assert await a.is_leader() is True
        assert await b.is_leader() is False
        assert await a.is_leader() is True  # keeps it
        assert await b.is_leader() is False

        await a.release()  # clean shutdown hands over at once
        assert await b.is_leader() is True
        assert await a.is_leader() is False
    finally:
        await a.release()
        await b.release()
        await db_a.close()
        await db_b.close()


async def test_a_dropped_connection_releases_the_lock(pg: TestDatabase) -> None:
    db_a, db_b = pg.open(), pg.open()
    key = int.from_bytes(os.urandom(6), "big")
    a, b = PostgresLeadership(db_a.engine, key), PostgresLeadership(db_b.engine, key)
    try:
        assert await a.is_leader()
        # The leader's process dies: its connection is gone without an unlock.
        assert a._conn is not None
        await a._conn.invalidate()
        a._conn = None
        assert await b.is_leader() is True
        assert await a.is_leader() is False
    finally:
        await a.release()
        await b.release()
        await db_a.close()
        await db_b.close()


async def test_only_the_leaders_scheduler_runs_jobs(pg: TestDatabase) -> None:
    db_a, db_b = pg.open(), pg.open()
    key = int.from_bytes(os.urandom(6), "big")
    runs: list[str] = []

    def job(name: str):
        async def run(now: datetime) -> None:
            runs.append(name)

        return run

    sched_a = Scheduler(now=lambda: T0, leadership=PostgresLeadership(db_a.engine, key), ticking=False)
    sched_b = Scheduler(now=lambda: T0, leadership=PostgresLeadership(db_b.engine, key), ticking=False)
    sched_a.every("weekly", 60, job("a"))
    sched_b.every("weekly", 60, job("b"))
    try:
        for _ in range(3):
            await sched_a.run("weekly")
            await sched_b.run("weekly")
        assert runs == ["a", "a", "a"]
        await sched_a.shutdown()  # releases leadership
        await sched_b.run("weekly")
        assert runs[-1] == "b"
    finally:
        await sched_a.shutdown()
        await sched_b.shutdown()
        await db_a.close()
        await db_b.close()


async def test_the_lock_connection_is_never_left_idle_in_a_transaction(pg: TestDatabase) -> None:
    from sqlalchemy import text

    db_a, db_check = pg.open(), pg.open()
    key = int.from_bytes(os.urandom(6), "big")
    leader = PostgresLeadership(db_a.engine, key)
    try:
        assert await leader.is_leader()
        assert await leader.is_leader()  # the liveness probe ran
        async with db_check.engine.connect() as conn:
            states = (
                (
                    await conn.execute(
                        text(
                            "SELECT a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                            "WHERE l.locktype = 'advisory' AND l.classid = :hi AND l.objid = :lo"
                        ),
                        {"hi": key >> 32, "lo": key & 0xFFFFFFFF},
                    )
                )
                .scalars()
                .all()
            )
        assert states == ["idle"], states
    finally:
        await leader.release()
        await db_a.close()
        await db_check.close()
