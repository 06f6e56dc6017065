"""/setup through Discord-shaped interactions."""

from __future__ import annotations

import discord

from tests.harness.world import World


def _field(embed: discord.Embed, name: str) -> str:
    return next(f.value for f in embed.fields if f.name == name)


async def test_admin_sets_channels_role_timezone_language(world: World) -> None:
    r = await world.owner.slash(world.general, "setup help-channel", channel=world.help)
    assert r.ephemeral and "Help channel" in r.response.content
    await world.owner.slash(world.general, "setup mod-channel", channel=world.mods)
    await world.owner.slash(world.general, "setup checkin-channel", channel=world.checkins)
    await world.owner.slash(world.general, "setup mod-role", role=world.mod_role)
    await world.owner.slash(world.general, "setup timezone", name="Europe/Berlin")
    await world.owner.slash(world.general, "setup language", language="de")

    settings = await world.services.guilds.get(world.guild.id)
    assert settings.help_channel_id == world.help.id
    assert settings.mod_channel_id == world.mods.id
    assert settings.checkin_channel_id == world.checkins.id
    assert settings.mod_role_id == world.mod_role.id
    assert settings.timezone == "Europe/Berlin"
    assert settings.language == "de"


async def test_forum_channel_is_accepted_as_help_channel(world: World) -> None:
    forum = world.guild.create_forum_channel("help-forum")
    await world.owner.slash(world.general, "setup help-channel", channel=forum)
    assert (await world.services.guilds.get(world.guild.id)).help_channel_id == forum.id


async def test_show_reports_configuration_and_health(world: World) -> None:
    await world.configure_all()
    r = await world.owner.slash(world.general, "setup show")
    assert r.ephemeral
    embed = r.response.embeds[0]
    channels = _field(embed, "Channels")
    assert f"<#{world.help.id}>" in channels and f"<#{world.mods.id}>" in channels
    health = _field(embed, "Health checks")
    assert health.count("✅") == 3, health
    assert "WARNING" not in health


async def test_show_warns_loudly_when_mod_channel_is_public(world: World) -> None:
    await world.configure(mod_channel_id=world.general.id, mod_role_id=world.mod_role.id)
    r = await world.owner.slash(world.general, "setup show")
    health = _field(r.response.embeds[0], "Health checks")
    assert "WARNING: the moderators' channel is visible to @everyone" in health


async def test_show_warns_when_non_moderator_role_can_see_mod_channel(world: World) -> None:
    helpers = world.guild.create_role("Helpers")
    leaky = world.guild.create_text_channel(
        "leaky-mods",
        overwrites={
            world.everyone: discord.PermissionOverwrite(view_channel=False),
            world.mod_role: discord.PermissionOverwrite(view_channel=True),
            helpers: discord.PermissionOverwrite(view_channel=True),
        },
    )
    await world.configure(mod_channel_id=leaky.id, mod_role_id=world.mod_role.id)
    r = await world.owner.slash(world.general, "setup show")
    health = _field(r.response.embeds[0], "Health checks")
    assert "visible to non-moderator roles" in health and "Helpers" in health


async def test_show_names_deleted_channel(world: World) -> None:
    gone = world.guild.create_text_channel("gone")
    await world.configure(help_channel_id=gone.id)
    await world.owner_deletes(gone)
    r = await world.owner.slash(world.general, "setup show")
    health = _field(r.response.embeds[0], "Health checks")
    assert "Help channel no longer exists" in health


async def test_show_names_missing_permissions(world: World) -> None:
    bot_member = world.bot.get_guild(world.guild.id).me
    locked = world.guild.create_text_channel(
        "locked", overwrites={bot_member: discord.PermissionOverwrite(create_public_threads=False, embed_links=False)}
    )
    await world.configure(checkin_channel_id=locked.id)
    r = await world.owner.slash(world.general, "setup show")
    health = _field(r.response.embeds[0], "Health checks")
    assert "In the Check-in channel I'm missing: embed_links, create_public_threads." in health


async def test_recorded_problems_are_listed(world: World) -> None:
    await world.services.health.report(
        world.guild.id, "checkins.post", "missing_permission", world.now(), detail="Send Messages in #check-ins"
    )
    r = await world.owner.slash(world.general, "setup show")
    problems = _field(r.response.embeds[0], "Problems Kinship ran into")
    assert "Send Messages in #check-ins" in problems


async def test_setup_is_hidden_from_members_by_default_permissions(world: World) -> None:
    assert not any(c.startswith("setup") for c in world.alice.available_commands(world.general))
    assert "setup show" in world.owner.available_commands(world.general)


async def test_non_admin_is_refused_and_nothing_changes(world: World) -> None:
    # An admin may override the integration permissions so members *see* /setup;
    # the runtime check must still refuse them.
    world.allow_command_for("setup", world.alice, world.mod)
    r = await world.alice.slash(world.general, "setup mod-channel", channel=world.general)
    assert r.ephemeral
    assert "permissions" in r.response.content.lower()
    assert (await world.services.guilds.get(world.guild.id)).mod_channel_id is None
    r = await world.mod.slash(world.general, "setup show")
    assert r.ephemeral and not r.response.embeds


async def test_bad_timezone_gets_a_kind_ephemeral_error(world: World) -> None:
    r = await world.owner.slash(world.general, "setup timezone", name="Mars/Olympus")
    assert r.ephemeral
    assert "Europe/Berlin" in r.response.content
    assert (await world.services.guilds.get(world.guild.id)).timezone == "UTC"


async def test_timezone_autocomplete(world: World) -> None:
    choices = await world.owner.autocomplete(world.general, "setup timezone", "name", "berl")
    assert choices[0]["value"] == "Europe/Berlin"
    assert len(await world.owner.autocomplete(world.general, "setup timezone", "name", "")) <= 25


async def test_replies_follow_the_members_locale(world: World) -> None:
    world.set_locale(world.owner, "de")
    r = await world.owner.slash(world.general, "setup show")
    assert r.response.embeds[0].title == "Kinship-Einrichtung"


async def test_replies_fall_back_to_guild_language(world: World) -> None:
    await world.configure(language="de")
    world.set_locale(world.owner, "fr")
    r = await world.owner.slash(world.general, "setup show")
    assert r.response.embeds[0].title == "Kinship-Einrichtung"


async def test_everyone_cannot_become_the_moderator_role(world: World) -> None:
    r = await world.owner.slash(world.general, "setup mod-role", role=world.everyone)
    assert r.ephemeral and "every member would see reports" in r.response.content
    assert (await world.services.guilds.get(world.guild.id)).mod_role_id is None
    # Even if it were stored somehow, @everyone never makes anyone a moderator.
    assert not await world.services.guilds.is_moderator(world.guild.id, {world.guild.id}, privileged=False)
