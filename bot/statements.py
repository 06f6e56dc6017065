"""Statements compiled once and run straight on a pooled driver connection: the hot paths.

Through an ORM session, a statement built once still costs 0.2–0.3 ms of SQLAlchemy's execution
(the session's bind lookup, the cache key, an execution context, the result's metadata, a
greenlet per ``await``) and every session 0.3–0.5 ms more; the statement itself, on SQLite, runs
in a few µs (``bench/command_overhead.py``, ``bench/README.md``). A command of five statements spent
most of its time there. :class:`Prepared` has SQLAlchemy compile a Core statement once per
dialect — its SQL, the positional order of its parameters, and the bind and result processors
SQLAlchemy itself would apply (aware UTC datetimes, booleans) — and :meth:`Database.direct`
runs such statements in one transaction with the driver adapter SQLAlchemy uses, without the
layers in between:

- the same pool (checkout events, the PostgreSQL dead-connection check), the same queue for
  SQLite's write lock or PostgreSQL's connections as :meth:`Database.session`;
- on SQLite the same cursor as the sessions' (short statements on the loop, ``BEGIN IMMEDIATE``
  tried without a busy wait, the slow-statement rule); on PostgreSQL asyncpg's prepared-statement
  cache of SQLAlchemy's adapter;
- driver errors come out as SQLAlchemy's (``IntegrityError``, …), a lost connection is
  invalidated as SQLAlchemy would.

What it does not do, so a statement that needs it is refused when it is compiled: Python-side
defaults other than constants (a statement must bind every value it needs, or leave it to the
server), ``IN`` lists of varying length, ORM entities. Rows come back as plain tuples in the
statement's column order. The ORM session stays the way for everything else; a direct
transaction and a session never share a connection, so a direct one opened inside a session of
the same task must not write what the session holds locked.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

#: Called ``(dbapi_connection, event, sql, parameters)`` for each ``"begin"``, ``"statement"``,
#: ``"commit"`` and ``"rollback"`` of a direct transaction: the benches' statement log, as
#: SQLAlchemy's engine events are for sessions.
LISTENERS: list[Callable[[Any, str, str | None, Any], None]] = []


@dataclass(frozen=True, slots=True)
class Compiled:
    """A statement compiled for one dialect."""

    sql: str
    names: tuple[str, ...]  # the bound parameters, in the order the driver takes them
    binds: tuple[Callable[[Any], Any] | None, ...]  # per position
    results: tuple[Callable[[Any], Any] | None, ...]  # per column (empty: no rows)
    defaults: dict[str, Any]  # constant column defaults of an INSERT the statement leaves out
    construct: Callable[..., dict[str, Any]]  # every bound value: the given ones and the statement's own
    returns_rows: bool

    def args(self, params: dict[str, Any]) -> tuple[Any, ...]:
        """The driver's positional arguments for ``params``."""
        values = self.construct({**self.defaults, **params} if self.defaults else params)
        return tuple(
            value if bind is None or value is None else bind(value)
            for bind, value in zip(self.binds, (values[name] for name in self.names), strict=True)
        )

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        """One result row with the columns' result processors applied."""
        return tuple(v if p is None or v is None else p(v) for p, v in zip(self.results, raw, strict=True))


