"""/resources and /setup resources through Discord-shaped interactions."""

from __future__ import annotations

import discord

from tests.harness.world import World


def _text(embed: discord.Embed) -> str:
    return "\n".join([embed.title or "", embed.description or "", *(f.value or "" for f in embed.fields)])


async def test_region_option_picks_the_contacts(world: World) -> None:
    expected = {
        "de": ("0800 111 0 111", "112"),
        "at": ("142", "112 · 144"),
        "ch": ("Die Dargebotene Hand", "143"),
        "uk": ("Samaritans", "85258"),
        "us": ("988", "911"),
        "intl": ("findahelpline.com", "Befrienders Worldwide"),
    }
    for region, needles in expected.items():
        r = await world.alice.slash(world.general, "resources", region=region)
        assert r.ephemeral
        text = _text(r.response.embeds[0])
        for needle in needles:
            assert needle in text, (region, needle)


async def test_default_region_follows_the_members_discord_locale(world: World) -> None:
    cases = {"de": "TelefonSeelsorge", "en-GB": "Samaritans", "en-US": "988 Suicide & Crisis Lifeline", "fr": "Find A"}
    for locale, needle in cases.items():
        world.set_locale(world.alice, locale)
        r = await world.alice.slash(world.general, "resources")
        assert needle in _text(r.response.embeds[0]), locale
    world.set_locale(world.alice, "de")
    r = await world.alice.slash(world.general, "resources")
    embed = r.response.embeds[0]
    assert embed.title == "Hilfekontakte · Deutschland"
    assert "Ruf **112** an" in embed.description and "Kostenlos, anonym" in embed.description


async def test_links_are_embedded_markdown_and_nothing_pings(world: World) -> None:
    r = await world.alice.slash(world.general, "resources", region="uk")
    assert "[samaritans.org](https://www.samaritans.org/)" in r.response.embeds[0].description
    assert not r.response.content  # links only inside the embed: no previews, no pings


async def test_admin_adds_contacts_that_show_below_the_shipped_ones(world: World) -> None:
    r = await world.owner.slash(
        world.general,
        "setup resources add",
        region="de",
        name="Krisendienst Oberbayern",
        contact="0800 655 3000",
        url="https://www.krisendienste.bayern/",
    )
    assert r.ephemeral and "Added **Krisendienst Oberbayern** for Germany" in r.response.content
    await world.owner.slash(world.general, "setup resources add", region="all", name="@everyone mods", contact="#mods")

    de = (await world.alice.slash(world.general, "resources", region="de")).response.embeds[0]
    [field] = de.fields
    assert field.name == "From this server"
    assert field.value.index("Krisendienst Oberbayern") < field.value.index("mods")
    assert "[krisendienste.bayern](https://www.krisendienste.bayern/)" in field.value
    assert "@everyone" not in field.value.replace("@\u200beveryone", "")  # escaped, never a ping
    assert "TelefonSeelsorge" in de.description
    us = (await world.alice.slash(world.general, "resources", region="us")).response.embeds[0]
    assert "Krisendienst" not in _text(us) and "mods" in us.fields[0].value

    listing = await world.owner.slash(world.general, "setup resources list")
    assert "Krisendienst Oberbayern" in listing.response.embeds[0].description


async def test_admin_removes_a_contact_picked_by_autocomplete(world: World) -> None:
    await world.owner.slash(world.general, "setup resources add", region="ch", name="Zürich line", contact="044 000")
    choices = await world.owner.autocomplete(world.general, "setup resources remove", "contact_name", "zür")
    assert [c["name"] for c in choices] == ["Zürich line (Switzerland)"]
    r = await world.owner.slash(world.general, "setup resources remove", contact_name=choices[0]["value"])
    assert "Removed **Zürich line**" in r.response.content
    assert not (await world.alice.slash(world.general, "resources", region="ch")).response.embeds[0].fields
    empty = await world.owner.slash(world.general, "setup resources list")
    assert "No contacts added yet" in empty.response.content


async def test_bad_link_is_refused_kindly(world: World) -> None:
    r = await world.owner.slash(
        world.general, "setup resources add", region="de", name="X", contact="1", url="ftp://example.org"
    )
    assert r.ephemeral and "https://" in r.response.content


async def test_non_admin_is_refused_on_setup_resources(world: World) -> None:
    world.allow_command_for("setup", world.alice, world.mod)
    r = await world.mod.slash(world.general, "setup resources add", region="de", name="Spam", contact="1")
    assert r.ephemeral and "permissions" in r.response.content.lower()
    r = await world.alice.slash(world.general, "setup resources list")
    assert "permissions" in r.response.content.lower()
    assert not (await world.alice.slash(world.general, "resources", region="de")).response.embeds[0].fields


async def test_setup_resources_is_hidden_from_members(world: World) -> None:
    assert "resources" in world.alice.available_commands(world.general)
    assert not any(c.startswith("setup") for c in world.alice.available_commands(world.general))
    assert "setup resources add" in world.owner.available_commands(world.general)


async def test_resources_works_in_direct_messages_too(world: World) -> None:
    # Check-in and nudge DMs point here, so the command must work where they arrive.
    r = await world.alice.user.slash("resources", region="uk")
    assert "Samaritans" in r.response.embeds[0].description
    assert not r.response.embeds[0].fields
    assert "privacy" not in world.alice.user.available_commands()  # guild data: guild only
