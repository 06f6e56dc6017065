"""Fixtures for the dashboard: the real app on a real database, next to the real bot in SimCord,
with the loopback OAuth stand-in (``fake_oauth.py``).

``dash`` gives a :class:`Dash`: ``await dash.login(member)`` goes through the whole OAuth flow
(login page → fake Discord → callback) like a browser; ``dash.client`` is the aiohttp test client
with its cookie jar. The people every test can use:

* ``dash.world.mod`` — a moderator of the world's guild (the mod role; ``configure_all`` is done);
* ``dash.world.alice`` — a plain member;
* ``dash.foreign_mod`` — the owner (so a moderator) of ``dash.other``, a second guild with Kinship,
  and a plain member of the world's guild;
* anonymous — no login.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from bot.config import DashboardSettings
from bot.web.app import create_app
from bot.web.directory import BotDirectory
from bot.web.security import Pacer
from bot.web.state import Dashboard
from tests.harness.world import World
from tests.web.fake_oauth import CLIENT_ID, CLIENT_SECRET, FakeOAuth

SECRET = "test-dashboard-secret-" + "x" * 32
CSRF_INPUT = re.compile(r'name="csrf" value="([^"]*)"')


def user_payload(member: Any) -> dict[str, Any]:
    return {"id": str(member.id), "username": member.name, "global_name": member.name, "avatar": None}


@dataclass
class Dash:
    """The dashboard under test and helpers to use it like a browser."""

    world: World
    client: TestClient
    fake: FakeOAuth
    dashboard: Dashboard
    other: Any
    foreign_mod: Any
    wakes: list[int]

    @property
    def url(self) -> str:
        return self.dashboard.settings.url

    async def login(self, member: Any | None, next_path: str = "/") -> ClientResponse:
        """The OAuth flow as a browser follows it; returns the callback's answer (a redirect)."""
        self.fake.authorize_as = member.id if member is not None else None
        start = await self.client.get("/login/discord", params={"next": next_path}, allow_redirects=False)
        assert start.status == 302, await start.text()
        at_discord = await self.client.session.get(start.headers["Location"], allow_redirects=False)
        assert at_discord.status == 302
        back = at_discord.headers["Location"]
        assert back.startswith(self.url + "/callback?"), back
        return await self.client.session.get(back, allow_redirects=False)

    async def page(self, path: str, **kwargs: Any) -> tuple[int, str]:
        """GET a page, following redirects; (status, html)."""
        r = await self.client.get(path, **kwargs)
        return r.status, await r.text()

    async def token(self, path: str) -> str:
        """The CSRF token from a form on ``path`` (as a browser would have it)."""
        status, html = await self.page(path)
        found = CSRF_INPUT.search(html)
        assert found, f"no form with a CSRF token on {path} ({status})"
        return found.group(1)

    async def post(
        self, path: str, data: dict[str, Any] | None = None, *, csrf: str | None = "page", **kw: Any
    ) -> ClientResponse:
        """POST a form; ``csrf="page"`` takes the token from ``path``'s guild overview like a browser."""
        form = dict(data or {})
        if csrf == "page":
            form["csrf"] = await self.token(_form_page(path))
        elif csrf is not None:
            form["csrf"] = csrf
        return await self.client.post(path, data=form, allow_redirects=False, **kw)

    async def settle(self) -> None:
        """Let the bot finish what a web action woke it for: the ``dashboard_effects`` listener runs
        in a task SimCord does not know (it was started from the web server's request), so it is
        awaited here by name, then SimCord settles what it sent."""
        await self.world.env.settle()
        while pending := [t for t in asyncio.all_tasks() if "on_dashboard_effects" in t.get_name() and not t.done()]:
            await asyncio.gather(*pending)
            await self.world.env.settle()

    def logout_cookies(self) -> None:
        self.client.session.cookie_jar.clear()


def _form_page(path: str) -> str:
    match = re.match(r"^/g/\d+", path)
    return match.group(0) if match else "/"


def guilds_of(guilds: list[Any]) -> Any:
    def lookup(user_id: int) -> list[dict[str, Any]]:
        out = []
        for guild in guilds:
            if user_id in guild.member_ids():
                out.append(
                    {"id": str(guild.id), "name": guild.name, "owner": guild.owner.id == user_id, "permissions": "0"}
                )
        return out

    return lookup


@pytest.fixture
async def dash(world: World) -> AsyncIterator[Dash]:
    """The dashboard on the world's database and bot (see the module docstring)."""
    await world.configure_all()
    other_owner = world.env.create_user("foreign-mod")
    other = world.env.create_guild("Other Server", owner=other_owner)
    other.add_member(other_owner)
    foreign_mod = world.guild.add_member(other_owner)
    await world.env.settle()
    bot_guilds = [world.guild, other]
    members = [world.owner, world.mod, world.alice, world.bob, world.carol, foreign_mod]
    fake = FakeOAuth(users={m.id: user_payload(m) for m in members}, guilds_of=guilds_of(bot_guilds))
    await fake.start()
    clock = lambda: world.now().timestamp()  # noqa: E731  # every cache and pace on the virtual clock
    settings = DashboardSettings(
        port=1,
        url="http://placeholder",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        secret=SECRET,
        oauth_base=fake.base,
    )
    wakes: list[int] = []
    dashboard = Dashboard(
        settings=settings,
        services=world.services,
        directory=BotDirectory(world.bot),
        now=world.now,
        wake=lambda: (wakes.append(1), world.bot.dispatch("dashboard_effects")),
        pacer=Pacer(clock=clock),
    )
    dashboard.access.clock = clock
    server = TestServer(create_app(dashboard), host="127.0.0.1")
    client = TestClient(server)
    await client.start_server()
    dashboard.settings = dataclasses.replace(settings, url=str(server.make_url("")).rstrip("/"))
    try:
        yield Dash(world, client, fake, dashboard, other, foreign_mod, wakes)
    finally:
        await client.close()
        await fake.close()
