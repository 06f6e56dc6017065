"""Buddy pairing for a big guild (issue #16): the groups are made outside the database
transaction, and the round is claimed and written once even when two callers pair at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import pytest

from bot.services import Services, checkins
from bot.services.context import ServiceContext
from tests.services.test_checkins import G, configured, post_now

BUDDIES = 301  # odd: one trio


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def test_two_callers_pairing_at_once_make_one_round_with_every_buddy_once(services: Services) -> None:
    await configured(services, buddy_weeks=1)
    for member in range(1, BUDDIES + 1):
        await services.checkins.set_buddies(G, member, True, utc(2026, 1, 1))
    await post_now(services, utc(2026, 1, 5, 10))
    other = Services.build(ServiceContext(db=services.checkins.db))  # a second process's services
    made = await asyncio.gather(
        services.checkins.pair_buddies(utc(2026, 1, 5, 10, 1)),
        other.checkins.pair_buddies(utc(2026, 1, 5, 10, 1)),
    )
    assert sorted(made) == [0, 1], "one caller claims the round; the other writes nothing"
    groups = await services.checkins.buddy_groups(G, "2026-W02")
    seen = Counter(member for group in groups for member in group)
    assert set(seen) == set(range(1, BUDDIES + 1)) and set(seen.values()) == {1}
    assert sorted(len(g) for g in groups) == [2] * (BUDDIES // 2 - 1) + [3]
    intros = await services.checkins.pending_intros(utc(2026, 1, 5, 10, 2), 0)
    assert {tuple(sorted(i.member_ids)) for i in intros} <= {tuple(sorted(g)) for g in groups}


async def test_a_round_written_in_many_statements_keeps_every_group_whole(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The round's rows go in statements of ``WRITE_CHUNK``; across statement boundaries every
    group keeps its members (301 buddies: 151 groups and 301 members in chunks of 7)."""
    monkeypatch.setattr(checkins, "WRITE_CHUNK", 7)
    await configured(services, buddy_weeks=1)
    for member in range(1, BUDDIES + 1):
        await services.checkins.set_buddies(G, member, True, utc(2026, 1, 1))
    await post_now(services, utc(2026, 1, 5, 10))
    assert await services.checkins.pair_buddies(utc(2026, 1, 5, 10, 1)) == 1
    groups = await services.checkins.buddy_groups(G, "2026-W02")
    members = sorted(m for g in groups for m in g)
    assert members == list(range(1, BUDDIES + 1))
    plan = checkins.make_groups(list(range(1, BUDDIES + 1)), set(), f"{G}:2026-W02")
    assert sorted(tuple(sorted(g)) for g in groups) == sorted(plan)  # the groups that were made, unmixed
