"""Peer check-ins (issue #4): ``/checkin``, ``/buddy``, ``/setup checkins`` and ``/setup buddies``.

Discord glue only: the rules live in :mod:`bot.services.checkins`; the buttons, the modal and the
message builders in ``cogs/checkins_views.py``; the weekly post, reminders and buddy introductions
(:class:`cogs.checkins_delivery.Delivery`, the three ``checkins.*`` jobs) in ``cogs/checkins_delivery.py``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import discord
from discord import app_commands

from bot import i18n
from bot.app import KinshipBot
from bot.services.checkins import DAYS, Schedule, next_post_at
from bot.services.guilds import GuildSettings
from bot.ui import format_when, lang_of, reply, tr
from cogs._base import FeatureCog
from cogs.checkins_delivery import Delivery
from cogs.checkins_views import (
    AnswerButton,
    BuddyLeaveButton,
    RemindersOffButton,
    open_modal,
    render_history,
)

log = logging.getLogger(__name__)
_T = app_commands.locale_str


def render_schedule(schedule: Schedule, settings: GuildSettings, now: datetime, lang: str) -> str:
    """``/setup checkins``' answer: the schedule, the reminders, and what is still missing."""
    text = i18n.t(
        "checkins.setup_saved",
        lang,
        state=i18n.t("checkins.state_on" if schedule.enabled else "checkins.state_off", lang),
        day=i18n.t(f"checkins.days.{schedule.weekday}", lang),
        time=schedule.time_text,
        timezone=settings.timezone,
        next=format_when(next_post_at(schedule, settings.tz, now)),
        grace=schedule.grace_hours,
        reminder=f"{schedule.reminder_hour:02d}",
        closed_dms=closed_dms_text(schedule, lang),
    )
    if settings.checkin_channel_id is None:
        text += "\n" + i18n.t("checkins.no_channel", lang)
    return text


def closed_dms_text(schedule: Schedule, lang: str) -> str:
    """What members with closed DMs get: no reminder, or a mention in the week's thread."""
    return i18n.t("checkins.closed_dms.thread" if schedule.thread_reminders else "checkins.closed_dms.none", lang)


