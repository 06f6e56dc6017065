"""Recognition rules on a real database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import InvalidInput, NotAllowed, NotFound, TryLater
from bot.services import Services, recognition
from bot.services.context import ServiceContext
from bot.services.events import CheckinAnswered, ConflictClosed, HelpResolved
from bot.services.recognition import CACHE_SECONDS, diminished
from bot.sharding import GuildScope

G = 1_100_000_000_000_000_001
A, B, C, D, E, F, H = (1_200_000_000_000_000_000 + i for i in range(7))
T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday


async def thank(services: Services, giver: int, receiver: int, now: datetime, **kw: object):
    return await services.recognition.thank(
        G, giver, receiver, reason=kw.pop("reason", "thanks"), source="thanks", now=now, **kw
    )  # type: ignore[arg-type]


def test_diminishing_curve() -> None:
    assert [diminished(10, n) for n in range(7)] == [10, 5, 3, 2, 1, 1, 1]
    assert [diminished(4, n) for n in range(5)] == [4, 2, 1, 1, 1]


async def test_self_and_bots_are_refused(services: Services) -> None:
    with pytest.raises(NotAllowed) as err:
        await thank(services, A, A, T0)
    assert err.value.key == "recognition.errors.self"
    with pytest.raises(NotAllowed) as err:
        await thank(services, A, B, T0, receiver_is_bot=True)
    assert err.value.key == "recognition.errors.bot"
    assert (await services.recognition.points(G, A, T0)).total == 0


async def test_cooldown_per_pair_and_its_expiry(services: Services) -> None:
    first = await thank(services, A, B, T0)
    assert (first.amount, first.total, first.previous) == (10, 10, 0)
    with pytest.raises(TryLater) as err:
        await thank(services, A, B, T0 + timedelta(hours=11, minutes=59))
    assert err.value.key == "recognition.errors.cooldown"
    assert err.value.retry_at == T0 + timedelta(hours=12)
    await thank(services, A, C, T0 + timedelta(minutes=1))  # another receiver is fine
    await thank(services, B, A, T0 + timedelta(minutes=2))  # so is the other direction
    again = await thank(services, A, B, T0 + timedelta(hours=12))
    assert again.previous == 2  # A→B and B→A both count towards diminishing returns
    assert again.amount == 3 and again.total == 13


async def test_daily_cap_is_a_rolling_24_hours(services: Services) -> None:
    for i, receiver in enumerate((B, C, D, E, F)):
        await thank(services, A, receiver, T0 + timedelta(hours=i))
    with pytest.raises(TryLater) as err:
        await thank(services, A, H, T0 + timedelta(hours=5))
    assert err.value.key == "recognition.errors.daily_cap"
    assert err.value.params["cap"] == 5
    assert err.value.retry_at == T0 + timedelta(hours=24)  # when the oldest of the five leaves the window
    ok = await thank(services, A, H, T0 + timedelta(hours=24))
    assert ok.amount == 10


async def test_admins_configure_amounts_and_limits(services: Services) -> None:
    conf = await services.recognition.configure(G, T0, thanks_points=20, daily_cap=1, cooldown_hours=1)
    assert (conf.thanks_points, conf.daily_cap, conf.cooldown_hours, conf.checkin_points) == (20, 1, 1, 2)
    assert (await thank(services, A, B, T0)).amount == 20
    with pytest.raises(TryLater):
        await thank(services, A, C, T0 + timedelta(hours=2))
    with pytest.raises(InvalidInput):
        await services.recognition.configure(G, T0, daily_cap=0)


async def test_settings_are_cached_per_process_and_a_change_here_is_seen_at_once(
    services: Services, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    await services.recognition.configure(G, T0, daily_cap=1)
    assert (await services.recognition.settings(G)).daily_cap == 1
    # A second process (its own services on the same database) raises the cap:
    other = Services.build(ServiceContext(db=db))
    await other.recognition.configure(G, T0, daily_cap=3)
    assert (await other.recognition.settings(G)).daily_cap == 3
    assert (await services.recognition.settings(G)).daily_cap == 1, "cached here for up to CACHE_SECONDS"
    await thank(services, A, B, T0)
    with pytest.raises(TryLater) as err:  # thank() uses the cached settings too
        await thank(services, A, C, T0 + timedelta(minutes=1))
    assert err.value.params["cap"] == 1
    later = recognition._monotonic() + CACHE_SECONDS + 1
    monkeypatch.setattr(recognition, "_monotonic", lambda: later)
    assert (await services.recognition.settings(G)).daily_cap == 3, "re-read once the cache expired"
    assert (await thank(services, A, C, T0 + timedelta(minutes=2))).amount == 10
    await services.recognition.configure(G, T0, thanks_points=20)
    assert (await thank(services, A, D, T0 + timedelta(minutes=3))).amount == 20, "a change here is seen at once"


async def test_diminishing_returns_over_thirty_days(services: Services) -> None:
    amounts = [(await thank(services, A, B, T0 + timedelta(hours=12 * i))).amount for i in range(6)]
    assert amounts == [10, 5, 3, 2, 1, 1]
    fresh = await thank(services, A, B, T0 + timedelta(hours=60, days=30, minutes=1))
    assert fresh.amount == 10 and fresh.previous == 0


async def test_revocation_is_recorded_never_deleted(services: Services) -> None:
    first = await thank(services, A, B, T0)
    await thank(services, C, B, T0)
    entry = await services.recognition.revoke(G, first.entry_id, D, "  ring   of alts ", T0 + timedelta(hours=1))
    assert entry.revoked_by == D and entry.revoke_reason == "ring of alts" and entry.amount == 10
    summary = await services.recognition.points(G, B, T0 + timedelta(hours=1))
    assert summary.total == 10
    assert {e.id for e in summary.recent} >= {first.entry_id}  # still in the ledger, marked
    assert next(e for e in summary.recent if e.id == first.entry_id).revoked_at is not None
    with pytest.raises(InvalidInput):
        await services.recognition.revoke(G, first.entry_id, D, "again", T0)
    with pytest.raises(NotFound):
        await services.recognition.revoke(G + 1, first.entry_id, D, "other guild", T0)
    # the revoked thanks still counts for the pair's cooldown
    with pytest.raises(TryLater):
        await thank(services, A, B, T0 + timedelta(hours=2))


async def test_leaderboard_rolling_windows_and_opt_out(services: Services) -> None:
    await thank(services, A, B, T0 - timedelta(days=20))
    await thank(services, A, C, T0 - timedelta(days=3))
    await thank(services, D, C, T0 - timedelta(days=2))
    await thank(services, A, D, T0 - timedelta(days=40))
    rec = services.recognition
    assert [(s.member_id, s.points) for s in await rec.leaderboard(G, "week", T0)] == [(C, 20)]
    assert [(s.member_id, s.points) for s in await rec.leaderboard(G, "month", T0)] == [(C, 20), (B, 10)]
    assert [s.member_id for s in await rec.leaderboard(G, "all", T0)] == [C, B, D]
    await rec.set_prefs(G, C, T0, hidden=True)
    assert [s.member_id for s in await rec.leaderboard(G, "all", T0)] == [B, D]
    assert (await rec.points(G, C, T0)).total == 20  # still counted
    with pytest.raises(InvalidInput):
        await rec.leaderboard(G, "year", T0)  # type: ignore[arg-type]


async def test_milestones_are_granted_once_even_after_revocation(services: Services) -> None:
    rec = services.recognition
    await rec.add_milestone(G, 15, 777, T0)
    await rec.add_milestone(G, 100, 888, T0)
    first = await thank(services, A, B, T0)
    assert first.milestones == ()
    second = await thank(services, C, B, T0)
    assert [(g.threshold, g.role_id, g.member_id) for g in second.milestones] == [(15, 777, B)]
    await rec.revoke(G, second.entry_id, D, "mistake", T0)
    third = await thank(services, D, B, T0)
    assert third.total == 20 and third.milestones == ()  # the grant row exists: never twice
    assert [m.threshold for m in await rec.milestones(G)] == [15, 100]
    await rec.remove_milestone(G, 100)
    with pytest.raises(NotFound):
        await rec.remove_milestone(G, 100)


async def test_concurrent_thanks_keep_the_cap_and_reach_each_milestone_once(services: Services) -> None:
    """Thanks arriving together (PostgreSQL runs them on several connections at once): one giver
    stays within the daily cap, and a receiver crossing a milestone by two thanks at once gets it
    once — neither transaction may judge by a total that misses the other's points."""
    import asyncio

    rec = services.recognition
    await rec.configure(G, T0, daily_cap=2)
    results = await asyncio.gather(*(thank(services, A, r, T0) for r in (B, C, D, E)), return_exceptions=True)
    assert sorted(type(r).__name__ for r in results) == ["ThanksResult", "ThanksResult", "TryLater", "TryLater"]
    await rec.add_milestone(G, 15, 777, T0)
    crossing = await asyncio.gather(thank(services, F, H, T0), thank(services, E, H, T0))
    assert sorted(r.total for r in crossing) == [10, 20]
    assert [(g.member_id, g.threshold) for r in crossing for g in r.milestones] == [(H, 15)]
    award = services.ctx.events.publish(CheckinAnswered(G, H, "2026-W10", skipped=False, at=T0))
    await asyncio.gather(award, thank(services, D, H, T0 + timedelta(days=1)))
    assert (await rec.points(G, H, T0 + timedelta(days=1))).total == 10 + 10 + 2 + 10


