"""Recognition points: thanks, ledger, leaderboards, milestones (issue #5)."""

from __future__ import annotations

from bot.services.context import ServiceContext


class RecognitionService:
    """Placeholder until the feature lands; keeps the service container stable."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db
        self.events = ctx.events
