"""Milestones on the web: the same rows and checks as /setup milestones, counts only."""

from __future__ import annotations

from tests.web.conftest import Dash


async def test_add_a_milestone_on_the_web_and_slash_command_lists_it(dash: Dash) -> None:
    world = dash.world
    g = world.guild.id
    helper = world.guild.create_role("Helper")
    await world.env.settle()
    await dash.login(world.owner)
    status, html = await dash.page(f"/g/{g}/milestones")
    assert status == 200 and f'<option value="{helper.id}">@Helper</option>' in html
    r = await dash.post(f"/g/{g}/milestones/add", {"threshold": "15", "role_id": str(helper.id)})
    assert r.status == 303
    listed = await world.owner.slash(world.general, "setup milestones list")
    assert f"15 points → <@&{helper.id}>" in listed.response.content
    await world.alice.slash(world.general, "thanks", member=world.bob, reason="one")
    await world.carol.slash(world.general, "thanks", member=world.bob, reason="two")
    status, html = await dash.page(f"/g/{g}/milestones")
    assert "at 15 points members get @Helper" in html
    row = html.split('data-testid="milestone-15"')[1].split("</tr>")[0]
    assert '<td class="num">1</td>' in row  # one member got it; who is not shown
    assert str(world.bob.id) not in html
    r = await dash.post(f"/g/{g}/milestones/15/remove")
    assert r.status == 303 and await world.services.recognition.milestones(g) == []


async def test_a_role_kinship_cannot_give_is_refused_like_the_slash_command(dash: Dash) -> None:
    world = dash.world
    g = world.guild.id
    legend = world.guild.create_role("Legend", position=50)
    await world.env.settle()
    await dash.login(world.owner)
    for role_id in (legend.id, world.guild.id, 999):  # above the bot, @everyone, not in the guild
        r = await dash.post(f"/g/{g}/milestones/add", {"threshold": "10", "role_id": str(role_id)})
        assert r.status == 303
        _, html = await dash.page(r.headers["Location"])
        assert 'class="flash error"' in html
    r = await dash.post(f"/g/{g}/milestones/add", {"threshold": "lots", "role_id": str(legend.id)})
    assert r.status == 303
    assert await world.services.recognition.milestones(g) == []
