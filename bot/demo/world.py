"""A made-up server with Kinship in it, on SimCord (an offline Discord with a virtual clock).

Shared by ``python -m bot demo`` and the test harness (``tests/harness/world.py``): the bot is
built exactly as ``bot.__main__.build`` builds it — real settings, services, scheduler and
database — except that its clock is SimCord's. Nothing here imports SimCord; callers pass the
``simcord.Env`` in, so the bot package does not need SimCord to be installed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import discord

from bot.app import KinshipBot
from bot.config import Settings
from bot.db import Database
from bot.scheduler import Leadership, Scheduler
from bot.services import Services
from bot.services.context import ServiceContext

# Shaped like a bot token (three dot-separated parts) so Settings accepts it; SimCord never checks it.
FAKE_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GabcdE.abcdefghijklmnopqrstuvwxyz0123456789AB"  # noqa: S105 - not a secret


def default_settings(db: Database) -> Settings:
    """The settings an offline bot runs with unless the caller says otherwise."""
    return Settings(discord_token=FAKE_TOKEN, database_url=db.engine.url.render_as_string())


def build_bot(
    db: Database,
    now: Callable[[], datetime],
    *,
    settings: Settings | None = None,
    extensions: list[str] | None = None,
    leadership: Leadership | None = None,
) -> KinshipBot:
    """The bot exactly as ``bot.__main__.build`` makes it, with the given clock.

    The scheduler does not tick on its own: the caller runs jobs at virtual times."""
    settings = settings or default_settings(db)
    services = Services.build(ServiceContext(db=db))
    return KinshipBot(
        settings=settings,
        db=db,
        services=services,
        scheduler=Scheduler(now=now, leadership=leadership, ticking=False),
        now=now,
        extensions=extensions,
    )


@dataclass
class Community:
    """The handles of a server that has everything a support group needs."""

    guild: Any
    owner: Any
    mod: Any
    alice: Any
    bob: Any
    carol: Any
    everyone: Any
    mod_role: Any
    general: Any
    help: Any
    mods: Any
    checkins: Any


@dataclass(frozen=True)
class Names:
    """What the people and the server are called."""

    guild: str = "Kinship Test"
    owner: str = "owner"
    mod: str = "mod"
    alice: str = "alice"
    bob: str = "bob"
    carol: str = "carol"


def build_community(env: Any, bot: KinshipBot, *, names: Names | None = None, shard_id: int | None = None) -> Community:
    """Create the guild in ``env`` (a started ``simcord.Env``): an owner, a moderator, three
    members, and the channels ``/setup`` wants, with a private moderators' channel.

    SimCord's ids are deterministic, so two communities built alike have the same ids."""
    names = names or Names()
    owner_user = env.create_user(names.owner)
    guild = env.create_guild(names.guild, owner=owner_user, shard_id=shard_id)
    everyone = guild.default_role
    mod_role = guild.create_role("Moderators", permissions=discord.Permissions(manage_messages=True))
    owner = guild.add_member(owner_user)
    mod = guild.add_member(env.create_user(names.mod), roles=[mod_role])
    alice = guild.add_member(env.create_user(names.alice))
    bob = guild.add_member(env.create_user(names.bob))
    carol = guild.add_member(env.create_user(names.carol))
    # Private: moderators and the bot (which an admin adds to the channel) only.
    private = {
        everyone: discord.PermissionOverwrite(view_channel=False),
        mod_role: discord.PermissionOverwrite(view_channel=True),
        bot.user: discord.PermissionOverwrite(view_channel=True),
    }
    return Community(
        guild=guild,
        owner=owner,
        mod=mod,
        alice=alice,
        bob=bob,
        carol=carol,
        everyone=everyone,
        mod_role=mod_role,
        general=guild.create_text_channel("general"),
        help=guild.create_text_channel("help"),
        mods=guild.create_text_channel("moderators", overwrites=private),
        checkins=guild.create_text_channel("check-ins"),
    )


def unexpected_errors(env: Any) -> list[BaseException]:
    """Errors the bot raised that were not rendered as a kind, expected message."""
    from bot.ui import _describe, _unwrap

    return [e for e in env.errors if _describe(_unwrap(e))[0] is None]
