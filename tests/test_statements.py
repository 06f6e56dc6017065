"""Direct transactions (``bot/statements.py``): compiled once, SQLAlchemy's own type handling,
its errors, the sessions' queue, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, bindparam, exc, insert, select, update
from sqlmodel import col

from bot import db as db_module
from bot import statements
from bot.db import Database
from bot.models.checkins import CheckinAnswer, CheckinMember
from bot.statements import Prepared
from tests.test_db import _count_hand_offs

_ANSWER = CheckinAnswer.__table__
_INSERT_ANSWER = Prepared(
    insert(_ANSWER), columns=["guild_id", "member_id", "week", "skipped", "mood", "note", "shared", "answered_at"]
)
_ANSWER_OF = Prepared(
    select(col(CheckinAnswer.skipped), col(CheckinAnswer.note), col(CheckinAnswer.answered_at)).where(
        col(CheckinAnswer.guild_id) == bindparam("guild"), col(CheckinAnswer.week) == bindparam("week")
    )
)
_COUNT = Prepared(select(CheckinAnswer.id).where(col(CheckinAnswer.guild_id) == bindparam("guild")))
_MOOD_UP = Prepared(update(_ANSWER).where(_ANSWER.c.guild_id == bindparam("guild")).values(mood=_ANSWER.c.mood + 1))


def _now() -> datetime:
    return datetime.now(UTC)


def _answer(guild: int, week: str, **more: Any) -> dict[str, Any]:
    row = {"guild_id": guild, "member_id": 7, "week": week, "skipped": False, "mood": 3, "note": None}
    return {**row, "shared": False, "answered_at": datetime(2026, 12, 3, 9, 30, tzinfo=UTC), **more}


async def test_rows_come_back_with_sqlalchemys_types(db: Database) -> None:
    """Aware UTC datetimes and booleans, as a session returns them; the statement is compiled once."""
    async with db.direct() as q:
        assert await q.run(_INSERT_ANSWER, **_answer(1, "2026-W49", skipped=True, note="okay")) == 1
    async with db.direct(read=True) as q:
        skipped, note, at = await q.first(_ANSWER_OF, guild=1, week="2026-W49")  # type: ignore[misc]
    assert skipped is True and note == "okay"
    assert at == datetime(2026, 12, 3, 9, 30, tzinfo=UTC) and at.tzinfo is not None
    async with db.session() as s:  # what a session sees is the same row
        row = (await s.exec(select(CheckinAnswer).where(CheckinAnswer.guild_id == 1))).one()  # type: ignore[call-overload]
        assert (row[0].skipped, row[0].answered_at) == (True, at)
    compiled = _ANSWER_OF.compiled(db.engine.dialect)
    assert _ANSWER_OF.compiled(db.engine.dialect) is compiled


async def test_a_naive_datetime_is_refused_as_in_a_session(db: Database) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        async with db.direct() as q:
            await q.run(_INSERT_ANSWER, **_answer(1, "2026-W49", answered_at=datetime(2026, 12, 3)))  # noqa: DTZ001


async def test_an_error_rolls_back_the_whole_transaction_and_comes_out_as_sqlalchemys(db: Database) -> None:
    async with db.direct() as q:
        await q.run(_INSERT_ANSWER, **_answer(2, "2026-W48"))
    with pytest.raises(exc.IntegrityError):
        async with db.direct() as q:
            await q.run(_INSERT_ANSWER, **_answer(2, "2026-W49"))  # written, then rolled back
            await q.run(_INSERT_ANSWER, **_answer(2, "2026-W48"))  # the same member's week again
    async with db.direct(read=True) as q:
        assert len(await q.rows(_COUNT, guild=2)) == 1
    with pytest.raises(RuntimeError, match="not ours"):
        async with db.direct() as q:
            await q.run(_MOOD_UP, guild=2)
            raise RuntimeError("not ours")
    async with db.direct() as q:  # the connection is fine afterwards, and the update was undone
        assert await q.run(_MOOD_UP, guild=2) == 1
        assert await q.scalar(Prepared(select(col(CheckinAnswer.mood)).where(col(CheckinAnswer.guild_id) == 2))) == 4


def test_statements_the_direct_path_cannot_run_are_refused_when_compiled(db: Database) -> None:
    table = Table("probe", MetaData(), Column("id", Integer, primary_key=True), Column("at", DateTime, default=_now))
    computed = Prepared(insert(table), columns=["id"])  # ``at`` would be computed in Python
    with pytest.raises(ValueError, match="must bind 'at'"):
        computed.compiled(db.engine.dialect)
    listed = Prepared(select(CheckinAnswer.id).where(col(CheckinAnswer.week).in_(bindparam("weeks", expanding=True))))
    with pytest.raises(ValueError, match="IN list"):
        listed.compiled(db.engine.dialect)


async def test_constant_defaults_are_filled_in(db: Database) -> None:
    """A column with a constant Python default (``dm_closed=False``) needs no parameter."""
    member = Prepared(
        insert(CheckinMember.__table__), columns=["guild_id", "member_id", "updated_at", "reminders", "buddies"]
    )
    now = datetime.now(UTC)
    async with db.direct() as q:
        await q.run(member, guild_id=3, member_id=9, updated_at=now, reminders=True, buddies=False)
    async with db.session() as s:
        row = (await s.exec(select(CheckinMember).where(CheckinMember.guild_id == 3))).one()  # type: ignore[call-overload]
        assert row[0].dm_closed is False and row[0].reminders is True


async def test_sqlite_direct_writers_queue_for_the_write_lock_and_readers_do_not(db: Database) -> None:
    """Many direct writers at once neither deadlock nor lose an update (they queue as sessions
    do), and a direct read runs while a writer holds the lock."""
    async with db.direct() as q:
        await q.run(_INSERT_ANSWER, **_answer(4, "2026-W49", mood=0))

    async def bump() -> None:
        async with db.direct() as q:
            await q.run(_MOOD_UP, guild=4)
            await asyncio.sleep(0)  # another task gets the loop while this one holds the lock

    await asyncio.wait_for(asyncio.gather(*(bump() for _ in range(20))), 30)
    mood = Prepared(select(col(CheckinAnswer.mood)).where(col(CheckinAnswer.guild_id) == bindparam("guild")))
    async with db.direct(read=True) as q:
        assert await q.scalar(mood, guild=4) == 20
    if db.dialect != "sqlite":
        return
    async with db.direct() as writer:
        await writer.run(_MOOD_UP, guild=4)
        async with db.direct(read=True) as reader:  # sees the last commit, not the open write
            assert await reader.scalar(mood, guild=4) == 20


async def test_sqlite_direct_statements_run_on_the_loop_without_a_hand_off(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite only")
    monkeypatch.setattr(db_module, "INLINE_LIMIT_MS", 10_000.0)
    monkeypatch.setattr(db_module, "_slow_statements", set())
    calls = _count_hand_offs(monkeypatch)
    async with db.direct() as q:
        await q.run(_INSERT_ANSWER, **_answer(5, "2026-W49"))
    async with db.direct(read=True) as q:
        assert await q.first(_ANSWER_OF, guild=5, week="2026-W49") is not None
    assert calls == []


async def test_listeners_see_each_transaction_and_its_statements(db: Database) -> None:
    seen: list[tuple[str, str | None]] = []

    def listen(_conn: Any, what: str, sql: str | None, _params: Any) -> None:
        seen.append((what, sql and sql.split()[0]))

    statements.LISTENERS.append(listen)
    try:
        async with db.direct() as q:
            await q.run(_INSERT_ANSWER, **_answer(6, "2026-W49"))
            await q.rows(_COUNT, guild=6)
        async with db.direct(read=True):
            pass  # no statement: no transaction either
    finally:
        statements.LISTENERS.remove(listen)
    assert seen == [("begin", None), ("statement", "INSERT"), ("statement", "SELECT"), ("commit", None)]


async def test_text_with_nul_characters_is_stored_on_both_databases(db: Database) -> None:
    """PostgreSQL text cannot hold NUL; members can type it, so it is dropped there (as sessions do)."""
    async with db.direct() as q:
        await q.run(_INSERT_ANSWER, **_answer(7, "2026-W49", note="a\x00b"))
        _, note, _ = await q.first(_ANSWER_OF, guild=7, week="2026-W49")  # type: ignore[misc]
    assert note == ("a\x00b" if db.dialect == "sqlite" else "ab")


async def test_a_cancelled_direct_transaction_leaves_nothing_open(db: Database) -> None:
    started = asyncio.Event()

    async def writer() -> None:
        async with db.direct() as q:
            await q.run(_INSERT_ANSWER, **_answer(8, "2026-W49"))
            started.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(writer())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with db.direct() as q:  # the lock was released and the insert rolled back
        assert await q.rows(_COUNT, guild=8) == []
        await q.run(_INSERT_ANSWER, **_answer(8, "2026-W50"))
