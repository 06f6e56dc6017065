"""Discord glue shared by every cog: language, replies that never ping, errors, checks, views.

Every handler has the same shape: check → convert → one service call → render. This module
holds the "render" and "check" halves that are the same everywhere.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord import app_commands

from bot import i18n
from bot.errors import KinshipError, TryLater

if TYPE_CHECKING:
    from bot.app import KinshipBot

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()
COLOR = discord.Colour(0x7A9E7E)  # a calm green
WARN_COLOR = discord.Colour(0xD9A441)
ERROR_COLOR = discord.Colour(0xC0504D)

T = TypeVar("T")


def kbot(interaction: discord.Interaction) -> KinshipBot:
    """The bot behind an interaction, typed."""
    return interaction.client  # type: ignore[return-value]


async def lang_of(interaction: discord.Interaction) -> str:
    """The reply language: the member's Discord locale when we speak it, then the guild's."""
    user = i18n.normalize(interaction.locale.value if interaction.locale else None)
    if user:
        return user
    if interaction.guild_id is None:
        return i18n.DEFAULT
    settings = await kbot(interaction).services.guilds.get(interaction.guild_id)
    return i18n.pick(None, settings.language)


async def tr(interaction: discord.Interaction, key: str, /, **params: Any) -> str:
    """Translate ``key`` for whoever triggered ``interaction``."""
    return i18n.t(key, await lang_of(interaction), **params)


async def reply(
    interaction: discord.Interaction,
    content: str | None = None,
    *,
    embed: discord.Embed | None = None,
    embeds: list[discord.Embed] | None = None,
    view: discord.ui.View | None = None,
    file: discord.File | None = None,
    ephemeral: bool = True,
    allowed_mentions: discord.AllowedMentions = NO_PINGS,
) -> None:
    """Answer an interaction (or follow up when it was already answered). Ephemeral and ping-free
    unless the caller says otherwise."""
    kwargs: dict[str, Any] = {"content": content, "ephemeral": ephemeral, "allowed_mentions": allowed_mentions}
    if embed is not None:
        kwargs["embed"] = embed
    if embeds:
        kwargs["embeds"] = embeds
    if view is not None:
        kwargs["view"] = view
    if file is not None:
        kwargs["file"] = file
    if interaction.response.is_done():
        await interaction.followup.send(**kwargs)
    else:
        await interaction.response.send_message(**kwargs)


def fit(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


EMBED_TOTAL = 6000


def within_limits(embed: discord.Embed) -> discord.Embed:
    """Drop trailing fields (then cut the description) until all the text of ``embed`` fits
    Discord's 6,000-character total. Each part must already fit its own limit."""
    while len(embed) > EMBED_TOTAL and embed.fields:
        embed.remove_field(len(embed.fields) - 1)
    if len(embed) > EMBED_TOTAL and embed.description:
        embed.description = fit(embed.description, max(1, len(embed.description) - (len(embed) - EMBED_TOTAL)))
    return embed


def new_error_id() -> str:
    """A short id to quote in logs and in the apology."""
    return uuid.uuid4().hex[:8]


def format_when(value: Any) -> str:
    """A Discord timestamp that renders in the reader's own time zone."""
    return discord.utils.format_dt(value, "R") if value is not None else ""


async def report_error(interaction: discord.Interaction, error: BaseException) -> None:
    """Turn any error into a short, kind, ephemeral message; log what was unexpected."""
    original = _unwrap(error)
    key, params = _describe(original)
    if key is None:
        error_id = new_error_id()
        command = interaction.command.qualified_name if interaction.command else None
        custom_id = (interaction.data or {}).get("custom_id") if interaction.data else None
        log.error(
            "unexpected error %s in %s (guild=%s user=%s custom_id=%s)",
            error_id,
            command or "component",
            interaction.guild_id,
            interaction.user.id if interaction.user else None,
            custom_id,
            exc_info=original,
        )
        key, params = "errors.unexpected", {"error_id": error_id}
    try:
        await reply(interaction, await tr(interaction, key, **params))
    except discord.HTTPException:
        log.warning("could not tell the user about an error (interaction %s)", interaction.id, exc_info=True)


def _unwrap(error: BaseException) -> BaseException:
    if isinstance(error, app_commands.CommandInvokeError):
        return error.original
    if isinstance(error, app_commands.TransformerError) and isinstance(error.__cause__, KinshipError):
        return error.__cause__
    return error


def _describe(error: BaseException) -> tuple[str | None, dict[str, Any]]:
    if isinstance(error, TryLater):
        params = dict(error.params)
        params["when"] = format_when(error.retry_at)
        return error.key, params
    if isinstance(error, KinshipError):
        return error.key, dict(error.params)
    if isinstance(error, NotModerator):
        return "errors.not_moderator", {}
    if isinstance(error, app_commands.NoPrivateMessage):
        return "errors.guild_only", {}
    if isinstance(error, app_commands.MissingPermissions):
        return "errors.missing_permissions", {"perms": ", ".join(error.missing_permissions)}
    if isinstance(error, app_commands.BotMissingPermissions):
        return "errors.bot_missing_permissions", {"perms": ", ".join(error.missing_permissions)}
    if isinstance(error, app_commands.CommandOnCooldown):
        return "errors.cooldown", {"seconds": math.ceil(error.retry_after)}
    if isinstance(error, app_commands.TransformerError):
        return "errors.bad_value", {"value": str(error.value)[:100]}
    if isinstance(error, app_commands.CheckFailure):
        return "errors.not_allowed", {}
    return None, {}


class NotModerator(app_commands.CheckFailure):
    """The member is neither a moderator nor has Manage Server."""


async def member_is_moderator(interaction: discord.Interaction) -> bool:
    """Moderator = Manage Server/Administrator, or the guild's configured moderator role."""
    member = interaction.user
    if interaction.guild_id is None or not isinstance(member, discord.Member):
        return False
    perms = member.guild_permissions
    return await kbot(interaction).services.guilds.is_moderator(
        interaction.guild_id,
        {r.id for r in member.roles},
        privileged=perms.administrator or perms.manage_guild,
    )


def moderator_only() -> Callable[[T], T]:
    """A check for moderator commands (declare ``default_permissions`` too, for what Discord shows)."""

    async def predicate(interaction: discord.Interaction) -> bool:
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage
        if not await member_is_moderator(interaction):
            raise NotModerator
        return True

    return app_commands.check(predicate)


async def ensure_moderator(interaction: discord.Interaction) -> None:
    """The same check for buttons and modals, which have no decorators."""
    if not await member_is_moderator(interaction):
        raise NotModerator


class KinshipView(discord.ui.View):
    """A view whose errors reach the member kindly and the log with an id."""

    async def on_error(self, interaction: discord.Interaction, error: Exception, item: discord.ui.Item[Any]) -> None:
        """Render the error like any other."""
        await report_error(interaction, error)


class KinshipModal(discord.ui.Modal):
    """A modal whose errors reach the member kindly and the log with an id."""

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        """Render the error like any other."""
        await report_error(interaction, error)


async def guarded(interaction: discord.Interaction, action: Callable[[], Awaitable[object]]) -> None:
    """Run a DynamicItem callback so that errors are rendered, not lost in discord.py's log."""
    try:
        await action()
    except Exception as error:
        await report_error(interaction, error)
