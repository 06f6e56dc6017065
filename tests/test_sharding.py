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


def test_a_scope_leaves_out_unavailable_guilds() -> None:
    out, kept = _guild_on(1, 4), _guild_on(1, 4, 1)
    assert GuildScope.narrowed(None, ()) is None, "nothing unavailable, every shard: still no filter"
    mine = GuildScope(4, frozenset({1}))
    assert GuildScope.narrowed(mine, []) is mine
    scope = GuildScope.narrowed(mine, [out])
    assert scope == GuildScope(4, frozenset({1}), frozenset({out}))
    assert scope.owns(out) and not scope.serves(out), "still ours, but not served while unavailable"
    assert scope.serves(kept) and not scope.serves(_guild_on(0, 4))
    every = GuildScope.narrowed(None, [out])
    assert every is not None and every.every_shard
    assert [every.serves(g) for g in (out, kept, _guild_on(0, 4))] == [False, True, True]


async def test_the_sql_filter_leaves_out_unavailable_guilds(db: Database) -> None:
    ids = [_guild_on(s, 3, n) for s in range(3) for n in range(3)] + [2**63 - 1]
    async with db.session() as s:
        for guild_id in ids:
            s.add(GuildConfig(guild_id=guild_id, updated_at=NOW))
    many = [_guild_on(0, 3, n) for n in range(40_000)]  # over any driver's bound-parameter limit
    scopes = [
        GuildScope.narrowed(None, [ids[0], 2**63 - 1]),
        GuildScope.narrowed(GuildScope(3, frozenset({0})), [ids[0]]),
        GuildScope.narrowed(GuildScope(3, frozenset({1, 2})), [ids[3], ids[6]]),
        GuildScope.narrowed(None, many),
    ]
    for scope in scopes:
        assert scope is not None
        async with db.session() as s:
            query = select(GuildConfig.guild_id).where(
                in_scope(scope, col(GuildConfig.guild_id)), in_scope(scope, col(GuildConfig.guild_id))
            )  # twice in one statement, as a claim with a sub-query has it
            got = sorted(row[0] for row in (await s.exec(query)).all())
        assert got == sorted(g for g in ids if scope.serves(g))


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


async def test_an_unavailable_guild_is_left_out_of_guild_work_while_the_rest_goes_on(test_db) -> None:
    async with running_world(test_db) as w:
        assert w.bot.guilds_ready() and w.bot.guild_scope is None
        other = w.env.create_guild("Other")
        await w.env.settle()
        await w.guild_unavailable(w.guild)
        assert w.bot.get_guild(w.guild.id).unavailable, "kept in the cache, marked unavailable"
        assert w.bot.guilds_ready(), "one guild's outage does not hold the others' jobs"
        assert w.bot.guild_scope == GuildScope(1, frozenset({0}), frozenset({w.guild.id}))
        assert [g.id for g in w.bot.served_guilds()] == [other.id]
        assert w.bot.owns_guild(w.guild.id), "still this process's guild"
        assert await w.bot.scheduler.run("checkins.post", w.now()) is True
        await w.guild_available(w.guild)
        assert not w.bot.get_guild(w.guild.id).unavailable
        assert w.bot.guild_scope is None and len(w.bot.served_guilds()) == 2


async def test_a_shard_process_leaves_out_its_unavailable_guild_only(test_db) -> None:
    async with running_world(test_db, shards=(2, (0,)), guild_shard=0) as w:
        await w.guild_unavailable(w.guild)
        assert w.bot.guild_scope == GuildScope(2, frozenset({0}), frozenset({w.guild.id}))
        assert w.bot.dm_pacer.interval == 2 * DM_INTERVAL, "the DM share follows the shards, not outages"
        await w.guild_available(w.guild)
        assert w.bot.guild_scope == GuildScope(2, frozenset({0}))
