"""Alembic environment: runs on the connection Kinship passes in (see ``bot.db``)."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from bot.models import metadata

config = context.config

# Full-text search tables (SQLite FTS5 and its shadow tables, PostgreSQL's GIN index) are made by
# hand in migrations and are not SQLModel tables: autogenerate must leave them alone.
_FTS = ("_fts", "_fts_data", "_fts_idx", "_fts_content", "_fts_docsize", "_fts_config")


def _include_name(name: str | None, type_: str, _parents: object) -> bool:
    if not name:
        return True
    return not ((type_ == "table" and name.endswith(_FTS)) or (type_ == "index" and name.endswith("_fts")))


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=_include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_url(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # the alembic CLI: `alembic -c bot/migrations/alembic.ini revision --autogenerate`
    asyncio.run(_run_from_url(os.environ.get("DATABASE_URL", "sqlite+aiosqlite:///data/kinship.db")))
