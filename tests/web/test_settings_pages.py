"""The settings page: every /setup setting as a form, pickers from the guild, a message per field,
and saving changes what /setup show reports in Discord."""

from __future__ import annotations

from tests.web.conftest import Dash


def _field(embed, name: str) -> str:
    return next(f.value for f in embed.fields if f.name == name)


async def test_every_section_is_a_form_with_pickers_from_the_guild(dash: Dash) -> None:
    world = dash.world
    await dash.login(world.owner)
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
    await dash.login(world.owner)
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
    await dash.login(world.owner)
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
    await dash.login(world.owner)
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


async def test_a_moderator_without_manage_server_reads_the_settings_but_cannot_change_them(dash: Dash) -> None:
    """Every /setup command needs Manage Server in Discord; the dashboard asks the same."""
    world = dash.world
    g = world.guild.id
    await dash.login(world.mod)  # the moderator role, no Manage Server
    status, html = await dash.page(f"/g/{g}/settings")
    assert status == 200 and 'data-testid="read-only"' in html
    assert html.count("<fieldset") == html.count('<fieldset class="plain" disabled>') > 0
    assert 'data-testid="form-topics-add"' not in html and 'data-testid="form-contacts-add"' not in html
    before = await world.services.settings.values(g)
    token = await dash.token(f"/g/{g}")
    for path, form in (
        (f"/g/{g}/settings/general", {**before["general"], "timezone": "Europe/Berlin"}),
        (f"/g/{g}/settings/topics/add", {"name": "Exams"}),
        (f"/g/{g}/settings/contacts/add", {"region": "de", "name": "Telefonseelsorge", "contact": "0800 111 0 111"}),
        (f"/g/{g}/milestones/add", {"threshold": "10", "role_id": str(world.mod_role.id)}),
    ):
        r = await dash.post(path, form, csrf=token)
        body = await r.text()
        assert r.status == 403 and 'data-testid="needs-manage-server"' in body, path
    assert await world.services.settings.values(g) == before
    assert await world.services.help.topics(g) == [] and await world.services.care.list(g) == []
    _, html = await dash.page(f"/g/{g}/milestones")
    assert 'data-testid="read-only"' in html and 'data-testid="form-milestone"' not in html


async def test_support_contacts_are_the_same_as_setup_resources(dash: Dash) -> None:
    world = dash.world
    g = world.guild.id
    await dash.login(world.owner)
    r = await dash.post(
        f"/g/{g}/settings/contacts/add",
        {"region": "de", "name": "Krisendienst <Oberbayern>", "contact": "0800 655 3000", "url": "https://example.org"},
    )
    assert r.status == 303
    _, html = await dash.page(r.headers["Location"])
    assert "Krisendienst &lt;Oberbayern&gt;" in html and "<Oberbayern>" not in html
    listed = await world.owner.slash(world.general, "setup resources list")
    shown = listed.response.embeds[0].to_dict() if listed.response.embeds else listed.response.content
    assert "Krisendienst <Oberbayern>" in str(shown)
    card = await world.alice.slash(world.general, "resources", region="de")
    assert "0800 655 3000" in str(card.response.embeds[0].to_dict())
    # What the service refuses comes back as a message, nothing added.
    r = await dash.post(
        f"/g/{g}/settings/contacts/add", {"region": "de", "name": "x", "contact": "y", "url": "ftp://x"}
    )
    _, html = await dash.page(r.headers["Location"])
    assert 'class="flash error"' in html and len(await world.services.care.list(g)) == 1
    (contact,) = await world.services.care.list(g)
    r = await dash.post(f"/g/{g}/settings/contacts/{contact.id}/remove", {})
    assert r.status == 303 and await world.services.care.list(g) == []


#: /setup commands that are not a settings section, and where the dashboard has them.
ELSEWHERE = {
    "setup show": ("", 'data-testid="health"'),
    "setup topics add": ("settings", 'data-testid="form-topics-add"'),
    "setup topics remove": ("settings", 'id="section-topics"'),
    "setup topics list": ("settings", 'id="section-topics"'),
    "setup resources add": ("settings", 'data-testid="form-contacts-add"'),
    "setup resources remove": ("settings", 'id="section-contacts"'),
    "setup resources list": ("settings", 'id="section-contacts"'),
    "setup milestones add": ("milestones", 'data-testid="form-milestone"'),
    "setup milestones remove": ("milestones", 'data-testid="form-milestone"'),
    "setup milestones list": ("milestones", "<h1>"),
}


async def test_every_setup_command_has_its_place_on_the_dashboard(dash: Dash) -> None:
    """A /setup command added later fails here until the dashboard has a form for it."""
    from discord import app_commands

    from bot.services.settings import SECTIONS

    world = dash.world
    setup = world.bot.tree.get_command("setup")
    assert isinstance(setup, app_commands.Group)
    leaves = [c.qualified_name for c in setup.walk_commands() if isinstance(c, app_commands.Command)]
    in_sections = {name for section in SECTIONS for name in section.commands}
    assert in_sections <= set(leaves), f"sections name commands that do not exist: {in_sections - set(leaves)}"
    missing = [name for name in leaves if name not in in_sections and name not in ELSEWHERE]
    assert not missing, f"/setup commands without a dashboard form: {missing}"
    await dash.login(world.owner)
    for name, (page, marker) in ELSEWHERE.items():
        assert name in leaves, f"{name} is gone: update ELSEWHERE"
        status, html = await dash.page(f"/g/{world.guild.id}" + (f"/{page}" if page else ""))
        assert status == 200 and marker in html, name
