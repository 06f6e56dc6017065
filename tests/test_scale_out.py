"""Two Kinship processes on one PostgreSQL (issue #10): one scheduler leader, failover, and no
weekly post or daily sweep ever happens twice — not even when the new leader takes over mid-day.

Each "process" is a real bot in its own SimCord world; SimCord's ids are deterministic, so the
second world has the same guild, channel and member ids, as Discord would for a second shard
process of the same bot.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from bot.leadership import PostgresLeadership
from tests.harness.world import PG_ENV, TestDatabase, World, running_world

pytestmark = pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"needs PostgreSQL ({PG_ENV})")

START = datetime(2026, 1, 1, tzinfo=UTC)  # SimCord epoch; day 15 is Friday 16 January


async def _at(world: World, day: int, hour: int, minute: int = 0) -> None:
    target = START.timestamp() + day * 86400 + hour * 3600 + minute * 60 - world.now().timestamp()
    world.env.backend.clock.advance(max(0.0, target))
    await world.env.settle()


async def _clockwork(world: World) -> None:
    """Everything the clock would run around 18:00 (check-in post, flush, sweep, deliveries)."""
    for job in ("checkins.post", "activity.flush", "nudges.sweep"):
        assert await world.bot.scheduler.run(job, world.now()), f"{job} did not run"
        await world.env.settle()
    for _ in range(4):
        await world.bot.scheduler.run("nudges.deliver", world.now())
        await world.advance(2)


def _posts(world: World) -> list:
    return [m for m in world.checkins.history() if m.author.bot and m.components]


def _dms(world: World) -> list:
    return [m for m in world.alice.user.dm_channel.history() if m.author.bot]


async def test_one_leader_posts_and_sweeps_once_and_the_next_leader_does_not_repeat(tmp_path) -> None:
    key = int.from_bytes(os.urandom(6), "big")

    def leadership(engine):
        return PostgresLeadership(engine, key)

    async with TestDatabase.create("postgresql", tmp_path) as tdb:
        other = tdb.open()
        second_process = PostgresLeadership(other.engine, key)
        try:
            async with running_world(tdb, leadership=leadership) as a:
                with a.env.time_context():
                    await a.configure(checkin_channel_id=a.checkins.id, mod_channel_id=a.mods.id)
                    await a.services.checkins.configure(a.guild.id, a.now(), weekday=4, time="09:00")
                    r = await a.alice.slash(a.general, "nudges on")
                    assert r.ephemeral
                    await _at(a, 15, 18)
                    await _clockwork(a)
                    assert len(_posts(a)) == 1, "the leader posts this week's check-in"
                    assert len(_dms(a)) == 1, "and prompts the quiet member who opted in"
                    assert await second_process.is_leader() is False, "only one leader at a time"
                    ids = (a.guild.id, a.checkins.id, a.alice.id)
            # Process A is gone (its connection closed): the lock is free again.
            async with running_world(tdb, leadership=leadership) as b:
                with b.env.time_context():
                    assert (b.guild.id, b.checkins.id, b.alice.id) == ids
                    await _at(b, 15, 18, 30)
                    await _clockwork(b)
                    assert b.bot.scheduler.leadership.holding, "the new process took over"
                    assert await second_process.is_leader() is False
                    assert _posts(b) == [], "the week's check-in was already posted"
                    assert _dms(b) == [], "nobody is prompted twice"
        finally:
            await second_process.release()
            await other.close()
