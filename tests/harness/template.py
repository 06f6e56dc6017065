"""A migrated database per test without running Alembic per test.

Running the migrations costs ~0.2 s on SQLite and ~0.7 s on PostgreSQL, in every one of a thousand
tests. Each test process migrates once instead — for real, through :meth:`Database.migrate` — and
hands out copies: on SQLite a copy of the migrated file, on PostgreSQL the statements that run
emitted, replayed into the test's own schema in one transaction. ``tests/test_db.py`` checks that a
copy has the shape of a real migration run, and a real run against the models; the bot's own
``migrate()`` at start-up still runs and finds nothing to do.
"""

from __future__ import annotations

import asyncio
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
    finally:
        await database.close()
        async with admin.engine.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        await admin.close()
    return script
