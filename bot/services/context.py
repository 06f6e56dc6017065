"""What every service is built from: the database and the event bus."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.db import Database
from bot.services.events import EventBus


@dataclass(frozen=True, slots=True)
class ServiceContext:
    """Passed to every service constructor. Services never import discord."""

    db: Database
    events: EventBus = field(default_factory=EventBus)
