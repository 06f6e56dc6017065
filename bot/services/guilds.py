"""Per-guild configuration: channels, moderator role, time zone, language — and health checks."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import bindparam
from sqlmodel import select

from bot import i18n
from bot.errors import InvalidInput
from bot.models.guild import GuildConfig, GuildProblem
from bot.services.context import ServiceContext
from bot.statements import Prepared

ChannelKind = Literal["help", "mod", "checkin"]

#: What the bot needs in each configured channel (discord.Permissions attribute names).
_POSTING = (
    "view_channel",
    "send_messages",
    "embed_links",
    "read_message_history",
    "create_public_threads",
    "send_messages_in_threads",
)
REQUIRED_PERMISSIONS: dict[ChannelKind, tuple[str, ...]] = {
    "help": (*_POSTING, "create_private_threads", "manage_threads"),
    "mod": _POSTING,
    "checkin": _POSTING,
}


#: How long a process may use guild settings it read before (another process's change shows after this).
CACHE_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """A guild's configuration as plain data."""

    guild_id: int
    help_channel_id: int | None = None
    mod_channel_id: int | None = None
    checkin_channel_id: int | None = None
    mod_role_id: int | None = None
    timezone: str = "UTC"
    language: str = "en"

    @property
    def tz(self) -> ZoneInfo:
        """The guild's time zone."""
        return ZoneInfo(self.timezone)

    def channel_id(self, kind: ChannelKind) -> int | None:
        """The configured channel of ``kind``."""
        return {"help": self.help_channel_id, "mod": self.mod_channel_id, "checkin": self.checkin_channel_id}[kind]


@dataclass(frozen=True, slots=True)
class RoleView:
    """Whether a role can see the moderators' channel (observed by the Discord layer)."""

    role_id: int
    name: str
    can_view: bool
    is_everyone: bool = False
    is_privileged: bool = False  # administrator or manage_guild: moderators by definition


