"""Quiet-member prompts with several shard processes (issue #10): each claims only its guilds' prompts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.db import Database
from bot.services import Services
from bot.services.context import ServiceContext
from bot.services.nudges import RESEND_WINDOW
from bot.sharding import GuildScope

DAY0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SWEEP = datetime(2026, 3, 20, 18, 0, tzinfo=UTC)
SHARD0, SHARD1 = GuildScope(2, frozenset({0})), GuildScope(2, frozenset({1}))
HERE, THERE = (1_100_000_000_000 << 22) | 7, (1_100_000_000_001 << 22) | 7


async def _plan(services: Services, guild_id: int, *member_ids: int) -> None:
    for member_id in member_ids:
        await services.nudges.opt_in(guild_id, member_id, DAY0)
        services.activity.record(guild_id, member_id, DAY0)
    await services.activity.flush()
    result = await services.nudges.sweep(guild_id, SWEEP)
    assert result is not None and result.planned == len(member_ids)


async def _states(services: Services, guild_id: int, member_id: int) -> list[str]:
    return [n.state for n in await services.nudges.history(guild_id, member_id)]


async def test_a_process_claims_only_prompts_of_its_own_guilds(db: Database, services: Services) -> None:
    assert SHARD0.owns(HERE) and SHARD1.owns(THERE)
    await _plan(services, HERE, 1)
    await _plan(services, THERE, 2, 3)
    nudges = services.nudges  # shard 0's process
    theirs = Services.build(ServiceContext(db=db)).nudges  # shard 1's process, on the same database

    first = await nudges.claim(SWEEP, scope=SHARD0)
    assert first is not None and (first.guild_id, first.member_id) == (HERE, 1)
    await nudges.mark_sent(first.nudge_id, 500, SWEEP)
    assert await nudges.claim(SWEEP, scope=SHARD0) is None, "the rest belong to shard 1's process"
    assert await _states(services, THERE, 2) == ["planned"] and await _states(services, THERE, 3) == ["planned"]

    # Shard 1's process claims one and dies mid-send. Shard 0's process neither re-sends it nor,
    # long after, records it as lost: that is for the owning process to decide.
    lost = await theirs.claim(SWEEP, scope=SHARD1)
    assert lost is not None and lost.guild_id == THERE
    much_later = SWEEP + RESEND_WINDOW * 3
    assert await nudges.claim(much_later, scope=SHARD0) is None
    assert await _states(services, THERE, lost.member_id) == ["sending"]

    owner = await theirs.claim(much_later, scope=SHARD1)
    assert owner is not None and owner.guild_id == THERE and owner.member_id != lost.member_id
    assert await _states(services, THERE, lost.member_id) == ["unknown"], "the owning process closes it"


async def test_the_wake_up_time_follows_only_this_process_s_prompts(services: Services) -> None:
    await _plan(services, THERE, 2)
    nudges = services.nudges
    assert await nudges.claim(SWEEP, scope=SHARD0) is None
    # Shard 0 has nothing pending, so it does not look again until something of its own is planned.
    assert nudges._wake_at is None
    await _plan(services, HERE, 1)
    prompt = await nudges.claim(SWEEP + timedelta(seconds=2), scope=SHARD0)
    assert prompt is not None and prompt.guild_id == HERE
