"""``by_key``: one row by its primary key, as ``session.get`` finds it."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.db import Database
from bot.models.guild import GuildConfig
from bot.services.rows import by_key


async def test_by_key_finds_the_row_session_get_finds(db: Database) -> None:
    async with db.session() as s:
        s.add(GuildConfig(guild_id=41, language="de", updated_at=datetime.now(UTC)))
    async with db.read() as s:
        row = await by_key(s, GuildConfig, 41)
        assert row is not None and row.language == "de"
        assert row is await s.get(GuildConfig, 41)  # the same instance in the session
        assert await by_key(s, GuildConfig, 42) is None
