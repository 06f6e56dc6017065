"""Retry timing shared by services and cogs (no discord import, so services may use it).

The Discord-specific half — what an error *means* — is :func:`bot.delivery.classify`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

#: The smallest pause after Discord said "opening DMs too fast" (error 40003).
DM_PAUSE = timedelta(minutes=10)
#: Back-off after a permission or missing-channel error, so 403s are not retried blindly.
PROBLEM_BACKOFF = timedelta(minutes=15)
#: At most one DM per this interval per process, across every feature (Discord: ≤ 1/s).
DM_INTERVAL = timedelta(seconds=1)


def backoff(attempts: int, now: datetime, *, base: float = 30.0, cap: float = 3600.0) -> datetime:
    """When to try again after ``attempts`` failures: exponential, capped (30 s, 60 s, … 1 h)."""
    return now + timedelta(seconds=min(cap, base * (2 ** max(0, attempts - 1))))


class DmPacer:
    """One per process: every feature's DMs together stay under Discord's pace.

    ``try_acquire(now)`` (or ``ready`` then ``take``) hands out one DM slot per :data:`DM_INTERVAL`
    and none while paused;
    ``pause(now)`` is called on a 40003 and stops every DM for :data:`DM_PAUSE`. Jobs that get
    ``False`` leave the DM planned for their next tick instead of sleeping.
    """

    def __init__(self, interval: timedelta = DM_INTERVAL) -> None:
        self.interval = interval
        self.next_at: datetime | None = None
        self.paused_until: datetime | None = None

    def ready(self, now: datetime) -> bool:
        """Whether a DM may be sent at ``now`` (without taking the slot)."""
        if self.paused_until is not None and now < self.paused_until:
            return False
        return self.next_at is None or now >= self.next_at

    def take(self, now: datetime) -> None:
        """Record that a DM is being sent at ``now``."""
        self.next_at = now + self.interval

    def try_acquire(self, now: datetime) -> bool:
        """Take a DM slot if one is free at ``now``."""
        if not self.ready(now):
            return False
        self.take(now)
        return True

    def pause(self, now: datetime, until: datetime | None = None) -> None:
        """Stop all DMs (after a 40003) for at least :data:`DM_PAUSE`."""
        until = max(until or now, now + DM_PAUSE)
        self.paused_until = max(self.paused_until or until, until)
