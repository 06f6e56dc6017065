"""A migrated database per test without running Alembic per test.

Running the migrations costs ~0.2 s on SQLite and ~0.7 s on PostgreSQL, in every one of a thousand
tests. Each test process migrates once instead — for real, through :meth:`Database.migrate` — and
hands out copies: on SQLite a copy of the migrated file, on PostgreSQL the statements that run
emitted, replayed into a schema in one transaction; a schema a finished test gives back is emptied
(rows deleted, sequences restarted) and handed to the next test of the process. ``tests/test_db.py`` checks that a
copy has the shape of a real migration run, and a real run against the models; the bot's own
``migrate()`` at start-up still runs and finds nothing to do.
"""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bot.db import Database

_PLACEHOLDER_SCHEMA = "kinship_template_"


@dataclass
class _Templates:
    """This test process's migrated originals, made on first use."""

    sqlite_file: Path | None = None
    postgres_script: list[tuple[str, Any, bool]] | None = None
    postgres_heads: list[str] = field(default_factory=list)
    postgres_free: list[str] = field(default_factory=list)  # clean migrated schemas to hand out again
    drop_registered: bool = False
    locks: dict[int, asyncio.Lock] = field(default_factory=dict)

    def lock(self) -> asyncio.Lock:
        # Each test has its own event loop, and a lock belongs to one loop.
        loop_id = id(asyncio.get_running_loop())
        return self.locks.setdefault(loop_id, asyncio.Lock())


_templates = _Templates()


async def copy_sqlite(target: Path) -> None:
    """Put a migrated SQLite database at ``target``."""
    async with _templates.lock():
        if _templates.sqlite_file is None:
            path = Path(tempfile.mkdtemp(prefix="kinship-template-")) / "template.db"
            database = Database.from_url(f"sqlite+aiosqlite:///{path}")
            try:
                await database.migrate()
            finally:
                await database.close()  # closing the last connection checkpoints the WAL into the file
            _templates.sqlite_file = path
    await asyncio.to_thread(shutil.copyfile, _templates.sqlite_file, target)


async def take_postgres_schema(url: str) -> str:
    """A migrated, empty schema of this process's: one a finished test gave back, else a new one."""
    if _templates.postgres_free:
        return _templates.postgres_free.pop()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = Database.from_url(url)
    try:
        async with admin.engine.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    finally:
        await admin.close()
    await fill_postgres(url, schema)
    return schema


async def give_back_postgres_schema(url: str, schema: str) -> None:
    """Empty ``schema`` for the next test (rows deleted, sequences restarted: what a new one holds),
    or drop it when that can't be done safely (its revision changed, a connection still holds a
    lock, no right to switch off foreign-key triggers)."""
    admin = Database.from_url(url, schema=schema)
    try:
        async with admin.engine.connect() as conn:
            heads = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).scalars().all()
            tables = (
                (
                    await conn.exec_driver_sql(
                        "SELECT tablename FROM pg_tables WHERE schemaname = $1 AND tablename <> 'alembic_version'",
                        (schema,),
                    )
                )
                .scalars()
                .all()
            )
            await conn.rollback()
            if sorted(heads) != _templates.postgres_heads:
                raise RuntimeError(f"schema {schema} is at {heads}, not at the template's revision")
            script = "".join(
                [
                    "BEGIN; SET LOCAL lock_timeout = '2s'; SET LOCAL session_replication_role = replica;",
                    *(f'DELETE FROM "{schema}"."{table}";' for table in tables),
                    "SELECT setval(c.oid, 1, false) FROM pg_class c WHERE c.relkind = 'S'"
                    f" AND c.relnamespace = '\"{schema}\"'::regnamespace;",
                    "COMMIT;",
                ]
            )
            raw = await conn.get_raw_connection()
            await raw.driver_connection.execute(script)  # one round trip (simple query protocol)
        if not _templates.postgres_free and not _templates.drop_registered:
            # Whoever uses the harness — pytest's workers, a bench script — drops them when it exits.
            atexit.register(lambda: asyncio.run(drop_free_postgres_schemas(url)))
            _templates.drop_registered = True
        _templates.postgres_free.append(schema)
    except Exception:
        await admin.close()
        admin = Database.from_url(url)
        async with admin.engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        await admin.close()


async def fill_postgres(url: str, schema: str) -> None:
    """Bring the empty PostgreSQL ``schema`` to the latest revision."""
    async with _templates.lock():
        if _templates.postgres_script is None:
            _templates.postgres_script = await _record_migration(url)
    database = Database.from_url(url, schema=schema)
    try:
        async with database.engine.begin() as conn:
            for recorded, parameters, many in _templates.postgres_script:
                statement = recorded.replace(_PLACEHOLDER_SCHEMA, schema)
                if many:
                    await conn.exec_driver_sql(statement, list(parameters))
                elif parameters:
                    await conn.exec_driver_sql(statement, parameters)
                else:
                    await conn.exec_driver_sql(statement)
    finally:
        await database.close()


async def _record_migration(url: str) -> list[tuple[str, Any, bool]]:
    """Migrate a scratch schema for real and keep every statement the migration sent."""
    schema = f"{_PLACEHOLDER_SCHEMA}{uuid.uuid4().hex[:8]}"
    admin = Database.from_url(url)
    async with admin.engine.begin() as conn:
        await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    script: list[tuple[str, Any, bool]] = []
    database = Database.from_url(url, schema=schema)
    try:
        async with database.engine.connect() as conn:  # the dialect's own first-connect queries, unrecorded
            await conn.exec_driver_sql("SELECT 1")

        def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
            script.append((statement.replace(schema, _PLACEHOLDER_SCHEMA), parameters, many))

        event.listen(database.engine.sync_engine, "before_cursor_execute", record)
        await database.migrate()
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)
        async with database.engine.connect() as conn:
            heads = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).scalars().all()
        _templates.postgres_heads = sorted(heads)
    finally:
        await database.close()
        async with admin.engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()
    return script


async def drop_free_postgres_schemas(url: str) -> None:
    """Drop the schemas this process kept for reuse (when it exits)."""
    if not _templates.postgres_free:
        return
    admin = Database.from_url(url)
    try:
        async with admin.engine.begin() as conn:
            for schema in _templates.postgres_free:
                await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        _templates.postgres_free.clear()
    finally:
        await admin.close()
