"""The database: engine, sessions, SQLite pragmas and migrations.

SQLite (the default) gets WAL, foreign keys and a busy timeout on every connection, and every
transaction starts with ``BEGIN IMMEDIATE`` so two writers queue instead of deadlocking when a
reader upgrades to a writer. PostgreSQL (asyncpg) works by changing ``DATABASE_URL`` only.

A hand-off to aiosqlite's worker thread and back costs more than a short statement (0.1 ms
against a few µs, ``bench/README.md``). SQLAlchemy's adapter makes four per statement (open a
cursor, execute, fetch, close) plus ``BEGIN``, ``COMMIT`` and the pool's rollback on return.
:class:`_SQLiteDBAPI` runs short statements on the event loop's thread itself, ``BEGIN IMMEDIATE``
and ``COMMIT`` included, and makes none for a rollback or commit when no transaction is open. What
goes to the thread, one hand-off per statement (``BEGIN`` travelling with the first): every
``executemany``, every statement of a ``bulk=True`` session, a ``BEGIN`` while another process
holds the write lock (the loop never sleeps in SQLite's busy handler), and a statement that held
the loop longer than ``INLINE_LIMIT_MS`` twice.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import logging
import re
import sqlite3
import time
import types
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import aiosqlite
from sqlalchemy import Connection, event, exc, inspect
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from sqlalchemy.util.concurrency import await_, greenlet_spawn
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.statements import Statements

if TYPE_CHECKING:  # Alembic (~0.3 s to import) is loaded only when a migration has to run
    from alembic.config import Config

log = logging.getLogger(__name__)
_T = TypeVar("_T")

MIGRATIONS = Path(__file__).parent / "migrations"
#: Whether this task (or the task that started it) is inside a PostgreSQL session already.
_IN_SESSION: contextvars.ContextVar[bool] = contextvars.ContextVar("kinship_in_session", default=False)
SQLITE_BUSY_TIMEOUT_MS = 10_000
#: Set inside :meth:`Database.session`/:meth:`Database.read` with ``bulk=True``: every SQLite
#: statement goes to aiosqlite's thread instead of running on the event loop.
_BULK: contextvars.ContextVar[bool] = contextvars.ContextVar("kinship_bulk", default=False)
#: A statement that ran this long on the event loop twice runs in aiosqlite's thread from then on
#: (twice: a single slow run can be the machine's hiccup rather than the statement).
INLINE_LIMIT_MS = 2.0
#: Statements (their SQL text) that took longer than ``INLINE_LIMIT_MS`` on the loop once, twice.
_slow_once: set[str] = set()
_slow_statements: set[str] = set()
#: Execution option of :meth:`Database.read`'s connection: its transaction begins deferred.
_READ_ONLY = "kinship_read_only"
#: PostgreSQL connections older than this are replaced at checkout (firewalls and proxies drop idle ones).
POOL_RECYCLE_SECONDS = 1800


class Database:
    """Owns the engine and hands out sessions. Built once in ``__main__`` and passed in."""

    def __init__(self, engine: AsyncEngine, *, connections: int | None = None) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        self._serial = engine.dialect.name == "sqlite"
        self._turn_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._turn_holder: asyncio.Task[Any] | None = None
        self._connections = connections  # PostgreSQL: the pool's size (sessions beyond it wait here)
        self._gate: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        pool_size: int = 10,
        max_overflow: int = 0,
        statement_cache: bool = True,
        schema: str | None = None,
        echo: bool = False,
        held: int = 0,
    ) -> Database:
        """Create the engine for ``url``; ``schema`` (PostgreSQL only) sets the search path."""
        kwargs: dict[str, Any] = {"echo": echo}
        if url.startswith("sqlite"):
            _ensure_sqlite_dir(url)
            # The event loop's thread runs short statements itself (see _SQLiteCursor), so the
            # connection is not tied to aiosqlite's thread; the two never use it at once.
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
            kwargs["module"] = _SQLiteDBAPI(aiosqlite, sqlite3)
            if ":memory:" in url or url.rstrip("/").endswith("sqlite+aiosqlite:"):
                raise ValueError("use a SQLite file, not :memory:, so every connection sees the same data")
            kwargs["poolclass"] = NullPool if pool_size == 0 else None
            if kwargs["poolclass"] is None:
                del kwargs["poolclass"]
        else:
            connect_args: dict[str, Any] = {}
            if schema:
                connect_args["server_settings"] = {"search_path": schema}
            if not statement_cache:
                # Behind PgBouncer in transaction mode prepared statements must be off.
                connect_args["statement_cache_size"] = 0
                connect_args["prepared_statement_cache_size"] = 0
            kwargs.update(
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_recycle=POOL_RECYCLE_SECONDS,
                connect_args=connect_args,
            )
        engine = create_async_engine(url, **kwargs)
        if engine.dialect.name == "sqlite":
            _install_sqlite_hooks(engine)
            return cls(engine)
        _install_postgres_hooks(engine)
        # ``held``: connections taken from the pool for good outside sessions (the scheduler's
        # leadership holds one), so that the sessions' queue admits only as many as are free.
        return cls(engine, connections=max(1, pool_size + max_overflow - held))

    @asynccontextmanager
    async def session(self, *, bulk: bool = False) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error.

        On SQLite its statements run on the event loop's own thread: a hand-off to aiosqlite's
        thread and back costs more than a short statement (0.1–0.2 ms, ``bench/README.md``). A
        statement that took longer than ``INLINE_LIMIT_MS`` there twice, and every
        ``executemany``, goes to aiosqlite's thread; ``bulk=True`` sends every statement of the
        session there from the start, for the work that reads or writes many rows, so that not
        even its first run holds up the loop.

        On SQLite every transaction takes the write lock (``BEGIN IMMEDIATE``), so only one runs at
        a time anyway; this process's sessions queue for it here, in order and without polling,
        instead of in SQLite's busy handler, which sleeps 1–100 ms between attempts. A session
        opened inside another one of the same task skips the queue (and meets the busy timeout,
        as before). Never wait, while holding a session, for another task that opens one (a
        ``gather``/``create_task``/``wait_for`` inside ``async with db.session()``): it would wait
        for this session's turn forever — sessions hold no Discord calls and publish events only
        after they close, and the structure test keeps it that way."""
        if bulk and not _BULK.get():
            with _bulk():
                async with self.session() as session:
                    yield session
            return
        async with self._queue(), self._transaction() as session:
            yield session

    @asynccontextmanager
    async def direct(self, *, read: bool = False) -> AsyncIterator[Statements]:
        """One transaction of :class:`~bot.statements.Prepared` statements run straight on a pooled
        driver connection, for the hot paths (``bot/statements.py`` says why and what it leaves
        out): committed on success, rolled back on error, queued like :meth:`session`; ``read``
        as :meth:`read` (on SQLite a deferred ``BEGIN`` that does not queue)."""
        if read and self._serial:
            async with self._direct(read=True) as statements:
                yield statements
            return
        async with self._queue(), self._direct(read=False) as statements:
            yield statements

    @asynccontextmanager
    async def _direct(self, *, read: bool) -> AsyncIterator[Statements]:
        raw = await greenlet_spawn(self.engine.sync_engine.raw_connection)
        try:
            statements = Statements(raw, self.engine.dialect, read=read)
            try:
                yield statements
            except BaseException:
                with contextlib.suppress(Exception):  # the error that got here is the one to raise
                    await statements.end("rollback")
                raise
            await statements.end("commit")
        finally:
            await _run_to_completion(greenlet_spawn(raw.close))

    @asynccontextmanager
    async def _queue(self) -> AsyncIterator[None]:
        """Wait for this transaction's turn: SQLite's write lock (see :meth:`session`) or one of
        PostgreSQL's pooled connections (:meth:`_pool_gate`)."""
        turn = self._turn()
        if turn is None:
            gate = self._pool_gate()
            if gate is None or _IN_SESSION.get():
                yield
                return
            async with gate:
                inside = _IN_SESSION.set(True)
                try:
                    yield
                finally:
                    _IN_SESSION.reset(inside)
            return
        if self._turn_holder is asyncio.current_task():
            yield
            return
        async with turn:
            self._turn_holder = asyncio.current_task()
            try:
                yield
            finally:
                self._turn_holder = None

    def _pool_gate(self) -> asyncio.Semaphore | None:
        """PostgreSQL: sessions beyond the pool's size queue here, first come first served.

        SQLAlchemy's async pool hands a returned connection to a waiter through a timed wait per
        checkout; with 32 sessions on 10 connections that cost half the throughput
        (``bench/throughput.py``). Waiting on a semaphore of the pool's size instead, each session
        finds a free connection. A session opened inside another one (same task or a task it
        started) does not queue again: it would wait for itself."""
        if self._connections is None:
            return None
        loop = asyncio.get_running_loop()
        if self._gate is None or self._gate[0] is not loop:
            self._gate = (loop, asyncio.Semaphore(self._connections))
        return self._gate[1]

    @asynccontextmanager
    async def read(self, *, bulk: bool = False) -> AsyncIterator[AsyncSession]:
        """A session for reads only, inside one transaction (one consistent snapshot); ``bulk``
        as in :meth:`session`.

        On SQLite it starts with a plain (deferred) ``BEGIN`` and does not queue for the turn of
        :meth:`session`: in WAL mode a reader neither waits for the writer nor holds it up, so a
        long report (``/stats`` reads 300,000 activity days on a 100k-member guild) no longer makes
        every command wait behind it, and its statements run on their own connection's thread
        beside the writers'. Never write in it: the first write would have to take the write lock
        in the middle of the transaction (SQLite then answers "database is locked" rather than
        queue). On PostgreSQL it is :meth:`session`."""
        if not self._serial:
            async with self.session() as session:
                yield session
            return
        if bulk and not _BULK.get():
            with _bulk():
                async with self.read() as session:
                    yield session
            return
        async with self._transaction() as session:
            await session.connection(execution_options={_READ_ONLY: True})
            yield session

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        """A new session inside its transaction, closed afterwards.

        ``async with AsyncSession()`` closes the session in a task of its own, so that a
        cancellation cannot abandon the close halfway (SQLAlchemy 2.1): a task and two turns of
        the event loop per session, behind every callback that is ready at the time (0.15–0.4 ms
        a session, more under load, ``bench/README.md``). The close here runs in this task and
        only moves to a shielded task when it really has to wait (:func:`_run_to_completion`)."""
        session = self.sessions()
        try:
            async with session.begin():
                yield session
        finally:
            await _run_to_completion(session.close())

    def _turn(self) -> asyncio.Lock | None:
        """The queue for SQLite's write lock in this event loop (``None`` on PostgreSQL)."""
        if not self._serial:
            return None
        loop = asyncio.get_running_loop()
        if self._turn_lock is None or self._turn_lock[0] is not loop:
            self._turn_lock = (loop, asyncio.Lock())
        return self._turn_lock[1]

    async def migrate(self) -> None:
        """Bring the schema to the latest revision (every branch head).

        A database already at every head (each start of a running bot) is recognised without
        Alembic: the heads are read from the migration files' text (:func:`script_heads`) and
        compared with ``alembic_version``; anything else — a migration to run, a file not in the
        plain form — goes through Alembic as before."""
        heads = script_heads()
        if heads is not None:
            async with self.engine.connect() as conn:
                current = await conn.run_sync(_current_revisions)
            if current == heads:
                log.info("database schema is up to date")
                return
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade)

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


