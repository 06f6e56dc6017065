"""Code of conduct and acknowledgements (issue #11)."""

from __future__ import annotations

from bot.services.context import ServiceContext


class ConductService:
    """Placeholder until the feature lands; keeps the service container stable."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db
        self.events = ctx.events

    async def require_acknowledged(self, guild_id: int, member_id: int) -> None:
        """Raise :class:`bot.errors.NotAllowed` when the guild asks new members to acknowledge its
        code of conduct first and this member has not. Help (``/ask``) and report (``/report``)
        flows call this before anything else."""
        return
