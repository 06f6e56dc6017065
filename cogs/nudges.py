"""Quiet members: ``/nudges`` for consent, ``/setup nudges`` for the policy, and the jobs (issue #7).

* ``nudges.sweep`` (every 5 minutes) plans each guild's prompts once a day at its local sweep hour
  and posts the weekly moderators' digest.
* ``nudges.deliver`` (every 2 seconds) sends at most one prompt DM per run — well under Discord's
  DM pace — unless DMs are paused after a 40003.

Both are per-guild jobs: a process started with ``SHARD_IDS`` sweeps and prompts for the guilds on
its shards only. The prompt's buttons arrive on shard 0 whatever the guild's shard, so they work
for guilds outside this process's cache (see :func:`cogs.nudges_views.answer_prompt`).
"""

from __future__ import annotations

import logging
from datetime import datetime

import aiohttp
import discord
from discord import app_commands

from bot import i18n
from bot.app import KinshipBot
from bot.delivery import classify, send_with_health
from bot.services.nudges import Digest
from bot.ui import NO_PINGS, lang_of, reply
from cogs._base import FeatureCog
from cogs.nudges_views import (
    WEEKDAYS,
    NudgeButton,
    member_name,
    prompt_text,
    prompt_view,
    render_digest,
    render_policy,
    render_status,
)

log = logging.getLogger(__name__)
_T = app_commands.locale_str

SWEEP_SECONDS = 300
DELIVER_SECONDS = 2
SEND_ERRORS = (discord.HTTPException, aiohttp.ClientError, TimeoutError, OSError)


