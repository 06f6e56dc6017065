"""``create_app``: the aiohttp application with its middlewares and every page, and ``serve``.

Middlewares, outermost first: security headers on every answer; errors turned into kind pages
(403, 404, 429, a KinshipError's own text, an unexpected error logged with an id); the session.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from bot import i18n
from bot.errors import KinshipError, NotFound, TryLater
from bot.ui import new_error_id
from bot.web import auth
from bot.web.access import Forbidden, NeedsManageServer, visitor_lang
from bot.web.directory import BotDirectory
from bot.web.pages import page_modules
from bot.web.render import STATIC, render
from bot.web.security import safe_next
from bot.web.session import CsrfRefused, session_middleware, set_flash
from bot.web.state import DASHBOARD, GUILD, Dashboard, redirect

if TYPE_CHECKING:
    from bot.app import KinshipBot

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: No inline script or style, nothing from elsewhere, never framed.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers; pages (they hold member data) are never cached."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        response = exc
        _secure(request, response)
        raise
    _secure(request, response)
    return response


def _secure(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    if request.app[DASHBOARD].settings.secure_cookies:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")


def _back(request: web.Request) -> str:
    """Where to return after a refused action: the page the form was on (same site only)."""
    referer = request.headers.get("Referer", "")
    parts = urlsplit(referer)
    own = urlsplit(request.app[DASHBOARD].settings.url)
    if parts.netloc and parts.netloc == own.netloc:
        return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""), request.path)
    guild = request.match_info.get("guild_id")
    return f"/g/{guild}" if guild and guild.isdigit() else "/"


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes a kind page; nothing unexpected reaches the visitor as a traceback."""
    try:
        return await handler(request)
    except NeedsManageServer:
        return render(request, "403.html", status=403, needs_manage_server=True)
    except (Forbidden, CsrfRefused):
        return render(request, "403.html", status=403, needs_manage_server=False)
    except web.HTTPNotFound:
        return render(request, "404.html", status=404)
    except web.HTTPMethodNotAllowed:
        return render(request, "404.html", status=405)
    except web.HTTPException:
        raise
    except KinshipError as error:
        guild = request.get(GUILD)
        lang = visitor_lang(request) if guild is None else guild.lang
        params = dict(error.params)
        if isinstance(error, TryLater):
            params["when"] = error.retry_at.strftime("%Y-%m-%d %H:%M UTC")
        text = i18n.t(error.key, lang, **params)
        if request.method == "POST":
            response = redirect(_back(request))
            set_flash(request, response, text, "error")
            return response
        status = 404 if isinstance(error, NotFound) else 400
        return render(request, "error.html", status=status, message=text, error_id=None)
    except Exception:
        error_id = new_error_id()
        log.exception("unexpected dashboard error %s on %s %s", error_id, request.method, request.path)
        return render(request, "error.html", status=500, message=None, error_id=error_id)


async def _open_http(app: web.Application) -> None:
    app[DASHBOARD].http = aiohttp.ClientSession()


async def _close_http(app: web.Application) -> None:
    session = app[DASHBOARD].http
    if session is not None:
        await session.close()


def create_app(dashboard: Dashboard) -> web.Application:
    """The dashboard: auth routes, every module in ``bot/web/pages``, static files."""
    app = web.Application(middlewares=[headers_middleware, errors_middleware, session_middleware])
    app[DASHBOARD] = dashboard
    app.add_routes(auth.routes)
    for module in page_modules():
        app.add_routes(module.routes)
    app.router.add_static("/static/", STATIC, name="static", append_version=False)
    app.on_startup.append(_open_http)
    app.on_cleanup.append(_close_http)
    return app


def dashboard_in_bot(bot: KinshipBot) -> Dashboard | None:
    """The dashboard ``python -m bot`` serves next to the bot (``None`` without ``DASHBOARD_PORT``):
    the bot's services and cache, and effects the bot does at once (``dashboard_effects`` event)."""
    if bot.settings.dashboard is None:
        return None
    return Dashboard(
        settings=bot.settings.dashboard,
        services=bot.services,
        directory=BotDirectory(bot),
        now=bot.now,
        wake=lambda: bot.dispatch("dashboard_effects"),
    )


class DashboardPortError(Exception):
    """The dashboard could not listen (port taken, not allowed): start-up stops with this line."""


async def start_dashboard(bot: KinshipBot) -> web.AppRunner | None:
    """Serve the dashboard from the bot's process when ``DASHBOARD_PORT`` is set; nothing otherwise."""
    dashboard = dashboard_in_bot(bot)
    return None if dashboard is None else await serve(dashboard)


async def serve(dashboard: Dashboard) -> web.AppRunner:
    """Start listening on ``DASHBOARD_HOST:DASHBOARD_PORT``; the caller cleans the runner up."""
    runner = web.AppRunner(create_app(dashboard), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, dashboard.settings.host, dashboard.settings.port)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        raise DashboardPortError(
            f"DASHBOARD_PORT {dashboard.settings.port} on {dashboard.settings.host} cannot be used "
            f"({error.strerror or error}). Pick a free port, or stop what is using it."
        ) from None
    settings = dashboard.settings
    log.info("dashboard listening on %s:%s (%s)", settings.host, settings.port, settings.url)
    return runner
