"""Two Kinship processes on one PostgreSQL (issue #10): one scheduler leader, failover, and no
weekly post or daily sweep ever happens twice — not even when the new leader takes over mid-day.

Each "process" is a real bot in its own SimCord world; SimCord's ids are deterministic, so the
second world has the same guild, channel and member ids, as Discord would for a second shard
process of the same bot.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import select

from bot.leadership import PostgresLeadership
from bot.models.nudges import NudgeSweep
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


# ------------------------------------------------------------ two shard processes


def _shard_process(tdb: TestDatabase, shard: int, key: int) -> Any:
    """A bot process holding ``shard`` of 2, with the standard guild on shard 0."""
    return running_world(tdb, shards=(2, (shard,)), guild_shard=0, leadership=lambda e: PostgresLeadership(e, key))


async def _other_guild(world: World) -> tuple[Any, Any, Any, Any, Any]:
    """A second guild, on shard 1 (the standard guild is on shard 0), built the same way in every
    world so that its ids match across the two "processes"."""
    env = world.env
    there = env.create_guild("There", owner=env.create_user("tess"), shard_id=1)
    dora, erin = there.add_member(env.create_user("dora")), there.add_member(env.create_user("erin"))
    channels = there.create_text_channel("check-ins"), there.create_text_channel("moderators")
    await env.settle()
    return there, dora, erin, *channels


def _bot_posts(channel: Any) -> list[Any]:
    return [m for m in channel.history() if m.author.bot]


def _cases(mods: Any) -> list[Any]:
    return [m for m in _bot_posts(mods) if m.embeds and m.embeds[0].title.startswith("Case #")]


async def _guild_jobs(world: World) -> None:
    for job in ("checkins.post", "reports.deliver", "nudges.sweep", "checkins.post"):
        assert await world.bot.scheduler.run(job, world.now()), f"{job} did not run"
        await world.env.settle()


async def test_each_shard_process_serves_its_own_guilds_once_whoever_leads(tmp_path) -> None:
    """Two processes of one bot, holding shard 0 and shard 1 of 2. The leader (process A) runs the
    guild jobs only for its own guilds — it cannot reach the other guild's channels and must not
    claim its work or report its channels missing. Process B is never the leader, yet serves its
    guild; nothing happens twice."""
    key = int.from_bytes(os.urandom(6), "big")
    async with TestDatabase.create("postgresql", tmp_path) as tdb:
        other = tdb.open()
        third_process = PostgresLeadership(other.engine, key)  # holds the lead while B runs
        try:
            async with _shard_process(tdb, 0, key) as a:
                with a.env.time_context():
                    there, dora, erin, there_checkins, there_mods = await _other_guild(a)
                    assert a.bot.get_guild(there.id) is None and a.bot.get_guild(a.guild.id) is not None
                    now = a.now()
                    for guild_id, checkins, mods in (
                        (a.guild.id, a.checkins, a.mods),
                        (there.id, there_checkins, there_mods),
                    ):
                        await a.services.guilds.update(
                            guild_id, now, checkin_channel_id=checkins.id, mod_channel_id=mods.id
                        )
                        await a.services.checkins.configure(guild_id, now, weekday=4, time="09:00")
                    for guild_id, who, whom in ((a.guild.id, a.alice, a.bob), (there.id, dora, erin)):
                        await a.services.reports.file_report(
                            guild_id, who.id, whom.id, reported_is_bot=False, reason="other", now=now, details="x"
                        )
                    await _at(a, 15, 18)
                    await _guild_jobs(a)
                    assert await a.bot.scheduler.run("privacy.retention", a.now()), "A leads: global work runs here"
                    assert a.bot.scheduler.leadership.holding
                    assert len(_posts(a)) == 1 and len(_cases(a.mods)) == 1, "A serves its own guild"
                    assert _bot_posts(there_checkins) == [] and _bot_posts(there_mods) == [], "and not B's"
                    assert [
                        r
                        for r in a.env.http_requests
                        if str(there_checkins.id) in r.path or str(there_mods.id) in r.path
                    ] == []
                    assert await a.services.health.list(there.id) == [], "B's channels are not 'missing'"
                    ids = (a.guild.id, there.id, there_checkins.id)
            assert await third_process.is_leader()
            async with _shard_process(tdb, 1, key) as b:
                with b.env.time_context():
                    there, dora, erin, there_checkins, there_mods = await _other_guild(b)
                    assert (b.guild.id, there.id, there_checkins.id) == ids
                    await _at(b, 15, 18, 30)
                    await _guild_jobs(b)
                    assert not b.bot.scheduler.leadership.holding, "B never leads"
                    assert not await b.bot.scheduler.run("privacy.retention", b.now()), (
                        "global work stays with the leader"
                    )
                    assert (
                        len([m for m in _bot_posts(there_checkins) if m.components]) == 1
                        and len(_cases(there_mods)) == 1
                    ), "B serves its guild"
                    assert _posts(b) == [] and _bot_posts(b.mods) == [], "A's guild was served, and B cannot reach it"
                    async with b.db.session() as s:
                        sweeps = (await s.exec(select(NudgeSweep).where(NudgeSweep.kind == "daily"))).all()
                    assert sorted(row.guild_id for row in sweeps) == sorted(ids[:2]), "one daily sweep per guild"
        finally:
            await third_process.release()
            await other.close()
