"""Aggregate statistics for moderators (issue #8)."""

from __future__ import annotations

from bot.services.context import ServiceContext


class InsightService:
    """Placeholder until the feature lands; keeps the service container stable."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db
        self.events = ctx.events
