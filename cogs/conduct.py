"""Code of conduct: ``/rules`` for members, ``/setup rules`` and ``/setup rules-required`` for admins."""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import app_commands

from bot import i18n
from bot.app import KinshipBot
from bot.services.conduct import MAX_TEXT, Conduct
from bot.ui import COLOR, KinshipModal, guarded, kbot, lang_of, reply, tr
from cogs._base import FeatureCog

_T = app_commands.locale_str
ACK_PREFIX = "kinship:conduct:ack:"


def rules_embed(conduct: Conduct, lang: str, acknowledged: bool) -> discord.Embed:
    """The code of conduct in ``lang`` (or the other language when only that one is written)."""
    text, used = conduct.text_for(lang)
    embed = discord.Embed(title=i18n.t("conduct.title", lang), description=text, colour=COLOR)
    key = "conduct.footer_accepted" if acknowledged else "conduct.footer"
    footer = i18n.t(key, lang, version=conduct.version)
    if used != lang:
        footer += " · " + i18n.t("conduct.other_language", lang)
    embed.set_footer(text=footer)
    return embed


class AckButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=ACK_PREFIX + r"(?P<version>[0-9]{1,9})"):
    """**I've read and accept**: records the acknowledgement of the version shown."""

    def __init__(self, version: int, label: str = "I've read and accept") -> None:
        super().__init__(
            discord.ui.Button(label=label, style=discord.ButtonStyle.success, custom_id=f"{ACK_PREFIX}{version}")
        )
        self.version = version

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AckButton:
        """Rebuild the button from its custom_id."""
        return cls(int(match["version"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Record the acknowledgement."""
        await guarded(interaction, lambda: self._acknowledge(interaction))

    async def _acknowledge(self, interaction: discord.Interaction) -> None:
        if interaction.guild_id is None:
            return
        bot = kbot(interaction)
        result = await bot.services.conduct.acknowledge(
            interaction.guild_id, interaction.user.id, self.version, bot.now()
        )
        await reply(interaction, await tr(interaction, "conduct.accepted" if result.new else "conduct.already"))


class RulesModal(KinshipModal):
    """The long texts of the code of conduct, English and German."""

    def __init__(self, lang: str, current: Conduct | None) -> None:
        super().__init__(title=i18n.t("conduct.modal_title", lang))
        self.text_en: discord.ui.TextInput[RulesModal] = discord.ui.TextInput(
            label=i18n.t("conduct.field_en", lang),
            custom_id="text_en",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=MAX_TEXT,
            placeholder=i18n.t("conduct.placeholder", "en"),
            default=current.text_en if current and current.text_en else None,
        )
        self.text_de: discord.ui.TextInput[RulesModal] = discord.ui.TextInput(
            label=i18n.t("conduct.field_de", lang),
            custom_id="text_de",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=MAX_TEXT,
            placeholder=i18n.t("conduct.placeholder", "de"),
            default=current.text_de if current and current.text_de else None,
        )
        self.add_item(self.text_en)
        self.add_item(self.text_de)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Save the texts (a changed text is a new version)."""
        assert interaction.guild_id is not None
        bot = kbot(interaction)
        conduct = await bot.services.conduct.set_text(
            interaction.guild_id, self.text_en.value, self.text_de.value, bot.now()
        )
        await reply(interaction, await tr(interaction, "conduct.saved", version=conduct.version))


class ConductCog(FeatureCog):
    """The guild's code of conduct and its acknowledgement."""

    setup_children = ("setup_rules", "setup_rules_required")

    async def cog_load(self) -> None:
        """Register the persistent accept button and the /setup subcommands."""
        await super().cog_load()
        self.bot.add_dynamic_items(AckButton)

    async def cog_unload(self) -> None:
        """Forget the persistent button."""
        self.bot.remove_dynamic_items(AckButton)
        await super().cog_unload()

    @app_commands.command(name="rules", description=_T("Read this server's code of conduct"))
    @app_commands.guild_only()
    async def rules(self, interaction: discord.Interaction) -> None:
        """Show the code of conduct with an accept button (when not yet accepted)."""
        assert interaction.guild_id is not None
        conduct, acked = await self.services.conduct.for_member(interaction.guild_id, interaction.user.id)
        lang = await lang_of(interaction)
        view = None
        if not acked:
            view = discord.ui.View(timeout=None)
            view.add_item(AckButton(conduct.version, label=i18n.t("conduct.accept", lang)))
        await reply(interaction, embed=rules_embed(conduct, lang, acked), view=view)

    @app_commands.command(name="rules", description=_T("Write the code of conduct (English and German)"))
    @app_commands.checks.has_permissions(manage_guild=True)
    async def setup_rules(self, interaction: discord.Interaction) -> None:
        """Open the modal with the current texts."""
        assert interaction.guild_id is not None
        current = await self.services.conduct.get(interaction.guild_id)
        await interaction.response.send_modal(RulesModal(await lang_of(interaction), current))

    @app_commands.command(
        name="rules-required", description=_T("Ask members to accept the rules before help and reports")
    )
    @app_commands.describe(enabled=_T("On: members accept the rules with /rules first"))
    @app_commands.checks.has_permissions(manage_guild=True)
    async def setup_rules_required(self, interaction: discord.Interaction, enabled: bool) -> None:
        """Turn the acknowledgement gate on or off."""
        assert interaction.guild_id is not None
        await self.services.conduct.set_required(interaction.guild_id, enabled, self.bot.now())
        await reply(interaction, await tr(interaction, "conduct.required_on" if enabled else "conduct.required_off"))


async def setup(bot: KinshipBot) -> None:
    """Extension entry point."""
    await bot.add_cog(ConductCog(bot))
