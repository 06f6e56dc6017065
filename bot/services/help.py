"""Help requests: asking, matching helpers, follow-through (issue #3)."""

from __future__ import annotations

from bot.services.context import ServiceContext


class HelpService:
    """Placeholder until the feature lands; keeps the service container stable."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db
        self.events = ctx.events
