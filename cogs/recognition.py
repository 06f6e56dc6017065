"""Recognition points (issue #5): ``/thanks``, **Thank author**, the thanks button, ``/points``,
``/leaderboard``, ``/recognition``, ``/setup recognition`` and ``/setup milestones``.

The rules live in :mod:`bot.services.recognition`; this is glue only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import discord
from discord import app_commands

from bot import i18n
from bot.app import KinshipBot
from bot.delivery import send_dm
from bot.services.recognition import validate_milestone_role
from bot.ui import lang_of, member_is_moderator, moderator_only, reply, tr
from cogs._base import FeatureCog
from cogs.recognition_views import (
    ThankButton,
    ThankModal,
    give_thanks,
    grant_roles,
    leaderboard_embed,
    points_embed,
    send_weekly,
)

_T = app_commands.locale_str
MANAGE_GUILD = app_commands.checks.has_permissions(manage_guild=True)


class RecognitionCog(FeatureCog):
    """Thanks and points for the people who keep a group alive."""

    setup_children = ("setup_recognition", "setup_milestones")
    setup_recognition = app_commands.Group(name="recognition", description=_T("Points for thanks and quiet work"))
    setup_milestones = app_commands.Group(name="milestones", description=_T("Roles for reaching point thresholds"))
    recognition = app_commands.Group(
        name="recognition", description=_T("How your recognition is shown"), guild_only=True
    )

    def __init__(self, bot: KinshipBot) -> None:
        super().__init__(bot)
        self.thank_menu = app_commands.ContextMenu(name=_T("Thank author"), callback=self.thank_author)
        self.thank_menu.guild_only = True

    async def cog_load(self) -> None:
        """Register the button, the context menu and the jobs."""
        await super().cog_load()
        self.bot.add_dynamic_items(ThankButton)
        self.bot.tree.add_command(self.thank_menu, override=True)
        self.bot.scheduler.every("recognition.milestones", 300, self._milestones_job, per_guild=True)
        self.bot.scheduler.every("recognition.weekly", 3600, self._weekly_job, per_guild=True)

    async def cog_unload(self) -> None:
        """Undo :meth:`cog_load`."""
        await super().cog_unload()
        self.bot.remove_dynamic_items(ThankButton)
        self.bot.tree.remove_command(self.thank_menu.name, type=discord.AppCommandType.message)
        self.bot.scheduler.remove("recognition.milestones")
        self.bot.scheduler.remove("recognition.weekly")

    # ------------------------------------------------------------------ giving

    @app_commands.command(name="thanks", description=_T("Thank a member for their support"))
    @app_commands.describe(member=_T("Who you want to thank"), reason=_T("What you are thankful for"))
    @app_commands.guild_only()
    async def thanks(
        self, interaction: discord.Interaction, member: discord.Member, reason: app_commands.Range[str, 1, 200]
    ) -> None:
        """``/thanks member reason``."""
        await give_thanks(interaction, member, reason=reason, source="thanks")

    async def thank_author(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Message context menu **Thank author**: asks for the reason in a modal."""
        await interaction.response.send_modal(ThankModal(message, await lang_of(interaction)))

    # ------------------------------------------------------------------ seeing

    @app_commands.command(name="points", description=_T("See your recognition points (or a member's)"))
    @app_commands.describe(member=_T("Whose points to see (you, if empty)"))
    @app_commands.guild_only()
    async def points(self, interaction: discord.Interaction, member: discord.Member | None = None) -> None:
        """``/points [member]`` — always ephemeral."""
        assert interaction.guild_id is not None
        target = member or interaction.user
        summary = await self.services.recognition.points(interaction.guild_id, target.id, self.bot.now())
        # Who thanked whom is the member's own business (and the moderators', who revoke entries):
        # anyone else sees totals only.
        detailed = target.id == interaction.user.id or await member_is_moderator(interaction)
        embed = points_embed(summary, target.display_name, await lang_of(interaction), detailed=detailed)
        await reply(interaction, embed=embed)

    @app_commands.command(name="leaderboard", description=_T("Who was thanked most recently"))
    @app_commands.describe(period=_T("Last 7 days, last 30 days, or all time"))
    @app_commands.choices(
        period=[
            app_commands.Choice(name=_T("week"), value="week"),
            app_commands.Choice(name=_T("month"), value="month"),
            app_commands.Choice(name=_T("all"), value="all"),
        ]
    )
    @app_commands.guild_only()
    async def leaderboard(self, interaction: discord.Interaction, period: str = "week") -> None:
        """``/leaderboard period`` over rolling windows; hidden members are left out."""
        assert interaction.guild_id is not None
        rows = await self.services.recognition.leaderboard(interaction.guild_id, period, self.bot.now())  # type: ignore[arg-type]
        await reply(interaction, embed=leaderboard_embed(rows, period, await lang_of(interaction)))

    @app_commands.command(name="points-revoke", description=_T("Revoke a ledger entry (moderators)"))
    @app_commands.describe(entry=_T("The entry number shown by /points"), reason=_T("Why it is revoked"))
    @app_commands.default_permissions(manage_messages=True)
    @app_commands.guild_only()
    @moderator_only()
    async def points_revoke(
        self,
        interaction: discord.Interaction,
        entry: app_commands.Range[int, 1],
        reason: app_commands.Range[str, 1, 200],
    ) -> None:
        """Record a revocation; the entry stays in the ledger."""
        assert interaction.guild_id is not None
        row = await self.services.recognition.revoke(
            interaction.guild_id, entry, interaction.user.id, reason, self.bot.now()
        )
        text = await tr(
            interaction, "recognition.revoked", id=row.id, amount=row.amount, member=f"<@{row.receiver_id}>"
        )
        await reply(interaction, text)

    @recognition.command(name="hide", description=_T("Leave me out of leaderboards and the weekly post"))
    async def hide(self, interaction: discord.Interaction) -> None:
        """Opt out of leaderboards (points still count for milestones)."""
        await self._prefs(interaction, "recognition.prefs.hidden", hidden=True)

    @recognition.command(name="show", description=_T("Show me on leaderboards again"))
    async def show(self, interaction: discord.Interaction) -> None:
        """Opt back in."""
        await self._prefs(interaction, "recognition.prefs.shown", hidden=False)

    @recognition.command(name="private", description=_T("Be thanked privately by DM instead of in the channel"))
    @app_commands.describe(setting=_T("on: by DM · off: in the channel"))
    async def private(self, interaction: discord.Interaction, setting: Literal["on", "off"]) -> None:
        """Private recognition: thanks arrive by DM (or not at all when DMs are closed)."""
        key = "recognition.prefs.private_on" if setting == "on" else "recognition.prefs.private_off"
        await self._prefs(interaction, key, private=setting == "on")

    async def _prefs(self, interaction: discord.Interaction, key: str, **change: bool) -> None:
        assert interaction.guild_id is not None
        await self.services.recognition.set_prefs(interaction.guild_id, interaction.user.id, self.bot.now(), **change)
        await reply(interaction, await tr(interaction, key))

    # ------------------------------------------------------------------ /setup

    @setup_recognition.command(name="points", description=_T("Points for thanks and quiet work, and the limits"))
    @app_commands.describe(
        thanks=_T("Points for a first thanks (repeats earn less)"),
        checkin=_T("Points for answering a check-in"),
        help=_T("Points for helping resolve a request"),
        conflict=_T("Points for mediating a conflict that ended in agreement"),
        cooldown_hours=_T("Hours before the same person can be thanked again by the same giver"),
        daily_cap=_T("Thanks one member can give in 24 hours"),
    )
    @MANAGE_GUILD
    async def setup_points(  # noqa: PLR0917 (slash options are parameters)
        self,
        interaction: discord.Interaction,
        thanks: app_commands.Range[int, 1, 100] | None = None,
        checkin: app_commands.Range[int, 0, 100] | None = None,
        help: app_commands.Range[int, 0, 100] | None = None,
        conflict: app_commands.Range[int, 0, 100] | None = None,
        cooldown_hours: app_commands.Range[int, 1, 168] | None = None,
        daily_cap: app_commands.Range[int, 1, 50] | None = None,
    ) -> None:
        """Show or change the amounts and limits."""
        assert interaction.guild_id is not None
        conf = await self.services.recognition.configure(
            interaction.guild_id,
            self.bot.now(),
            thanks_points=thanks,
            checkin_points=checkin,
            help_points=help,
            conflict_points=conflict,
            cooldown_hours=cooldown_hours,
            daily_cap=daily_cap,
        )
        text = await tr(
            interaction,
            "recognition.setup.points",
            thanks=conf.thanks_points,
            checkin=conf.checkin_points,
            help=conf.help_points,
            conflict=conf.conflict_points,
            cooldown=conf.cooldown_hours,
            cap=conf.daily_cap,
        )
        await reply(interaction, text)

    @setup_recognition.command(name="weekly", description=_T("A weekly post thanking the week's supporters"))
    @app_commands.describe(enabled=_T("Post every Monday"), channel=_T("Where (default: the check-in channel)"))
    @MANAGE_GUILD
    async def setup_weekly(
        self, interaction: discord.Interaction, enabled: bool, channel: discord.TextChannel | None = None
    ) -> None:
        """Opt in or out of the weekly recognition post."""
        assert interaction.guild_id is not None
        await self.services.recognition.configure(
            interaction.guild_id,
            self.bot.now(),
            weekly_enabled=enabled,
            weekly_channel_id=channel.id if channel else None,
        )
        if not enabled:
            key, params = "recognition.setup.weekly_off", {}
        elif channel is not None:
            key, params = "recognition.setup.weekly_on", {"channel": channel.mention}
        else:
            key, params = "recognition.setup.weekly_on_default", {}
        await reply(interaction, await tr(interaction, key, **params))

    @setup_milestones.command(name="add", description=_T("Give a role when members reach a number of points"))
    @app_commands.describe(threshold=_T("Points needed"), role=_T("The role to give"))
    @MANAGE_GUILD
    async def milestones_add(
        self, interaction: discord.Interaction, threshold: app_commands.Range[int, 1, 1_000_000], role: discord.Role
    ) -> None:
        """Map a threshold to a role the bot can give."""
        guild = interaction.guild
        assert guild is not None
        me = guild.me
        validate_milestone_role(
            role.name,
            is_default=role.is_default(),
            managed=role.managed,
            assignable=me is not None and me.guild_permissions.manage_roles and role < me.top_role,
        )
        await self.services.recognition.add_milestone(guild.id, threshold, role.id, self.bot.now())
        await reply(
            interaction,
            await tr(interaction, "recognition.setup.milestone_added", threshold=threshold, role=role.mention),
        )

    @setup_milestones.command(name="remove", description=_T("Stop giving a milestone role"))
    @app_commands.describe(threshold=_T("Points needed"))
    @MANAGE_GUILD
    async def milestones_remove(self, interaction: discord.Interaction, threshold: app_commands.Range[int, 1]) -> None:
        """Forget a threshold; roles already given stay."""
        assert interaction.guild_id is not None
        await self.services.recognition.remove_milestone(interaction.guild_id, threshold)
        await reply(interaction, await tr(interaction, "recognition.setup.milestone_removed", threshold=threshold))

    @setup_milestones.command(name="list", description=_T("List the milestone roles"))
    @MANAGE_GUILD
    async def milestones_list(self, interaction: discord.Interaction) -> None:
        """Thresholds and roles."""
        assert interaction.guild_id is not None
        rows = await self.services.recognition.milestones(interaction.guild_id)
        lines = [
            await tr(interaction, "recognition.setup.milestone_line", threshold=m.threshold, role=f"<@&{m.role_id}>")
            for m in rows
        ]
        await reply(interaction, "\n".join(lines)[:2000] or await tr(interaction, "recognition.setup.milestones_none"))

    # ------------------------------------------------------------------ jobs

    async def _milestones_job(self, now: datetime) -> None:
        """Give milestone roles reached through quiet-work awards (and any a crash left behind),
        congratulating by DM only those who chose private recognition (DMs need consent). Only this
        process's guilds: another shard's grants wait for the process that can give their roles."""
        grants = await self.services.recognition.claim_grants(now, scope=self.bot.guild_scope)
        for grant, role_name in await grant_roles(self.bot, grants, claimed=True):
            if not (await self.services.recognition.prefs(grant.guild_id, grant.member_id)).private:
                continue
            settings = await self.services.guilds.get(grant.guild_id)
            text = i18n.t(
                "recognition.milestone_dm",
                settings.language,
                guild=await self.bot.guild_name(grant.guild_id),
                threshold=grant.threshold,
                role=role_name,
            )
            await send_dm(self.bot, grant.member_id, text)

    async def _weekly_job(self, now: datetime) -> None:
        """Send the weekly recognition posts that are due (each once per guild and week) in this
        process's guilds."""
        for post in await self.services.recognition.due_weekly_posts(now, scope=self.bot.guild_scope):
            await send_weekly(self.bot, post)


async def setup(bot: KinshipBot) -> None:
    """Extension entry point."""
    await bot.add_cog(RecognitionCog(bot))
