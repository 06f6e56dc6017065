"""The reports outbox with several shard processes (issue #10): each claims only its guilds' reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.services import Services
from bot.services.reports import LEASE
from bot.sharding import GuildScope

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SHARD0, SHARD1 = GuildScope(2, frozenset({0})), GuildScope(2, frozenset({1}))
#: A guild on shard 0 and one on shard 1 (of 2), both beyond 2**62 as real ids are.
HERE, THERE = (1_100_000_000_000 << 22) | 7, (1_100_000_000_001 << 22) | 7


async def _file(services: Services, guild_id: int) -> int:
    receipt = await services.reports.file_report(guild_id, 11, 12, reported_is_bot=False, reason="rude", now=T0)
    return receipt.report_id


async def test_each_process_sees_and_claims_only_its_own_guilds_reports(services: Services) -> None:
    assert SHARD0.owns(HERE) and SHARD1.owns(THERE)
    here, there = await _file(services, HERE), await _file(services, THERE)
    reports = services.reports
    assert await reports.due_deliveries(T0, scope=SHARD0) == [here]
    assert await reports.due_deliveries(T0, scope=SHARD1) == [there]
    assert await reports.due_deliveries(T0) == [here, there], "a process holding every shard sees both"

    assert await reports.claim_delivery(there, T0, scope=SHARD0) is None, "not this process's guild"
    case = await reports.case_by_id(THERE, there)
    assert (case.report.delivery, case.report.mod_message_id) == ("pending", None), "left untouched"
    claim = await reports.claim_delivery(here, T0, scope=SHARD0)
    assert claim is not None and claim.attempts == 1 and claim.case.report.guild_id == HERE

    # Shard 0's process keeps looking, even after the lease: shard 1's report is still shard 1's.
    later = T0 + LEASE + timedelta(seconds=1)
    assert there not in await reports.due_deliveries(later, scope=SHARD0)
    assert await reports.claim_delivery(there, later, scope=SHARD0) is None
    other = await reports.claim_delivery(there, later, scope=SHARD1)
    assert other is not None and other.attempts == 1, "the owning process claims it as if first"
    assert await reports.mark_delivered(there, 77, 88, later) == 88
    assert await reports.undelivered(THERE) == 0 and await reports.undelivered(HERE) == 1
