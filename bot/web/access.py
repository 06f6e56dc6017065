"""Who may see which guild, checked on every request, and the decorator every guild page uses.

A user may open ``/g/{guild_id}/…`` only when Kinship is in that guild and they hold the
moderator role (``/setup mod-role``) or Manage Server there — the same rule as the Discord side
(:meth:`bot.services.guilds.GuildService.is_moderator`). The answer is remembered for
:data:`ACCESS_TTL` seconds, the directory's for at most as long again: a moderator whose role was
taken away loses access within a minute. Anonymous visitors of a page are sent to the login page;
everyone else gets the kind 403 page — the same page whether the guild exists or not. Changing
a setting (:func:`manager_action`) also needs Manage Server, as every ``/setup`` command does.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from bot import i18n
from bot.services import Services
from bot.services.guilds import GuildSettings
from bot.web.directory import GuildDirectory
from bot.web.session import check_csrf, current_session, set_flash
from bot.web.state import GUILD, Dashboard, dashboard_of, redirect

#: Seconds an access decision is reused (the directory adds at most :data:`bot.web.directory.TTL`).
ACCESS_TTL = 30.0


class Access:
    """The per-request moderator check, with a short cache."""

    def __init__(
        self, services: Services, directory: GuildDirectory, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.services = services
        self.directory = directory
        self.clock = clock
        self._cache: dict[tuple[int, int], tuple[float, bool, bool]] = {}

    async def may_moderate(self, user_id: int, guild_id: int) -> bool:
        """Whether ``user_id`` moderates ``guild_id`` now (cached :data:`ACCESS_TTL`)."""
        return (await self._decide(user_id, guild_id))[0]

    async def may_manage(self, user_id: int, guild_id: int) -> bool:
        """Whether ``user_id`` may change ``guild_id``'s settings: a moderator with Manage Server,
        Administrator or ownership — what every ``/setup`` command checks in Discord."""
        allowed, privileged = await self._decide(user_id, guild_id)
        return allowed and privileged

    async def _decide(self, user_id: int, guild_id: int) -> tuple[bool, bool]:
        key = (user_id, guild_id)
        hit = self._cache.get(key)
        now = self.clock()
        if hit is not None and hit[0] > now:
            return hit[1], hit[2]
        member = await self.directory.member(guild_id, user_id)
        allowed = member is not None and await self.services.guilds.is_moderator(
            guild_id, set(member.role_ids), privileged=member.privileged
        )
        privileged = member is not None and member.privileged
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[key] = (now + ACCESS_TTL, allowed, privileged)
        return allowed, privileged

    def forget(self, user_id: int) -> None:
        """Drop the user's cached decisions (at logout)."""
        for key in [k for k in self._cache if k[0] == user_id]:
            del self._cache[key]

    async def guilds_for(self, user_id: int, guild_ids: frozenset[int]) -> list[tuple[int, str]]:
        """The guilds (id, name) among ``guild_ids`` that have Kinship and that the user moderates."""
        installed = await self.directory.installed(guild_ids)
        out = [(gid, name) for gid, name in installed.items() if await self.may_moderate(user_id, gid)]
        return sorted(out, key=lambda g: g[1].lower())


@dataclass
class GuildContext:
    """What a guild page handler gets: who asks, about which guild, in which language, and the tools."""

    request: web.Request
    dashboard: Dashboard
    guild_id: int
    guild_name: str
    user_id: int
    user_name: str
    lang: str
    settings: GuildSettings
    can_manage: bool = False  # Manage Server (or Administrator, or the owner): may change settings

    @property
    def services(self) -> Services:
        """Every service (the same objects as the bot's when it runs inside ``python -m bot``)."""
        return self.dashboard.services

    @property
    def directory(self) -> GuildDirectory:
        """Discord reads: channels/roles for pickers, member names (see :mod:`bot.web.directory`)."""
        return self.dashboard.directory

    def now(self) -> datetime:
        """Aware UTC now (the test's clock in tests)."""
        return self.dashboard.now()

    def t(self, key: str, /, **params: Any) -> str:
        """Translate for this visitor."""
        return i18n.t(key, self.lang, **params)

    def url(self, page: str = "", /, **query: object) -> str:
        """This guild's page ``page`` (e.g. ``"reports"`` → ``/g/123/reports``)."""
        path = f"/g/{self.guild_id}" + (f"/{page.strip('/')}" if page else "")
        clean = {k: v for k, v in query.items() if v not in (None, "")}
        return path + (f"?{urlencode(clean)}" if clean else "")

    def redirect(
        self, page: str = "", /, *, flash: str | None = None, level: str = "ok", **query: object
    ) -> web.Response:
        """A 303 to this guild's ``page`` (after a POST), with an optional one-time message."""
        response = redirect(self.url(page, **query))
        if flash:
            set_flash(self.request, response, flash, level)
        return response

    def wake_bot(self) -> None:
        """Tell the bot (when it runs in this process) that effects were queued."""
        if self.dashboard.wake is not None:
            self.dashboard.wake()


