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

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
import discord

from bot.retry import DM_PAUSE, PROBLEM_BACKOFF, DmPacer, backoff
from bot.ui import NO_PINGS

if TYPE_CHECKING:
    from bot.app import KinshipBot

__all__ = [
    "DM_PAUSE",
    "PROBLEM_BACKOFF",
    "DmPacer",
    "Outcome",
    "backoff",
    "classify",
    "problem_code",
    "send_dm",
    "send_with_health",
]

log = logging.getLogger(__name__)

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


def problem_code(outcome: Outcome) -> str:
    """The ``/setup show`` problem code (``problems.<code>``) for a failed send."""
    return {"forbidden": "missing_permission", "missing": "channel_missing"}.get(outcome, "delivery_failed")


async def send_with_health(
    bot: KinshipBot,
    guild_id: int,
    channel_id: int | None,
    *,
    problem_key: str,
    now: datetime,
    detail: str = "",
    **send: Any,
) -> discord.Message | None:
    """Send in a configured channel without pinging (unless ``allowed_mentions`` says otherwise).

    A missing channel or a refused send is recorded as problem ``problem_key`` for ``/setup show``;
    a send that works clears it. Returns the message, or ``None`` when nothing was sent.
    """
    channel: Any = bot.get_channel(channel_id) if channel_id else None
    if channel is None and channel_id and not bot.owns_guild(guild_id):
        # A guild on another process's shards (reached from a DM button, which Discord delivers
        # on shard 0): not in this cache, but a send needs only the id. Discord says if it is gone.
        channel = bot.get_partial_messageable(channel_id, guild_id=guild_id)
    if not isinstance(channel, discord.abc.Messageable):
        if channel_id:
            await bot.services.health.report(
                guild_id, problem_key, "channel_missing", now, detail=detail or str(channel_id)
            )
        return None
    send.setdefault("allowed_mentions", NO_PINGS)
    try:
        message = await channel.send(**send)
    except discord.HTTPException as error:
        name = getattr(channel, "name", channel_id)
        code = problem_code(classify(error))
        await bot.services.health.report(guild_id, problem_key, code, now, detail=f"#{name} ({error.code})")
        return None
    await bot.services.health.clear(guild_id, problem_key)
    return message


async def send_dm(
    bot: KinshipBot, user_id: int, content: str, *, view: discord.ui.View | None = None, nonce: str | None = None
) -> tuple[Outcome | Literal["sent"], discord.Message | None]:
    """DM a member once, ping-free, taking a slot of the shared DM pace. Returns what happened
    (``"sent"`` or a :func:`classify` outcome) and the message. After a 40003 every DM waits out the
    pause: nothing is sent and ``"dm_too_fast"`` comes back (scheduled senders check
    ``bot.dm_pacer.ready(now)`` first and keep their DM for a later tick)."""
    now = bot.now()
    if bot.dm_pacer.paused_until is not None and now < bot.dm_pacer.paused_until:
        return "dm_too_fast", None
    bot.dm_pacer.take(now)
    kwargs: dict[str, Any] = {"allowed_mentions": NO_PINGS}
    if view is not None:
        kwargs["view"] = view
    if nonce is not None:
        kwargs["nonce"] = nonce
    try:
        channel = await bot.create_dm(discord.Object(id=user_id))  # cached after the first DM
        message = await channel.send(content[:2000], **kwargs)
    except discord.HTTPException as error:
        outcome = classify(error)
        if outcome == "dm_too_fast":
            bot.dm_pacer.pause(now)
            log.warning("Discord says DMs are opened too fast (40003): pausing DMs until %s", bot.dm_pacer.paused_until)
        else:
            log.info("DM to %s not delivered (%s)", user_id, outcome)
        return outcome, None
    return "sent", message
