"""The stats page: the numbers of /stats (same service call), the chart as PNG, the minimum group size."""

from __future__ import annotations

from datetime import timedelta

from tests.web.conftest import Dash


async def test_stats_show_the_figures_of_slash_stats_with_the_chart(dash: Dash) -> None:
    world = dash.world
    g = world.guild.id
    for i, member in enumerate((world.alice, world.bob)):
        await world.services.help.open_request(
            g,
            member.id,
            topic=None,
            title=f"r{i}",
            body="…",
            wants="listening",
            content_note=None,
            now=world.now() - timedelta(days=2),
        )
    await dash.login(world.mod)
    status, html = await dash.page(f"/g/{g}/stats?days=7")
    assert status == 200
    report = await world.services.insights.report(g, now=world.now(), days=7)
    assert report.help_opened == 2
    assert "Opened: 2 · answered: 0" in html
    assert 'class="active" aria-current="page" data-testid="period-7"' in html
    r = await dash.client.get(f"/g/{g}/stats/chart.png?days=7")
    assert r.status == 200 and r.content_type == "image/png"
    assert (await r.read())[:8] == b"\x89PNG\r\n\x1a\n"
    # The report is reused for a minute (as the chart is), then computed again.
    await world.services.help.open_request(
        g,
        world.carol.id,
        topic=None,
        title="r3",
        body="…",
        wants="listening",
        content_note=None,
        now=world.now() - timedelta(hours=1),
    )
    _, html = await dash.page(f"/g/{g}/stats?days=7")
    assert "Opened: 2 · answered: 0" in html
    await world.advance(61)
    _, html = await dash.page(f"/g/{g}/stats?days=7")
    assert "Opened: 3 · answered: 0" in html
    # An unknown period falls back to 30 days (as /stats' default).
    status, html = await dash.page(f"/g/{g}/stats?days=365")
    assert (
        status == 200
        and 'data-testid="period-30"' in html
        and 'class="active" aria-current="page" data-testid="period-30"' in html
    )


async def test_mood_of_fewer_than_five_members_is_withheld(dash: Dash) -> None:
    world = dash.world
    g = world.guild.id
    for member in (world.alice, world.bob, world.carol):
        await world.services.checkins.answer(g, member.id, world.now() - timedelta(hours=1), mood=1)
    await dash.login(world.mod)
    status, html = await dash.page(f"/g/{g}/stats")
    assert status == 200
    assert "not enough answers to show (fewer than 5)" in html, html[
        html.find("stat-checkins") : html.find("stat-checkins") + 300
    ]
    assert "1.0 / 5" not in html
