"""The floor under a command: the same SQL sent straight to the driver, nothing in between.

:class:`StatementLog` records every statement the bot sends (SQLAlchemy's
``before_cursor_execute``, and ``bot.statements.LISTENERS`` for direct transactions: the
statement text and its bound parameters, as they reach the driver) grouped into transactions
(``begin`` … ``commit``/``rollback``), from the moment migrations are done. :class:`Floor`
replays that log, in order, on a second database migrated the same way — a SQLite file next to
the bot's, or a second schema in the same PostgreSQL database — over one raw driver connection
(aiosqlite / asyncpg, no SQLAlchemy, no pool): ``BEGIN IMMEDIATE`` (SQLite) / ``BEGIN``, the
statements, ``COMMIT`` (or ``ROLLBACK`` where the bot rolled back). Because the replica starts
from the same state and receives the same statements in the same order, every insert gets the
same ids and every statement meets the same rows, so the replay does the same work, commits
included. Replaying right after each sample keeps bot and floor interleaved on the same machine
state.

A command's floor is then the no-op command's median (Discord → bot → answer with no work) plus
the median replay time of that command's own transactions.

On SQLite the log is replayed twice, on two replicas: through aiosqlite (each statement a round
trip to its thread, as an asyncio program normally talks to SQLite) and through the standard
library's ``sqlite3`` on the caller's thread (``inline``: nothing at all between the statement and
SQLite, the stricter floor — the bot runs its short statements that way too).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot import statements
from bot.db import SQLITE_BUSY_TIMEOUT_MS, Database


@dataclass
class Transaction:
    statements: list[tuple[str, Any, bool]] = field(default_factory=list)  # (sql, parameters, many)
    committed: bool = True


class StatementLog:
    """Every transaction the bot's engines completed since :meth:`start`, in completion order."""

    def __init__(self) -> None:
        self.done: list[Transaction] = []
        self._open: dict[int, Transaction] = {}
        self.on = False
        event.listen(Engine, "begin", self._begin)
        event.listen(Engine, "commit", self._commit)
        event.listen(Engine, "rollback", self._rollback)
        event.listen(Engine, "before_cursor_execute", self._statement)
        statements.LISTENERS.append(self._direct)

    def close(self) -> None:
        """Stop listening."""
        statements.LISTENERS.remove(self._direct)
        event.remove(Engine, "begin", self._begin)
        event.remove(Engine, "commit", self._commit)
        event.remove(Engine, "rollback", self._rollback)
        event.remove(Engine, "before_cursor_execute", self._statement)

    @contextlib.contextmanager
    def paused(self) -> Any:
        """Statements inside this block are not recorded."""
        on, self.on = self.on, False
        try:
            yield
        finally:
            self.on = on

    @staticmethod
    def _key(conn: Any) -> int:
        return id(conn.connection.dbapi_connection)

    def _begin(self, conn: Any) -> None:
        if self.on:
            self._open[self._key(conn)] = Transaction()

    def _end(self, conn: Any, committed: bool) -> None:
        tx = self._open.pop(self._key(conn), None)
        if tx is not None:
            tx.committed = committed
            self.done.append(tx)

    def _commit(self, conn: Any) -> None:
        self._end(conn, True)

    def _rollback(self, conn: Any) -> None:
        self._end(conn, False)

    def _statement(self, conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, many: bool) -> None:
        if not self.on:
            return
        tx = self._open.get(self._key(conn))
        if tx is None:  # a statement outside a transaction (none are expected): its own one
            self.done.append(Transaction([(statement, parameters, many)]))
        else:
            tx.statements.append((statement, _copy(parameters), many))

    def _direct(self, dbapi_connection: Any, what: str, sql: str | None, parameters: Any) -> None:
        """A direct transaction's step (``bot/statements.py``), keyed as the engines' are."""
        if not self.on:
            return
        key = id(dbapi_connection)
        if what == "begin":
            self._open[key] = Transaction()
        elif what == "statement":
            self._open[key].statements.append((sql, _copy(parameters), False))
        else:
            tx = self._open.pop(key, None)
            if tx is not None:
                tx.committed = what == "commit"
                self.done.append(tx)


def _copy(parameters: Any) -> Any:
    if isinstance(parameters, list):
        return [tuple(p) if isinstance(p, (list, tuple)) else p for p in parameters]
    return tuple(parameters) if isinstance(parameters, (list, tuple)) else parameters


