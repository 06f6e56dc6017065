"""The database: engine, sessions, SQLite pragmas and migrations.

SQLite (the default) gets WAL, foreign keys and a busy timeout on every connection, and every
transaction starts with ``BEGIN IMMEDIATE`` so two writers queue instead of deadlocking when a
reader upgrades to a writer. PostgreSQL (asyncpg) works by changing ``DATABASE_URL`` only.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel.ext.asyncio.session import AsyncSession

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000


class Database:
    """Owns the engine and hands out sessions. Built once in ``__main__`` and passed in."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        pool_size: int = 5,
        max_overflow: int = 10,
        statement_cache: bool = True,
        schema: str | None = None,
        echo: bool = False,
    ) -> Database:
        """Create the engine for ``url``; ``schema`` (PostgreSQL only) sets the search path."""
        kwargs: dict[str, Any] = {"echo": echo}
        if url.startswith("sqlite"):
            _ensure_sqlite_dir(url)
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
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
                pool_pre_ping=True,
                connect_args=connect_args,
            )
        engine = create_async_engine(url, **kwargs)
        if engine.dialect.name == "sqlite":
            _install_sqlite_hooks(engine)
        else:
            _install_postgres_hooks(engine)
        return cls(engine)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def migrate(self) -> None:
        """Bring the schema to the latest revision (every branch head)."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade)

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


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
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, (list, tuple)):
        return type(value)(_without_nul(v) for v in value)
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()}
    return value


def _install_postgres_hooks(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "before_cursor_execute", retval=True)
    def _strip_nul(
        _conn: Connection, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> tuple[str, Any]:
        # PostgreSQL text cannot hold NUL characters; members can type them (SQLite keeps them).
        return statement, _without_nul(parameters)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at ``bot/migrations`` (and, optionally, a live connection)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", str(MIGRATIONS / "versions"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "heads")
    log.info("database schema is up to date")
