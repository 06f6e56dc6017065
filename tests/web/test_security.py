"""The dashboard holds the most sensitive data Kinship has: cookies, CSRF, redirects, OAuth
``state``, pacing, expiry, logout, per-request access checks, escaping, headers, privacy."""

from __future__ import annotations

import dataclasses
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.models.dashboard import DashboardSession
from bot.services.dashboard import SESSION_LIFETIME
from bot.web.access import ACCESS_TTL, preferred_lang
from bot.web.security import Pacer, Signer, safe_next
from bot.web.session import COOKIE
from tests.cogs.test_reports import _configure, _report_member
from tests.harness.world import FAKE_TOKEN
from tests.web.conftest import SECRET, Dash


def _set_cookie(response, name: str):
    for header in response.headers.getall("Set-Cookie", []):
        cookie = SimpleCookie(header)
        if name in cookie:
            return cookie[name]
    raise AssertionError(f"no {name} cookie set")


# ---------------------------------------------------------------------- cookies and sessions


async def test_session_cookie_is_signed_httponly_lax_and_secure_behind_https(dash: Dash) -> None:
    r = await dash.login(dash.world.mod)
    cookie = _set_cookie(r, COOKIE)
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/"
    assert not cookie["secure"]  # the test serves http
    assert int(cookie["max-age"]) == int(SESSION_LIFETIME.total_seconds())
    https = dataclasses.replace(dash.dashboard.settings, url="https://kinship.example.org")
    assert https.secure_cookies and not dash.dashboard.settings.secure_cookies


async def test_https_sets_secure_cookies_and_hsts(dash: Dash) -> None:
    dash.dashboard.settings = dataclasses.replace(dash.dashboard.settings, url="https://kinship.example.org")
    r = await dash.client.get("/login/discord", allow_redirects=False)
    assert _set_cookie(r, "kinship_oauth")["secure"]
    assert "max-age" in r.headers["Strict-Transport-Security"]


async def test_a_tampered_or_forged_cookie_is_nobody(dash: Dash) -> None:
    await dash.login(dash.world.mod)
    good = dash.client.session.cookie_jar.filter_cookies(dash.client.make_url("/"))[COOKIE].value
    payload, mac = good.split(".")
    forged = {
        "tampered": payload + "." + ("A" if mac[0] != "A" else "B") + mac[1:],
        "other key": Signer("another secret that is long enough......").sign("session", "x" * 43),
        "wrong purpose": dash.dashboard.signer.sign("flash", {"l": "ok", "t": "x"}),
        "unsigned token": "x" * 43,
    }
    for label, value in forged.items():
        dash.client.session.cookie_jar.clear()
        dash.client.session.cookie_jar.update_cookies({COOKIE: value})
        r = await dash.client.get(f"/g/{dash.world.guild.id}", allow_redirects=False)
        assert r.status == 302 and r.headers["Location"].startswith("/login"), label


async def test_the_database_keeps_no_token_only_a_digest(dash: Dash) -> None:
    await dash.login(dash.world.mod)
    cookie = dash.client.session.cookie_jar.filter_cookies(dash.client.make_url("/"))[COOKIE].value
    token = dash.dashboard.signer.unsign("session", cookie)
    async with dash.world.db.session() as s:
        rows = (await s.exec(select(DashboardSession))).all()  # type: ignore[call-overload]
    assert len(rows) == 1
    row = rows[0][0]
    stored = " ".join(str(v) for v in row.model_dump().values())
    assert token not in stored and cookie not in stored
    assert not any(access in stored for access in dash.fake.tokens), "Discord's access token must not be stored"