async def test_grants_are_claimed_once_and_failed_ones_wait_for_the_admin(services: Services) -> None:
    rec = services.recognition
    await rec.add_milestone(G, 5, 777, T0)
    result = await thank(services, A, B, T0)
    (grant,) = result.milestones
    assert [g.id for g in await rec.claim_grants(T0, ids=[grant.id])] == [grant.id]
    assert await rec.claim_grants(T0) == []  # already claimed
    assert [g.id for g in await rec.claim_grants(T0 + timedelta(minutes=11))] == [grant.id]  # stale claim
    await rec.finish_grant(grant.id, False, T0)
    assert await rec.claim_grants(T0 + timedelta(hours=1)) == []  # failed: no retry loop
    await rec.add_milestone(G, 5, 999, T0)  # the admin saves the milestone again
    (again,) = await rec.claim_grants(T0 + timedelta(hours=1))
    assert again.role_id == 999


async def test_quiet_work_awards_are_idempotent(services: Services) -> None:
    rec = services.recognition
    events = services.ctx.events
    await rec.configure(G, T0, checkin_points=3, help_points=7, conflict_points=4)
    answered = CheckinAnswered(G, A, "2026-W10", skipped=False, at=T0)
    await events.publish(answered)
    await events.publish(answered)  # re-delivered
    await events.publish(CheckinAnswered(G, B, "2026-W10", skipped=True, at=T0))
    resolved = HelpResolved(G, 42, asker_id=C, helper_ids=(A, B, C, B), at=T0)
    await events.publish(resolved)
    await events.publish(resolved)
    await events.publish(ConflictClosed(G, 5, moderator_id=D, outcome="agreement", at=T0))
    await events.publish(ConflictClosed(G, 5, moderator_id=D, outcome="agreement", at=T0))
    await events.publish(ConflictClosed(G, 6, moderator_id=D, outcome="no_agreement", at=T0))
    totals = {m: (await rec.points(G, m, T0)).total for m in (A, B, C, D)}
    assert totals == {A: 3 + 7, B: 7, C: 0, D: 4}
    (entry,) = [e for e in (await rec.points(G, D, T0)).recent]
    assert entry.giver_id is None and entry.source == "conflict"


