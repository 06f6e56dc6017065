"""MentorService on a real database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.services import Services

G = 1_456_074_443_980_800_001
M1, M2 = 1_456_074_443_980_800_010, 1_456_074_443_980_800_011
A, B, C, D = (1_456_074_443_980_800_020 + i for i in range(4))
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


async def _pair(services: Services, mentee: int, topic: str = "sleep", now: datetime = NOW):
    proposal = await services.mentors.find(G, mentee, topic, now)
    first = await services.mentors.accept(proposal.id, mentee, now)
    assert first.waiting_for == "mentor" and not first.started
    return proposal, await services.mentors.accept(proposal.id, proposal.mentor_id, now)


async def test_both_sides_must_accept(services: Services) -> None:
    await services.mentors.offer(G, M1, topics="Sleep, anxiety", capacity=2, timezone=None, now=NOW)
    proposal = await services.mentors.find(G, A, "sleep", NOW)
    assert proposal.mentor_id == M1 and proposal.status == "proposed"
    assert (await services.mentors.find(G, A, "sleep", NOW)).id == proposal.id  # shown again, not duplicated
    with pytest.raises(InvalidInput):
        await services.mentors.accept(proposal.id, M1, NOW)  # the mentee accepts first
    with pytest.raises(NotFound):
        await services.mentors.accept(proposal.id, B, NOW)  # not theirs
    await services.mentors.accept(proposal.id, A, NOW)
    done = await services.mentors.accept(proposal.id, M1, NOW)
    assert done.started and done.match.status == "active"
    with pytest.raises(NotAllowed):
        await services.mentors.decline(proposal.id, A, NOW)
    assert [p.id for p in await services.mentors.pairings(G, M1)] == [proposal.id]


async def test_capacity_is_never_exceeded(services: Services) -> None:
    await services.mentors.offer(G, M1, topics="sleep", capacity=1, timezone=None, now=NOW)
    _, done = await _pair(services, A)
    assert done.started
    with pytest.raises(NotFound) as err:
        await services.mentors.find(G, B, "sleep", NOW)  # M1 is full
    assert err.value.key == "mentors.errors.no_match"
    await services.mentors.end(G, A, M1, NOW)
    _, done = await _pair(services, B)
    assert done.started


async def test_capacity_is_rechecked_when_the_mentor_accepts(services: Services) -> None:
    await services.mentors.offer(G, M1, topics="sleep", capacity=2, timezone=None, now=NOW)
    p1 = await services.mentors.find(G, A, "sleep", NOW)
    p2 = await services.mentors.find(G, B, "sleep", NOW)
    await services.mentors.accept(p1.id, A, NOW)
    await services.mentors.accept(p2.id, B, NOW)
    await services.mentors.offer(G, M1, topics="sleep", capacity=1, timezone=None, now=NOW)  # less room now
    results = await asyncio.gather(services.mentors.accept(p1.id, M1, NOW), services.mentors.accept(p2.id, M1, NOW))
    assert sorted(r.started for r in results) == [False, True]
    assert [r.full for r in results if not r.started] == [True]
    assert len(await services.mentors.pairings(G, M1)) == 1


async def test_blocked_and_previous_mentors_are_not_proposed(services: Services) -> None:
    await services.mentors.offer(G, M1, topics="exams", capacity=3, timezone=None, now=NOW)
    await services.mentors.offer(G, M2, topics="exams", capacity=3, timezone=None, now=NOW + timedelta(minutes=1))
    await services.mentors.block(G, A, M1, NOW)
    assert (await services.mentors.find(G, A, "exams", NOW)).mentor_id == M2
    await services.mentors.block(G, M2, B, NOW)  # a mentor can block too
    assert (await services.mentors.find(G, B, "exams", NOW)).mentor_id == M1
    # C had M1 before (declined): next time C gets M2, then nobody.
    first = await services.mentors.find(G, C, "exams", NOW)
    assert first.mentor_id == M1
    await services.mentors.decline(first.id, C, NOW)
    second = await services.mentors.find(G, C, "exams", NOW)
    assert second.mentor_id == M2
    await services.mentors.decline(second.id, C, NOW)
    with pytest.raises(NotFound):
        await services.mentors.find(G, C, "exams", NOW)
    with pytest.raises(InvalidInput):
        await services.mentors.block(G, A, A, NOW)


async def test_time_zone_proximity_and_topics(services: Services) -> None:
    await services.mentors.offer(G, M1, topics="grief", capacity=1, timezone="America/New_York", now=NOW)
    await services.mentors.offer(G, M2, topics="grief, loss", capacity=1, timezone="Europe/Berlin", now=NOW)
    assert (await services.mentors.find(G, A, "Grief", NOW, timezone="Europe/Vienna")).mentor_id == M2
    assert (await services.mentors.find(G, B, "grief", NOW, timezone="America/Chicago")).mentor_id == M1
    with pytest.raises(NotFound):
        await services.mentors.find(G, C, "knitting", NOW)
    with pytest.raises(InvalidInput):
        await services.mentors.find(G, C, "grief", NOW, timezone="Mars/Base")


async def test_pause_leave_and_validation(services: Services) -> None:
    with pytest.raises(InvalidInput):
        await services.mentors.offer(G, M1, topics=" , ", capacity=1, timezone=None, now=NOW)
    with pytest.raises(InvalidInput):
        await services.mentors.offer(G, M1, topics="x", capacity=0, timezone=None, now=NOW)
    await services.mentors.offer(G, M1, topics="sleep", capacity=2, timezone=None, now=NOW)
    assert (await services.mentors.pause(G, M1, NOW)).status == "paused"
    with pytest.raises(NotFound):
        await services.mentors.find(G, A, "sleep", NOW)
    await services.mentors.offer(G, M1, topics="sleep", capacity=2, timezone=None, now=NOW)  # resumes
    await _pair(services, A)
    pending = await services.mentors.find(G, B, "sleep", NOW)
    assert await services.mentors.leave(G, M1, NOW) == 1  # the running pairing goes on
    with pytest.raises(NotAllowed):
        await services.mentors.accept(pending.id, B, NOW)  # the proposal lapsed
    with pytest.raises(NotFound):
        await services.mentors.pause(G, M1, NOW)


async def test_proposals_lapse(services: Services) -> None:
    await services.mentors.offer(G, M1, topics="sleep", capacity=1, timezone=None, now=NOW)
    p = await services.mentors.find(G, A, "sleep", NOW)
    with pytest.raises(InvalidInput) as err:
        await services.mentors.accept(p.id, A, NOW + timedelta(days=3))
    assert err.value.key == "mentors.errors.expired"


async def test_monthly_checkins_are_opt_in_and_once_per_month(services: Services) -> None:
    await services.mentors.offer(G, M1, topics="sleep", capacity=2, timezone=None, now=NOW)
    p, _ = await _pair(services, A)
    assert await services.mentors.claim_checkins(NOW + timedelta(days=40)) == []  # not opted in
    toggled = await services.mentors.set_checkin(p.id, A)
    assert toggled.wants_checkin(A) and not toggled.wants_checkin(M1), "each side decides for themselves"
    assert toggled.checkin_recipients == (A,)
    assert await services.mentors.claim_checkins(NOW + timedelta(days=10)) == []  # too early
    jan = datetime(2027, 1, 5, tzinfo=UTC)
    assert [m.id for m in await services.mentors.claim_checkins(jan)] == [p.id]
    assert await services.mentors.claim_checkins(jan + timedelta(days=3)) == []  # once per month
    assert [m.id for m in await services.mentors.claim_checkins(jan + timedelta(days=30))] == [p.id]  # February
    await services.mentors.end(G, M1, A, jan)
    assert await services.mentors.claim_checkins(jan + timedelta(days=60)) == []
    with pytest.raises(NotFound):
        await services.mentors.end(G, M1, A, jan)


async def test_checkins_are_claimed_per_shard(services: Services) -> None:
    from bot.sharding import GuildScope

    shard0, shard1 = GuildScope(2, frozenset({0})), GuildScope(2, frozenset({1}))
    g0, g1 = (1_000_000 << 22) | 7, (1_000_001 << 22) | 7
    pairs = {}
    for guild_id in (g0, g1):
        await services.mentors.offer(guild_id, M1, topics="sleep", capacity=2, timezone=None, now=NOW)
        p = await services.mentors.find(guild_id, A, "sleep", NOW)
        await services.mentors.accept(p.id, A, NOW)
        await services.mentors.accept(p.id, M1, NOW)
        await services.mentors.set_checkin(p.id, A)
        pairs[guild_id] = p.id
    jan = datetime(2027, 1, 5, tzinfo=UTC)
    assert [m.id for m in await services.mentors.claim_checkins(jan, scope=shard0)] == [pairs[g0]]
    assert await services.mentors.claim_checkins(jan, scope=shard0) == []
    assert [m.id for m in await services.mentors.claim_checkins(jan, scope=shard1)] == [pairs[g1]], "left untouched"
