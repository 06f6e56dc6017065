"""Which process runs the scheduled jobs when several serve one bot (issue #10).

On PostgreSQL the leader holds a session-level advisory lock on a dedicated connection. The
lock belongs to that connection: when the process dies or its connection drops, PostgreSQL
releases it, and the next process to ask (every scheduler tick, so within one job interval)
takes over. Even without the lock every scheduled send is guarded by a unique key, so a split
brain cannot post twice; the lock only saves the duplicate work.

SQLite is one process by design: :class:`bot.scheduler.AlwaysLeader`.
"""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

#: The advisory lock key: "KINSHIP" as a 63-bit number, so other applications sharing the
#: database are unlikely to collide with it.
LOCK_KEY = 0x4B494E53484950


class PostgresLeadership:
    """Leadership through ``pg_try_advisory_lock`` held on a dedicated connection."""

    def __init__(self, engine: AsyncEngine, key: int = LOCK_KEY) -> None:
        self.engine = engine
        self.key = key
        self._conn: AsyncConnection | None = None

    @property
    def holding(self) -> bool:
        """Whether this process currently holds the lock (as far as it knows)."""
        return self._conn is not None

    async def is_leader(self) -> bool:
        """Keep the lock if we have it and the connection is alive; otherwise try to take it."""
        if self._conn is not None:
            try:
                await self._conn.execute(text("SELECT 1"))
            except (DBAPIError, SQLAlchemyError, OSError):
                log.warning("lost the scheduler leadership connection; trying to take it again")
                await self._drop()
            else:
                return True
        return await self._try_acquire()

    async def _try_acquire(self) -> bool:
        conn: AsyncConnection | None = None
        try:
            # Autocommit: the probes never leave the connection "idle in transaction" (which a
            # server's idle_in_transaction_session_timeout would kill, dropping the lock).
            conn = await (await self.engine.connect()).execution_options(isolation_level="AUTOCOMMIT")
            got = (await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})).scalar()
        except (DBAPIError, SQLAlchemyError, OSError):
            log.warning("could not ask for the scheduler leadership", exc_info=True)
            if conn is not None:
                await conn.close()
            return False
        if not got:
            await conn.close()
            return False
        self._conn = conn
        log.info("this process now leads the scheduler")
        return True

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(DBAPIError, SQLAlchemyError, OSError):  # already broken
                await conn.invalidate()

    async def release(self) -> None:
        """Give the lock up (clean shutdown), so another process takes over at once."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
        except (DBAPIError, SQLAlchemyError, OSError):
            log.warning("could not release the scheduler leadership cleanly", exc_info=True)
        finally:
            await conn.close()
