"""ActivityService on a real database: buffered in memory, written in batches, later time wins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from bot.models.activity import InsightActivityDay, MemberActivity
from bot.services import Services
from bot.services.activity import CHUNK
from bot.services.events import MemberActive, MemberDataDeleted

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
G = 10


async def _rows(services: Services) -> int:
    async with services.activity.db.session() as s:
        return (await s.exec(select(func.count()).select_from(MemberActivity))).scalar_one()


async def test_record_only_buffers_and_flush_writes_the_latest_time(services: Services) -> None:
    joined = NOW - timedelta(days=100)
    services.activity.record(G, 1, NOW - timedelta(hours=1), joined)
    services.activity.record(G, 1, NOW)
    services.activity.record(G, 1, NOW - timedelta(hours=2))  # older events may arrive late
    services.activity.record(G, 2, NOW)
    assert await _rows(services) == 0, "no database write per event"
    assert services.activity.pending == 2

    assert await services.activity.flush(NOW) == 2
    assert services.activity.pending == 0
    one = await services.activity.get(G, 1)
    assert one is not None and one.last_active_at == NOW and one.joined_at == joined
    assert await services.activity.flush(NOW) == 0


async def test_upsert_keeps_the_later_time_and_the_known_join_date(services: Services) -> None:
    joined = NOW - timedelta(days=30)
    services.activity.record(G, 1, NOW, joined)
    await services.activity.flush()
    services.activity.record(G, 1, NOW - timedelta(days=1))  # an older event, written later
    await services.activity.flush()
    row = await services.activity.get(G, 1)
    assert row is not None and row.last_active_at == NOW and row.joined_at == joined

    rejoined = NOW + timedelta(days=1)
    services.activity.record(G, 1, NOW + timedelta(days=2), rejoined)
    await services.activity.flush()
    row = await services.activity.get(G, 1)
    assert row is not None and row.last_active_at == NOW + timedelta(days=2) and row.joined_at == rejoined


async def test_flush_writes_large_batches_in_chunks(services: Services) -> None:
    for member_id in range(CHUNK * 2 + 7):
        services.activity.record(G, member_id, NOW)
    assert await services.activity.flush() == CHUNK * 2 + 7
    assert await _rows(services) == CHUNK * 2 + 7


async def test_member_active_events_from_other_features_count(services: Services) -> None:
    await services.ctx.events.publish(MemberActive(G, 5, NOW))
    assert services.activity.buffered(G, 5) == NOW
    got = await services.activity.get(G, 5)  # reads include what is still buffered
    assert got is not None and got.last_active_at == NOW
    await services.activity.flush_now()
    assert await _rows(services) == 1


async def test_forget_deletes_rows_and_buffer(services: Services) -> None:
    services.activity.record(G, 1, NOW)
    await services.activity.flush()
    services.activity.record(G, 1, NOW + timedelta(minutes=1))
    assert await services.activity.forget(G, [1]) == 1
    assert await services.activity.get(G, 1) is None
    assert services.activity.pending == 0


async def _days(services: Services) -> list[tuple[int, datetime]]:
    async with services.activity.db.session() as s:
        rows = (await s.exec(select(InsightActivityDay.member_id, InsightActivityDay.day))).all()
    return sorted((m, d.astimezone(UTC)) for m, d in rows)


async def test_a_failed_flush_keeps_everything_for_the_next_one(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    activity = services.activity
    joined = NOW - timedelta(days=10)
    activity.record(G, 1, NOW - timedelta(days=1), joined)
    activity.record(G, 1, NOW)
    activity.record(G, 2, NOW)

    @asynccontextmanager
    async def broken() -> AsyncIterator[None]:
        raise OSError("database unreachable")
        yield

    monkeypatch.setattr(activity.db, "session", broken)
    with pytest.raises(OSError):
        await activity.flush(NOW)
    assert (activity.pending, activity.pending_days) == (2, 3)
    activity.record(G, 2, NOW + timedelta(minutes=1))  # activity while the database was away
    monkeypatch.undo()

    assert await activity.flush(NOW) == 2
    one, two = await activity.get(G, 1), await activity.get(G, 2)
    assert one is not None and one.last_active_at == NOW and one.joined_at == joined
    assert two is not None and two.last_active_at == NOW + timedelta(minutes=1)
    today, yesterday = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)
    assert await _days(services) == [(1, yesterday), (1, today), (2, today)]


async def test_times_are_kept_to_the_microsecond_and_days_are_utc_days(services: Services) -> None:
    berlin = timezone(timedelta(hours=1))
    at = datetime(2026, 3, 2, 0, 30, 0, 123456, tzinfo=berlin)  # still 1 March in UTC
    services.activity.record(G, 1, at)
    assert services.activity.buffered(G, 1) == at
    await services.activity.flush()
    got = await services.activity.get(G, 1)
    assert got is not None and got.last_active_at == at
    assert await _days(services) == [(1, datetime(2026, 3, 1, tzinfo=UTC))]


async def _flush_fails_while_member_1_is_deleted(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """``/privacy delete`` of member 1 commits while a flush waits for the database, which then fails."""

    @asynccontextmanager
    async def deleted_then_broken() -> AsyncIterator[None]:
        await services.activity.events.publish(MemberDataDeleted(guild_id=G, member_id=1, at=NOW))
        raise OSError("database unreachable")
        yield

    monkeypatch.setattr(services.activity.db, "session", deleted_then_broken)
    with pytest.raises(OSError):
        await services.activity.flush(NOW)
    monkeypatch.undo()


async def test_a_member_deleted_while_a_failed_flush_was_writing_is_not_put_back(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    activity = services.activity
    activity.record(G, 1, NOW)
    activity.record(G, 2, NOW)

    await _flush_fails_while_member_1_is_deleted(services, monkeypatch)
    assert activity.buffered(G, 1) is None and activity.buffered(G, 2) == NOW
    assert await activity.flush(NOW) == 1
    assert await activity.get(G, 1) is None and await _days(services) == [(2, datetime(2026, 3, 2, tzinfo=UTC))]


async def test_activity_after_a_deletion_survives_a_flush_that_failed_during_it(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    activity = services.activity
    activity.record(G, 1, NOW)

    await _flush_fails_while_member_1_is_deleted(services, monkeypatch)
    activity.record(G, 1, NOW + timedelta(hours=1))  # back after the deletion: new activity
    assert await activity.flush(NOW) == 1
    assert await activity.get(G, 1) is not None, "the deletion is not applied again to later activity"


async def test_a_member_deleted_while_a_flush_was_writing_is_deleted_again(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    activity, real = services.activity, services.activity.db.session
    activity.record(G, 1, NOW)
    activity.record(G, 2, NOW)
    raced: list[bool] = []

    @asynccontextmanager
    async def racing() -> AsyncIterator[object]:
        if not raced:  # the member's deletion commits while this batch waits for the database
            raced.append(True)
            await services.activity.events.publish(MemberDataDeleted(guild_id=None, member_id=1, at=NOW))
        async with real() as s:
            yield s

    monkeypatch.setattr(activity.db, "session", racing)
    assert await activity.flush(NOW) == 2
    monkeypatch.undo()
    assert await activity.get(G, 1) is None, "the batch wrote them back; the flush deleted them again"
    assert await activity.get(G, 2) is not None
    assert await _days(services) == [(2, datetime(2026, 3, 2, tzinfo=UTC))]
