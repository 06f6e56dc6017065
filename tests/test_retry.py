"""Retry timing and the per-process DM pacer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import discord

from bot.delivery import classify
from bot.retry import DM_PAUSE, DmPacer, backoff

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_backoff_grows_and_is_capped() -> None:
    waits = [(backoff(n, T0) - T0).total_seconds() for n in (1, 2, 3, 4, 20)]
    assert waits == [30, 60, 120, 240, 3600]


def test_pacer_allows_one_dm_per_second_and_pauses_after_40003() -> None:
    pacer = DmPacer()
    assert pacer.try_acquire(T0)
    assert not pacer.try_acquire(T0 + timedelta(milliseconds=500))
    assert pacer.try_acquire(T0 + timedelta(seconds=1))
    pacer.pause(T0 + timedelta(seconds=2))
    assert not pacer.try_acquire(T0 + timedelta(minutes=9))
    assert pacer.try_acquire(T0 + timedelta(seconds=2) + DM_PAUSE)


class _Response:
    def __init__(self, status: int) -> None:
        self.status = status
        self.reason = "x"


def _http(cls: type[discord.HTTPException], status: int, code: int) -> discord.HTTPException:
    return cls(_Response(status), {"code": code, "message": "x"})


def test_classify_maps_discord_errors_to_one_policy() -> None:
    assert classify(_http(discord.Forbidden, 403, 50007)) == "dm_closed"
    assert classify(_http(discord.HTTPException, 400, 40003)) == "dm_too_fast"
    assert classify(_http(discord.Forbidden, 403, 50013)) == "forbidden"
    assert classify(_http(discord.NotFound, 404, 10003)) == "missing"
    assert classify(_http(discord.NotFound, 404, 10008)) == "gone"
    assert classify(_http(discord.DiscordServerError, 503, 0)) == "retry"
    assert classify(_http(discord.HTTPException, 429, 0)) == "retry"
    assert classify(TimeoutError()) == "retry"
