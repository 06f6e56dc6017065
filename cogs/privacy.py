"""``/privacy export`` and ``/privacy delete`` for members; ``/setup retention`` for admins.

The policy (what is deleted, what is anonymised and kept for safety) is the ``privacy.delete.policy``
text, shown before a member confirms; ``docs/privacy.md`` states it for the README.
"""

from __future__ import annotations

import io
import re
from typing import Any

import discord
from discord import app_commands

from bot import i18n
from bot.app import KinshipBot
from bot.errors import NotAllowed
from bot.services.privacy import DeletionResult, RetentionSettings
from bot.ui import ERROR_COLOR, NO_PINGS, KinshipView, guarded, kbot, lang_of, reply, tr
from cogs._base import FeatureCog

_T = app_commands.locale_str
PREFIX = "kinship:privacy:"
MAX_DAYS = 3650


class _MemberButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"$^"):
    """A button only the member whose id is in its custom_id may press."""

    action = ""

    def __init__(
        self, member_id: int, label: str = "", style: discord.ButtonStyle = discord.ButtonStyle.secondary
    ) -> None:
        super().__init__(
            discord.ui.Button(label=label or self.action, style=style, custom_id=f"{PREFIX}{self.action}:{member_id}")
        )
        self.member_id = member_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> _MemberButton:
        """Rebuild the button from its custom_id."""
        return cls(int(match["member_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Check that the presser is the member, then act."""
        await guarded(interaction, lambda: self._run(interaction))

    async def _run(self, interaction: discord.Interaction) -> None:
        if interaction.user.id != self.member_id:
            raise NotAllowed("privacy.errors.not_yours")
        await self.act(interaction)

    async def act(self, interaction: discord.Interaction) -> None:
        """What the button does."""
        raise NotImplementedError


class ConfirmDeleteButton(_MemberButton, template=PREFIX + r"delete:(?P<member_id>[0-9]{1,20})"):
    """**Delete my data**: runs the deletion and reports what happened."""

    action = "delete"

    async def act(self, interaction: discord.Interaction) -> None:
        """Delete, then replace the prompt with the result."""
        bot = kbot(interaction)
        result = await bot.services.privacy.delete(interaction.guild_id, interaction.user.id, bot.now())
        text = render_result(result, await lang_of(interaction))
        await interaction.response.edit_message(content=text, embed=None, view=None, allowed_mentions=NO_PINGS)


class CancelDeleteButton(_MemberButton, template=PREFIX + r"cancel:(?P<member_id>[0-9]{1,20})"):
    """**Cancel**: changes nothing."""

    action = "cancel"

    async def act(self, interaction: discord.Interaction) -> None:
        """Say that nothing happened."""
        text = await tr(interaction, "privacy.delete.cancelled")
        await interaction.response.edit_message(content=text, embed=None, view=None, allowed_mentions=NO_PINGS)


def render_result(result: DeletionResult, lang: str) -> str:
    """The reply after a deletion: totals, then rows per table."""
    if not result.deleted and not result.anonymized:
        return i18n.t("privacy.delete.nothing", lang)
    text = i18n.t("privacy.delete.done", lang, deleted=result.total_deleted, anonymized=result.total_anonymized)
    parts = [f"{name} −{n}" for name, n in sorted(result.deleted.items())]
    parts += [f"{name} ∅{n}" for name, n in sorted(result.anonymized.items())]
    details = i18n.t("privacy.delete.details", lang, tables=", ".join(parts))
    full = f"{text}\n-# {details}"
    return full if len(full) <= 2000 else text


def _kept(days: int, lang: str) -> str:
    return i18n.t("privacy.retention.forever", lang) if days == 0 else i18n.t("privacy.retention.days", lang, days=days)


def render_retention(settings: RetentionSettings, lang: str) -> str:
    """The reply to ``/setup retention``."""
    return i18n.t(
        "privacy.retention.saved",
        lang,
        notes=_kept(settings.notes_days, lang),
        activity=_kept(settings.activity_days, lang),
    )


class PrivacyCog(FeatureCog):
    """A member's own data: a copy, or deletion after a confirmation; retention for admins."""

    setup_children = ("retention",)

    privacy = app_commands.Group(
        name="privacy", description=_T("Your data in Kinship: get a copy or delete it"), guild_only=True
    )

    async def cog_load(self) -> None:
        """Register the confirmation buttons and the daily retention job."""
        await super().cog_load()
        self.bot.add_dynamic_items(ConfirmDeleteButton, CancelDeleteButton)
        self.bot.scheduler.every("privacy.retention", 3600, self._retention_job)

    async def cog_unload(self) -> None:
        """Stop the job and forget the buttons."""
        self.bot.remove_dynamic_items(ConfirmDeleteButton, CancelDeleteButton)
        self.bot.scheduler.remove("privacy.retention")
        await super().cog_unload()

    async def _retention_job(self, now: Any) -> None:
        await self.services.privacy.apply_retention(now)

    @privacy.command(name="export", description=_T("Get everything Kinship stores about you as a file"))
    async def export(self, interaction: discord.Interaction) -> None:
        """Send the member a JSON file with their data on this server (ephemeral)."""
        assert interaction.guild_id is not None
        await interaction.response.defer(ephemeral=True, thinking=True)
        data = await self.services.privacy.request_export(interaction.guild_id, interaction.user.id, self.bot.now())
        file = discord.File(io.BytesIO(data.to_json()), filename=f"kinship-data-{interaction.guild_id}.json")
        text = await tr(interaction, "privacy.export.done", rows=data.row_count, tables=len(data.tables))
        await reply(interaction, text, file=file)

    @privacy.command(name="delete", description=_T("Delete your personal data from Kinship on this server"))
    async def delete(self, interaction: discord.Interaction) -> None:
        """Explain the policy and ask for confirmation."""
        lang = await lang_of(interaction)
        embed = discord.Embed(
            title=i18n.t("privacy.delete.title", lang),
            description=i18n.t("privacy.delete.policy", lang),
            colour=ERROR_COLOR,
        )
        view = KinshipView(timeout=600)  # the buttons are DynamicItems: they work after that too
        member_id = interaction.user.id
        view.add_item(
            ConfirmDeleteButton(member_id, i18n.t("privacy.delete.confirm", lang), discord.ButtonStyle.danger)
        )
        view.add_item(CancelDeleteButton(member_id, i18n.t("privacy.delete.cancel", lang)))
        await reply(interaction, embed=embed, view=view)

    @app_commands.command(name="retention", description=_T("How long check-in notes and activity are kept"))
    @app_commands.describe(
        notes_days=_T("Days to keep check-in notes (0 = keep forever)"),
        activity_days=_T("Days to keep activity records (0 = keep forever)"),
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def retention(
        self,
        interaction: discord.Interaction,
        notes_days: app_commands.Range[int, 0, MAX_DAYS] | None = None,
        activity_days: app_commands.Range[int, 0, MAX_DAYS] | None = None,
    ) -> None:
        """Set (or, without options, show) the guild's retention."""
        assert interaction.guild_id is not None
        if notes_days is None and activity_days is None:
            settings = await self.services.privacy.retention(interaction.guild_id)
        else:
            settings = await self.services.privacy.set_retention(
                interaction.guild_id, self.bot.now(), notes_days=notes_days, activity_days=activity_days
            )
        await reply(interaction, render_retention(settings, await lang_of(interaction)))


async def setup(bot: KinshipBot) -> None:
    """Extension entry point."""
    await bot.add_cog(PrivacyCog(bot))