async def _run_to_completion(coro: Coroutine[Any, Any, _T]) -> _T:
    """Run ``coro`` to its end even if this task is cancelled meanwhile, as SQLAlchemy does for
    a close, but start it in this task: a coroutine that finishes without waiting (a session's
    close mostly does) costs no task. Once it waits, the rest runs in a task of its own, and a
    cancellation of this task is raised only when that task has finished (3.12's eager tasks do
    the same; the bot supports 3.11)."""
    try:
        waiting_for = coro.send(None)
    except StopIteration as finished:
        return finished.value  # type: ignore[no-any-return]
    rest = asyncio.ensure_future(_resume(coro, waiting_for))
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            result = await asyncio.shield(rest)
        except asyncio.CancelledError as error:
            if rest.done():
                raise
            cancelled = error
        else:
            break
    if cancelled is not None:
        raise cancelled
    return result


@types.coroutine
def _resume(coro: Coroutine[Any, Any, _T], waiting_for: Any) -> Generator[Any, Any, _T]:
    """Carry on ``coro``, which has started and is waiting for ``waiting_for``: what its task
    sends or throws in goes on to ``coro``."""
    while True:
        try:
            sent = yield waiting_for
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as error:
            try:
                waiting_for = coro.throw(error)
            except StopIteration as finished:
                return finished.value  # type: ignore[no-any-return]
        else:
            try:
                waiting_for = coro.send(sent)
            except StopIteration as finished:
                return finished.value  # type: ignore[no-any-return]