class Floor:
    """Replays a :class:`StatementLog` on a replica over one raw driver connection."""

    def __init__(self, log: StatementLog, dialect: str, conn: Any, inline: sqlite3.Connection | None = None) -> None:
        self.log = log
        self.dialect = dialect
        self.conn = conn
        self.inline = inline
        self.inline_elapsed = 0.0  # seconds the inline replica took in the last catch_up
        self.replayed = 0
        self.errors = 0
        self.first_error = ""

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, log: StatementLog, db: Database, tmp: Path) -> Any:
        """A migrated replica of ``db``'s database (empty, as ``db`` was when ``log`` started)."""
        with log.paused():
            conn, schema = await cls._replica(db, tmp)
            inline = await cls._inline_replica(tmp) if db.dialect == "sqlite" else None
        try:
            yield cls(log, db.dialect, conn, inline)
        finally:
            await conn.close()
            if inline is not None:
                inline.close()
            if db.dialect == "postgresql":
                with log.paused():
                    await cls._drop(db, schema)

    @staticmethod
    async def _replica(db: Database, tmp: Path) -> tuple[Any, str]:
        url = db.engine.url
        if db.dialect == "sqlite":
            path = tmp / "floor.db"
            replica = Database.from_url(f"sqlite+aiosqlite:///{path}")
            await replica.migrate()
            await replica.close()
            conn = await aiosqlite.connect(path, isolation_level=None)
            for pragma in ("journal_mode=WAL", "foreign_keys=ON", f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}"):
                await conn.execute_fetchall(f"PRAGMA {pragma}")
            await conn.execute_fetchall("PRAGMA synchronous=NORMAL")
            return conn, ""
        schema = f"floor_{int(time.time() * 1000) % 10**9}"
        admin = Database.from_url(url.render_as_string(hide_password=False))
        async with admin.engine.begin() as c:
            await c.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        replica = Database.from_url(url.render_as_string(hide_password=False), schema=schema)
        await replica.migrate()
        await replica.close()
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        await admin.close()
        conn = await asyncpg.connect(dsn, server_settings={"search_path": schema})
        return conn, schema

    @staticmethod
    async def _inline_replica(tmp: Path) -> sqlite3.Connection:
        path = tmp / "floor-inline.db"
        replica = Database.from_url(f"sqlite+aiosqlite:///{path}")
        await replica.migrate()
        await replica.close()
        conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}"):
            conn.execute(f"PRAGMA {pragma}").fetchall()
        conn.execute("PRAGMA synchronous=NORMAL").fetchall()
        return conn

    @staticmethod
    async def _drop(db: Database, schema: str) -> None:
        admin = Database.from_url(db.engine.url.render_as_string(hide_password=False))
        async with admin.engine.begin() as c:
            await c.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()

    def mark(self) -> int:
        """A position in the log (to replay up to it later)."""
        return len(self.log.done)

    async def catch_up(self, upto: int | None = None) -> float:
        """Replay every transaction not replayed yet (up to ``upto``); seconds it took."""
        end = len(self.log.done) if upto is None else upto
        elapsed = self.inline_elapsed = 0.0
        while self.replayed < end:
            tx = self.log.done[self.replayed]
            self.replayed += 1
            started = time.perf_counter()
            await (self._sqlite(tx) if self.dialect == "sqlite" else self._postgres(tx))
            elapsed += time.perf_counter() - started
            if self.inline is not None:
                started = time.perf_counter()
                self._sqlite_inline(tx)
                self.inline_elapsed += time.perf_counter() - started
        return elapsed

    def _failed(self, tx: Transaction, sql: str, error: BaseException) -> None:
        if tx.committed:
            self.errors += 1
            self.first_error = self.first_error or f"{error!r} in {sql[:120]!r}"

    async def _sqlite(self, tx: Transaction) -> None:
        conn = self.conn
        await conn.execute_fetchall("BEGIN IMMEDIATE")
        try:
            for sql, params, many in tx.statements:
                if many:
                    await conn.executemany(sql, params)
                else:
                    await conn.execute_fetchall(sql, params)
        except sqlite3.Error as error:
            self._failed(tx, sql, error)
            await conn.execute_fetchall("ROLLBACK")
            return
        await conn.execute_fetchall("COMMIT" if tx.committed else "ROLLBACK")

    def _sqlite_inline(self, tx: Transaction) -> None:
        conn = self.inline
        assert conn is not None
        conn.execute("BEGIN IMMEDIATE")
        try:
            for sql, params, many in tx.statements:
                if many:
                    conn.executemany(sql, params)
                else:
                    conn.execute(sql, params).fetchall()
        except sqlite3.Error as error:
            self._failed(tx, sql, error)
            conn.execute("ROLLBACK")
            return
        conn.execute("COMMIT" if tx.committed else "ROLLBACK")

    async def _postgres(self, tx: Transaction) -> None:
        conn = self.conn
        await conn.execute("BEGIN")
        try:
            for sql, params, many in tx.statements:
                if many:
                    await conn.executemany(sql, params)
                else:
                    await conn.fetch(sql, *(params or ()))
        except asyncpg.PostgresError as error:
            self._failed(tx, sql, error)
            await conn.execute("ROLLBACK")
            return
        await conn.execute("COMMIT" if tx.committed else "ROLLBACK")
