"""Login with Discord through the loopback OAuth stand-in, sessions, logout, pacing."""

from __future__ import annotations

from tests.web.conftest import Dash


async def test_a_moderator_logs_in_and_lands_on_their_guild(dash: Dash) -> None:
    r = await dash.login(dash.world.mod)
    assert r.status == 302 and r.headers["Location"] == "/"
    status, html = await dash.page("/")
    assert status == 200
    assert "Kinship Test" in html and "Health checks" in html  # the only guild: straight to its overview
    assert dash.fake.calls == ["authorize", "token", "me", "guilds"]
    query = dash.fake.authorize_queries[0]
    assert query["scope"] == "identify guilds" and query["redirect_uri"] == dash.url + "/callback"
