"""The overview: the same health checks as ``/setup show`` (the same service call), each problem
with how to fix it, the problems Kinship recorded, and the queue's counts."""

from __future__ import annotations

import discord

from tests.cogs.test_reports import _report_member
from tests.web.conftest import Dash


async def test_a_healthy_guild_shows_all_good_and_the_queue(dash: Dash) -> None:
    world = dash.world
    await _report_member(world, world.alice, world.bob)
    await dash.login(world.mod)
    status, html = await dash.page(f"/g/{world.guild.id}")
    assert status == 200 and "all good" in html
    assert html.count('class="check ok"') == 3
    assert 'data-testid="count-open"><span class="n">1</span>' in html
    assert "#moderators" in html and "@Moderators" in html
    assert "<dd>English</dd>" in html  # the language by name, not its code


async def test_a_public_moderators_channel_and_a_missing_one_come_with_a_fix(dash: Dash) -> None:
    world = dash.world
    leaky = world.guild.create_text_channel("mods-public")  # everyone can see it
    await world.configure(mod_channel_id=leaky.id, checkin_channel_id=None)
    await dash.login(world.mod)
    g = world.guild.id
    _status, html = await dash.page(f"/g/{g}")
    assert "needs fixing" in html
    assert "<strong>WARNING: the moderators&#39; channel is visible to @everyone.</strong>" in html
    assert "deny View Channel" in html and f'href="/g/{g}/settings#mod_channel_id"' in html
    assert "Check-in channel is not set yet." in html and f'href="/g/{g}/settings#checkin_channel_id"' in html
    # /setup show says the same (one service call behind both).
    shown = await world.owner.slash(world.general, "setup show")
    health = next(f.value for f in shown.response.embeds[0].fields if f.name == "Health checks")
    assert "visible to @everyone" in health and "Check-in channel is not set yet." in health


async def test_missing_permissions_and_recorded_problems(dash: Dash) -> None:
    world = dash.world
    quiet = world.guild.create_text_channel(
        "no-threads", overwrites={world.bot.user: discord.PermissionOverwrite(create_public_threads=False)}
    )
    await world.configure(checkin_channel_id=quiet.id)
    await world.services.health.report(
        world.guild.id, "reports.undelivered", "missing_permission", world.now(), "<b>x</b>"
    )
    await dash.login(world.mod)
    _status, html = await dash.page(f"/g/{world.guild.id}")
    assert "In the Check-in channel I&#39;m missing: create_public_threads." in html
    assert "allow Kinship&#39;s role: create_public_threads" in html
    assert 'data-testid="problems"' in html and "A permission is missing: &lt;b&gt;x&lt;/b&gt;" in html


async def test_the_overview_in_german(dash: Dash) -> None:
    world = dash.world
    await world.configure(mod_role_id=None)
    await dash.login(world.owner)
    _status, html = await dash.page(f"/g/{world.guild.id}", headers={"Accept-Language": "de"})
    assert "Prüfungen" in html and "Lege die Rolle deiner Moderator*innen fest" in html
