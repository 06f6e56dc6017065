"""The settings page: every /setup setting as a form, pickers from the guild, a message per field,
and saving changes what /setup show reports in Discord."""

from __future__ import annotations

from tests.web.conftest import Dash


def _field(embed, name: str) -> str:
    return next(f.value for f in embed.fields if f.name == name)


async def test_every_section_is_a_form_with_pickers_from_the_guild(dash: Dash) -> None:
    world = dash.world
    await dash.login(world.mod)
    status, html = await dash.page(f"/g/{world.guild.id}/settings")
    assert status == 200
    for section in ("general", "checkins", "help", "nudges", "recognition", "reports", "retention", "pulse", "rules"):
        assert f'data-testid="form-{section}"' in html
    assert f'<option value="{world.mods.id}" selected>#moderators</option>' in html
    assert f'<option value="{world.mod_role.id}" selected>@Moderators</option>' in html
    assert "TestBot" not in html.split('data-testid="general-mod_role_id"')[1].split("</select>")[0]  # managed role


async def test_saving_a_setting_shows_in_setup_show(dash: Dash) -> None:
    world = dash.world
    g = world.guild.id
    await dash.login(world.mod)
    form = (await world.services.settings.values(g))["general"]
    form.update(checkin_channel_id=str(world.general.id), timezone="Europe/Berlin")
    r = await dash.post(f"/g/{g}/settings/general", form)
    assert r.status == 303 and r.headers["Location"] == f"/g/{g}/settings"
    _, html = await dash.page(f"/g/{g}/settings")
    assert "Saved: Channels, moderators and language." in html
    shown = await world.owner.slash(world.general, "setup show")
    embed = shown.response.embeds[0]
    assert f"Check-in channel: <#{world.general.id}>" in _field(embed, "Channels")
    assert _field(embed, "Time zone") == "Europe/Berlin"


async def test_bad_fields_get_a_message_each_and_nothing_changes(dash: Dash) -> None:
    world = dash.world
    g = world.guild.id
    await dash.login(world.mod)
    before = await world.services.settings.values(g)
    foreign_channel = dash.other.create_text_channel("their-mods").id  # another guild's channel
    await world.env.settle()
    form = {**before["general"], "mod_channel_id": str(foreign_channel), "timezone": "Mars/Olympus"}
    r = await dash.post(f"/g/{g}/settings/general", form)
    assert r.status == 400
    html = await r.text()
    assert 'data-testid="error-general-mod_channel_id"' in html and "in this server (any more)" in html
    assert 'data-testid="error-general-timezone"' in html and "Mars/Olympus" in html
    assert "Some fields need a change before I can save (2)" in html
    assert await world.services.settings.values(g) == before
    r = await dash.post(f"/g/{g}/settings/help", {**before["help"], "escalate_minutes": "0"})
    assert r.status == 400 and "Please choose a number from 1 to 10080." in await r.text()
    assert (await world.services.help.settings(g)).escalate_minutes == 60
    r = await dash.post(f"/g/{g}/settings/nonsense", {})
    assert r.status == 404


async def test_help_settings_and_topics_change_the_same_rows_as_slash_commands(dash: Dash) -> None:
    world = dash.world
    g = world.guild.id
    await dash.login(world.mod)
    values = await world.services.settings.values(g)
    r = await dash.post(f"/g/{g}/settings/help", {**values["help"], "escalate_minutes": "90", "thread_mode": "private"})
    assert r.status == 303
    settings = await world.services.help.settings(g)
    assert (settings.escalate_minutes, settings.thread_mode) == (90, "private")
    r = await dash.post(f"/g/{g}/settings/topics/add", {"name": "Exams & stress"})
    assert r.status == 303
    listed = await world.owner.slash(world.general, "setup topics list")
    assert "Exams & stress" in listed.response.embeds[0].description
    _, html = await dash.page(f"/g/{g}/settings")
    assert "Added the topic “Exams &amp; stress”." in html and "Exams & stress" not in html
    # A name the service refuses comes back as a message on the page, nothing added.
    r = await dash.post(f"/g/{g}/settings/topics/add", {"name": "<b>bold</b>"})
    assert r.status == 303
    _, html = await dash.page(r.headers["Location"])
    assert 'class="flash error"' in html and [t.name for t in await world.services.help.topics(g)] == ["Exams & stress"]
    r = await dash.post(f"/g/{g}/settings/topics/remove", {"name": "exams & stress"})
    assert r.status == 303 and await world.services.help.topics(g) == []
