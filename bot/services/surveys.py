"""Surveys and the monthly pulse (issue #11)."""

from __future__ import annotations

from bot.services.context import ServiceContext


class SurveyService:
    """Placeholder until the feature lands; keeps the service container stable."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db
        self.events = ctx.events