@contextmanager
def _bulk() -> Iterator[None]:
    """Inside: SQLite statements go to aiosqlite's thread (see :meth:`Database.session`)."""
    marked = _BULK.set(True)
    try:
        yield
    finally:
        _BULK.reset(marked)


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split(":///", 1)[-1].split("?", 1)[0]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, issue BEGIN, so that we can make it IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        dbapi_connection = conn.connection.dbapi_connection
        begin = "BEGIN" if conn.get_execution_options().get(_READ_ONLY) else "BEGIN IMMEDIATE"
        if isinstance(dbapi_connection, _SQLiteConnection):
            dbapi_connection.begin_pending = begin  # sent with the transaction's first statement
        else:
            conn.exec_driver_sql(begin)


def _run_statement(
    conn: sqlite3.Connection, begin: str | None, many: bool, operation: str, parameters: Any
) -> tuple[Any, list[Any], int, int | None]:
    """In aiosqlite's thread: (``BEGIN IMMEDIATE`` or ``BEGIN``,) the statement, its rows, and the close."""
    if begin:
        conn.execute(begin).close()
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class _SQLiteCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose statement, fetch and close are one hand-off to aiosqlite's thread. It holds
    no driver cursor: the rows, description, row count and last row id are kept here."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: _SQLiteConnection) -> None:  # no super(): it opens a cursor
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = {}
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        """The result's columns (``None`` for a statement without rows)."""
        return self._description

    @property
    def rowcount(self) -> int:
        """Rows changed by the last statement."""
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        """The last inserted row id."""
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        """Rows per ``fetchmany`` without a size."""
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        return None  # the driver cursor is already closed

    async def _run(self, operation: Any, parameters: Any, many: bool) -> None:
        adapt = self._adapt_connection
        assert isinstance(adapt, _SQLiteConnection)
        begin, adapt.begin_pending = adapt.begin_pending, None
        if not many and operation not in _slow_statements and adapt.may_run_inline():
            try:
                found = adapt.run_inline(begin, operation, parameters)
            except BaseException:
                if begin and not adapt.in_transaction():
                    adapt.begin_pending = begin  # the BEGIN itself failed: still owed
                raise
            if found is not None:
                self._description, rows, self._rowcount, self._lastrowid = found
                self._rows = collections.deque(rows)
                return
            begin = begin if not adapt.in_transaction() else None  # SQLite was busy: wait in the thread
        adapt.threaded = True  # and the transaction ends there too (a big write's checkpoint)
        async with adapt._execute_mutex:
            try:
                conn = self._connection._conn
                found = await adapt.hand_off(_run_statement, conn, begin, many, operation, parameters)
            except BaseException:
                if begin and adapt.idle() and not adapt.in_transaction():
                    adapt.begin_pending = begin  # the BEGIN itself failed: still owed
                raise
        self._description, rows, self._rowcount, self._lastrowid = found
        self._rows = collections.deque(rows)

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._run(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Sequence[Any]) -> None:
        await self._run(operation, seq_of_parameters, many=True)


