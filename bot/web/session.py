"""Signed, HttpOnly, SameSite=Lax session cookies (``Secure`` when ``DASHBOARD_URL`` is https),
backed by a row per login (:class:`bot.services.dashboard.DashboardService`), and CSRF tokens.

The cookie holds a random token signed with ``DASHBOARD_SECRET``; the database holds the token's
SHA-256 and the expiry. A forged or tampered cookie is refused before the database is asked; an
expired or logged-out session is gone even if the browser still sends its cookie.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.services.dashboard import SESSION_LIFETIME, WebSession
from bot.web.state import SESSION, dashboard_of

COOKIE = "kinship_session"
FLASH_COOKIE = "kinship_flash"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cookie_options(request: web.Request) -> dict[str, object]:
    """Every cookie of the dashboard: HttpOnly, SameSite=Lax, Secure behind https, whole site."""
    return {
        "httponly": True,
        "samesite": "Lax",
        "secure": dashboard_of(request).settings.secure_cookies,
        "path": "/",
    }


def set_session_cookie(request: web.Request, response: web.StreamResponse, token: str) -> None:
    """Give the browser its session."""
    value = dashboard_of(request).signer.sign("session", token)
    response.set_cookie(COOKIE, value, max_age=int(SESSION_LIFETIME.total_seconds()), **cookie_options(request))  # type: ignore[arg-type]


def clear_session_cookie(request: web.Request, response: web.StreamResponse) -> None:
    """Forget the session in the browser."""
    response.del_cookie(COOKIE, path="/")


def session_token(request: web.Request) -> str | None:
    """The cookie's token when its signature is ours."""
    token = dashboard_of(request).signer.unsign("session", request.cookies.get(COOKIE))
    return token if isinstance(token, str) else None


def current_session(request: web.Request) -> WebSession | None:
    """The logged-in session of this request (loaded by :func:`session_middleware`)."""
    return request.get(SESSION)


@web.middleware
async def session_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Load the session once per request (static files need none)."""
    request[SESSION] = None
    if not request.path.startswith("/static/"):
        token = session_token(request)
        if token is not None:
            dash = dashboard_of(request)
            request[SESSION] = await dash.services.dashboard.session(token, dash.now())
    return await handler(request)


def csrf_token(request: web.Request) -> str:
    """The CSRF token of this request's session (empty without one): every form posts it back."""
    session = current_session(request)
    return dashboard_of(request).signer.token("csrf", session.id) if session else ""


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # browsers that send no Origin still need the token
    return origin.rstrip("/") == _origin(dashboard_of(request).settings.url)


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


async def check_csrf(request: web.Request) -> None:
    """Refuse a state-changing request without this session's token (or from another origin)."""
    if request.method in SAFE_METHODS:
        return
    session = current_session(request)
    form = await request.post()
    given = form.get(CSRF_FIELD)
    if (
        session is None
        or not isinstance(given, str)
        or not _same_origin(request)
        or not dashboard_of(request).signer.check_token("csrf", session.id, given)
    ):
        raise CsrfRefused


class CsrfRefused(Exception):
    """A POST without a valid token: answered with a 403 page, nothing changes."""


def set_flash(request: web.Request, response: web.StreamResponse, text: str, level: str = "ok") -> None:
    """A one-time message for the next page (after a redirect)."""
    value = dashboard_of(request).signer.sign("flash", {"l": level, "t": text[:500]})
    response.set_cookie(FLASH_COOKIE, value, max_age=120, **cookie_options(request))  # type: ignore[arg-type]


def take_flash(request: web.Request) -> dict[str, str] | None:
    """The pending one-time message, if any (the caller clears the cookie)."""
    data = dashboard_of(request).signer.unsign("flash", request.cookies.get(FLASH_COOKIE))
    if isinstance(data, dict) and data.get("l") in ("ok", "error", "warn") and isinstance(data.get("t"), str):
        return {"level": data["l"], "text": data["t"]}
    return None
