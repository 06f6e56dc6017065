"""Alembic environment: runs on the connection Kinship passes in (see ``bot.db``)."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from bot.models import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
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
