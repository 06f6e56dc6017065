"""Helpers (issue #3): ``/helper join|leave|status|limits`` — who helps, on which topics, within
which boundaries. The asking side (``/ask``, the request's buttons and jobs) is ``cogs/help.py``; both
use :mod:`bot.services.help` and the autocompletes of ``cogs/help_views.py``.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.app import KinshipBot
from bot.ui import reply, tr
from cogs._base import FeatureCog
from cogs.help_views import parse_until, topic_list_choices, tz_choices

_T = app_commands.locale_str


class HelpersCog(FeatureCog):
    """Members who help others, on their own terms."""

    helper = app_commands.Group(name="helper", description=_T("Help others, on your own terms"), guild_only=True)

    @helper.command(name="join", description=_T("Become a helper (or change your topics)"))
    @app_commands.describe(topics=_T("Comma-separated topics; empty for all topics"))
    @app_commands.autocomplete(topics=topic_list_choices)
    async def helper_join(
        self, interaction: discord.Interaction, topics: app_commands.Range[str, 1, 500] | None = None
    ) -> None:
        """Join as helper."""
        assert interaction.guild_id is not None
        profile = await self.services.help.join(interaction.guild_id, interaction.user.id, topics, self.bot.now())
        names = await self._topic_names(interaction, profile.topics) if profile.topics else None
        names = names or await tr(interaction, "help.helper.all_topics")
        await reply(interaction, await tr(interaction, "help.helper.joined", topics=names))

    async def _topic_names(self, interaction: discord.Interaction, keys: tuple[str, ...]) -> str:
        assert interaction.guild_id is not None
        known = {t.key: t.name for t in await self.services.help.topics(interaction.guild_id)}
        return ", ".join(known.get(k, k) for k in keys)

    @helper.command(name="leave", description=_T("Stop being a helper"))
    async def helper_leave(self, interaction: discord.Interaction) -> None:
        """Leave; open claims are released and followed up again."""
        assert interaction.guild_id is not None
        await self.services.help.leave(interaction.guild_id, interaction.user.id, self.bot.now())
        await reply(interaction, await tr(interaction, "help.helper.left"))

    @helper.command(name="status", description=_T("Available, or away for a while"))
    @app_commands.describe(status=_T("available or away"), until=_T("For away: e.g. 8h, 3d or 2026-12-24 18:00"))
    @app_commands.choices(
        status=[
            app_commands.Choice(name=_T("available"), value="available"),
            app_commands.Choice(name=_T("away"), value="away"),
        ]
    )
    async def helper_status(
        self,
        interaction: discord.Interaction,
        status: app_commands.Choice[str],
        until: app_commands.Range[str, 1, 32] | None = None,
    ) -> None:
        """Set availability."""
        assert interaction.guild_id is not None
        now = self.bot.now()
        current = await self.services.help.helper(interaction.guild_id, interaction.user.id)
        when = parse_until(until, current.timezone if current else "UTC", now) if until else None
        profile = await self.services.help.set_status(
            interaction.guild_id, interaction.user.id, status.value, when, now
        )
        if profile.status == "available":
            text = await tr(interaction, "help.helper.available")
        elif profile.away_until:
            text = await tr(
                interaction, "help.helper.away_until", until=discord.utils.format_dt(profile.away_until, "f")
            )
        else:
            text = await tr(interaction, "help.helper.away")
        await reply(interaction, text)

    @helper.command(name="limits", description=_T("Your boundaries as a helper"))
    @app_commands.describe(
        max_open=_T("At most this many open requests at once"),
        quiet_hours=_T("No pings in these hours, e.g. 22:00-07:00 (or off)"),
        timezone=_T("Your time zone, e.g. Europe/Berlin"),
        exclude_topics=_T("Comma-separated topics you'd rather not get (or none)"),
    )
    @app_commands.autocomplete(timezone=tz_choices, exclude_topics=topic_list_choices)
    async def helper_limits(
        self,
        interaction: discord.Interaction,
        max_open: app_commands.Range[int, 1, 20] | None = None,
        quiet_hours: app_commands.Range[str, 1, 16] | None = None,
        timezone: app_commands.Range[str, 1, 64] | None = None,
        exclude_topics: app_commands.Range[str, 1, 500] | None = None,
    ) -> None:
        """Set boundaries."""
        assert interaction.guild_id is not None
        p = await self.services.help.set_limits(
            interaction.guild_id,
            interaction.user.id,
            self.bot.now(),
            max_open=max_open,
            quiet_hours=quiet_hours,
            timezone=timezone,
            exclude_topics=exclude_topics,
        )
        none = await tr(interaction, "help.helper.none")
        excluded = await self._topic_names(interaction, p.excluded_topics) if p.excluded_topics else none
        text = await tr(
            interaction,
            "help.helper.limits",
            max_open=p.max_open,
            quiet=p.quiet_hours or none,
            timezone=p.timezone,
            excluded=excluded,
        )
        await reply(interaction, text)


async def setup(bot: KinshipBot) -> None:
    """Extension entry point."""
    await bot.add_cog(HelpersCog(bot))
