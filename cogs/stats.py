"""``/stats``: aggregate insights for moderators, with a weekly chart (issue #8).

The days members were active (for the weekly series) are recorded by ``cogs.activity``.
The whole reply is in the guild's language: the numbers describe the guild, and moderators share them.
"""

from __future__ import annotations

import io

import discord
from discord import app_commands

from bot import i18n
from bot.app import KinshipBot
from bot.services.insights import StatsReport
from bot.ui import COLOR, moderator_only, reply
from cogs._base import FeatureCog

FLUSH_SECONDS = 60
FILENAME = "stats.png"
_T = app_commands.locale_str


def _pct(value: float | None, lang: str) -> str:
    return i18n.t("stats.percent", lang, value=round(value * 100)) if value is not None else i18n.t("stats.none", lang)


_duration = i18n.duration_text


def _mood(report: StatsReport, lang: str) -> str:
    if report.mood_members == 0:
        return i18n.t("stats.none", lang)
    if report.mood_average is None:
        return i18n.t("stats.hidden", lang)
    return i18n.t("stats.mood_value", lang, value=f"{report.mood_average:.1f}", members=report.mood_members)


def _trend(report: StatsReport, lang: str) -> str:
    parts = []
    for week in report.weeks:
        if week.mood_members == 0:
            continue
        day = week.start.strftime("%d.%m." if lang == "de" else "%b %d")
        value = f"{week.mood:.1f}" if week.mood is not None else i18n.t("stats.hidden_short", lang)
        parts.append(f"{day}: {value}")
    return " · ".join(parts) if parts else i18n.t("stats.none", lang)


def render(report: StatsReport, lang: str) -> discord.Embed:
    """The ``/stats`` embed (its image is the attached chart)."""
    t = i18n.t
    embed = discord.Embed(
        title=t("stats.title", lang, days=report.days),
        description=t(
            "stats.description",
            lang,
            since=discord.utils.format_dt(report.since, "d"),
            until=discord.utils.format_dt(report.until, "d"),
        ),
        colour=COLOR,
    )
    fields = {
        "active": t("stats.value.active", lang, count=report.active_members),
        "help": t(
            "stats.value.help",
            lang,
            opened=report.help_opened,
            answered=report.help_answered,
            median=_duration(report.help_median_response_minutes, lang),
            resolution=_pct(report.help_resolution_rate, lang),
            unanswered=_pct(report.help_unanswered_share, lang),
        ),
        "checkins": t(
            "stats.value.checkins",
            lang,
            members=report.checkin_members,
            participation=_pct(report.checkin_participation, lang),
            mood=_mood(report, lang),
            trend=_trend(report, lang),
        ),
        "recognition": t(
            "stats.value.recognition",
            lang,
            count=report.recognition_count,
            thanks=report.recognition_thanks,
            points=report.recognition_points,
        ),
        "reports": t(
            "stats.value.reports",
            lang,
            opened=report.reports_opened,
            open_now=report.reports_open_now,
            median=_duration(
                report.reports_median_resolution_hours * 60
                if report.reports_median_resolution_hours is not None
                else None,
                lang,
            ),
        ),
        "prompts": t("stats.value.prompts", lang, sent=report.prompts_sent, back=report.prompts_came_back),
    }
    if report.pulse_responses == 0:
        fields["pulse"] = t("stats.none", lang)
    elif report.pulse_mean is None:
        fields["pulse"] = t("stats.hidden", lang)
    else:
        fields["pulse"] = t(
            "stats.value.pulse", lang, mean=f"{report.pulse_mean:.1f}", responses=report.pulse_responses
        )
    for key, value in fields.items():
        embed.add_field(
            name=t(f"stats.field.{key}", lang), value=value[:1024], inline=key in ("recognition", "prompts")
        )
    embed.set_image(url=f"attachment://{FILENAME}")
    embed.set_footer(text=t("stats.footer", lang))
    return embed


class StatsCog(FeatureCog):
    """``/stats`` for moderators."""

    @app_commands.command(name="stats", description=_T("Community insights for moderators (only you see them)"))
    @app_commands.describe(period=_T("How far back to look"))
    @app_commands.choices(
        period=[
            app_commands.Choice(name=_T("7 days"), value="7d"),
            app_commands.Choice(name=_T("30 days"), value="30d"),
            app_commands.Choice(name=_T("90 days"), value="90d"),
        ]
    )
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_messages=True)
    @moderator_only()
    async def stats(self, interaction: discord.Interaction, period: str = "30d") -> None:
        """Aggregate numbers and a weekly chart, ephemeral."""
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        days = int(period.removesuffix("d")) if period.removesuffix("d").isdigit() else 0
        report = await self.services.insights.report(interaction.guild_id, now=self.bot.now(), days=days)
        png = await self.services.charts.render(report, report.language)
        await reply(
            interaction,
            embed=render(report, report.language),
            file=discord.File(io.BytesIO(png), filename=FILENAME),
        )


async def setup(bot: KinshipBot) -> None:
    """Extension entry point."""
    await bot.add_cog(StatsCog(bot))