class CheckinsCog(FeatureCog):
    """The weekly check-in and everything around it."""

    setup_children = ("setup_checkins", "setup_buddies")

    checkin = app_commands.Group(name="checkin", description=_T("The weekly check-in"), guild_only=True)
    buddy = app_commands.Group(
        name="buddy", description=_T("Check-in buddies: be paired with another member"), guild_only=True
    )

    def __init__(self, bot: KinshipBot) -> None:
        super().__init__(bot)
        self.delivery = Delivery(bot)

    async def cog_load(self) -> None:
        """Register the persistent buttons and the jobs."""
        await super().cog_load()
        self.bot.add_dynamic_items(AnswerButton, RemindersOffButton, BuddyLeaveButton)
        # per_guild: each shard process posts, reminds and pairs for the guilds on its own shards
        self.bot.scheduler.every("checkins.post", 60, self.delivery.post_job, per_guild=True)
        self.bot.scheduler.every("checkins.remind", 2, self.delivery.remind_job, per_guild=True)
        self.bot.scheduler.every("checkins.buddies", 60, self.delivery.buddies_job, per_guild=True)

    async def cog_unload(self) -> None:
        """Stop the jobs."""
        for name in ("checkins.post", "checkins.remind", "checkins.buddies"):
            self.bot.scheduler.remove(name)
        self.bot.remove_dynamic_items(AnswerButton, RemindersOffButton, BuddyLeaveButton)
        await super().cog_unload()

    # ------------------------------------------------------------------------ commands

    @checkin.command(name="now", description=_T("Check in for this week"))
    async def checkin_now(self, interaction: discord.Interaction) -> None:
        """Open the check-in modal for the open week."""
        assert interaction.guild_id is not None
        await open_modal(interaction, interaction.guild_id, None)

    @checkin.command(name="history", description=_T("Your own last weeks (only you see this)"))
    async def checkin_history(self, interaction: discord.Interaction) -> None:
        """Show the member's last weeks and streak (ephemeral)."""
        assert interaction.guild_id is not None
        history = await self.services.checkins.history(interaction.guild_id, interaction.user.id, self.bot.now())
        await reply(interaction, embed=render_history(history, await lang_of(interaction)))

    @checkin.command(name="reminders", description=_T("A DM reminder when you haven't answered yet"))
    @app_commands.describe(state=_T("On or off"))
    @app_commands.choices(
        state=[app_commands.Choice(name=_T("on"), value="on"), app_commands.Choice(name=_T("off"), value="off")]
    )
    async def checkin_reminders(self, interaction: discord.Interaction, state: app_commands.Choice[str]) -> None:
        """Opt in to (or out of) reminder DMs."""
        assert interaction.guild_id is not None
        on = state.value == "on"
        await self.services.checkins.set_reminders(interaction.guild_id, interaction.user.id, on, self.bot.now())
        if on:
            schedule = await self.services.checkins.get_schedule(interaction.guild_id)
            text = await tr(interaction, "checkins.reminders_on", hour=f"{schedule.reminder_hour:02d}")
        else:
            text = await tr(interaction, "checkins.reminders_off")
        await reply(interaction, text)

    @buddy.command(name="join", description=_T("Join the buddy pairing"))
    async def buddy_join(self, interaction: discord.Interaction) -> None:
        """Opt in to buddies."""
        assert interaction.guild_id is not None
        await self.services.checkins.set_buddies(interaction.guild_id, interaction.user.id, True, self.bot.now())
        await reply(interaction, await tr(interaction, "checkins.buddy_joined"))

    @buddy.command(name="leave", description=_T("Leave the buddy pairing"))
    async def buddy_leave(self, interaction: discord.Interaction) -> None:
        """Opt out of buddies."""
        assert interaction.guild_id is not None
        await self.services.checkins.set_buddies(interaction.guild_id, interaction.user.id, False, self.bot.now())
        await reply(interaction, await tr(interaction, "checkins.buddy_left"))

    @app_commands.command(name="checkins", description=_T("When the weekly check-in is posted"))
    @app_commands.describe(
        day=_T("Day of the week"),
        time=_T("Time of day, 24-hour HH:MM, in the server's time zone"),
        enabled=_T("Post the weekly check-in (on by default)"),
        grace_hours=_T("How many hours late the post may still go out after downtime (default 12)"),
        reminder_hour=_T("Hour (0-23) from which opted-in members get a reminder DM"),
        closed_dms=_T("Reminders for members whose DMs are closed: none (default) or a mention in the thread"),
    )
    @app_commands.choices(
        day=[app_commands.Choice(name=_T(d.capitalize()), value=i) for i, d in enumerate(DAYS)],
        closed_dms=[
            app_commands.Choice(name=_T("No public reminder"), value="none"),
            app_commands.Choice(name=_T("A mention in the week's thread"), value="thread"),
        ],
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def setup_checkins(  # noqa: PLR0917 - slash options are parameters
        self,
        interaction: discord.Interaction,
        day: app_commands.Choice[int] | None = None,
        time: app_commands.Range[str, 1, 5] | None = None,
        enabled: bool | None = None,
        grace_hours: app_commands.Range[int, 0, 72] | None = None,
        reminder_hour: app_commands.Range[int, 0, 23] | None = None,
        closed_dms: app_commands.Choice[str] | None = None,
    ) -> None:
        """Change the weekly schedule and the reminders; without options, show them."""
        assert interaction.guild_id is not None
        given = {
            "weekday": day.value if day else None,
            "time": time,
            "enabled": enabled,
            "grace_hours": grace_hours,
            "reminder_hour": reminder_hour,
            "thread_reminders": closed_dms.value == "thread" if closed_dms else None,
        }
        changes: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
        now = self.bot.now()
        schedule = await self.services.checkins.configure(interaction.guild_id, now, **changes)
        settings = await self.services.guilds.get(interaction.guild_id)
        text = render_schedule(schedule, settings, now, await lang_of(interaction))
        await reply(interaction, text)

    @app_commands.command(name="buddies", description=_T("How check-in buddies are paired"))
    @app_commands.describe(every_weeks=_T("Pair members every N weeks (1-8)"), intro=_T("Where buddies are introduced"))
    @app_commands.choices(
        intro=[
            app_commands.Choice(name=_T("Private thread"), value="thread"),
            app_commands.Choice(name=_T("Direct message"), value="dm"),
        ]
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def setup_buddies(
        self,
        interaction: discord.Interaction,
        every_weeks: app_commands.Range[int, 1, 8],
        intro: app_commands.Choice[str] | None = None,
    ) -> None:
        """Set how often buddies are paired and how they are introduced."""
        assert interaction.guild_id is not None
        changes: dict[str, Any] = {"buddy_weeks": every_weeks}
        if intro is not None:
            changes["buddy_dm"] = intro.value == "dm"
        schedule = await self.services.checkins.configure(interaction.guild_id, self.bot.now(), **changes)
        mode = await tr(interaction, "checkins.mode_dm" if schedule.buddy_dm else "checkins.mode_thread")
        await reply(
            interaction, await tr(interaction, "checkins.setup_buddies_saved", weeks=schedule.buddy_weeks, mode=mode)
        )


async def setup(bot: KinshipBot) -> None:
    """Extension entry point."""
    await bot.add_cog(CheckinsCog(bot))
