"""Both Discord directories answer alike on the same SimCord guild: the bot's cache
(:class:`BotDirectory`, inside ``python -m bot``) and REST with the bot token
(:class:`RestDirectory`, ``python -m bot.web``, whose permissions are computed from raw roles and
overwrites). SimCord serves the REST routes, so the REST one runs against the same guild."""

from __future__ import annotations

import discord

from bot.services.guilds import GuildSettings
from bot.web.directory import BotDirectory, RestDirectory
from tests.harness.world import World


def _rest(world: World) -> RestDirectory:
    return RestDirectory(world.bot.http, lambda: world.bot.user.id)


async def test_members_and_their_privileges(world: World) -> None:
    bot_dir, rest = BotDirectory(world.bot), _rest(world)
    for member, privileged in ((world.owner, True), (world.mod, False), (world.alice, False)):
        a = await bot_dir.member(world.guild.id, member.id)
        b = await rest.member(world.guild.id, member.id)
        assert a is not None and b is not None
        assert a.privileged == b.privileged == privileged, member
        assert a.role_ids == b.role_ids
    assert world.mod_role.id in (await rest.member(world.guild.id, world.mod.id)).role_ids
    stranger = world.env.create_user("stranger")
    assert await bot_dir.member(world.guild.id, stranger.id) is None
    assert await rest.member(world.guild.id, stranger.id) is None
    admins = world.guild.create_role("Admins", permissions=discord.Permissions(administrator=True))
    boss = world.member("boss", admins)
    await world.env.settle()
    assert (await bot_dir.member(world.guild.id, boss.id)).privileged
    assert (await _rest(world).member(world.guild.id, boss.id)).privileged  # roles are cached 30 s: a fresh one


async def test_channels_roles_names_and_installed_guilds(world: World) -> None:
    bot_dir, rest = BotDirectory(world.bot), _rest(world)
    a, b = await bot_dir.channels(world.guild.id), await rest.channels(world.guild.id)
    assert [(c.id, c.name, c.kind) for c in a] == [(c.id, c.name, c.kind) for c in b]
    assert {c.name for c in a} >= {"general", "help", "moderators", "check-ins"}
    ra, rb = await bot_dir.roles(world.guild.id), await rest.roles(world.guild.id)
    assert [(r.id, r.name, r.managed, r.is_everyone, r.assignable) for r in ra] == [
        (r.id, r.name, r.managed, r.is_everyone, r.assignable) for r in rb
    ]
    assert next(r for r in ra if r.id == world.mod_role.id).assignable  # below the bot's role
    names_a = await bot_dir.names(world.guild.id, [world.alice.id, world.bob.id])
    names_b = await rest.names(world.guild.id, [world.alice.id, world.bob.id])
    assert names_a == names_b == {world.alice.id: "alice", world.bob.id: "bob"}
    other = world.env.create_guild("Elsewhere", owner=world.env.create_user("x"))  # with Kinship
    await world.env.settle()
    wanted = [world.guild.id, other.id, 123456789012345678]
    assert (
        await bot_dir.installed(wanted)
        == await rest.installed(wanted)
        == {
            world.guild.id: "Kinship Test",
            other.id: "Elsewhere",
        }
    )


async def test_observations_are_what_setup_show_sees(world: World) -> None:
    """Permissions in each configured channel and who can view the moderators' channel."""
    bot_dir, rest = BotDirectory(world.bot), _rest(world)
    nosy = world.guild.create_role("Nosy")
    mods = world.guild.create_text_channel(
        "mods-leaky",
        overwrites={
            world.everyone: discord.PermissionOverwrite(view_channel=False),
            world.mod_role: discord.PermissionOverwrite(view_channel=True),
            nosy: discord.PermissionOverwrite(view_channel=True),
            world.bot.user: discord.PermissionOverwrite(view_channel=True),
        },
    )
    checkins = world.guild.create_text_channel(
        "no-embeds", overwrites={world.bot.user: discord.PermissionOverwrite(embed_links=False)}
    )
    await world.env.settle()
    settings = GuildSettings(
        guild_id=world.guild.id,
        help_channel_id=world.help.id,
        mod_channel_id=mods.id,
        checkin_channel_id=checkins.id,
        mod_role_id=world.mod_role.id,
    )
    a = await bot_dir.observe(world.guild.id, settings)
    b = await rest.observe(world.guild.id, settings)
    key = lambda o: (o.kind, o.channel_id, o.exists, o.granted, o.forum)  # noqa: E731
    assert [key(o) for o in a] == [key(o) for o in b]
    roles = lambda o: sorted((r.role_id, r.can_view, r.is_everyone, r.is_privileged) for r in o.roles)  # noqa: E731
    assert roles(a[1]) == roles(b[1])
    findings = world.services.guilds.evaluate(settings, b)
    assert any(f.key == "setup.health.mod_channel_visible" and "Nosy" in f.params["roles"] for f in findings)
    assert any(f.key == "setup.health.missing_permissions" and "embed_links" in f.params["perms"] for f in findings)
    gone = GuildSettings(guild_id=world.guild.id, help_channel_id=999999999999999999)
    assert [o.exists for o in await rest.observe(world.guild.id, gone)] == [False]
    assert [o.exists for o in await bot_dir.observe(world.guild.id, gone)] == [False]
