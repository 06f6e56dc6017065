"""The bot's side of the web dashboard (issue #15): what a moderator's action on the web still has
to do in Discord, done by the process that holds the guild.

The dashboard changes a case through the same service call as the button, then queues an effect
(:meth:`bot.services.dashboard.DashboardService.queue_effect`): edit the moderators' message, DM
the reporter who asked to be told, open a mediation thread and invite the parties, end a mediation
thread, or update a resource suggestion's queue post. This cog claims due effects (this process's
guilds only) and does them with the reports feature's own :class:`cogs.reports_delivery.Delivery`,
so the result in Discord is exactly the button's. When the dashboard runs inside this process it
wakes the job at once (the ``dashboard_effects`` event); ``python -m bot.web`` leaves the row for
the job's next tick. It also deletes expired dashboard sessions.
"""

from __future__ import annotations

import logging
from datetime import datetime

from discord.ext import commands

from bot.app import KinshipBot
from bot.errors import KinshipError
from bot.retry import backoff
from bot.services.dashboard import MAX_ATTEMPTS, Effect
from cogs._base import FeatureCog
from cogs.reports_delivery import SEND_ERRORS, Delivery

log = logging.getLogger(__name__)
JOB = "dashboard.effects"
#: How often the job looks for effects queued by another process (``python -m bot.web``).
EVERY_SECONDS = 10
SESSION_PURGE_SECONDS = 3600


class DashboardCog(FeatureCog):
    """Does the Discord side of the dashboard's actions."""

    async def cog_load(self) -> None:
        """Register the effects job and the session clean-up."""
        await super().cog_load()
        self.bot.scheduler.every(JOB, EVERY_SECONDS, self.run_due, per_guild=True)
        self.bot.scheduler.every("dashboard.sessions", SESSION_PURGE_SECONDS, self.purge_sessions)

    async def cog_unload(self) -> None:
        """Undo :meth:`cog_load`."""
        await super().cog_unload()
        self.bot.scheduler.remove(JOB)
        self.bot.scheduler.remove("dashboard.sessions")

    @commands.Cog.listener()
    async def on_dashboard_effects(self) -> None:
        """The dashboard in this process queued something: do it now (through the scheduler, so
        leadership and "guilds ready" apply as for the tick)."""
        await self.bot.scheduler.run(JOB, self.bot.now())

    async def purge_sessions(self, now: datetime) -> None:
        """Forget expired logins (they are refused anyway; this keeps the table small)."""
        await self.services.dashboard.purge_sessions(now)

    def _delivery(self) -> Delivery:
        cog = self.bot.get_cog("ReportsCog")
        assert cog is not None, "cogs.reports must be loaded for the dashboard's report actions"
        return cog.delivery  # type: ignore[attr-defined, no-any-return]

    async def run_due(self, now: datetime) -> None:
        """Claim this process's due effects and do each; one failure does not stop the others."""
        for effect in await self.services.dashboard.claim_effects(now, scope=self.bot.guild_scope):
            try:
                done = await self.do(effect)
            except KinshipError as error:  # e.g. the case can no longer be mediated: nothing to do
                log.info("dashboard effect %s (%s) not possible: %s", effect.id, effect.kind, error.key)
                done = True
            except SEND_ERRORS as error:
                log.warning("dashboard effect %s (%s) failed, retrying: %s", effect.id, effect.kind, error)
                done = False
            except Exception:
                log.exception("dashboard effect %s (%s) failed unexpectedly", effect.id, effect.kind)
                done = False
            if done:
                await self.services.dashboard.effect_done(effect.id)
            elif effect.attempts >= MAX_ATTEMPTS:
                log.warning(
                    "dashboard effect %s (%s) given up after %d attempts", effect.id, effect.kind, effect.attempts
                )
                await self.services.dashboard.effect_done(effect.id)
            else:
                await self.services.dashboard.effect_failed(effect.id, backoff(effect.attempts, now))

    async def do(self, effect: Effect) -> bool:
        """Do one effect; ``False`` means "try again later"."""
        if effect.kind == "refresh_resource":
            from cogs.library import refresh_queue_post

            return await refresh_queue_post(self.bot, effect.guild_id, effect.ref_id, effect.actor_id)
        delivery = self._delivery()
        case = await self.services.reports.case_by_id(effect.guild_id, effect.ref_id)
        if effect.kind == "refresh_case":
            await delivery.refresh(case, retry_errors=True)
        elif effect.kind == "notify_closed" and effect.member_id is not None:
            await delivery.notify_closed(effect.member_id, case)
        elif effect.kind == "end_mediation":
            await delivery.end_mediation_thread(case)
            await delivery.refresh(case, retry_errors=True)
        elif effect.kind == "mediate" and effect.actor_id is not None:
            guild = self.bot.get_guild(effect.guild_id)
            if guild is None:
                return False  # not ready or gone; retried with back-off, dropped after MAX_ATTEMPTS
            channel = await delivery.mediation_channel(guild, effect.ref_id)
            case, _thread, _invited, _unreachable = await delivery.open_mediation(
                channel, effect.ref_id, effect.actor_id
            )
            await delivery.refresh(case, retry_errors=True)
        return True


async def setup(bot: KinshipBot) -> None:
    """Extension entry point."""
    await bot.add_cog(DashboardCog(bot))
