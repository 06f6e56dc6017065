"""Every dashboard route × (anonymous, plain member, moderator of another guild, moderator):
only the moderator gets in, and nothing changes for the others (issue #15). What ``/setup`` changes
(settings, topics, support contacts, milestones) also needs Manage Server, as in Discord: a
moderator with the role alone is refused there, the owner gets in.

The routes are found, not listed: every route of the app's router, so a page added later is
covered by itself. Placeholders are filled with values that exist (case #1, a member with cases)
so the moderator reaches the handler. Each refused person is logged in with their own session and
posts with their own valid CSRF token — they are refused for who they are, not for a missing token.
Moderators are also tried on the other guild's id (a foreign guild id in every route).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select
from sqlmodel import SQLModel

from bot.web.session import COOKIE
from tests.cogs.test_reports import _configure, _report_member
from tests.web.conftest import CSRF_INPUT, Dash

#: Touched because someone asked at all, not because of what they did.
NOT_STATE = {"member_activity", "insight_activity_day", "dashboard_session"}
#: Form fields a handler might read: if a route ever skipped the access check, these would change something.
FORM = {
    "action": "claim",
    "note": "matrix",
    "name": "matrix",
    "threshold": "7",
    "role_id": "1",
    "timezone": "Europe/Berlin",
    "language": "de",
    "reason": "matrix",
}
PUBLIC = {("GET", "/"), ("GET", "/login"), ("GET", "/login/discord"), ("GET", "/callback"), ("POST", "/logout")}


def _fill(resource: Any, guild_id: int, member_id: int) -> str:
    info = resource.get_info()
    if "path" in info:
        return info["path"]
    formatter: str = info["formatter"]
    pattern: re.Pattern[str] = info["pattern"]
    names = re.findall(r"{(\w+)}", formatter)
    known = {"guild_id": str(guild_id), "case_no": "1", "member_id": str(member_id)}
    values = {n: known.get(n, "1") for n in names}
    candidates = ["1", str(member_id), "approve", "reject", "general", "add", "remove", "reports", "x"]
    for name in names:
        if name in known:
            continue
        for candidate in candidates:
            trial = dict(values, **{name: candidate})
            if pattern.fullmatch(formatter.format(**trial)):
                values[name] = candidate
                break
    path = formatter.format(**values)
    assert pattern.fullmatch(path), f"cannot fill {formatter}"
    return path


async def _snapshot(dash: Dash) -> dict[str, list[tuple[Any, ...]]]:
    await dash.world.services.activity.flush(dash.world.now())
    out = {}
    async with dash.world.db.session() as s:
        conn = await s.connection()
        for table in SQLModel.metadata.sorted_tables:
            if table.name not in NOT_STATE:
                out[table.name] = sorted((tuple(r) for r in (await conn.execute(select(table))).all()), key=repr)
    return out


class People:
    """Each person's session cookie and CSRF token, to switch between them on one client."""

    def __init__(self, dash: Dash) -> None:
        self.dash = dash
        self.cookies: dict[str, str | None] = {"anonymous": None}
        self.tokens: dict[str, str] = {"anonymous": ""}

    async def add(self, label: str, member: Any) -> None:
        self.dash.logout_cookies()
        await self.dash.login(member)
        jar = self.dash.client.session.cookie_jar.filter_cookies(self.dash.client.make_url("/"))
        self.cookies[label] = jar[COOKIE].value
        _status, html = await self.dash.page("/?all=1")
        found = CSRF_INPUT.search(html)
        assert found
        self.tokens[label] = found.group(1)

    def be(self, label: str) -> None:
        jar = self.dash.client.session.cookie_jar
        jar.clear()
        if self.cookies[label] is not None:
            jar.update_cookies({COOKIE: self.cookies[label]})

    async def request(self, label: str, method: str, path: str) -> Any:
        self.be(label)
        if method == "POST":
            data = dict(FORM, csrf=self.tokens[label])
            return await self.dash.client.post(path, data=data, allow_redirects=False)
        return await self.dash.client.get(path, allow_redirects=False)


