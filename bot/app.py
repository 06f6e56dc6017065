"""The bot: holds settings, database, services and scheduler, all built outside and passed in."""

from __future__ import annotations

import logging
import pkgutil
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

import cogs
from bot.config import Settings
from bot.db import Database
from bot.i18n.translator import KinshipTranslator
from bot.retry import DM_INTERVAL, DmPacer
from bot.scheduler import Scheduler
from bot.services import Services
from bot.sharding import GuildScope
from bot.ui import NO_PINGS, report_error

log = logging.getLogger(__name__)

#: How long the name of a guild on another process's shards is remembered.
REMOTE_NAME_TTL = timedelta(hours=1)
#: Modules under ``cogs/`` that a cog imports (views, sending) and that are not extensions themselves.
HELPER_SUFFIXES = ("_views", "_delivery")


def all_extensions() -> list[str]:
    """Every extension module under ``cogs/`` (``_*``, ``*_views`` and ``*_delivery`` modules are
    helpers); ``setup`` loads first because other cogs add subcommands to ``/setup``."""
    names = sorted(
        m.name
        for m in pkgutil.iter_modules(cogs.__path__)
        if not m.name.startswith("_") and not m.name.endswith(HELPER_SUFFIXES)
    )
    names.sort(key=lambda n: n != "setup")
    return [f"{cogs.__name__}.{n}" for n in names]


