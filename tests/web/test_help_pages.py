"""The help page: open requests (overdue first), time to first response, per guild, escaped."""

from __future__ import annotations

from datetime import timedelta

from tests.web.conftest import Dash


async def _ask(dash: Dash, member, title: str, minutes_ago: float) -> int:
    world = dash.world
    request = await world.services.help.open_request(
        world.guild.id,
        member.id,
        topic=None,
        title=title,
        body="…",
        wants="listening",
        content_note=None,
        now=world.now() - timedelta(minutes=minutes_ago),
    )
    return request.id


async def test_moderator_sees_open_requests_overdue_first_and_member_text_escaped(dash: Dash) -> None:
    world = dash.world
    await world.services.help.update_settings(world.guild.id, world.now(), escalate_minutes=60)
    fresh = await _ask(dash, world.alice, "Fresh one", 10)
    overdue = await _ask(dash, world.bob, "<script>alert(1)</script> exam", 120)
    await dash.login(world.mod)
    status, html = await dash.page(f"/g/{world.guild.id}/help")
    assert status == 200
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; exam" in html
    assert html.index(f'data-testid="help-request-{overdue}"') < html.index(f'data-testid="help-request-{fresh}"')
    assert 'data-testid="help-overdue"><span class="n">1<' in html
    assert 'data-testid="help-open"><span class="n">2<' in html
    assert "overdue" in html and str(world.bob.id) in html  # the asker (name when the directory knows it)


async def test_german_browser_gets_german_and_other_guilds_requests_never_show(dash: Dash) -> None:
    world = dash.world
    await world.services.help.open_request(
        dash.other.id,
        dash.foreign_mod.id,
        topic=None,
        title="Foreign request",
        body="…",
        wants="listening",
        content_note=None,
        now=world.now(),
    )
    await dash.login(world.mod)
    status, html = await dash.page(f"/g/{world.guild.id}/help", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert status == 200 and "Hilfeanfragen" in html and "Gerade gibt es keine offenen Hilfeanfragen" in html
    assert "Foreign request" not in html
    status, _ = await dash.page(f"/g/{dash.other.id}/help")
    assert status == 403
