"""``/resources``: crisis and support contacts for the member's region; ``/setup resources`` for admins."""

from __future__ import annotations

from urllib.parse import urlsplit

import discord
from discord import app_commands

from bot import i18n
from bot.app import KinshipBot
from bot.services.care import (
    MAX_CONTACT,
    MAX_NAME,
    MAX_URL,
    Card,
    GuildContact,
    region_for_locale,
)
from bot.ui import COLOR, lang_of, reply, tr
from cogs._base import FeatureCog

_T = app_commands.locale_str
_REGION_NAMES = {
    "de": "Germany",
    "at": "Austria",
    "ch": "Switzerland",
    "uk": "United Kingdom",
    "us": "United States",
    "intl": "International",
}
REGION_CHOICES = [app_commands.Choice(name=_T(label), value=code) for code, label in _REGION_NAMES.items()]
GUILD_REGION_CHOICES = [*REGION_CHOICES, app_commands.Choice(name=_T("All regions"), value="all")]


def _esc(text: str) -> str:
    return discord.utils.escape_mentions(discord.utils.escape_markdown(text))


def _link(url: str | None) -> str:
    if not url:
        return ""
    host = urlsplit(url).netloc.removeprefix("www.") or url
    return f" · [{_esc(host)}]({url})"


def _fit(lines: list[str], limit: int) -> str:
    out = ""
    for line in lines:
        candidate = f"{out}\n{line}" if out else line
        if len(candidate) > limit:
            break
        out = candidate
    return out


def render_card(card: Card, lang: str) -> discord.Embed:
    """The ``/resources`` card: emergency number, shipped contacts, then the guild's own."""
    region = card.region
    lines = [i18n.t("care.emergency", lang, number=region.emergency), ""]
    for c in region.contacts:
        lines.append(f"**{_esc(c.name)}** — {_esc(c.contact)}")
        lines.append(f"{_esc(c.note_for(lang))}{_link(c.url)}")
    embed = discord.Embed(
        title=i18n.t("care.title", lang, region=i18n.t(f"care.region.{region.code}", lang)),
        description=_fit(lines, 4096),
        colour=COLOR,
    )
    if card.guild_contacts:
        extra = [_guild_line(c) for c in card.guild_contacts]
        embed.add_field(name=i18n.t("care.guild", lang), value=_fit(extra, 1024), inline=False)
    embed.set_footer(text=i18n.t("care.footer", lang))
    return embed


def _guild_line(c: GuildContact) -> str:
    return f"**{_esc(c.name)}** — {_esc(c.contact)}{_link(c.url)}"


class ResourcesCog(FeatureCog):
    """Support contacts for members; admins add their own."""

    setup_children = ("resources_setup",)

    resources_setup = app_commands.Group(
        name="resources", description=_T("Support contacts that /resources shows on this server")
    )

    def __init__(self, bot: KinshipBot) -> None:
        super().__init__(bot)
        self.care = bot.services.care

    @app_commands.command(name="resources", description=_T("Crisis and support contacts for your region"))
    @app_commands.describe(region=_T("Whose contacts to show (default: from your Discord language)"))
    @app_commands.choices(region=REGION_CHOICES)
    async def resources(self, interaction: discord.Interaction, region: app_commands.Choice[str] | None = None) -> None:
        """Show the contacts of the chosen region (or the one the member's Discord locale suggests)."""
        code = region.value if region else region_for_locale(interaction.locale.value if interaction.locale else None)
        card = await self.care.card(interaction.guild_id, code)
        await reply(interaction, embed=render_card(card, await lang_of(interaction)))

    @resources_setup.command(name="add", description=_T("Add a support contact for this server"))
    @app_commands.describe(
        region=_T("Region it is for (or all regions)"),
        name=_T("Name of the service, e.g. Krisendienst Oberbayern"),
        contact=_T("Phone number, text code or how to reach them"),
        url=_T("A link with more information (https://…)"),
    )
    @app_commands.choices(region=GUILD_REGION_CHOICES)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def add(
        self,
        interaction: discord.Interaction,
        region: app_commands.Choice[str],
        name: app_commands.Range[str, 1, MAX_NAME],
        contact: app_commands.Range[str, 1, MAX_CONTACT],
        url: app_commands.Range[str, 1, MAX_URL] | None = None,
    ) -> None:
        """Add a guild contact."""
        assert interaction.guild_id is not None
        added = await self.care.add(
            interaction.guild_id,
            region.value,
            name=name,
            contact=contact,
            url=url,
            added_by=interaction.user.id,
            now=self.bot.now(),
        )
        region_name = await tr(interaction, f"care.region.{added.region}")
        await reply(interaction, await tr(interaction, "care.setup.added", name=_esc(added.name), region=region_name))

    @resources_setup.command(name="remove", description=_T("Remove a support contact of this server"))
    @app_commands.describe(contact_name=_T("The contact to remove"))
    @app_commands.checks.has_permissions(manage_guild=True)
    async def remove(self, interaction: discord.Interaction, contact_name: app_commands.Range[str, 1, 100]) -> None:
        """Remove a guild contact."""
        assert interaction.guild_id is not None
        gone = await self.care.remove(interaction.guild_id, contact_name)
        await reply(interaction, await tr(interaction, "care.setup.removed", name=_esc(gone.name)))

    @remove.autocomplete("contact_name")
    async def remove_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The guild's contacts matching what was typed."""
        if interaction.guild_id is None:
            return []
        lang = await lang_of(interaction)
        q = current.strip().lower()
        return [
            app_commands.Choice(name=f"{c.name} ({i18n.t(f'care.region.{c.region}', lang)})"[:100], value=str(c.id))
            for c in await self.care.list(interaction.guild_id)
            if q in c.name.lower()
        ][:25]

    @resources_setup.command(name="list", description=_T("List this server's support contacts"))
    @app_commands.checks.has_permissions(manage_guild=True)
    async def list_(self, interaction: discord.Interaction) -> None:
        """List the guild's own contacts."""
        assert interaction.guild_id is not None
        contacts = await self.care.list(interaction.guild_id)
        lang = await lang_of(interaction)
        if not contacts:
            await reply(interaction, i18n.t("care.setup.list_empty", lang))
            return
        lines = [f"{i18n.t(f'care.region.{c.region}', lang)}: {_guild_line(c)}" for c in contacts]
        embed = discord.Embed(title=i18n.t("care.setup.list_title", lang), description=_fit(lines, 4096), colour=COLOR)
        await reply(interaction, embed=embed)


async def setup(bot: KinshipBot) -> None:
    """Extension entry point."""
    await bot.add_cog(ResourcesCog(bot))