@dataclass(frozen=True, slots=True)
class ChannelObservation:
    """What the Discord layer saw of one configured channel."""

    kind: ChannelKind
    channel_id: int
    exists: bool
    granted: frozenset[str] = frozenset()
    roles: tuple[RoleView, ...] = ()
    forum: bool = False


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of ``/setup show``: ``level`` is ok/warn/error, ``key`` a catalogue entry."""

    level: Literal["ok", "warn", "error"]
    key: str
    params: dict[str, str]


@dataclass(frozen=True, slots=True)
class Problem:
    """A recorded problem (see :class:`bot.models.guild.GuildProblem`)."""

    key: str
    code: str
    detail: str
    since: datetime
    last_seen: datetime


@cache
def _timezones() -> tuple[str, ...]:
    return tuple(sorted(tz for tz in available_timezones() if "/" in tz or tz == "UTC"))


def validate_timezone(name: str) -> str:
    """Return the canonical IANA name or raise :class:`InvalidInput`."""
    name = name.strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for the file system
        raise InvalidInput("setup.errors.bad_timezone", value=name[:64]) from None
    return name


def validate_mod_role(guild_id: int, role_id: int | None, *, managed: bool) -> int | None:
    """The moderator role must be a role people are given: not @everyone (its id is the guild's,
    every member would be a moderator) and not a bot's or integration's managed role."""
    if role_id is None:
        return None
    if role_id == guild_id:
        raise InvalidInput("setup.errors.everyone_mod_role")
    if managed:
        raise InvalidInput("setup.errors.managed_mod_role")
    return role_id


def suggest_timezones(query: str, limit: int = 25) -> list[str]:
    """Time zone names containing ``query`` (case-insensitive), best matches first."""
    q = query.strip().lower().replace(" ", "_")
    zones = _timezones()
    if not q:
        return list(zones[:limit])
    starts = [z for z in zones if z.lower().startswith(q) or z.lower().split("/")[-1].startswith(q)]
    rest = [z for z in zones if q in z.lower() and z not in starts]
    return (starts + rest)[:limit]


class GuildService:
    """Reads and changes guild configuration.

    Almost every interaction needs the guild's settings (language, moderator role), so they are
    cached for :data:`CACHE_SECONDS`; a change made through :meth:`update` is seen at once in this
    process, and by other processes sharing the database within that time.
    """

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db
        self._cache: dict[int, tuple[float, GuildSettings]] = {}
        # Bumped by every change: a read that started before a change must not cache what it saw
        # (reads don't wait for writes on SQLite, so one can finish after the change committed).
        self._changes: dict[int, int] = {}

    async def get(self, guild_id: int) -> GuildSettings:
        """The guild's settings (defaults when it has never been configured)."""
        cached = self._cache.get(guild_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        seen = self._changes.get(guild_id, 0)
        async with self.db.direct(read=True) as q:
            row = await q.first(_SETTINGS, guild=guild_id)
        settings = GuildSettings(*row) if row else GuildSettings(guild_id=guild_id)
        if self._changes.get(guild_id, 0) == seen:
            self._cache[guild_id] = (time.monotonic() + CACHE_SECONDS, settings)
        return settings

    async def update(self, guild_id: int, now: datetime, **changes: int | str | None) -> GuildSettings:
        """Change some settings; unknown names are a programming error, bad values an InvalidInput."""
        allowed = set(GuildSettings.__dataclass_fields__) - {"guild_id"}
        unknown = set(changes) - allowed
        if unknown:
            raise TypeError(f"unknown guild settings: {sorted(unknown)}")
        if "timezone" in changes:
            changes["timezone"] = validate_timezone(str(changes["timezone"]))
        if changes.get("mod_role_id") == guild_id:  # @everyone's id is the guild's: everyone a moderator
            raise InvalidInput("setup.errors.everyone_mod_role")
        if "language" in changes and changes["language"] not in i18n.SUPPORTED:
            raise InvalidInput("setup.errors.bad_language", value=str(changes["language"])[:16])
        async with self.db.session() as s:
            row = await s.get(GuildConfig, guild_id, with_for_update=True)
            if row is None:
                row = GuildConfig(guild_id=guild_id, updated_at=now)
                s.add(row)
            for name, value in changes.items():
                setattr(row, name, value)
            row.updated_at = now
            await s.flush()
            settings = _to_settings(row)
        self._changes[guild_id] = self._changes.get(guild_id, 0) + 1
        self._cache.pop(guild_id, None)
        return settings

    async def forget_channel(self, guild_id: int, channel_id: int, now: datetime) -> list[ChannelKind]:
        """Unset every setting pointing at a deleted channel; returns which kinds were unset."""
        settings = await self.get(guild_id)
        kinds: list[ChannelKind] = [k for k in ("help", "mod", "checkin") if settings.channel_id(k) == channel_id]
        if kinds:
            await self.update(guild_id, now, **{f"{k}_channel_id": None for k in kinds})
        return kinds

    async def is_moderator(self, guild_id: int, role_ids: set[int], *, privileged: bool) -> bool:
        """Moderators are members with Manage Server/Administrator or the configured role."""
        if privileged:
            return True
        settings = await self.get(guild_id)
        return settings.mod_role_id not in (None, guild_id) and settings.mod_role_id in role_ids

    @staticmethod
    def evaluate(settings: GuildSettings, observed: list[ChannelObservation]) -> list[Finding]:
        """Turn what the Discord layer saw into ``/setup show`` findings."""
        findings: list[Finding] = []
        by_kind = {o.kind: o for o in observed}
        for kind in ("help", "mod", "checkin"):
            channel_id = settings.channel_id(kind)
            if channel_id is None:
                findings.append(Finding("warn", "setup.health.not_set", {"kind": kind}))
                continue
            seen = by_kind.get(kind)
            if seen is None or not seen.exists:
                findings.append(Finding("error", "setup.health.channel_missing", {"kind": kind}))
                continue
            needed = REQUIRED_PERMISSIONS[kind]
            if seen.forum:  # forum posts are public threads; private threads do not exist there
                needed = tuple(p for p in needed if p != "create_private_threads")
            missing = [p for p in needed if p not in seen.granted]
            if missing:
                findings.append(
                    Finding("error", "setup.health.missing_permissions", {"kind": kind, "perms": ", ".join(missing)})
                )
            else:
                findings.append(Finding("ok", "setup.health.channel_ok", {"kind": kind}))
            if kind == "mod":
                findings.extend(_visibility(settings, seen))
        if settings.mod_role_id is None:
            findings.append(Finding("warn", "setup.health.no_mod_role", {}))
        return findings


def _visibility(settings: GuildSettings, seen: ChannelObservation) -> list[Finding]:
    everyone = [r for r in seen.roles if r.is_everyone and r.can_view]
    if everyone:
        return [Finding("error", "setup.health.mod_channel_public", {})]
    others = [
        r.name
        for r in seen.roles
        if r.can_view and not r.is_everyone and not r.is_privileged and r.role_id != settings.mod_role_id
    ]
    if others:
        return [Finding("error", "setup.health.mod_channel_visible", {"roles": ", ".join(sorted(others))[:900]})]
    return []


_CONFIG = GuildConfig.__table__  # type: ignore[attr-defined]
#: :class:`GuildSettings`' fields, in its order.
_SETTINGS = Prepared(
    select(*(_CONFIG.c[name] for name in GuildSettings.__dataclass_fields__)).where(
        _CONFIG.c.guild_id == bindparam("guild")
    )
)


def _to_settings(row: GuildConfig) -> GuildSettings:
    return GuildSettings(
        guild_id=row.guild_id,
        help_channel_id=row.help_channel_id,
        mod_channel_id=row.mod_channel_id,
        checkin_channel_id=row.checkin_channel_id,
        mod_role_id=row.mod_role_id,
        timezone=row.timezone,
        language=row.language,
    )


class HealthService:
    """Problems features ran into (missing permission, deleted channel, undelivered items)."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db

    async def report(self, guild_id: int, key: str, code: str, now: datetime, detail: str = "") -> None:
        """Record (or refresh) problem ``key`` for a guild. ``code`` picks the text ``problems.<code>``."""
        async with self.db.session() as s:
            row = (
                await s.exec(select(GuildProblem).where(GuildProblem.guild_id == guild_id, GuildProblem.key == key))
            ).first()
            if row is None:
                s.add(
                    GuildProblem(guild_id=guild_id, key=key, code=code, detail=detail[:500], since=now, last_seen=now)
                )
            else:
                if row.code != code:
                    row.since = now
                row.code, row.detail, row.last_seen = code, detail[:500], now

    async def clear(self, guild_id: int, key: str) -> None:
        """Forget problem ``key`` (it works again)."""
        async with self.db.session() as s:
            row = (
                await s.exec(select(GuildProblem).where(GuildProblem.guild_id == guild_id, GuildProblem.key == key))
            ).first()
            if row is not None:
                await s.delete(row)

    async def list(self, guild_id: int) -> list[Problem]:
        """Current problems of a guild, oldest first."""
        async with self.db.direct(read=True) as q:
            rows = await q.rows(_PROBLEMS, guild=guild_id)
        return [Problem(*row) for row in rows]


#: A guild's current problems, oldest first (built once: ``/setup show`` reads them each time).
_PROBLEM_TABLE = GuildProblem.__table__  # type: ignore[attr-defined]
_PROBLEMS = Prepared(
    select(*(_PROBLEM_TABLE.c[name] for name in Problem.__dataclass_fields__))
    .where(_PROBLEM_TABLE.c.guild_id == bindparam("guild"))
    .order_by(_PROBLEM_TABLE.c.since)
)
