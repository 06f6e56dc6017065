"""What the dashboard needs to know from Discord, behind one small interface.

:class:`GuildDirectory` answers: which guilds have Kinship, a member's roles and whether they hold
Manage Server, a guild's channels and roles (for pickers), display names, and what the bot can do
in its configured channels (for the overview's health checks). Two implementations:

* :class:`BotDirectory` — inside ``python -m bot``: the bot's cache (members are fetched, since
  Kinship has no member intent); a guild on another process's shards goes to REST.
* :class:`RestDirectory` — ``python -m bot.web`` (no gateway): REST with the bot token through
  discord.py's ``HTTPClient`` (its rate limits, ``DISCORD_API_BASE``), permissions computed from
  the raw roles and overwrites as Discord does.

Both are tested on the SimCord bot (``tests/web/test_directory.py``). Answers are cached briefly
(:data:`TTL`); access decisions have their own cache in :mod:`bot.web.access`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import discord

from bot.services.guilds import REQUIRED_PERMISSIONS, ChannelKind, ChannelObservation, GuildSettings, RoleView

if TYPE_CHECKING:
    from bot.app import KinshipBot

log = logging.getLogger(__name__)

#: How long a directory answer (channels, roles, installed guilds) is reused.
TTL = 30.0
#: Names change rarely: remembered for 10 minutes; at most this many fetched per page.
NAME_TTL = 600.0
NAME_FETCHES = 25
T = TypeVar("T")
KINDS: tuple[ChannelKind, ...] = ("help", "mod", "checkin")


@dataclass(frozen=True, slots=True)
class MemberAccess:
    """What decides whether someone moderates a guild."""

    user_id: int
    role_ids: frozenset[int]
    privileged: bool  # owner, Administrator or Manage Server


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """A channel for a picker."""

    id: int
    name: str
    kind: str  # text | forum | voice | category | other
    category: str = ""
    position: int = 0


@dataclass(frozen=True, slots=True)
class RoleInfo:
    """A role for a picker."""

    id: int
    name: str
    managed: bool = False
    is_everyone: bool = False
    position: int = 0
    #: Kinship can give and take this role (it has Manage Roles and the role is below its top role).
    assignable: bool = False


class GuildDirectory(Protocol):
    """The Discord reads of the dashboard (see the module docstring)."""

    async def installed(self, guild_ids: Iterable[int]) -> dict[int, str]:
        """Of ``guild_ids``, those Kinship is in, with their names."""
        ...

    async def member(self, guild_id: int, user_id: int) -> MemberAccess | None:
        """The member's roles and privileges; ``None`` when they are not in the guild."""
        ...

    async def channels(self, guild_id: int) -> list[ChannelInfo]:
        """The guild's channels, in Discord's order."""
        ...

    async def roles(self, guild_id: int) -> list[RoleInfo]:
        """The guild's roles, highest first."""
        ...

    async def names(self, guild_id: int, user_ids: Iterable[int]) -> dict[int, str]:
        """Display names (best effort): remembered for :data:`NAME_TTL`, at most :data:`NAME_FETCHES`
        members asked of Discord per call, so a long page never waits for a fetch per row."""
        ...

    async def observe(self, guild_id: int, settings: GuildSettings) -> list[ChannelObservation]:
        """What the bot sees of each configured channel, as ``/setup show`` does."""
        ...