def preferred_lang(header: str | None) -> str | None:
    """The first language of an ``Accept-Language`` header that Kinship speaks, by weight."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        lang = i18n.normalize(tag.strip())
        if lang and weight > 0:
            ranked.append((-weight, index, lang))
    return sorted(ranked)[0][2] if ranked else None


def visitor_lang(request: web.Request, guild_language: str | None = None) -> str:
    """The browser's language when Kinship speaks it, then the guild's, then English."""
    return preferred_lang(request.headers.get("Accept-Language")) or i18n.pick(None, guild_language)


class Forbidden(Exception):
    """Answered with the kind 403 page (see :mod:`bot.web.app`)."""


def login_redirect(request: web.Request) -> web.HTTPFound:
    """Send an anonymous visitor to the login page, coming back here afterwards."""
    return web.HTTPFound("/login?next=" + quote(request.path_qs, safe="/"))


def _guild_id(request: web.Request) -> int:
    raw = request.match_info.get("guild_id", "")
    if not raw.isdigit() or len(raw) > 20:
        raise web.HTTPNotFound
    return int(raw)


async def guild_context(request: web.Request) -> GuildContext:
    """Resolve the visitor and check they moderate the guild in the path (see the module docstring)."""
    dash = dashboard_of(request)
    guild_id = _guild_id(request)
    session = current_session(request)
    if session is None:
        if request.method in ("GET", "HEAD"):
            raise login_redirect(request)
        raise Forbidden
    if not await dash.access.may_moderate(session.user_id, guild_id):
        raise Forbidden
    installed = await dash.directory.installed([guild_id])
    if guild_id not in installed:
        raise Forbidden
    settings = await dash.services.guilds.get(guild_id)
    ctx = GuildContext(
        request=request,
        dashboard=dash,
        guild_id=guild_id,
        guild_name=installed[guild_id],
        user_id=session.user_id,
        user_name=session.user_name,
        lang=visitor_lang(request, settings.language),
        settings=settings,
        can_manage=await dash.access.may_manage(session.user_id, guild_id),
    )
    request[GUILD] = ctx
    return ctx


Handler = Callable[[web.Request, GuildContext], Awaitable[web.StreamResponse]]


def moderator_page(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Decorate every ``/g/{guild_id}/…`` handler: access is checked first (login redirect or 403),
    and any POST must carry this session's CSRF token. The handler gets ``(request, ctx)``."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        ctx = await guild_context(request)
        await check_csrf(request)
        return await handler(request, ctx)

    wrapper.moderator_only = True  # type: ignore[attr-defined]  # the permission matrix checks this
    return wrapper


#: The same decorator, named for POST handlers (CSRF is checked for every non-GET request anyway).
moderator_action = moderator_page


class NeedsManageServer(Forbidden):
    """A moderator without Manage Server tried to change a setting (the 403 page says so)."""


def manager_action(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Decorate a POST that changes what ``/setup`` changes: as :func:`moderator_page`, and the
    visitor must also hold Manage Server (or Administrator, or own the guild), the check every
    ``/setup`` command makes in Discord; other moderators get the 403 page saying so."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        ctx = await guild_context(request)
        await check_csrf(request)
        if not ctx.can_manage:
            raise NeedsManageServer
        return await handler(request, ctx)

    wrapper.moderator_only = True  # type: ignore[attr-defined]
    wrapper.manager_only = True  # type: ignore[attr-defined]  # the permission matrix checks this too
    return wrapper
