"""Weekly check-ins, streaks, reminders and buddies (issue #4)."""

from __future__ import annotations

from bot.services.context import ServiceContext


class CheckinService:
    """Placeholder until the feature lands; keeps the service container stable."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db
        self.events = ctx.events
