"""``/setup``: where admins point Kinship at their channels and see what is wrong."""

from __future__ import annotations

import discord
from discord import app_commands

from bot import i18n
from bot.app import KinshipBot
from bot.services.guilds import (
    REQUIRED_PERMISSIONS,
    ChannelKind,
    ChannelObservation,
    Finding,
    GuildSettings,
    RoleView,
    suggest_timezones,
    validate_mod_role,
)
from bot.ui import COLOR, ERROR_COLOR, WARN_COLOR, fit, lang_of, reply, tr
from cogs._base import FeatureCog

ICONS = {"ok": "✅", "warn": "⚠️", "error": "❌"}
_T = app_commands.locale_str


def observe(guild: discord.Guild, kind: ChannelKind, channel_id: int | None) -> ChannelObservation | None:
    """What the bot can see of a configured channel: does it exist, what may the bot do there."""
    if channel_id is None:
        return None
    channel = guild.get_channel(channel_id)
    if channel is None or guild.me is None:
        return ChannelObservation(kind=kind, channel_id=channel_id, exists=False)
    perms = channel.permissions_for(guild.me)
    granted = frozenset(name for name in REQUIRED_PERMISSIONS[kind] if getattr(perms, name))
    roles: tuple[RoleView, ...] = ()
    if kind == "mod":
        roles = tuple(
            RoleView(
                role_id=role.id,
                name=role.name,
                can_view=channel.permissions_for(role).view_channel,
                is_everyone=role.is_default(),
                is_privileged=role.permissions.administrator or role.permissions.manage_guild,
            )
            for role in guild.roles
            if not role.managed
        )
    return ChannelObservation(
        kind=kind,
        channel_id=channel_id,
        exists=True,
        granted=granted,
        roles=roles,
        forum=isinstance(channel, discord.ForumChannel),
    )


def _mention(guild: discord.Guild, channel_id: int | None, lang: str) -> str:
    if channel_id is None:
        return i18n.t("setup.show.not_set", lang)
    return f"<#{channel_id}>" if guild.get_channel(channel_id) else i18n.t("setup.show.deleted", lang, id=channel_id)


def render_show(  # noqa: PLR0917 - the parts of one embed
    guild: discord.Guild,
    settings: GuildSettings,
    findings: list[Finding],
    problems: list,
    lang: str,
    thread_reminders: bool = False,
) -> discord.Embed:
    """The ``/setup show`` embed (``thread_reminders``: the check-in setting for closed DMs)."""
    worst = "error" if any(f.level == "error" for f in findings) or problems else "ok"
    if worst == "ok" and any(f.level == "warn" for f in findings):
        worst = "warn"
    colour = {"ok": COLOR, "warn": WARN_COLOR, "error": ERROR_COLOR}[worst]
    embed = discord.Embed(title=i18n.t("setup.show.title", lang), colour=colour)
    kinds = {k: i18n.t(f"setup.kind.{k}", lang) for k in ("help", "mod", "checkin")}
    channels = "\n".join(f"{kinds[k]}: {_mention(guild, settings.channel_id(k), lang)}" for k in kinds)
    embed.add_field(name=i18n.t("setup.show.channels", lang), value=channels, inline=False)
    role = f"<@&{settings.mod_role_id}>" if settings.mod_role_id else i18n.t("setup.show.not_set", lang)
    embed.add_field(name=i18n.t("setup.show.mod_role", lang), value=role, inline=True)
    embed.add_field(name=i18n.t("setup.show.timezone", lang), value=settings.timezone, inline=True)
    embed.add_field(name=i18n.t("setup.show.language", lang), value=settings.language, inline=True)
    closed_dms = i18n.t("checkins.closed_dms.thread" if thread_reminders else "checkins.closed_dms.none", lang)
    embed.add_field(name=i18n.t("setup.show.closed_dms", lang), value=closed_dms, inline=False)
    lines = []
    for f in findings:
        params = dict(f.params)
        if "kind" in params:
            params["kind"] = kinds[params["kind"]]
        lines.append(f"{ICONS[f.level]} {i18n.t(f.key, lang, **params)}")
    embed.add_field(name=i18n.t("setup.show.health", lang), value=fit("\n".join(lines), 1024), inline=False)
    if problems:
        text = "\n".join(
            f"❌ {i18n.t(f'problems.{p.code}', lang, detail=p.detail)} "
            f"({i18n.t('setup.show.since', lang)} {discord.utils.format_dt(p.since, 'R')})"
            for p in problems
        )
        embed.add_field(name=i18n.t("setup.show.problems", lang), value=fit(text, 1024), inline=False)
    return embed


