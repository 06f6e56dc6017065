"""Which guilds a process serves (issue #10): Discord's shard formula, in Python and in SQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlmodel import col

from bot.db import Database
from bot.models.guild import GuildConfig
from bot.retry import DM_INTERVAL
from bot.sharding import GuildScope, in_scope, shard_of
from tests.harness.world import running_world

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def _guild_on(shard: int, count: int, n: int = 0) -> int:
    return ((1_000_000 + n * count + shard) << 22) | 12345


def test_a_process_holding_every_shard_needs_no_scope() -> None:
    assert GuildScope.of(None, None) is None
    assert GuildScope.of(4, None) is None
    assert GuildScope.of(2, (1, 0)) is None
    scope = GuildScope.of(4, (1, 3))
    assert scope == GuildScope(4, frozenset({1, 3}))
    assert [scope.owns(_guild_on(s, 4)) for s in range(4)] == [False, True, False, True]
    assert shard_of(_guild_on(3, 4), 4) == 3


async def test_the_sql_filter_matches_the_python_one(db: Database) -> None:
    ids = [_guild_on(s, 3, n) for s in range(3) for n in range(3)] + [2**63 - 1]
    async with db.session() as s:
        for guild_id in ids:
            s.add(GuildConfig(guild_id=guild_id, updated_at=NOW))
    for scope in (GuildScope(3, frozenset({0})), GuildScope(3, frozenset({1, 2})), None):
        async with db.session() as s:
            rows = await s.exec(select(GuildConfig.guild_id).where(in_scope(scope, col(GuildConfig.guild_id))))
            got = sorted(row[0] for row in rows.all())
        assert got == sorted(g for g in ids if scope is None or scope.owns(g))


async def test_a_bot_started_with_shard_ids_knows_its_guilds(test_db) -> None:
    async with running_world(test_db, shards=(2, (0,)), guild_shard=1) as w:
        assert w.bot.guild_scope == GuildScope(2, frozenset({0}))
        assert w.bot.scheduler.shard_local
        assert w.bot.dm_pacer.interval == 2 * DM_INTERVAL, "half the shards, half the bot's DM pace"
        assert not w.bot.owns_guild(w.guild.id) and w.bot.get_guild(w.guild.id) is None
        here = w.env.create_guild("Here", shard_id=0)
        await w.env.settle()
        assert w.bot.owns_guild(here.id) and w.bot.get_guild(here.id) is not None


async def test_a_guild_on_another_shard_is_named_over_rest_once(test_db) -> None:
    async with running_world(test_db, shards=(2, (0,)), guild_shard=1) as w:
        assert await w.bot.guild_name(w.guild.id) == "Kinship Test"
        assert await w.bot.guild_name(w.guild.id) == "Kinship Test"
        assert len(w.requests("GET", f"/guilds/{w.guild.id}")) == 1, "remembered after the first time"
        await w.advance(2 * 3600)
        assert await w.bot.guild_name(w.guild.id) == "Kinship Test"
        assert len(w.requests("GET", f"/guilds/{w.guild.id}")) == 2, "asked again after an hour (renames)"
        here = w.env.create_guild("Here", shard_id=0)
        await w.env.settle()
        assert await w.bot.guild_name(here.id) == "Here"
        assert w.requests("GET", f"/guilds/{here.id}") == [], "a guild of ours comes from the cache"


async def test_a_send_to_a_guild_on_another_shard_goes_by_id_and_health_stays_true(test_db) -> None:
    from bot.delivery import send_with_health

    async with running_world(test_db, shards=(2, (0,)), guild_shard=1) as w:
        with w.env.time_context():
            sent = await send_with_health(
                w.bot, w.guild.id, w.mods.id, problem_key="probe", now=w.now(), content="hello @everyone"
            )
            assert sent is not None and [m.content for m in w.mods.history()] == ["hello @everyone"]
            gone = 999_999_999_999
            assert (
                await send_with_health(w.bot, w.guild.id, gone, problem_key="probe", now=w.now(), content="x") is None
            )
            problems = await w.services.health.list(w.guild.id)
            assert [p.code for p in problems] == ["channel_missing"], "a deleted channel is still reported"


async def test_guild_work_waits_while_a_guild_of_ours_is_unavailable(test_db) -> None:
    async with running_world(test_db) as w:
        assert w.bot.guilds_ready()
        guild = w.bot.get_guild(w.guild.id)
        guild.unavailable = True  # as discord.py marks it after a shard re-identifies, until GUILD_CREATE
        try:
            assert not w.bot.guilds_ready()
            assert await w.bot.scheduler.run("checkins.post", w.now()) is False
            assert await w.bot.scheduler.run("privacy.retention", w.now()) is True
            await w.advance(11 * 60)
            assert w.bot.guilds_ready(), "a long outage of one guild does not hold the others up for ever"
        finally:
            guild.unavailable = False
        assert await w.bot.scheduler.run("checkins.post", w.now()) is True
