"""A loopback stand-in for Discord's OAuth2: the authorize page, the token endpoint,
``/users/@me`` and ``/users/@me/guilds``. The dashboard talks to it through ``DISCORD_OAUTH_BASE``.

The "browser user" is whoever :attr:`FakeOAuth.authorize_as` names: the authorize page approves
for them at once (or refuses with ``deny``) and sends the browser back with a one-time code.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from aiohttp.test_utils import TestServer

CLIENT_ID = "123456789012345678"
CLIENT_SECRET = "fake-client-secret"


@dataclass
class FakeOAuth:
    """Users are ``{id: {"id", "username", "global_name"}}``; ``guilds_of(id)`` lists a user's guilds."""

    users: dict[int, dict[str, Any]]
    guilds_of: Callable[[int], list[dict[str, Any]]]
    authorize_as: int | None = None
    deny: bool = False
    fail_token: bool = False
    codes: dict[str, tuple[int, str]] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    authorize_queries: list[dict[str, str]] = field(default_factory=list)
    server: TestServer | None = None

    @property
    def base(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/oauth2/authorize", self._authorize)
        app.router.add_post("/oauth2/token", self._token)
        app.router.add_get("/users/@me", self._me)
        app.router.add_get("/users/@me/guilds", self._guilds)
        return app

    async def start(self) -> None:
        self.server = TestServer(self.app(), host="127.0.0.1")
        await self.server.start_server()

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    async def _authorize(self, request: web.Request) -> web.StreamResponse:
        self.calls.append("authorize")
        query = dict(request.query)
        self.authorize_queries.append(query)
        redirect = query["redirect_uri"]
        assert query["client_id"] == CLIENT_ID and query["response_type"] == "code"
        if self.deny or self.authorize_as is None:
            raise web.HTTPFound(f"{redirect}?{urlencode({'error': 'access_denied', 'state': query['state']})}")
        code = secrets.token_urlsafe(12)
        self.codes[code] = (self.authorize_as, redirect)
        raise web.HTTPFound(f"{redirect}?{urlencode({'code': code, 'state': query['state']})}")

    async def _token(self, request: web.Request) -> web.StreamResponse:
        self.calls.append("token")
        auth = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        form = await request.post()
        if auth != expected or form.get("grant_type") != "authorization_code" or self.fail_token:
            return web.json_response({"error": "invalid_client"}, status=401)
        used = self.codes.pop(str(form.get("code")), None)  # a code works once
        if used is None or used[1] != form.get("redirect_uri"):
            return web.json_response({"error": "invalid_grant"}, status=400)
        token = secrets.token_urlsafe(16)
        self.tokens[token] = used[0]
        return web.json_response({"access_token": token, "token_type": "Bearer", "scope": "identify guilds"})

    def _user(self, request: web.Request) -> int:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            raise web.HTTPUnauthorized
        return self.tokens[token]

    async def _me(self, request: web.Request) -> web.StreamResponse:
        self.calls.append("me")
        return web.json_response(self.users[self._user(request)])

    async def _guilds(self, request: web.Request) -> web.StreamResponse:
        self.calls.append("guilds")
        return web.json_response(self.guilds_of(self._user(request)))
