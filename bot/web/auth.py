"""Login with Discord (OAuth2 authorization code flow, scopes ``identify guilds``) and logout.

1. ``GET /login`` shows the login page; its button is ``GET /login/discord?next=…``, which sets a
   short-lived signed cookie holding a random ``state`` and the (local-only) ``next`` path, and
   sends the browser to Discord's authorize page.
2. Discord sends the browser back to ``GET /callback?code&state``. The ``state`` must equal the
   cookie's (constant-time compare); the code is exchanged for a token once, ``/users/@me`` and
   ``/users/@me/guilds`` are read with it, and the token is dropped — it is never stored.
3. A session row is written and its cookie set; the browser goes to ``next`` (a local path only,
   never another site).

Both steps are paced per client address (:class:`bot.web.security.Pacer`). ``POST /logout``
(CSRF-checked) deletes the session row at once.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bot import i18n
from bot.web.access import visitor_lang
from bot.web.render import render
from bot.web.security import safe_next
from bot.web.session import (
    check_csrf,
    clear_session_cookie,
    cookie_options,
    current_session,
    session_token,
    set_session_cookie,
)
from bot.web.state import dashboard_of, redirect

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
STATE_COOKIE = "kinship_oauth"
STATE_SECONDS = 600
SCOPES = "identify guilds"
TIMEOUT = aiohttp.ClientTimeout(total=15)


class OAuthFailed(Exception):
    """Discord refused or did not answer; the visitor sees the login page with a kind message."""


LOOPBACK = frozenset({"127.0.0.1", "::1"})


def client_key(request: web.Request) -> str:
    """Who is trying to log in, for pacing: the client's address. Behind a reverse proxy on the
    same machine (the request comes from loopback) that is the last ``X-Forwarded-For`` hop — the
    address the proxy saw; a header from anywhere else is ignored (it could be forged)."""
    remote = request.remote or "?"
    forwarded = request.headers.get("X-Forwarded-For", "")
    if remote in LOOPBACK and forwarded.strip():
        return forwarded.split(",")[-1].strip()[:64] or remote
    return remote


def _paced(request: web.Request) -> web.Response | None:
    wait = dashboard_of(request).pacer.attempt(client_key(request))
    if not wait:
        return None
    lang = visitor_lang(request)
    response = render(
        request, "login.html", status=429, message=i18n.t("web.login.slow_down", lang, seconds=int(wait)), next="/"
    )
    response.headers["Retry-After"] = str(int(wait))
    return response


@routes.get("/login")
async def login_page(request: web.Request) -> web.StreamResponse:
    """The login page (logged-in visitors go straight on)."""
    target = safe_next(request.query.get("next"))
    if current_session(request) is not None:
        raise web.HTTPFound(target)
    message = None
    if request.query.get("error") in ("denied", "failed", "state"):
        message = i18n.t(f"web.login.error_{request.query['error']}", visitor_lang(request))
    if request.query.get("bye"):
        message = i18n.t("web.login.logged_out", visitor_lang(request))
    return render(request, "login.html", message=message, next=target)


@routes.get("/login/discord")
async def login_start(request: web.Request) -> web.StreamResponse:
    """Send the browser to Discord with a fresh ``state``."""
    refused = _paced(request)
    if refused is not None:
        return refused
    dash = dashboard_of(request)
    state = secrets.token_urlsafe(24)
    target = safe_next(request.query.get("next"))
    query = urlencode(
        {
            "response_type": "code",
            "client_id": dash.settings.client_id,
            "scope": SCOPES,
            "state": state,
            "redirect_uri": dash.settings.redirect_uri,
            "prompt": "none",
        }
    )
    response = redirect(f"{dash.settings.oauth_base}/oauth2/authorize?{query}", 302)
    cookie = dash.signer.sign("oauth", {"s": state, "n": target, "e": dash.now().timestamp() + STATE_SECONDS})
    response.set_cookie(STATE_COOKIE, cookie, max_age=STATE_SECONDS, **cookie_options(request))  # type: ignore[arg-type]
    return response


def _back_to_login(kind: str) -> web.Response:
    response = redirect(f"/login?error={kind}", 302)
    response.del_cookie(STATE_COOKIE, path="/")
    return response


async def _discord(request: web.Request, code: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Exchange the code, read who the user is and their guilds; the token is dropped afterwards."""
    dash = dashboard_of(request)
    base = dash.settings.oauth_base
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": dash.settings.redirect_uri}
    auth = {"Authorization": aiohttp.encode_basic_auth(dash.settings.client_id, dash.settings.client_secret)}
    try:
        async with dash.http.post(f"{base}/oauth2/token", data=form, headers=auth, timeout=TIMEOUT) as r:
            if r.status != 200:
                raise OAuthFailed(f"token exchange answered {r.status}")
            token = (await r.json()).get("access_token")
        if not isinstance(token, str) or not token:
            raise OAuthFailed("no access token")
        headers = {"Authorization": f"Bearer {token}"}
        async with dash.http.get(f"{base}/users/@me", headers=headers, timeout=TIMEOUT) as r:
            if r.status != 200:
                raise OAuthFailed(f"/users/@me answered {r.status}")
            user = await r.json()
        async with dash.http.get(f"{base}/users/@me/guilds", headers=headers, timeout=TIMEOUT) as r:
            if r.status != 200:
                raise OAuthFailed(f"/users/@me/guilds answered {r.status}")
            guilds = await r.json()
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        raise OAuthFailed(str(error)) from error
    if not isinstance(user, dict) or not str(user.get("id", "")).isdigit() or not isinstance(guilds, list):
        raise OAuthFailed("unexpected answer")
    return user, guilds


@routes.get("/callback")
async def callback(request: web.Request) -> web.StreamResponse:
    """Discord's redirect: check ``state``, exchange the code, open a session."""
    refused = _paced(request)
    if refused is not None:
        return refused
    dash = dashboard_of(request)
    saved = dash.signer.unsign("oauth", request.cookies.get(STATE_COOKIE))
    state = request.query.get("state", "")
    if (
        not isinstance(saved, dict)
        or not isinstance(saved.get("s"), str)
        or not state
        or not secrets.compare_digest(saved["s"], state)
        or float(saved.get("e", 0)) < dash.now().timestamp()
    ):
        return _back_to_login("state")
    if "error" in request.query or not request.query.get("code"):
        return _back_to_login("denied")
    try:
        user, guilds = await _discord(request, request.query["code"])
    except OAuthFailed as error:
        log.warning("dashboard login failed: %s", error)
        return _back_to_login("failed")
    guild_ids = {int(g["id"]) for g in guilds if isinstance(g, dict) and str(g.get("id", "")).isdigit()}
    name = str(user.get("global_name") or user.get("username") or user["id"])
    token, _session = await dash.services.dashboard.open_session(int(user["id"]), name, guild_ids, dash.now())
    response = redirect(safe_next(saved.get("n")), 302)
    response.del_cookie(STATE_COOKIE, path="/")
    set_session_cookie(request, response, token)
    log.info("dashboard login by %s", user["id"])
    return response


@routes.post("/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    """End the session everywhere at once (its row is deleted)."""
    session = current_session(request)
    if session is not None:
        await check_csrf(request)
        token = session_token(request)
        if token is not None:
            dash = dashboard_of(request)
            await dash.services.dashboard.close_session(token)
            dash.access.forget(session.user_id)
    response = redirect("/login?bye=1")
    clear_session_cookie(request, response)
    return response