class Prepared:
    """A Core statement (``select``, ``insert``, ``update``, ``delete``, with ``RETURNING`` if need
    be) compiled once per dialect on first use; or, for a statement that differs by dialect (an
    ``INSERT … ON CONFLICT``), a function of the dialect's name that builds it. ``columns``: for an
    ``insert`` without ``.values()``, the columns the parameters give (SQLAlchemy's
    ``column_keys``)."""

    __slots__ = ("_by_dialect", "columns", "statement")

    def __init__(self, statement: Any, columns: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.columns = list(columns) if columns is not None else None
        self._by_dialect: dict[str, Compiled] = {}

    def compiled(self, dialect: Dialect) -> Compiled:
        """The statement compiled for ``dialect`` (once)."""
        found = self._by_dialect.get(dialect.name)
        if found is None:
            statement = self.statement
            if not isinstance(statement, ClauseElement):
                statement = statement(dialect.name)
            found = self._by_dialect[dialect.name] = _compile(statement, dialect, self.columns)
        return found


def _compile(statement: Any, dialect: Dialect, columns: list[str] | None) -> Compiled:
    compiled: Any = statement.compile(dialect=dialect, column_keys=columns)
    if any(b.expanding for b in compiled.binds.values()):
        raise ValueError("a direct statement cannot take an IN list of varying length")
    defaults: dict[str, Any] = {}
    for column in [*compiled.insert_prefetch, *compiled.update_prefetch]:
        default = column.default if column in compiled.insert_prefetch else column.onupdate
        if default is None or not default.is_scalar:
            raise ValueError(f"a direct statement must bind {column.key!r} (its default is computed in Python)")
        defaults[column.key] = default.arg
    names = tuple(compiled.positiontup or ())
    processors = compiled._bind_processors  # SQLAlchemy's own, as its execution applies them
    results = tuple(entry.type._cached_result_processor(dialect, None) for entry in compiled._result_columns)
    return Compiled(
        sql=compiled.string,
        names=names,
        binds=tuple(processors.get(name) for name in names),
        results=results,
        defaults=defaults,
        construct=compiled.construct_params,
        returns_rows=bool(compiled._result_columns),
    )


class Statements:
    """One direct transaction (see the module's doc); made by :meth:`Database.direct`."""

    __slots__ = ("_begin", "_dialect", "_raw", "_sqlite", "began")

    def __init__(self, raw: Any, dialect: Dialect, *, read: bool) -> None:
        self._raw = raw  # the pool's proxy of the driver connection
        self._dialect = dialect
        self._sqlite = dialect.name == "sqlite"
        self._begin = "BEGIN" if read else "BEGIN IMMEDIATE"
        self.began = False

    async def rows(self, prepared: Prepared, **params: Any) -> list[tuple[Any, ...]]:
        """Every row of ``prepared`` run with ``params``."""
        compiled, raw_rows, _ = await self._execute(prepared, params)
        return [compiled.row(r) for r in raw_rows]

    async def first(self, prepared: Prepared, **params: Any) -> tuple[Any, ...] | None:
        """The first row, or ``None``."""
        compiled, raw_rows, _ = await self._execute(prepared, params)
        return compiled.row(raw_rows[0]) if raw_rows else None

    async def scalar(self, prepared: Prepared, **params: Any) -> Any:
        """The first column of the first row, or ``None``."""
        row = await self.first(prepared, **params)
        return None if row is None else row[0]

    async def run(self, prepared: Prepared, **params: Any) -> int:
        """Run a statement for its effect; the number of rows it changed."""
        return (await self._execute(prepared, params))[2]

    async def _execute(self, prepared: Prepared, params: dict[str, Any]) -> tuple[Compiled, Sequence[Any], int]:
        compiled = prepared.compiled(self._dialect)
        args = compiled.args(params)
        adapt = self._raw.dbapi_connection
        if not self.began:
            self.began = True
            if self._sqlite:
                adapt.begin_pending = self._begin  # sent with the first statement (and owed if it fails)
            _notify(adapt, "begin", None, None)
        _notify(adapt, "statement", compiled.sql, args)
        cursor = adapt.cursor()
        try:
            if self._sqlite:
                await cursor._run(compiled.sql, args, False)
                return compiled, cursor._rows, cursor._rowcount
            await cursor._prepare_and_execute(compiled.sql, _strip_nul(args))
            return compiled, cursor._rows, cursor._rowcount
        except Exception as error:
            raise self._translated(error, compiled.sql, args, cursor) from error

    async def end(self, how: str) -> None:
        """``"commit"`` or ``"rollback"`` the transaction (nothing to do if none began)."""
        if not self.began:
            return
        adapt = self._raw.dbapi_connection
        _notify(adapt, how, None, None)
        try:
            if self._sqlite:
                await adapt.end(how)
            elif adapt._transaction is not None:
                await adapt._call_and_discard(getattr(adapt._transaction, how))
        except Exception as error:
            raise self._translated(error, how.upper(), (), None) from error

    def _translated(self, error: Exception, sql: str, args: Any, cursor: Any) -> Exception:
        """``error`` as SQLAlchemy raises it; a lost connection is invalidated (not pooled again)."""
        dbapi = self._dialect.loaded_dbapi
        if not self._sqlite and not isinstance(error, dbapi.Error):
            try:  # asyncpg's own errors, as SQLAlchemy's adapter translates them
                self._raw.dbapi_connection._handle_exception(error)
            except Exception as translated:  # the adapter raises its translation
                error = translated
        if not isinstance(error, (dbapi.Error, sqlite3.Error)):
            return error
        lost = self._dialect.is_disconnect(error, self._raw.dbapi_connection, cursor)
        if lost:
            self._raw.invalidate(error)
        return exc.DBAPIError.instance(
            sql, args, error, dbapi.Error, connection_invalidated=lost, dialect=self._dialect
        )


def _notify(adapt: Any, event: str, sql: str | None, args: Any) -> None:
    for listener in LISTENERS:
        listener(adapt, event, sql, args)


def _strip_nul(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """PostgreSQL text cannot hold NUL characters; members can type them (SQLite keeps them)."""
    if not any(isinstance(a, str) and "\x00" in a for a in args):
        return args
    return tuple(a.replace("\x00", "") if isinstance(a, str) else a for a in args)
