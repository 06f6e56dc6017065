"""NudgeService on a real database: who is quiet, who may be prompted, and that nothing happens twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import InvalidInput, NotFound
from bot.services import Services
from bot.services.nudges import DM_PAUSE, MAX_ATTEMPTS, RESEND_WINDOW, Policy

G = 77
DAY0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday
SWEEP = datetime(2026, 3, 20, 18, 0, tzinfo=UTC)  # 18 days later, at the default sweep hour


async def _active(services: Services, member_id: int, at: datetime, joined: datetime | None = None) -> None:
    services.activity.record(G, member_id, at, joined)
    await services.activity.flush()


async def _opted_in(services: Services, *member_ids: int, at: datetime = DAY0) -> None:
    for member_id in member_ids:
        await services.nudges.opt_in(G, member_id, at)
        await _active(services, member_id, at)


async def _send_all(services: Services, now: datetime) -> list[int]:
    sent = []
    while (prompt := await services.nudges.claim(now)) is not None:
        await services.nudges.mark_sent(prompt.nudge_id, 1000 + prompt.nudge_id, now)
        sent.append(prompt.member_id)
    return sent


async def test_only_quiet_opted_in_members_are_planned(services: Services) -> None:
    await _opted_in(services, 1, 2, 3)
    await _active(services, 2, SWEEP - timedelta(days=3))  # not quiet
    await services.nudges.opt_out(G, 3, DAY0)
    await _active(services, 4, DAY0)  # quiet, never opted in: digest only
    result = await services.nudges.sweep(G, SWEEP)
    assert result is not None and result.planned == 1 and result.period == "2026-03-20"
    assert await _send_all(services, SWEEP) == [1]


async def test_members_who_joined_recently_are_not_quiet(services: Services) -> None:
    # A member who left and came back 5 days ago: old activity, but new in the guild again.
    await services.nudges.opt_in(G, 1, DAY0)
    await _active(services, 1, DAY0, joined=SWEEP - timedelta(days=5))
    assert (await services.nudges.sweep(G, SWEEP)).planned == 0  # type: ignore[union-attr]


async def test_sweep_waits_for_the_local_hour_and_runs_once_per_local_day(services: Services) -> None:
    await services.guilds.update(G, DAY0, timezone="America/New_York")  # UTC-4 in March
    await _opted_in(services, 1)
    assert await services.nudges.sweep(G, SWEEP) is None, "14:00 in New York"
    late = SWEEP + timedelta(hours=4)
    result = await services.nudges.sweep(G, late)
    assert result is not None and result.planned == 1
    assert await services.nudges.sweep(G, late + timedelta(hours=1)) is None
    # 03:00 UTC next day is still 23:00 on the same local date
    assert await services.nudges.sweep(G, late + timedelta(hours=5)) is None


async def test_policy_disabled_means_no_sweep(services: Services) -> None:
    await _opted_in(services, 1)
    await services.nudges.update_policy(G, DAY0, enabled=False)
    assert await services.nudges.sweep(G, SWEEP) is None


async def test_cooldown_pause_and_cap(services: Services) -> None:
    await services.nudges.update_policy(G, DAY0, max_per_sweep=2, cooldown_days=10)
    await _opted_in(services, 1, 2, 3, 4)
    await services.nudges.pause(G, 4, 6, DAY0)  # until 13 April
    assert (await services.nudges.sweep(G, SWEEP)).planned == 2  # type: ignore[union-attr]
    first = await _send_all(services, SWEEP)
    assert len(first) == 2
    day2 = SWEEP + timedelta(days=1)
    assert (await services.nudges.sweep(G, day2)).planned == 1  # type: ignore[union-attr]
    assert len(await _send_all(services, day2)) == 1
    day9 = SWEEP + timedelta(days=9)
    assert (await services.nudges.sweep(G, day9)).planned == 0  # type: ignore[union-attr]
    day11 = SWEEP + timedelta(days=11)
    assert (await services.nudges.sweep(G, day11)).planned == 2  # type: ignore[union-attr]
    assert len(await _send_all(services, day11)) == 2
    await services.nudges.update_policy(G, DAY0, max_per_sweep=50)
    after_pause = (DAY0 + timedelta(weeks=6, days=1)).replace(hour=18)
    await services.nudges.sweep(G, after_pause)
    assert sorted(await _send_all(services, after_pause)) == [1, 2, 3, 4]


async def test_consent_is_checked_again_before_sending(services: Services) -> None:
    await _opted_in(services, 1, 2, 3)
    await services.nudges.sweep(G, SWEEP)
    await services.nudges.opt_out(G, 1, SWEEP)
    await services.nudges.pause(G, 2, 1, SWEEP)
    await _active(services, 3, SWEEP)  # came back after the sweep
    assert await _send_all(services, SWEEP) == []
    details = {n.member_id: (n.state, n.detail) for m in (1, 2, 3) for n in await services.nudges.history(G, m)}
    assert details == {1: ("skipped", "opted out"), 2: ("skipped", "paused"), 3: ("skipped", "active again")}


async def test_closed_dms_are_remembered_until_activity(services: Services) -> None:
    await _opted_in(services, 1)
    await services.nudges.sweep(G, SWEEP)
    prompt = await services.nudges.claim(SWEEP)
    assert prompt is not None
    await services.nudges.mark_failed(prompt.nudge_id, "dm_closed", SWEEP, detail="50007")
    assert (await services.nudges.status(G, 1, SWEEP)).dm_closed
    later = SWEEP + timedelta(days=40)
    assert (await services.nudges.sweep(G, later)).planned == 0  # type: ignore[union-attr]
    await _active(services, 1, later)
    again = later + timedelta(days=15)
    assert (await services.nudges.sweep(G, again)).planned == 1  # type: ignore[union-attr]


async def test_40003_pauses_all_dms_and_keeps_the_prompt_planned(services: Services) -> None:
    await _opted_in(services, 1, 2)
    await services.nudges.sweep(G, SWEEP)
    prompt = await services.nudges.claim(SWEEP)
    assert prompt is not None
    await services.nudges.mark_failed(prompt.nudge_id, "dm_too_fast", SWEEP)
    assert await services.nudges.dm_pause(SWEEP) == SWEEP + DM_PAUSE
    assert await services.nudges.claim(SWEEP + DM_PAUSE - timedelta(seconds=1)) is None
    assert sorted(await _send_all(services, SWEEP + DM_PAUSE)) == [1, 2]


async def test_retries_are_bounded(services: Services) -> None:
    await _opted_in(services, 1)
    await services.nudges.sweep(G, SWEEP)
    now = SWEEP
    for _ in range(MAX_ATTEMPTS):
        prompt = await services.nudges.claim(now)
        assert prompt is not None
        await services.nudges.mark_failed(prompt.nudge_id, "retry", now)
        now += timedelta(hours=2)
    assert await services.nudges.claim(now) is None
    [row] = await services.nudges.history(G, 1)
    assert row.state == "failed" and row.attempts == MAX_ATTEMPTS


async def test_a_send_interrupted_by_a_crash_is_resent_with_its_nonce_or_given_up(services: Services) -> None:
    await _opted_in(services, 1, 2)
    await services.nudges.sweep(G, SWEEP)
    first = await services.nudges.claim(SWEEP)  # the process dies before mark_sent
    assert first is not None
    again = await services.nudges.claim(SWEEP + timedelta(seconds=40))
    assert again is not None and again.nonce == first.nonce and again.member_id == first.member_id
    lost = await services.nudges.claim(SWEEP + timedelta(seconds=41))  # the other member; dies too
    assert lost is not None and lost.member_id != first.member_id
    assert await services.nudges.claim(SWEEP + timedelta(seconds=41) + RESEND_WINDOW * 2) is None
    states = {n.state for m in (1, 2) for n in await services.nudges.history(G, m)}
    assert states == {"unknown"}, "never re-sent once Discord may no longer de-duplicate it"


async def test_answers_are_recorded_and_stop_opts_out(services: Services) -> None:
    await _opted_in(services, 1)
    await services.nudges.sweep(G, SWEEP)
    prompt = await services.nudges.claim(SWEEP)
    assert prompt is not None
    await services.nudges.mark_sent(prompt.nudge_id, 5, SWEEP)
    with pytest.raises(NotFound):
        await services.nudges.respond(G, prompt.nudge_id, 999, "okay", SWEEP)
    first = await services.nudges.respond(G, prompt.nudge_id, 1, "talk", SWEEP)
    second = await services.nudges.respond(G, prompt.nudge_id, 1, "talk", SWEEP)
    assert first.first and not second.first
    await services.nudges.respond(G, prompt.nudge_id, 1, "stop", SWEEP)
    status = await services.nudges.status(G, 1, SWEEP)
    assert not status.opted_in and status.last_outcome == "stop" and status.last_prompt_at == SWEEP


async def test_digest_once_per_week_lists_unconsented_long_quiet_members(services: Services) -> None:
    await services.guilds.update(G, DAY0, mod_channel_id=900)
    await _opted_in(services, 1)
    await _active(services, 2, DAY0)
    await _active(services, 3, DAY0 + timedelta(days=10))
    monday = datetime(2026, 3, 23, 18, 0, tzinfo=UTC)  # 3 weeks after DAY0
    assert await services.nudges.digest_due(G, monday - timedelta(days=1)) is None, "Sunday"
    digest = await services.nudges.digest_due(G, monday)
    assert digest is not None and digest.total == 1 and digest.member_ids == (2,) and digest.channel_id == 900
    assert (await services.nudges.digest_due(G, monday)) is not None, "still planned until posted"
    await services.nudges.digest_done(digest.sweep_id, monday)
    assert await services.nudges.digest_due(G, monday + timedelta(hours=2)) is None


async def test_policy_is_validated(services: Services) -> None:
    assert await services.nudges.policy(G) == Policy(G)
    with pytest.raises(InvalidInput) as bad:
        await services.nudges.update_policy(G, DAY0, quiet_days=1)
    assert bad.value.key == "nudges.errors.out_of_range"
    with pytest.raises(InvalidInput):
        await services.nudges.pause(G, 1, 13, DAY0)
    policy = await services.nudges.update_policy(G, DAY0, sweep_hour=7, quiet_days=None)
    assert policy.sweep_hour == 7 and policy.quiet_days == 14
