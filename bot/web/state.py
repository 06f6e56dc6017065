"""What every handler can reach: the :class:`Dashboard`, built once in :func:`bot.web.app.create_app`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.config import DashboardSettings
from bot.services import Services
from bot.web.directory import GuildDirectory
from bot.web.security import Pacer, Signer

if TYPE_CHECKING:
    from bot.web.access import Access


@dataclass
class Dashboard:
    """The dashboard's dependencies, passed in (never globals)."""

    settings: DashboardSettings
    services: Services
    directory: GuildDirectory
    now: Callable[[], datetime]
    #: Called after an effect was queued: inside ``python -m bot`` it wakes the bot's effects job at
    #: once; on its own (``python -m bot.web``) it is ``None`` and the bot's job finds the row itself.
    wake: Callable[[], None] | None = None
    pacer: Pacer = field(default_factory=Pacer)
    signer: Signer = field(init=False)
    access: Access = field(init=False)
    http: Any = None  # the aiohttp ClientSession for OAuth calls, opened at start-up

    def __post_init__(self) -> None:
        from bot.web.access import Access

        self.signer = Signer(self.settings.secret)
        self.access = Access(self.services, self.directory)


DASHBOARD = web.AppKey("dashboard", Dashboard)
#: Per-request storage: the session (``None`` when anonymous), the guild page's context, the names
#: the ``name()`` template helper knows.
SESSION: web.RequestKey[Any] = web.RequestKey("kinship_session", object)
GUILD: web.RequestKey[Any] = web.RequestKey("kinship_guild", object)
NAMES: web.RequestKey[dict[int, str]] = web.RequestKey("kinship_names", dict)


def redirect(location: str, status: int = 303) -> web.Response:
    """A redirect to return (302 for GET flows, 303 "see other" after a POST)."""
    return web.Response(status=status, headers={"Location": location})


def dashboard_of(request: web.Request) -> Dashboard:
    """The request's :class:`Dashboard`."""
    return request.app[DASHBOARD]
