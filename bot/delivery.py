"""How every feature reacts when Discord refuses a send — one policy, used everywhere.

Durable sends (a report to the moderators, the weekly check-in post, a help thread) are stored
rows with a state; a scheduler job tries them, and :func:`classify` says what a failure means:

* ``retry``      — 5xx, 429, a network error: keep the row pending, try again later.
* ``forbidden``  — 50013/50001 Missing Permissions/Access: record a problem for ``/setup show``,
  do not hammer Discord (403s count towards the Cloudflare ban); retry only after a back-off.
* ``missing``    — 10003 Unknown Channel (deleted): record a problem; retry after a back-off.
* ``dm_closed``  — 50007 Cannot send messages to this user: remember it; never retry until the
  member interacts again.
* ``dm_too_fast`` — 40003 Opening DMs too fast: pause all DMs for at least 10 minutes.
* ``gone``       — 10008 Unknown Message / 10062 Unknown Interaction: the thing is gone; give up.
"""

from __future__ import annotations

from typing import Literal

import aiohttp
import discord

from bot.retry import DM_PAUSE, PROBLEM_BACKOFF, DmPacer, backoff

__all__ = ["DM_PAUSE", "PROBLEM_BACKOFF", "DmPacer", "Outcome", "backoff", "classify"]

Outcome = Literal["retry", "forbidden", "missing", "dm_closed", "dm_too_fast", "gone"]


def classify(error: BaseException) -> Outcome:
    """What a failed Discord call means for a durable send."""
    if isinstance(error, discord.HTTPException):
        code = getattr(error, "code", 0)
        if code == 50007:
            return "dm_closed"
        if code == 40003:
            return "dm_too_fast"
        if code in (10003, 10004):
            return "missing"
        if code in (10008, 10062):
            return "gone"
        if isinstance(error, discord.Forbidden) or code in (50001, 50013):
            return "forbidden"
        if isinstance(error, discord.NotFound):
            return "missing"
        return "retry"
    if isinstance(error, (aiohttp.ClientError, TimeoutError, OSError)):
        return "retry"
    raise error