def intents() -> discord.Intents:
    """Only what Kinship needs. No MESSAGE_CONTENT, no privileged intents."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True  # activity (author and time only; content arrives empty)
    wanted.guild_reactions = True  # activity
    wanted.dm_messages = False
    return wanted


class KinshipTree(app_commands.CommandTree["KinshipBot"]):
    """One error handler for every application command."""

    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        """Render check failures, cooldowns, conversion and service errors; log the rest with an id."""
        await report_error(interaction, error)


class KinshipBot(commands.AutoShardedBot):
    """Kinship's ``commands.Bot``. Build it with everything it needs; it builds nothing itself."""

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        services: Services,
        scheduler: Scheduler,
        now: Callable[[], datetime],
        extensions: Iterable[str] | None = None,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(),
            allowed_mentions=NO_PINGS,
            tree_cls=KinshipTree,
            help_command=None,
            shard_count=settings.shard_count,
            shard_ids=list(settings.shard_ids) if settings.shard_ids else None,
            member_cache_flags=discord.MemberCacheFlags.from_intents(intents()),
            chunk_guilds_at_startup=False,
        )
        self.settings = settings
        self.db = db
        self.services = services
        self.scheduler = scheduler
        #: The guilds on this process's shards; ``None`` = every guild (all shards).
        self.shard_scope = GuildScope.of(settings.shard_count, settings.shard_ids)
        scheduler.shard_local = self.shard_scope is not None
        scheduler.guilds_ready = self.guilds_ready
        self.now = now
        self.extension_names = list(extensions) if extensions is not None else all_extensions()
        self._shutdown_hooks: list[Callable[[], Awaitable[object]]] = []
        self._sync_hooks: dict[str, list[Callable[..., None]]] = {}
        #: Shared by every feature that sends DMs, so together they stay under Discord's pace. The
        #: pace is per bot account: a process holding some of the shards takes its share of it.
        share = 1.0 if self.shard_scope is None else self.shard_scope.shard_count / len(self.shard_scope.shard_ids)
        self.dm_pacer = DmPacer(DM_INTERVAL * share)
        self.synced_commands: list[app_commands.AppCommand] = []
        self._remote_guild_names: dict[int, tuple[str, datetime]] = {}  # name, when asked

    def guilds_ready(self) -> bool:
        """Whether scheduled work may act on guilds: every shard is ready. Before that a guild of
        ours may look empty or absent, and a job would mistake it for a deleted channel or role;
        guild jobs wait instead (their work is stored, so it is only delayed)."""
        return self.is_ready()

    @property
    def guild_scope(self) -> GuildScope | None:
        """The guilds scheduled work may act on now: those on this process's shards
        (:attr:`shard_scope`) minus those Discord marks unavailable (an outage, or a re-identified
        shard whose guilds are still arriving), whose channels and roles are not in the cache. Every
        guild job's claim query filters on it, so an unavailable guild's work waits, unclaimed and
        with no problem recorded, until its GUILD_CREATE, while the other guilds are served at once.
        ``None`` = every guild."""
        return GuildScope.narrowed(self.shard_scope, self.unavailable_guild_ids())

    def unavailable_guild_ids(self) -> frozenset[int]:
        """This process's cached guilds that Discord marks unavailable right now."""
        return frozenset(guild.id for guild in self.guilds if guild.unavailable)

    def served_guilds(self) -> list[discord.Guild]:
        """:attr:`guild_scope` for a job that walks the cache instead of claiming rows: this
        process's guilds (its shards' cache) that are available."""
        return [guild for guild in self.guilds if not guild.unavailable]

    def owns_guild(self, guild_id: int) -> bool:
        """Whether ``guild_id`` is on one of this process's shards (always, without ``SHARD_IDS``)."""
        return self.shard_scope is None or self.shard_scope.owns(guild_id)

    async def guild_name(self, guild_id: int) -> str:
        """A guild's name for a DM ("" when unknown). A guild on another process's shards is asked
        for once over REST (a DM button arrives on shard 0, wherever its guild lives)."""
        guild = self.get_guild(guild_id)
        if guild is not None:
            return guild.name
        if self.owns_guild(guild_id):
            return ""  # ours, yet not in the cache: the bot left it
        known = self._remote_guild_names.get(guild_id)
        if known is None or self.now() - known[1] > REMOTE_NAME_TTL:  # renames show within the hour
            try:
                name = (await self.fetch_guild(guild_id, with_counts=False)).name
            except discord.HTTPException:
                return known[0] if known else ""
            known = self._remote_guild_names[guild_id] = (name, self.now())
        return known[0]

    async def channel_of(self, guild_id: int, channel_id: int | None) -> Any:
        """A guild's channel from the cache; for a guild on another process's shards (reached from
        a DM button, which Discord delivers on shard 0) fetched by id, one REST call. ``None`` when
        it is not set or gone; other REST errors are raised for the caller to classify."""
        if channel_id is None:
            return None
        channel = self.get_channel(channel_id)
        if channel is not None or self.owns_guild(guild_id):
            return channel
        try:
            return await self.fetch_channel(channel_id)
        except (discord.NotFound, discord.Forbidden):
            return None

    def on_event_sync(self, event: str, hook: Callable[..., None]) -> None:
        """Call ``hook(*args)`` synchronously for every ``event`` (e.g. ``"message"``), inside
        :meth:`dispatch`, without the task discord.py creates per listener. For tiny, non-blocking
        bookkeeping on hot paths only (activity tracking); it must never raise or await."""
        self._sync_hooks.setdefault(event, []).append(hook)

    def remove_event_sync(self, event: str, hook: Callable[..., None]) -> None:
        """Undo :meth:`on_event_sync`."""
        hooks = self._sync_hooks.get(event, [])
        if hook in hooks:
            hooks.remove(hook)

    def dispatch(self, event_name: str, /, *args: object, **kwargs: object) -> None:
        """discord.py's dispatch, running the synchronous hooks first."""
        for hook in self._sync_hooks.get(event_name, ()):
            try:
                hook(*args)
            except Exception:
                log.exception("event hook %r failed for %s", hook, event_name)
        super().dispatch(event_name, *args, **kwargs)

    def on_shutdown(self, hook: Callable[[], Awaitable[object]]) -> None:
        """Run ``hook`` when the bot closes (e.g. flush buffered writes)."""
        self._shutdown_hooks.append(hook)

    async def setup_hook(self) -> None:
        """Load every cog (a broken one stops start-up), start the clock, sync commands."""
        await self.tree.set_translator(KinshipTranslator())
        for name in self.extension_names:
            await self.load_extension(name)
        self.scheduler.start()
        if self.settings.sync_commands:
            await self.sync_commands()

    async def sync_commands(self) -> list[app_commands.AppCommand]:
        """Sync to ``DEV_GUILD_ID`` when set (instant), globally otherwise."""
        if self.settings.dev_guild_id:
            guild = discord.Object(id=self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            self.synced_commands = await self.tree.sync(guild=guild)
        else:
            self.synced_commands = await self.tree.sync()
        log.info("synced %d application commands", len(self.synced_commands))
        return self.synced_commands

    async def on_ready(self) -> None:
        """Log who we are."""
        log.info("connected as %s in %d guild(s)", self.user, len(self.guilds))

    async def on_error(self, event_method: str, /, *args: object, **kwargs: object) -> None:
        """Never crash on an event handler's error; log it with an id."""
        log.exception("error in event %s (args=%r)", event_method, args[:2])

    async def close(self) -> None:
        """Stop the clock, flush what is buffered, then disconnect."""
        await self.scheduler.shutdown()
        for hook in self._shutdown_hooks:
            try:
                await hook()
            except Exception:
                log.exception("shutdown hook %r failed", hook)
        self._shutdown_hooks.clear()
        self.services.charts.close()
        await super().close()
