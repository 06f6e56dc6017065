"""Commands that only read do not wait for a writer (issue #16): on SQLite their sessions are
``db.read()`` snapshots, which do not queue behind the write session holding the turn (an
activity flush chunk, a buddy round, a weekly post)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.models.guild import GuildConfig
from bot.services import Services

G, M = 1, 2
NOW = datetime(2026, 3, 16, 12, tzinfo=UTC)

READS: dict[str, Callable[[Services], Awaitable[Any]]] = {
    "points": lambda s: s.recognition.points(G, M, NOW),
    "leaderboard": lambda s: s.recognition.leaderboard(G, "all", NOW),
    "help open requests": lambda s: s.help.open_requests(G, M),
    "check-in history": lambda s: s.checkins.history(G, M, NOW),
    "check-in schedule": lambda s: s.checkins.get_schedule(G),
    "guild settings": lambda s: s.guilds.get(G),
    "guild problems": lambda s: s.health.list(G),
    "stats": lambda s: s.insights.report(G, now=NOW, days=30),
}


@pytest.mark.parametrize("name", READS)
async def test_a_read_answers_while_a_write_session_holds_the_database(services: Services, name: str) -> None:
    writing, done = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with services.ctx.db.session() as s:
            s.add(GuildConfig(guild_id=G + 1, updated_at=NOW))
            await s.flush()  # SQLite's write lock and this process's turn are held
            writing.set()
            await done.wait()

    task = asyncio.create_task(writer())
    try:
        await writing.wait()
        await asyncio.wait_for(READS[name](services), 10)  # the timeout only guards a deadlock
    finally:
        done.set()
        await task
