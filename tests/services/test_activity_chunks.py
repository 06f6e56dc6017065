"""A big activity flush writes one chunk per transaction (issue #16): it never holds the database
for the whole guild, and a failure half-way leaves no deleted member's data behind."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.models.activity import MemberActivity
from bot.services import Services
from bot.services.activity import CHUNK
from bot.services.events import MemberDataDeleted

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
G = 10


async def _rows(services: Services) -> int:
    async with services.activity.db.session() as s:
        return (await s.exec(select(func.count()).select_from(MemberActivity))).scalar_one()


async def test_a_session_waiting_during_a_big_flush_runs_between_its_chunks(services: Services) -> None:
    if services.activity.db.dialect != "sqlite":
        pytest.skip("SQLite: this process's sessions take turns (PostgreSQL runs them side by side)")
    for member in range(4 * CHUNK):
        services.activity.record(G, member, NOW)
    flush = asyncio.create_task(services.activity.flush(NOW))
    await asyncio.sleep(0)  # the flush starts and takes its turn for the first chunk
    seen = await _rows(services)  # queued behind that chunk, not behind the whole flush
    assert await flush == 4 * CHUNK
    assert 0 < seen < 4 * CHUNK, "the waiting session ran while the flush was still writing"
    assert await _rows(services) == 4 * CHUNK


async def test_a_member_deleted_between_chunks_of_a_flush_that_then_fails_is_not_left_written(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    activity, real = services.activity, services.activity.db.session
    for member in range(1, CHUNK + 1):  # the first chunk
        activity.record(G, 1000 + member, NOW)
    activity.record(G, 1, NOW)  # member 1 is in the second chunk
    for member in range(1, CHUNK + 1):  # and a third chunk, which fails
        activity.record(G, 2000 + member, NOW)
    calls: list[int] = []

    @asynccontextmanager
    async def deleted_then_broken() -> AsyncIterator[object]:
        calls.append(1)
        if len(calls) == 2:  # /privacy delete of member 1 commits before the second chunk
            monkeypatch.setattr(activity.db, "session", real)
            await activity.events.publish(MemberDataDeleted(guild_id=G, member_id=1, at=NOW))
            monkeypatch.setattr(activity.db, "session", deleted_then_broken)
        if len(calls) == 3:
            raise OSError("database unreachable")
        async with real() as s:
            yield s

    monkeypatch.setattr(activity.db, "session", deleted_then_broken)
    with pytest.raises(OSError):
        await activity.flush(NOW)
    monkeypatch.undo()
    assert await activity.get(G, 1) is None, "written by the second chunk after the deletion, then deleted again"
    assert activity.buffered(G, 1) is None
    assert await activity.flush(NOW) == 2 * CHUNK, "everyone else is written by the next flush"
    assert await activity.get(G, 1) is None and await _rows(services) == 2 * CHUNK