class _Cache:
    """A tiny TTL cache of awaited answers."""

    def __init__(self, ttl: float = TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.clock = ttl, clock
        self._data: dict[Any, tuple[float, Any]] = {}

    async def get(self, key: Any, make: Callable[[], Awaitable[T]]) -> T:
        hit = self._data.get(key)
        now = self.clock()
        if hit is not None and hit[0] > now:
            return hit[1]  # type: ignore[no-any-return]
        value = await make()
        if len(self._data) > 50_000:
            self._data.clear()
        self._data[key] = (now + self.ttl, value)
        return value


class _Names:
    """Display names per (guild, user), misses included, with a budget of fetches per call."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._known: dict[tuple[int, int], tuple[float, str | None]] = {}

    def remember(self, guild_id: int, user_id: int, name: str | None) -> None:
        if len(self._known) > 100_000:
            self._known.clear()
        self._known[(guild_id, user_id)] = (self.clock() + NAME_TTL, name)

    async def lookup(
        self, guild_id: int, user_ids: Iterable[int], fetch: Callable[[int], Awaitable[str | None]]
    ) -> dict[int, str]:
        out: dict[int, str] = {}
        budget = NAME_FETCHES
        now = self.clock()
        for user_id in sorted(set(user_ids)):
            hit = self._known.get((guild_id, user_id))
            if hit is None or hit[0] <= now:
                if budget <= 0:
                    continue
                budget -= 1
                self.remember(guild_id, user_id, await fetch(user_id))
                hit = self._known[(guild_id, user_id)]
            if hit[1]:
                out[user_id] = hit[1]
        return out


# ---------------------------------------------------------------------- in the bot process


def _channel_kind(channel: Any) -> str:
    if isinstance(channel, discord.TextChannel):
        return "text"
    if isinstance(channel, discord.ForumChannel):
        return "forum"
    if isinstance(channel, discord.CategoryChannel):
        return "category"
    if isinstance(channel, (discord.VoiceChannel, discord.StageChannel)):
        return "voice"
    return "other"


class BotDirectory:
    """Answers from the running bot (its cache; members fetched since there is no member intent)."""

    def __init__(self, bot: KinshipBot) -> None:
        self.bot = bot
        self.rest = RestDirectory(bot.http, lambda: bot.user.id if bot.user else 0)
        self._names = _Names()

    def _guild(self, guild_id: int) -> discord.Guild | None:
        return self.bot.get_guild(guild_id)

    async def installed(self, guild_ids: Iterable[int]) -> dict[int, str]:
        """Guilds in the cache; a guild on another process's shards is asked over REST."""
        out: dict[int, str] = {}
        remote = []
        for guild_id in guild_ids:
            guild = self._guild(guild_id)
            if guild is not None:
                out[guild_id] = guild.name
            elif not self.bot.owns_guild(guild_id):
                remote.append(guild_id)
        if remote:
            out.update(await self.rest.installed(remote))
        return out

    async def member(self, guild_id: int, user_id: int) -> MemberAccess | None:
        """The member fetched from Discord (one REST call; :class:`bot.web.access.Access` remembers
        the decision for a short while)."""
        guild = self._guild(guild_id)
        if guild is None:
            return None if self.bot.owns_guild(guild_id) else await self.rest.member(guild_id, user_id)
        try:  # always asked: without the member intent a cached member's roles would never change
            member = await guild.fetch_member(user_id)
        except discord.NotFound:
            return None
        perms = member.guild_permissions
        return MemberAccess(
            user_id=user_id,
            role_ids=frozenset(r.id for r in member.roles),
            privileged=perms.administrator or perms.manage_guild or guild.owner_id == user_id,
        )

    async def channels(self, guild_id: int) -> list[ChannelInfo]:
        """Channels from the cache, in the order Discord shows them."""
        guild = self._guild(guild_id)
        if guild is None:
            return await self.rest.channels(guild_id)
        out = []
        for category, channels in guild.by_category():
            for channel in channels:
                out.append(
                    ChannelInfo(
                        channel.id, channel.name, _channel_kind(channel), category.name if category else "", len(out)
                    )
                )
        return out

    async def roles(self, guild_id: int) -> list[RoleInfo]:
        """Roles from the cache, highest first."""
        guild = self._guild(guild_id)
        if guild is None:
            return await self.rest.roles(guild_id)
        return [
            RoleInfo(r.id, r.name, r.managed, r.is_default(), r.position, r.is_assignable())
            for r in sorted(guild.roles, key=lambda r: r.position, reverse=True)
        ]

    async def names(self, guild_id: int, user_ids: Iterable[int]) -> dict[int, str]:
        """The bot's cache first, then a member fetch (a member who left: their user), remembered."""
        guild = self._guild(guild_id)
        if guild is None:
            return await self.rest.names(guild_id, user_ids)

        async def fetch(user_id: int) -> str | None:
            cached = guild.get_member(user_id) or self.bot.get_user(user_id)
            if cached is not None:
                return cached.display_name
            try:
                return (await guild.fetch_member(user_id)).display_name
            except discord.NotFound:
                return None
            except discord.HTTPException as error:
                log.info("no name for %s in %s: %s", user_id, guild_id, error)
                return None

        return await self._names.lookup(guild_id, user_ids, fetch)

    async def observe(self, guild_id: int, settings: GuildSettings) -> list[ChannelObservation]:
        """Exactly what ``/setup show`` observes (the same function)."""
        from cogs.setup import observe

        guild = self._guild(guild_id)
        if guild is None:
            return await self.rest.observe(guild_id, settings)
        return [o for k in KINDS if (o := observe(guild, k, settings.channel_id(k))) is not None]


# ---------------------------------------------------------------------- REST only


_EVERYONE_ALL = discord.Permissions.all().value


def _base_permissions(guild: dict[str, Any], roles: dict[int, dict[str, Any]], member: dict[str, Any]) -> int:
    guild_id = int(guild["id"])
    user_id = int(member["user"]["id"])
    if int(guild.get("owner_id") or 0) == user_id:
        return _EVERYONE_ALL
    value = int(roles.get(guild_id, {}).get("permissions", 0))
    for role_id in member.get("roles", []):
        value |= int(roles.get(int(role_id), {}).get("permissions", 0))
    if value & discord.Permissions(administrator=True).value:
        return _EVERYONE_ALL
    return value


def _apply_overwrites(
    base: int, guild_id: int, role_ids: Iterable[int], user_id: int | None, overwrites: list[dict[str, Any]]
) -> int:
    """Discord's order: @everyone's overwrite, then all role overwrites together, then the member's."""
    if base == _EVERYONE_ALL:
        return base
    by_id = {int(o["id"]): o for o in overwrites}
    value = base
    everyone = by_id.get(guild_id)
    if everyone:
        value = (value & ~int(everyone.get("deny", 0))) | int(everyone.get("allow", 0))
    allow = deny = 0
    for role_id in role_ids:
        o = by_id.get(int(role_id))
        if o and int(o.get("type", 0)) == 0 and int(role_id) != guild_id:
            allow |= int(o.get("allow", 0))
            deny |= int(o.get("deny", 0))
    value = (value & ~deny) | allow
    if user_id is not None:
        o = by_id.get(user_id)
        if o and int(o.get("type", 0)) == 1:
            value = (value & ~int(o.get("deny", 0))) | int(o.get("allow", 0))
    return value


_REST_KINDS = {0: "text", 5: "text", 15: "forum", 2: "voice", 13: "voice", 4: "category"}


class RestDirectory:
    """Answers over REST with the bot token (``python -m bot.web``). ``http`` is discord.py's
    ``HTTPClient`` after ``static_login``; ``bot_user_id`` gives the bot's own id."""

    def __init__(self, http: Any, bot_user_id: Callable[[], int]) -> None:
        self.http = http
        self.bot_user_id = bot_user_id
        self._cache = _Cache()
        self._names = _Names()

    async def _bot_guilds(self) -> dict[int, str]:
        async def fetch() -> dict[int, str]:
            out: dict[int, str] = {}
            after: int | None = None
            while True:
                page = await self.http.get_guilds(200, after=after)
                out.update({int(g["id"]): g.get("name", "") for g in page})
                if len(page) < 200:
                    return out
                after = int(page[-1]["id"])

        return await self._cache.get("guilds", fetch)

    async def _guild(self, guild_id: int) -> dict[str, Any] | None:
        async def fetch() -> dict[str, Any] | None:
            try:
                return dict(await self.http.get_guild(guild_id, with_counts=False))
            except (discord.NotFound, discord.Forbidden):
                return None

        return await self._cache.get(("guild", guild_id), fetch)

    async def _roles(self, guild_id: int) -> dict[int, dict[str, Any]]:
        async def fetch() -> dict[int, dict[str, Any]]:
            return {int(r["id"]): dict(r) for r in await self.http.get_roles(guild_id)}

        return await self._cache.get(("roles", guild_id), fetch)

    async def _channels(self, guild_id: int) -> list[dict[str, Any]]:
        async def fetch() -> list[dict[str, Any]]:
            return [dict(c) for c in await self.http.get_all_guild_channels(guild_id)]

        return await self._cache.get(("channels", guild_id), fetch)

    async def _raw_member(self, guild_id: int, user_id: int) -> dict[str, Any] | None:
        async def fetch() -> dict[str, Any] | None:
            try:
                return dict(await self.http.get_member(guild_id, user_id))
            except discord.NotFound:
                return None

        return await self._cache.get(("member", guild_id, user_id), fetch)

    async def installed(self, guild_ids: Iterable[int]) -> dict[int, str]:
        """The bot's guilds (``/users/@me/guilds`` with the bot token, cached) among ``guild_ids``."""
        mine = await self._bot_guilds()
        return {g: mine[g] for g in guild_ids if g in mine}

    async def member(self, guild_id: int, user_id: int) -> MemberAccess | None:
        """The member and their permissions computed from the guild's roles."""
        guild = await self._guild(guild_id)
        member = await self._raw_member(guild_id, user_id) if guild else None
        if guild is None or member is None:
            return None
        perms = discord.Permissions(_base_permissions(guild, await self._roles(guild_id), member))
        return MemberAccess(
            user_id=user_id,
            role_ids=frozenset(int(r) for r in member.get("roles", [])) | {guild_id},
            privileged=perms.administrator or perms.manage_guild,
        )

    async def channels(self, guild_id: int) -> list[ChannelInfo]:
        """Channels grouped under their categories, in Discord's order."""
        raw = await self._channels(guild_id)
        cats = {int(c["id"]): c for c in raw if c.get("type") == 4}

        def sort_key(c: dict[str, Any]) -> tuple[int, int, int, int]:
            parent = cats.get(int(c.get("parent_id") or 0))
            top = (parent or c) if c.get("type") != 4 else c
            own = (0 if c.get("type") == 4 else 1, int(c.get("position", 0)), int(c["id"]))
            return (int(top.get("position", 0)), *own)

        out = []
        for c in sorted(raw, key=sort_key):
            if c.get("type") == 4:
                continue
            parent = cats.get(int(c.get("parent_id") or 0))
            kind = _REST_KINDS.get(int(c.get("type", -1)), "other")
            out.append(ChannelInfo(int(c["id"]), c.get("name", ""), kind, parent["name"] if parent else "", len(out)))
        return out

    async def roles(self, guild_id: int) -> list[RoleInfo]:
        """Roles, highest first."""
        roles = await self._roles(guild_id)
        guild = await self._guild(guild_id)
        me = await self._raw_member(guild_id, self.bot_user_id()) if guild else None
        top, can_manage = 0, False
        if guild is not None and me is not None:
            can_manage = discord.Permissions(_base_permissions(guild, roles, me)).manage_roles
            top = max((int(roles.get(int(r), {}).get("position", 0)) for r in me.get("roles", [])), default=0)
        out = []
        for rid, r in sorted(roles.items(), key=lambda kv: (int(kv[1].get("position", 0)), kv[0]), reverse=True):
            position, managed = int(r.get("position", 0)), bool(r.get("managed"))
            assignable = can_manage and rid != guild_id and not managed and position < top
            out.append(RoleInfo(rid, r.get("name", ""), managed, rid == guild_id, position, assignable))
        return out

    async def names(self, guild_id: int, user_ids: Iterable[int]) -> dict[int, str]:
        """Members' display names (nick, global name, user name), fetched within a budget, remembered."""

        async def fetch(user_id: int) -> str | None:
            try:
                member = await self._raw_member(guild_id, user_id)
            except discord.HTTPException:
                return None
            if not member:
                return None
            user = member.get("user", {})
            return member.get("nick") or user.get("global_name") or user.get("username") or None

        return await self._names.lookup(guild_id, user_ids, fetch)

    async def observe(self, guild_id: int, settings: GuildSettings) -> list[ChannelObservation]:
        """The bot's permissions in each configured channel and, for the moderators' channel, which
        roles can view it — computed from the raw overwrites as Discord does."""
        guild = await self._guild(guild_id)
        if guild is None:
            return []
        bot_member = await self._raw_member(guild_id, self.bot_user_id())
        roles = await self._roles(guild_id)
        channels = {int(c["id"]): c for c in await self._channels(guild_id)}
        out = []
        for kind in KINDS:
            channel_id = settings.channel_id(kind)
            if channel_id is None:
                continue
            channel = channels.get(channel_id)
            if channel is None or bot_member is None:
                out.append(ChannelObservation(kind=kind, channel_id=channel_id, exists=False))
                continue
            out.append(_observe_raw(kind, guild, roles, bot_member, channel))
        return out


def _observe_raw(
    kind: ChannelKind,
    guild: dict[str, Any],
    roles: dict[int, dict[str, Any]],
    bot_member: dict[str, Any],
    channel: dict[str, Any],
) -> ChannelObservation:
    guild_id = int(guild["id"])
    overwrites = list(channel.get("permission_overwrites") or [])  # a synced channel carries its category's
    bot_id = int(bot_member["user"]["id"])
    bot_roles = [guild_id, *(int(r) for r in bot_member.get("roles", []))]
    value = _apply_overwrites(_base_permissions(guild, roles, bot_member), guild_id, bot_roles, bot_id, overwrites)
    perms = discord.Permissions(value)
    granted = frozenset(name for name in REQUIRED_PERMISSIONS[kind] if getattr(perms, name))
    role_views: tuple[RoleView, ...] = ()
    if kind == "mod":
        views = []
        for role_id, role in roles.items():
            if role.get("managed"):
                continue
            base = int(role.get("permissions", 0)) | (int(roles.get(guild_id, {}).get("permissions", 0)))
            role_perms = discord.Permissions(base)
            if role_perms.administrator:
                can_view = True
            else:
                ids = [guild_id] if role_id == guild_id else [guild_id, role_id]
                can_view = discord.Permissions(_apply_overwrites(base, guild_id, ids, None, overwrites)).view_channel
            views.append(
                RoleView(
                    role_id=role_id,
                    name=role.get("name", ""),
                    can_view=can_view,
                    is_everyone=role_id == guild_id,
                    is_privileged=role_perms.administrator or role_perms.manage_guild,
                )
            )
        role_views = tuple(views)
    return ChannelObservation(
        kind=kind,
        channel_id=int(channel["id"]),
        exists=True,
        granted=granted,
        roles=role_views,
        forum=int(channel.get("type", 0)) == 15,
    )