class SetupCog(FeatureCog):
    """Guild configuration for admins (Manage Server)."""

    setup = app_commands.Group(
        name="setup",
        description=_T("Configure Kinship for this server"),
        default_permissions=discord.Permissions(manage_guild=True),
        guild_only=True,
    )

    async def _save(self, interaction: discord.Interaction, key: str, value: str, **changes: object) -> None:
        assert interaction.guild_id is not None
        await self.services.guilds.update(interaction.guild_id, self.bot.now(), **changes)  # type: ignore[arg-type]
        await reply(interaction, await tr(interaction, "setup.saved", what=await tr(interaction, key), value=value))

    @setup.command(name="help-channel", description=_T("Where help requests are opened (text or forum channel)"))
    @app_commands.describe(channel=_T("A text or forum channel"))
    @app_commands.checks.has_permissions(manage_guild=True)
    async def help_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel | discord.ForumChannel
    ) -> None:
        """Set the help channel."""
        await self._save(interaction, "setup.kind.help", channel.mention, help_channel_id=channel.id)

    @setup.command(name="mod-channel", description=_T("The private channel where moderators handle reports"))
    @app_commands.describe(channel=_T("A private text channel only moderators can see"))
    @app_commands.checks.has_permissions(manage_guild=True)
    async def mod_channel(self, interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        """Set the moderators' channel."""
        await self._save(interaction, "setup.kind.mod", channel.mention, mod_channel_id=channel.id)

    @setup.command(name="checkin-channel", description=_T("Where the weekly check-in is posted"))
    @app_commands.describe(channel=_T("A text channel"))
    @app_commands.checks.has_permissions(manage_guild=True)
    async def checkin_channel(self, interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        """Set the check-in channel."""
        await self._save(interaction, "setup.kind.checkin", channel.mention, checkin_channel_id=channel.id)

    @setup.command(name="mod-role", description=_T("The role of your moderators"))
    @app_commands.describe(role=_T("Members with this role can handle reports"))
    @app_commands.checks.has_permissions(manage_guild=True)
    async def mod_role(self, interaction: discord.Interaction, role: discord.Role) -> None:
        """Set the moderator role (not @everyone, not a bot's managed role)."""
        validate_mod_role(role.guild.id, role.id, managed=role.managed)
        await self._save(interaction, "setup.show.mod_role", role.mention, mod_role_id=role.id)

    @setup.command(name="timezone", description=_T("The server's time zone, e.g. Europe/Berlin"))
    @app_commands.describe(name=_T("An IANA time zone name"))
    @app_commands.checks.has_permissions(manage_guild=True)
    async def timezone(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 64]) -> None:
        """Set the guild time zone."""
        await self._save(interaction, "setup.show.timezone", name, timezone=name)

    @timezone.autocomplete("name")
    async def timezone_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Suggest IANA names."""
        return [app_commands.Choice(name=z, value=z) for z in suggest_timezones(current)]

    @setup.command(name="language", description=_T("The server's language for posts"))
    @app_commands.describe(language=_T("English or German"))
    @app_commands.choices(
        language=[app_commands.Choice(name="English", value="en"), app_commands.Choice(name="Deutsch", value="de")]
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def language(self, interaction: discord.Interaction, language: app_commands.Choice[str]) -> None:
        """Set the guild language."""
        await self._save(interaction, "setup.show.language", language.name, language=language.value)

    @setup.command(name="show", description=_T("Show the configuration and check that everything works"))
    @app_commands.checks.has_permissions(manage_guild=True)
    async def show(self, interaction: discord.Interaction) -> None:
        """Show configuration, permission checks, visibility warnings and recorded problems."""
        guild = interaction.guild
        assert guild is not None
        settings = await self.services.guilds.get(guild.id)
        observed = [
            o
            for k in ("help", "mod", "checkin")
            if (o := observe(guild, k, settings.channel_id(k))) is not None  # type: ignore[arg-type]
        ]
        findings = self.services.guilds.evaluate(settings, observed)
        problems = await self.services.health.list(guild.id)
        schedule = await self.services.checkins.get_schedule(guild.id)
        lang = await lang_of(interaction)
        embed = render_show(guild, settings, findings, problems, lang, schedule.thread_reminders)
        await reply(interaction, embed=embed)


async def setup(bot: KinshipBot) -> None:
    """Extension entry point."""
    await bot.add_cog(SetupCog(bot))
