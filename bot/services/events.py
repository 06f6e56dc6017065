"""In-process domain events, so features can react to each other without importing each other.

A service publishes a plain dataclass; other services subscribe in their constructor. Handlers
run in order after the publisher's transaction has committed; a failing handler is logged and
never breaks the publisher. (Events are a convenience, not a durable queue: anything that must
not be lost is written by the publisher itself.)
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

log = logging.getLogger(__name__)

E = TypeVar("E")
Handler = Callable[[Any], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class MemberActive:
    """A member did something (message, reaction, command, check-in). Never carries content."""

    guild_id: int
    member_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class CheckinAnswered:
    """A member answered the weekly check-in (``skipped`` for "Not this week")."""

    guild_id: int
    member_id: int
    week: str
    skipped: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class HelpResolved:
    """A help request was resolved; ``helper_ids`` are those who answered."""

    guild_id: int
    request_id: int
    asker_id: int
    helper_ids: tuple[int, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class ConflictClosed:
    """A mediated conflict was closed with an outcome."""

    guild_id: int
    case_id: int
    moderator_id: int
    outcome: str
    at: datetime


@dataclass(frozen=True, slots=True)
class MemberDataDeleted:
    """``/privacy delete`` committed: services holding in-memory state about the member (buffers,
    caches) drop it too. ``guild_id`` None means every guild."""

    guild_id: int | None
    member_id: int
    at: datetime


@dataclass(slots=True)
class EventBus:
    """Subscribe handlers per event type; ``publish`` awaits them one after another."""

    _handlers: dict[type, list[Handler]] = field(default_factory=lambda: defaultdict(list))

    def subscribe(self, event_type: type[E], handler: Callable[[E], Awaitable[None]]) -> None:
        """Call ``handler`` for every published ``event_type``."""
        self._handlers[event_type].append(handler)

    async def publish(self, event: object) -> None:
        """Deliver ``event`` to its subscribers; errors are logged, not raised."""
        for handler in self._handlers.get(type(event), ()):
            try:
                await handler(event)
            except Exception:
                log.exception("event handler %r failed for %r", handler, event)