async def test_sessions_expire(dash: Dash) -> None:
    await dash.login(dash.world.mod)
    g = dash.world.guild.id
    assert (await dash.page(f"/g/{g}"))[0] == 200
    await dash.world.advance(SESSION_LIFETIME.total_seconds() - 60)
    assert (await dash.page(f"/g/{g}"))[0] == 200
    await dash.world.advance(120)
    r = await dash.client.get(f"/g/{g}", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == f"/login?next=/g/{g}"
    await dash.world.tick("dashboard.sessions")
    async with dash.world.db.session() as s:
        assert (await s.exec(select(DashboardSession))).all() == []  # type: ignore[call-overload]


async def test_logout_ends_the_session_at_once_even_for_a_copied_cookie(dash: Dash) -> None:
    await dash.login(dash.world.mod)
    copied = dash.client.session.cookie_jar.filter_cookies(dash.client.make_url("/"))[COOKIE].value
    token = await dash.token("/")
    r = await dash.client.post("/logout", data={"csrf": token}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/login?bye=1"
    assert _set_cookie(r, COOKIE).value == ""
    _status, html = await dash.page("/login?bye=1")
    assert "You&#39;re logged out" in html
    dash.client.session.cookie_jar.update_cookies({COOKIE: copied})
    r = await dash.client.get(f"/g/{dash.world.guild.id}", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/login")


async def test_logout_needs_the_csrf_token(dash: Dash) -> None:
    await dash.login(dash.world.mod)
    r = await dash.client.post("/logout", data={}, allow_redirects=False)
    assert r.status == 403
    assert (await dash.page(f"/g/{dash.world.guild.id}"))[0] == 200  # still logged in


# ---------------------------------------------------------------------- CSRF


async def test_posts_without_a_valid_csrf_token_change_nothing(dash: Dash) -> None:
    world = dash.world
    await _configure(world)
    await _report_member(world, world.alice, world.bob)
    await dash.login(world.mod)
    path = f"/g/{world.guild.id}/reports/1/action"
    other = dash.dashboard.signer.token("csrf", "another-session")
    for label, kwargs in {
        "none": {"csrf": None},
        "empty": {"csrf": ""},
        "another session's": {"csrf": other},
        "from another site": {"headers": {"Origin": "https://evil.example"}},
    }.items():
        r = await dash.post(path, {"action": "claim"}, **kwargs)
        assert r.status == 403, label
        assert 'data-testid="forbidden"' in await r.text()
    assert (await world.services.reports.case(world.guild.id, 1)).report.state == "open"
    r = await dash.post(path, {"action": "claim"}, headers={"Origin": dash.url})
    assert r.status == 303
    assert (await world.services.reports.case(world.guild.id, 1)).report.state == "claimed"


# ---------------------------------------------------------------------- login flow


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "http:/evil",
        "javascript:alert(1)",
        "/%0d%0aX: y",
    ],
)
async def test_no_open_redirect_after_login(dash: Dash, target: str) -> None:
    r = await dash.login(dash.world.mod, next_path=target)
    assert r.status == 302
    location = r.headers["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\")), location
    assert "evil" not in location or location.startswith("/%")


def test_safe_next_keeps_local_paths_only() -> None:
    assert safe_next("/g/1/reports?state=open") == "/g/1/reports?state=open"
    for bad in ("//x", "https://x", "/\\x", "x", "", None, "/a\r\nb", "\\\\x"):
        assert safe_next(bad) == "/"


async def test_login_returns_to_the_page_asked_for(dash: Dash) -> None:
    g = dash.world.guild.id
    r = await dash.client.get(f"/g/{g}/reports?state=closed", allow_redirects=False)
    assert r.status == 302
    assert parse_qs(urlsplit(r.headers["Location"]).query)["next"] == [f"/g/{g}/reports?state=closed"]
    _status, html = await dash.page(r.headers["Location"])
    assert "Log in with Discord" in html
    back = await dash.login(dash.world.mod, next_path=f"/g/{g}/reports?state=closed")
    assert back.headers["Location"] == f"/g/{g}/reports?state=closed"


async def test_state_is_checked(dash: Dash) -> None:
    dash.fake.authorize_as = dash.world.mod.id
    start = await dash.client.get("/login/discord", allow_redirects=False)
    at_discord = await dash.client.session.get(start.headers["Location"], allow_redirects=False)
    back = at_discord.headers["Location"]
    forged = back.split("&state=")[0] + "&state=forged"
    r = await dash.client.session.get(forged, allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == "/login?error=state"
    # A callback from another browser (no state cookie) is refused too, and the code never used.
    dash.client.session.cookie_jar.clear()
    r = await dash.client.session.get(back, allow_redirects=False)
    assert r.headers["Location"] == "/login?error=state"
    assert "token" not in dash.fake.calls
    _status, html = await dash.page("/login?error=state")
    assert "not meant for this browser" in html


async def test_denied_or_failed_logins_explain_kindly(dash: Dash) -> None:
    dash.fake.deny = True
    r = await dash.login(dash.world.mod)
    assert r.headers["Location"] == "/login?error=denied"
    dash.fake.deny = False
    dash.fake.fail_token = True
    r = await dash.login(dash.world.mod)
    assert r.headers["Location"] == "/login?error=failed"
    _status, html = await dash.page("/login?error=failed")
    assert "didn&#39;t answer as expected" in html
    r = await dash.client.get(f"/g/{dash.world.guild.id}", allow_redirects=False)
    assert r.status == 302  # still nobody


async def test_login_attempts_are_paced(dash: Dash) -> None:
    limit = dash.dashboard.pacer.limit
    for _ in range(limit):
        r = await dash.client.get("/login/discord", allow_redirects=False)
        assert r.status == 302
    r = await dash.client.get("/login/discord", allow_redirects=False)
    assert r.status == 429 and int(r.headers["Retry-After"]) > 0
    assert "a lot of login attempts" in await r.text()
    r = await dash.client.get("/callback?code=x&state=y", allow_redirects=False)
    assert r.status == 429
    await dash.world.advance(dash.dashboard.pacer.window + 1)
    assert (await dash.client.get("/login/discord", allow_redirects=False)).status == 302


async def test_behind_a_local_reverse_proxy_each_client_is_paced_on_its_own(dash: Dash) -> None:
    limit = dash.dashboard.pacer.limit
    for _ in range(limit):
        r = await dash.client.get("/login/discord", headers={"X-Forwarded-For": "203.0.113.7"}, allow_redirects=False)
        assert r.status == 302
    blocked = await dash.client.get("/login/discord", headers={"X-Forwarded-For": "203.0.113.7"}, allow_redirects=False)
    assert blocked.status == 429
    other = await dash.client.get(
        "/login/discord", headers={"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}, allow_redirects=False
    )
    assert other.status == 302, "another client behind the same proxy is not held up"


def test_pacer_counts_per_address_and_in_all() -> None:
    now = [0.0]
    pacer = Pacer(limit=2, window=60, global_limit=3, clock=lambda: now[0])
    assert pacer.attempt("a") == 0 and pacer.attempt("a") == 0 and pacer.attempt("a") > 0
    assert pacer.attempt("b") == 0
    assert pacer.attempt("c") > 0  # three in all
    now[0] = 61
    assert pacer.attempt("a") == 0


# ---------------------------------------------------------------------- access


async def test_who_sees_which_guilds(dash: Dash) -> None:
    world = dash.world
    await dash.login(world.alice)
    status, html = await dash.page("/")
    assert status == 200 and 'data-testid="no-guilds"' in html
    dash.logout_cookies()
    await dash.login(dash.foreign_mod)
    r = await dash.client.get("/", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == f"/g/{dash.other.id}"
    _status, html = await dash.page("/?all=1")
    assert "Other Server" in html and "Kinship Test" not in html
    status, html = await dash.page(f"/g/{world.guild.id}")
    assert status == 403 and 'data-testid="forbidden"' in html and "Kinship Test" not in html


async def test_access_is_checked_again_after_a_role_is_taken_away(dash: Dash) -> None:
    world = dash.world
    await dash.login(world.mod)
    g = world.guild.id
    assert (await dash.page(f"/g/{g}"))[0] == 200
    world.env.backend.remove_member_role(g, world.mod.id, world.mod_role.id)
    await world.env.settle()
    assert (await dash.page(f"/g/{g}"))[0] == 200  # within the cache's lifetime
    await world.advance(ACCESS_TTL + 1)
    assert ACCESS_TTL <= 30  # plus the directory's 30 s at most: under a minute in all
    status, html = await dash.page(f"/g/{g}")
    assert status == 403 and 'data-testid="forbidden"' in html


async def test_manage_server_counts_as_moderator_and_a_new_mod_role_too(dash: Dash) -> None:
    world = dash.world
    await dash.login(world.owner)
    assert (await dash.page(f"/g/{world.guild.id}"))[0] == 200
    dash.logout_cookies()
    await dash.login(world.carol)
    assert (await dash.page(f"/g/{world.guild.id}"))[0] == 403
    world.env.backend.add_member_role(world.guild.id, world.carol.id, world.mod_role.id)
    await world.env.settle()
    await world.advance(ACCESS_TTL + 1)
    assert (await dash.page(f"/g/{world.guild.id}"))[0] == 200


async def test_a_guild_without_kinship_or_an_odd_id_is_the_same_kind_page(dash: Dash) -> None:
    await dash.login(dash.world.mod)
    for path in ("/g/123456789012345678", "/g/123456789012345678/reports"):
        status, html = await dash.page(path)
        assert status == 403 and 'data-testid="forbidden"' in html
    assert (await dash.page("/g/abc"))[0] == 404
    assert (await dash.page("/nothing-here"))[0] == 404


async def test_privacy_delete_logs_the_member_out(dash: Dash) -> None:
    world = dash.world
    await dash.login(world.mod)
    assert (await dash.page(f"/g/{world.guild.id}"))[0] == 200
    await world.services.privacy.delete(world.guild.id, world.mod.id, world.now())
    r = await dash.client.get(f"/g/{world.guild.id}", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/login")


# ---------------------------------------------------------------------- headers, language, settings


async def test_every_answer_carries_security_headers_and_pages_are_not_cached(dash: Dash) -> None:
    await dash.login(dash.world.mod)
    for path in ("/login", f"/g/{dash.world.guild.id}", "/g/1", "/nope"):
        r = await dash.client.get(path)
        assert "default-src 'self'" in r.headers["Content-Security-Policy"], path
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Cache-Control"] == "no-store"
    r = await dash.client.get("/static/dashboard.css")
    assert r.status == 200 and "no-store" not in r.headers.get("Cache-Control", "")


async def test_pages_follow_the_browsers_language_then_the_servers(dash: Dash) -> None:
    world = dash.world
    await dash.login(world.mod)
    g = world.guild.id
    _s, html = await dash.page(f"/g/{g}", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert "Übersicht" in html and 'lang="de"' in html
    _s, html = await dash.page(f"/g/{g}", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert "Overview" in html
    await world.configure(language="de")
    _s, html = await dash.page(f"/g/{g}", headers={"Accept-Language": "fr-FR"})
    assert "Übersicht" in html
    assert preferred_lang("en;q=0.2, de;q=0.8") == "de" and preferred_lang("*") is None


def test_dashboard_settings_hide_their_secrets() -> None:
    env = {
        "DISCORD_TOKEN": FAKE_TOKEN,
        "DASHBOARD_PORT": "8080",
        "DASHBOARD_URL": "https://kinship.example.org/",
        "DISCORD_CLIENT_ID": "1234",
        "DISCORD_CLIENT_SECRET": "client-secret-value",
        "DASHBOARD_SECRET": SECRET,
    }
    settings = Settings.from_env(env)
    assert settings.dashboard is not None
    assert settings.dashboard.url == "https://kinship.example.org"
    assert settings.dashboard.redirect_uri == "https://kinship.example.org/callback"
    assert settings.dashboard.secure_cookies and settings.dashboard.host == "127.0.0.1"
    assert "client-secret-value" not in repr(settings) and SECRET not in repr(settings)
    assert Settings.from_env({"DISCORD_TOKEN": FAKE_TOKEN}).dashboard is None