class _SQLiteConnection(AsyncAdapt_aiosqlite_connection):
    """aiosqlite's connection, with one-hand-off cursors, ``BEGIN IMMEDIATE`` deferred to the
    first statement, and no hand-off to end a transaction that is not open (the pool's
    rollback on return, a session that ran nothing) — the driver would do nothing either.

    Whether a transaction is open is read from the SQLite handle without a hand-off, and trusted
    only when no hand-off is still running (one whose awaiting task was cancelled may still be);
    otherwise the ``COMMIT``/``ROLLBACK`` is queued behind it as before."""

    __slots__ = ("_last", "begin_pending", "threaded")
    _cursor_cls = _SQLiteCursor

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self.threaded = False  # a statement of this transaction went to aiosqlite's thread
        self.begin_pending: str | None = None  # the BEGIN owed to the next statement
        self._last = [True]  # [done] of the latest hand-off, set by the worker thread

    async def hand_off(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` in aiosqlite's thread, in order with everything queued before."""
        done = [False]
        self._last = done

        def call() -> Any:
            try:
                return fn(*args)
            finally:
                done[0] = True

        return await self._connection._execute(call)

    def idle(self) -> bool:
        """No hand-off is queued or running."""
        return self._last[0]

    def may_run_inline(self) -> bool:
        """Whether a statement may run on the event loop's thread now: the session is not a bulk
        one, and aiosqlite's thread has nothing of this connection's."""
        return not _BULK.get() and self.idle() and not self._execute_mutex.locked()

    def run_inline(self, begin: str | None, operation: Any, parameters: Any) -> Any:
        """Run one statement here, on the loop's thread; ``None`` if SQLite was busy (another
        process holds the write lock): the caller then waits for it in aiosqlite's thread. The
        transaction's ``BEGIN`` is tried with no busy wait, so the loop never sleeps in SQLite's
        busy handler; the statements after it cannot meet a lock (WAL: the writer holds it and
        readers need none)."""
        conn = self._connection._conn
        started = time.perf_counter()
        try:
            if begin:
                conn.execute("PRAGMA busy_timeout=0").close()
                try:
                    conn.execute(begin).close()
                finally:
                    conn.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}").close()
            found = _run_statement(conn, None, False, operation, parameters)
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):  # incl. extended codes
                return None
            raise
        elapsed_ms = (time.perf_counter() - started) * 1000
        if elapsed_ms > INLINE_LIMIT_MS:
            _slow_on_loop(operation, elapsed_ms)
        return found

    def in_transaction(self) -> bool:
        """Whether SQLite has a transaction open (a flag of the handle: no hand-off to read it)."""
        conn = self._connection._connection
        return conn is not None and conn.in_transaction

    def _ending(self, how: str) -> tuple[Callable[[], None] | None, bool]:
        """What ends the transaction (``None``: nothing is open) and whether it may run here."""
        self.begin_pending = None
        threaded, self.threaded = self.threaded, False
        conn = self._connection._connection
        if conn is None or (self.idle() and not conn.in_transaction):
            return None, True
        return getattr(conn, how), not threaded and self.may_run_inline()

    def _end(self, how: str) -> None:
        try:
            end, here = self._ending(how)
            if end is None:
                return
            if here:
                end()
                return
            await_(self.hand_off(end))
        except Exception as error:
            self._handle_exception(error)

    async def end(self, how: str) -> None:
        """``commit`` or ``rollback`` outside SQLAlchemy (``bot/statements.py``), as ``_end`` does."""
        end, here = self._ending(how)
        if end is None:
            return
        if here:
            end()
        else:
            await self.hand_off(end)

    def commit(self) -> None:
        """Commit, if there is anything to commit."""
        self._end("commit")

    def rollback(self) -> None:
        """Roll back, if a transaction is open."""
        self._end("rollback")


class _SQLiteDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """SQLAlchemy's aiosqlite adapter, handing out :class:`_SQLiteConnection`."""

    def connect(self, *arg: Any, **kw: Any) -> _SQLiteConnection:
        """Connect as SQLAlchemy does, then wrap the aiosqlite connection in ours."""
        stock = super().connect(*arg, **kw)
        return _SQLiteConnection(self, stock._connection)


def _slow_on_loop(operation: str, elapsed_ms: float) -> None:
    """Note a statement that held the event loop longer than ``INLINE_LIMIT_MS``."""
    if operation not in _slow_once:
        if len(_slow_once) >= 10_000:  # statement texts are the code's; a bound anyway
            _slow_once.clear()
        _slow_once.add(operation)
        return
    _slow_statements.add(operation)
    log.info(
        "a SQLite statement held the event loop for %.1f ms; it runs in aiosqlite's thread from now on: %s",
        elapsed_ms,
        " ".join(str(operation)[:200].split()),
    )


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, (list, tuple)):
        return type(value)(_without_nul(v) for v in value)
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()}
    return value


def _install_postgres_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "checkout")
    def _drop_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        # Instead of ``pool_pre_ping`` (BEGIN, a ping and ROLLBACK: three round trips per
        # transaction): a connection the server closed (a restart, ``pg_terminate_backend``, an idle
        # timeout) has already told asyncpg so, and is replaced here without a round trip. One that
        # died silently fails its first statement; SQLAlchemy then recognises the disconnect and
        # replaces every pooled connection, so the next session gets a fresh one.
        driver = getattr(dbapi_connection, "_connection", None)
        if driver is not None and driver.is_closed():
            raise exc.DisconnectionError("the server closed this connection")

    @event.listens_for(engine.sync_engine, "handle_error")
    def _half_closed(context: ExceptionContext) -> None:
        # The server's farewell ("terminating connection") has been read but not yet the close:
        # asyncpg refuses the next statement with "cannot switch to state …; another operation is
        # in progress". The connection is gone all the same: treat it as a disconnect, so it is
        # replaced rather than handed out again.
        if "cannot switch to state" in str(context.original_exception):
            context.is_disconnect = True

    @event.listens_for(engine.sync_engine, "before_cursor_execute", retval=True)
    def _strip_nul(
        _conn: Connection, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> tuple[str, Any]:
        # PostgreSQL text cannot hold NUL characters; members can type them (SQLite keeps them).
        return statement, _without_nul(parameters)


_REVISION = re.compile(r"^revision\s*(?::[^=\n]*)?=\s*['\"]([^'\"]+)['\"]\s*$", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)
_DEPENDS_ON = re.compile(r"^depends_on\s*(?::[^=\n]*)?=\s*(.+?)\s*$", re.MULTILINE)
_QUOTED = re.compile(r"['\"]([^'\"]+)['\"]")


def script_heads(versions: Path = MIGRATIONS / "versions") -> frozenset[str] | None:
    """The head revisions of the migration scripts, read from their text (no Alembic import):
    every ``revision`` that is no script's ``down_revision``. ``None`` when a script is not in the
    plain form this reads (one literal ``revision``, ``down_revision`` a literal, a tuple of
    literals or ``None``, ``depends_on = None``): the caller then asks Alembic. A test checks
    that this equals Alembic's own heads."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted(versions.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        revision, down, depends = _REVISION.findall(text), _DOWN_REVISION.findall(text), _DEPENDS_ON.findall(text)
        if len(revision) != 1 or len(down) != 1 or depends not in ([], ["None"]):
            return None
        down_ids = _QUOTED.findall(down[0])
        if down[0] != "None" and _QUOTED.sub("", down[0]).strip("()[], ") != "":
            return None  # not a literal, a tuple of literals or None
        revisions.add(revision[0])
        parents.update(down_ids)
    return frozenset(revisions - parents) if revisions else None


def _current_revisions(connection: Connection) -> frozenset[str]:
    """The revisions recorded in ``alembic_version`` (empty for a database never migrated)."""
    if not inspect(connection).has_table("alembic_version"):
        return frozenset()
    return frozenset(connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at ``bot/migrations`` (and, optionally, a live connection)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(MIGRATIONS / "versions"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), "heads")
    log.info("database schema is up to date")