async def test_system_awards_reach_milestones_for_the_job(services: Services) -> None:
    rec = services.recognition
    await rec.add_milestone(G, 2, 777, T0)
    await services.ctx.events.publish(CheckinAnswered(G, A, "2026-W10", skipped=False, at=T0))
    (grant,) = await rec.claim_grants(T0)
    assert (grant.member_id, grant.threshold) == (A, 2)


async def test_button_thanks_once_per_giver_and_request(services: Services) -> None:
    rec = services.recognition
    await rec.thank(G, A, B, reason="", source="help", ref=42, now=T0)
    await rec.thank(G, C, B, reason="", source="help", ref=42, now=T0)  # another giver may too
    with pytest.raises(NotAllowed) as err:
        await rec.thank(G, A, B, reason="", source="help", ref=42, now=T0 + timedelta(days=2))
    assert err.value.key == "recognition.errors.already_thanked"


async def test_private_recognition_preference(services: Services) -> None:
    await services.recognition.set_prefs(G, B, T0, private=True)
    assert (await thank(services, A, B, T0)).private
    assert not (await thank(services, A, C, T0)).private


async def test_weekly_post_once_per_week_without_hidden_members(services: Services) -> None:
    rec = services.recognition
    await services.guilds.update(G, T0, checkin_channel_id=555, timezone="Europe/Berlin", language="de")
    await rec.configure(G, T0 - timedelta(days=1), weekly_enabled=True)  # Sunday 1 March
    await thank(services, A, B, T0 + timedelta(days=1))
    await thank(services, A, C, T0 + timedelta(days=2))
    await thank(services, D, C, T0 + timedelta(days=2))
    await rec.set_prefs(G, B, T0, hidden=True)
    next_monday = datetime(2026, 3, 9, 7, 59, tzinfo=UTC)  # 08:59 in Berlin: not yet
    assert await rec.due_weekly_posts(next_monday) == []
    (post,) = await rec.due_weekly_posts(next_monday + timedelta(minutes=1))
    assert (post.week, post.channel_id, post.language) == ("2026-W10", 555, "de")
    assert [(s.member_id, s.points) for s in post.supporters] == [(C, 20)]
    assert await rec.due_weekly_posts(next_monday + timedelta(minutes=5)) == []  # claimed once
    (resumed,) = await rec.due_weekly_posts(next_monday + timedelta(hours=5))  # its sender died
    assert resumed.resumed and not post.resumed
    await rec.finish_weekly_post(G, post.week, "retry", next_monday)
    (again,) = await rec.due_weekly_posts(next_monday + timedelta(hours=6))
    assert again.week == "2026-W10"


