"""The dashboard's own state: login sessions (digests only, expiry, logout, privacy) and the
effects outbox (unique keys, leases, scope, retries)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.services import Services
from bot.services.dashboard import EFFECT_LEASE, SESSION_LIFETIME
from bot.sharding import GuildScope

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SHARD0, SHARD1 = GuildScope(2, frozenset({0})), GuildScope(2, frozenset({1}))
HERE, THERE = (1_100_000_000_000 << 22) | 7, (1_100_000_000_001 << 22) | 7
USER = 4242


async def test_a_session_lives_until_it_expires_or_logs_out(services: Services) -> None:
    d = services.dashboard
    token, opened = await d.open_session(USER, "mod", {HERE, THERE}, T0)
    assert opened.id != token and len(token) >= 40
    live = await d.session(token, T0 + SESSION_LIFETIME - timedelta(seconds=1))
    assert live is not None and live.user_id == USER and live.guild_ids == {HERE, THERE}
    assert await d.session(token, T0 + SESSION_LIFETIME) is None
    assert await d.session("not-a-token", T0) is None
    other, _ = await d.open_session(USER, "mod", set(), T0)
    await d.close_session(other)
    assert await d.session(other, T0) is None
    assert await d.session(token, T0) is not None, "logging out one browser keeps the other"
    assert await d.purge_sessions(T0 + SESSION_LIFETIME) == 1
    assert await d.session(token, T0) is None


async def test_privacy_delete_removes_the_members_sessions(services: Services) -> None:
    token, _ = await services.dashboard.open_session(USER, "mod", {HERE}, T0)
    exported = await services.privacy.export(HERE, USER)
    assert exported.get("dashboard_session"), "a member's sessions are part of their data"
    await services.privacy.delete(HERE, USER, T0)
    assert await services.dashboard.session(token, T0) is None


async def _report(services: Services, guild_id: int) -> int:
    receipt = await services.reports.file_report(guild_id, 11, 12, reported_is_bot=False, reason="rude", now=T0)
    return receipt.report_id


async def test_effects_are_queued_once_claimed_by_their_shard_and_leased(services: Services) -> None:
    d = services.dashboard
    here, there = await _report(services, HERE), await _report(services, THERE)
    assert await d.queue_effect(HERE, "refresh_case", here, T0, key="k1", actor_id=1)
    assert not await d.queue_effect(HERE, "refresh_case", here, T0, key="k1", actor_id=1), "same key: once"
    assert await d.queue_effect(THERE, "refresh_case", there, T0, key="k2", actor_id=1)
    with pytest.raises(ValueError, match="unknown effect"):
        await d.queue_effect(HERE, "launch_rockets", here, T0, key="k3")
    mine = await d.claim_effects(T0, scope=SHARD0)
    assert [(e.guild_id, e.ref_id, e.attempts) for e in mine] == [(HERE, here, 1)]
    assert await d.claim_effects(T0, scope=SHARD0) == [], "leased"
    assert await d.claim_effects(T0 + EFFECT_LEASE + timedelta(seconds=1), scope=SHARD0) != [], "lease ran out"
    theirs = await d.claim_effects(T0, scope=SHARD1)
    assert [e.guild_id for e in theirs] == [THERE]
    await d.effect_failed(theirs[0].id, T0 + timedelta(minutes=5))
    assert await d.claim_effects(T0 + timedelta(minutes=1), scope=SHARD1) == []
    again = await d.claim_effects(T0 + timedelta(minutes=5), scope=SHARD1)
    assert [e.attempts for e in again] == [2]
    await d.effect_done(again[0].id)
    assert await d.pending_effects(THERE) == 0 and await d.pending_effects(HERE) == 1