class NudgesCog(FeatureCog):
    """Gentle, consented check-ins for members who went quiet."""

    setup_children = ("setup_nudges",)

    nudges = app_commands.Group(
        name="nudges", description=_T("Gentle check-ins when you've been quiet for a while"), guild_only=True
    )

    async def cog_load(self) -> None:
        """Register the prompt buttons and the jobs."""
        await super().cog_load()
        self.bot.add_dynamic_items(NudgeButton)
        # Both act on guilds in Discord: with SHARD_IDS each process runs them for its own guilds.
        self.bot.scheduler.every("nudges.sweep", SWEEP_SECONDS, self._sweep, per_guild=True)
        self.bot.scheduler.every("nudges.deliver", DELIVER_SECONDS, self._deliver, per_guild=True)

    async def cog_unload(self) -> None:
        """Stop the jobs."""
        self.bot.remove_dynamic_items(NudgeButton)
        self.bot.scheduler.remove("nudges.sweep")
        self.bot.scheduler.remove("nudges.deliver")
        await super().cog_unload()

    # ------------------------------------------------------------------ members

    @nudges.command(name="on", description=_T("Get one gentle DM if you've been quiet here for a while"))
    async def nudges_on(self, interaction: discord.Interaction) -> None:
        """Opt in to personal prompts."""
        assert interaction.guild_id is not None
        language = i18n.normalize(interaction.locale.value if interaction.locale else None)
        status = await self.services.nudges.opt_in(interaction.guild_id, interaction.user.id, self.bot.now(), language)
        lang = await lang_of(interaction)
        await reply(interaction, i18n.t("nudges.reply.on", lang) + "\n" + render_status(status, lang))

    @nudges.command(name="off", description=_T("No more check-in DMs"))
    async def nudges_off(self, interaction: discord.Interaction) -> None:
        """Opt out of personal prompts."""
        assert interaction.guild_id is not None
        status = await self.services.nudges.opt_out(interaction.guild_id, interaction.user.id, self.bot.now())
        lang = await lang_of(interaction)
        await reply(interaction, i18n.t("nudges.reply.off", lang) + "\n" + render_status(status, lang))

    @nudges.command(name="pause", description=_T("Pause check-in DMs for a few weeks"))
    @app_commands.describe(weeks=_T("How many weeks (1-12)"))
    async def nudges_pause(self, interaction: discord.Interaction, weeks: app_commands.Range[int, 1, 12]) -> None:
        """Pause personal prompts."""
        assert interaction.guild_id is not None
        status = await self.services.nudges.pause(interaction.guild_id, interaction.user.id, weeks, self.bot.now())
        await reply(interaction, render_status(status, await lang_of(interaction)))

    @nudges.command(name="status", description=_T("See whether Kinship may check in with you"))
    async def nudges_status(self, interaction: discord.Interaction) -> None:
        """Show the member's consent and last prompt."""
        assert interaction.guild_id is not None
        status = await self.services.nudges.status(interaction.guild_id, interaction.user.id, self.bot.now())
        await reply(interaction, render_status(status, await lang_of(interaction)))

    # ------------------------------------------------------------------ admins

    @app_commands.command(name="nudges", description=_T("When and how Kinship checks in with quiet members"))
    @app_commands.describe(
        enabled=_T("Check in with quiet members at all"),
        quiet_days=_T("Days without activity before a member counts as quiet"),
        hour=_T("Hour of the daily check (server time zone, 0-23)"),
        cooldown_days=_T("Days between two check-ins for the same member"),
        max_per_sweep=_T("Most DMs per daily check"),
        digest_day=_T("Day of the moderators' weekly digest"),
    )
    @app_commands.choices(
        digest_day=[app_commands.Choice(name=_T(day.capitalize()), value=i) for i, day in enumerate(WEEKDAYS)]
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def setup_nudges(  # noqa: PLR0917 (one parameter per command option)
        self,
        interaction: discord.Interaction,
        enabled: bool | None = None,
        quiet_days: app_commands.Range[int, 3, 180] | None = None,
        hour: app_commands.Range[int, 0, 23] | None = None,
        cooldown_days: app_commands.Range[int, 7, 365] | None = None,
        max_per_sweep: app_commands.Range[int, 1, 200] | None = None,
        digest_day: app_commands.Choice[int] | None = None,
    ) -> None:
        """Show or change the guild's policy."""
        assert interaction.guild_id is not None
        policy = await self.services.nudges.update_policy(
            interaction.guild_id,
            self.bot.now(),
            enabled=enabled,
            quiet_days=quiet_days,
            sweep_hour=hour,
            cooldown_days=cooldown_days,
            max_per_sweep=max_per_sweep,
            digest_weekday=digest_day.value if digest_day else None,
        )
        await reply(interaction, render_policy(policy, await lang_of(interaction)))

    # ------------------------------------------------------------------ jobs

    async def _sweep(self, now: datetime) -> None:
        await self.services.activity.flush(now)  # decide on fresh data
        for guild in self.bot.served_guilds():  # this process's available guilds (its shards' cache)
            result = await self.services.nudges.sweep(guild.id, now)
            if result is not None:
                log.info("nudges sweep %s in guild %s planned %d prompt(s)", result.period, guild.id, result.planned)
            digest = await self.services.nudges.digest_due(guild.id, now)
            if digest is not None:
                await self._post_digest(guild, digest, now)

    async def _post_digest(self, guild: discord.Guild, digest: Digest, now: datetime) -> None:
        names: list[str] = []
        for member_id in digest.member_ids:
            name = await member_name(guild, member_id)
            if name is None:  # left the guild: forget them, they are not "quiet"
                await self.services.activity.forget(guild.id, [member_id])
            else:
                names.append(name)
        posted = await send_with_health(
            self.bot,
            guild.id,
            digest.channel_id,
            problem_key="nudges.digest",
            now=now,
            detail="moderators' channel",
            embed=render_digest(digest, names),
            nonce=f"kinship-digest-{digest.sweep_id}",
        )
        await self.services.nudges.digest_done(digest.sweep_id, now, posted=posted is not None)

    async def _deliver(self, now: datetime) -> None:
        if not self.bot.dm_pacer.ready(now):  # every feature's DMs share one pace
            return
        prompt = await self.services.nudges.claim(now, scope=self.bot.guild_scope)  # this process's guilds
        if prompt is None:
            return
        self.bot.dm_pacer.take(now)
        guild = self.bot.get_guild(prompt.guild_id)
        if guild is None:
            await self.services.nudges.mark_failed(prompt.nudge_id, "gone", now, detail="bot is not in the guild")
            return
        try:
            user = self.bot.get_user(prompt.member_id) or await self.bot.fetch_user(prompt.member_id)
            message = await user.send(
                prompt_text(prompt.language, user.display_name, guild.name),
                view=prompt_view(prompt.language, prompt.guild_id, prompt.nudge_id),
                nonce=prompt.nonce,
                allowed_mentions=NO_PINGS,
            )
        except SEND_ERRORS as error:
            kind = classify(error)
            if kind == "dm_too_fast":
                self.bot.dm_pacer.pause(now)
                log.warning("Discord says DMs are opened too fast (40003): pausing prompt DMs")
            await self.services.nudges.mark_failed(
                prompt.nudge_id, kind, now, detail=f"{type(error).__name__} {getattr(error, 'code', '')}"
            )
            return
        await self.services.nudges.mark_sent(prompt.nudge_id, message.id, now)


async def setup(bot: KinshipBot) -> None:
    """Extension entry point."""
    await bot.add_cog(NudgesCog(bot))