def _guild_routes(app: web.Application) -> list[tuple[str, Any]]:
    found = []
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        info = route.resource.get_info()
        path = info.get("path") or info.get("formatter") or info.get("prefix", "")
        if path.startswith("/static"):
            continue
        found.append((route.method, route))
    return found


def _refused(label: str, method: str, response: Any, body: str) -> bool:
    if label == "anonymous" and method == "GET":
        return response.status == 302 and response.headers["Location"].startswith("/login?next=")
    return response.status == 403 and 'data-testid="forbidden"' in body


@pytest.fixture
async def people(dash: Dash) -> People:
    world = dash.world
    await _configure(world)
    await _report_member(world, world.alice, world.bob)
    found = People(dash)
    await found.add("plain member", world.alice)
    await found.add("moderator of another guild", dash.foreign_mod)
    await found.add("moderator", world.mod)
    await found.add("admin", world.owner)
    return found


async def test_every_guild_route_lets_only_its_moderators_in(dash: Dash, people: People) -> None:
    world = dash.world
    routes = _guild_routes(dash.client.server.app)
    guild_routes = [(m, r) for m, r in routes if (r.resource.get_info().get("formatter") or "").startswith("/g/")]
    listed = {(m, r.resource.get_info().get("path") or r.resource.get_info().get("formatter")) for m, r in routes}
    assert listed - {(m, p) for m, p in listed if p.startswith("/g/")} == PUBLIC, "a route outside /g/ is not public"
    assert len(guild_routes) >= 12  # overview, reports (7), help, stats, settings, library, surveys, milestones
    for _method, route in guild_routes:
        assert getattr(route.handler, "moderator_only", False), f"{route} lacks @moderator_page/@moderator_action"

    before = await _snapshot(dash)
    tried = 0
    for method, route in guild_routes:
        path = _fill(route.resource, world.guild.id, world.bob.id)
        for label in ("anonymous", "plain member", "moderator of another guild"):
            r = await people.request(label, method, path)
            body = (await r.read()).decode(errors="replace")
            assert _refused(label, method, r, body), f"{label} {method} {path}: {r.status}"
            assert str(world.alice.id) not in body and "Kinship Test" not in body
            tried += 1
        # The moderator of this guild, on the other guild's id: refused as well.
        foreign = _fill(route.resource, dash.other.id, world.bob.id)
        r = await people.request("moderator", method, foreign)
        assert _refused("moderator", method, r, (await r.read()).decode(errors="replace")), (
            f"moderator {method} {foreign}: {r.status}"
        )
        tried += 1
    # What /setup changes needs Manage Server, on the web as in Discord: the moderator role alone is refused.
    manager_routes = [(m, r) for m, r in guild_routes if getattr(r.handler, "manager_only", False)]
    assert {r.resource.get_info()["formatter"].split("/")[3] for _m, r in manager_routes} == {"settings", "milestones"}
    assert all(m == "POST" for m, _r in manager_routes)
    for method, route in manager_routes:
        path = _fill(route.resource, world.guild.id, world.bob.id)
        r = await people.request("moderator", method, path)
        body = (await r.read()).decode(errors="replace")
        assert r.status == 403 and 'data-testid="needs-manage-server"' in body, f"moderator {method} {path}: {r.status}"
        tried += 1
    assert await _snapshot(dash) == before, "a refused request changed something"
    assert tried == 4 * len(guild_routes) + len(manager_routes)

    for method, route in guild_routes:  # and the moderator gets in everywhere else, an admin everywhere
        path = _fill(route.resource, world.guild.id, world.bob.id)
        for label in ("moderator", "admin"):
            if label == "moderator" and (method, route) in manager_routes:
                continue
            r = await people.request(label, method, path)
            body = (await r.read()).decode(errors="replace")
            assert r.status not in (401, 403, 500), f"{label} {method} {path}: {r.status}"
            assert 'data-testid="forbidden"' not in body
            assert not r.headers.get("Location", "").startswith("/login")


async def test_public_routes_show_nothing_about_a_guild(dash: Dash, people: People) -> None:
    for label in ("anonymous", "plain member", "moderator of another guild"):
        r = await people.request(label, "GET", "/?all=1")
        body = (await r.read()).decode(errors="replace")
        assert "Kinship Test" not in body
        assert r.status in (200, 302)
