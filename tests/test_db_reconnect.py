"""PostgreSQL connections that the server dropped are replaced without a ping per transaction.

``pool_pre_ping`` cost three round trips per session (BEGIN, a ping, ROLLBACK); instead a pooled
connection the server closed is replaced at checkout, and one that dies under a session fails only
that session. Each test kills the backend with ``pg_terminate_backend``, as a server restart or an
administrator would.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import exc, func, literal, select, text

from bot.db import Database
from bot.statements import Prepared
from tests.harness.world import TestDatabase

POLLS = 500  # each one is a round trip on the admin connection, which lets the loop see the close


async def _pid(db: Database) -> int:
    async with db.session() as s:
        return (await s.exec(text("SELECT pg_backend_pid()"))).scalar_one()  # type: ignore[call-overload]


def _idle_driver_connections(db: Database) -> list[object]:
    """The asyncpg connections waiting in ``db``'s pool."""
    records = list(db.engine.sync_engine.pool._pool._queue._queue)  # type: ignore[attr-defined]  # asyncio.Queue
    return [r.dbapi_connection._connection for r in records if r.dbapi_connection is not None]


async def _terminate(admin: Database, pid: int, pooled_in: Database | None = None) -> None:
    """Kill ``pid`` and wait until the server has let it go (and, with ``pooled_in``, until the
    pool's idle connection of that backend has read the close: a socket's EOF arrives when the
    machine gets to it, which on a loaded CI machine can take more than a few loop turns)."""
    async with admin.engine.connect() as conn:
        assert (await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})).scalar() is True
        for _ in range(POLLS):
            gone = (
                await conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid})
            ).scalar() == 0
            if gone:
                break
        else:
            raise AssertionError(f"backend {pid} did not go away")
    # The server's farewell and its close reach our side of the socket in two reads; let the loop
    # take both, as it would long before a real restart ends (the half-read case is a disconnect too).
    for _ in range(20):
        await asyncio.sleep(0)
    if pooled_in is None:
        return
    for _ in range(500):  # real I/O, not the clock: wait for the EOF itself, at most ~5 s
        dead = [c for c in _idle_driver_connections(pooled_in) if c.get_server_pid() == pid]  # type: ignore[attr-defined]
        if all(c.is_closed() for c in dead):  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the pooled connection of backend {pid} never saw its close")


@pytest.fixture
async def pg(db: Database, test_db: TestDatabase) -> Database:
    if db.dialect != "postgresql":
        pytest.skip("PostgreSQL only")
    return db


async def test_a_pooled_connection_the_server_closed_is_replaced_and_the_next_session_works(
    pg: Database, test_db: TestDatabase
) -> None:
    first = await _pid(pg)
    assert await _pid(pg) == first, "an idle pooled connection is reused"
    admin = test_db.open()
    try:
        await _terminate(admin, first, pooled_in=pg)
    finally:
        await admin.close()
    second = await _pid(pg)
    assert second != first, "a new connection, not the dead one"
    assert await _pid(pg) == second


async def test_a_connection_killed_during_a_session_fails_that_session_only(
    pg: Database, test_db: TestDatabase
) -> None:
    admin = test_db.open()
    try:
        with pytest.raises(exc.DBAPIError) as raised:
            async with pg.session() as s:
                pid = (await s.exec(text("SELECT pg_backend_pid()"))).scalar_one()  # type: ignore[call-overload]
                await _terminate(admin, pid)
                await s.exec(text("SELECT 1"))  # type: ignore[call-overload]
        assert raised.value.connection_invalidated
        after = await _pid(pg)
        assert after != pid
    finally:
        await admin.close()


async def test_a_connection_killed_during_a_direct_transaction_fails_it_only(
    pg: Database, test_db: TestDatabase
) -> None:
    """A direct transaction (``bot/statements.py``) whose connection dies raises SQLAlchemy's
    error, invalidates that connection, and the next one gets a fresh connection."""
    backend_pid = Prepared(select(func.pg_backend_pid()))
    one = Prepared(select(literal(1)))
    admin = test_db.open()
    try:
        with pytest.raises(exc.DBAPIError) as raised:
            async with pg.direct() as q:
                pid = await q.scalar(backend_pid)
                await _terminate(admin, pid)
                await q.scalar(one)
        assert raised.value.connection_invalidated
        async with pg.direct() as q:
            assert await q.scalar(backend_pid) != pid
    finally:
        await admin.close()