async def test_weekly_post_starts_with_the_week_of_the_opt_in(services: Services) -> None:
    rec = services.recognition
    await thank(services, A, B, T0 - timedelta(days=3))  # in week 9
    await rec.configure(G, T0 + timedelta(days=2), weekly_enabled=True)  # enabled on Wednesday of week 10
    assert await rec.due_weekly_posts(T0 + timedelta(days=2, hours=1)) == []  # week 9 ended before the opt-in
    assert await rec.due_weekly_posts(T0 + timedelta(days=7)) == []  # week 10 had no thanks: nothing to post
    await thank(services, A, C, T0 + timedelta(days=8))
    (post,) = await rec.due_weekly_posts(T0 + timedelta(days=14))
    assert post.week == "2026-W11" and post.channel_id is None  # no channel set: the cog falls back


# ---------------------------------------------------------------------- shards (issue #10)

SHARD0, SHARD1 = GuildScope(2, frozenset({0})), GuildScope(2, frozenset({1}))
G_SHARD0, G_SHARD1 = (1_000_000 << 22) | 1, (1_000_001 << 22) | 1


async def test_a_shard_process_claims_only_its_guilds_grants(services: Services) -> None:
    rec = services.recognition
    assert SHARD0.owns(G_SHARD0) and SHARD1.owns(G_SHARD1)
    grants = {}
    for guild_id in (G_SHARD0, G_SHARD1):
        await rec.add_milestone(guild_id, 5, 777, T0)
        (grants[guild_id],) = (await rec.thank(guild_id, A, B, reason="", source="thanks", now=T0)).milestones
    assert await rec.claim_grants(T0, ids=[grants[G_SHARD1].id], scope=SHARD0) == []  # not by id either
    assert [g.guild_id for g in await rec.claim_grants(T0, scope=SHARD0)] == [G_SHARD0]
    stale = await rec.claim_grants(T0 + timedelta(hours=1), scope=SHARD0)
    assert [g.guild_id for g in stale] == [G_SHARD0], "a stale claim is taken over, still only our guild's"
    (theirs,) = await rec.claim_grants(T0, scope=SHARD1)
    assert theirs.id == grants[G_SHARD1].id, "left pending for the process holding shard 1"


async def test_a_shard_process_claims_only_its_guilds_weekly_posts(services: Services) -> None:
    rec = services.recognition
    for guild_id in (G_SHARD0, G_SHARD1):
        await rec.configure(guild_id, T0 - timedelta(days=1), weekly_enabled=True, weekly_channel_id=555)
        await rec.thank(guild_id, A, B, reason="", source="thanks", now=T0)
    monday = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
    assert [p.guild_id for p in await rec.due_weekly_posts(monday, scope=SHARD0)] == [G_SHARD0]
    assert await rec.due_weekly_posts(monday, scope=SHARD0) == []
    (theirs,) = await rec.due_weekly_posts(monday + timedelta(hours=1), scope=SHARD1)
    assert (theirs.guild_id, theirs.week) == (G_SHARD1, "2026-W10"), "untouched until its own process came"


async def test_points_totals_per_window_and_the_members_choices(services: Services) -> None:
    rec = services.recognition
    for giver, days in ((A, 40), (C, 10), (D, 2)):
        await thank(services, giver, B, T0 - timedelta(days=days))
    await thank(services, A, C, T0 - timedelta(days=1))
    points = await rec.points(G, B, T0)
    assert (points.total, points.week, points.month) == (30, 10, 20)
    assert (points.prefs.hidden, points.prefs.private) == (False, False)
    assert [e.giver_id for e in points.recent] == [D, C, A]
    await rec.set_prefs(G, B, T0, hidden=True, private=True)
    choices = (await rec.points(G, B, T0)).prefs
    assert (choices.hidden, choices.private) == (True, True)
    assert [(s.member_id, s.points) for s in await rec.leaderboard(G, "all", T0)] == [(C, 10)], "hidden: left out"
    await rec.set_prefs(G, B, T0, hidden=False)
    assert [s.member_id for s in await rec.leaderboard(G, "all", T0)] == [B, C]
    assert [s.member_id for s in await rec.leaderboard(G, "week", T0)] == [B, C]
    assert (await rec.points(G, E, T0)).total == 0, "a member nobody thanked"
