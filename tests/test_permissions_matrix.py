"""Every moderator and admin control, tried by people who must not use it (issue #9).

The commands are found, not listed: every slash command whose effective ``default_permissions``
is set (``/setup …``, ``/case …``, ``/cases …``, ``/points-revoke``, ``/survey create`` …), with
its required options filled from their types. Discord would hide them from members; an admin can
override that (``world.allow_command_for``), so the bot must refuse them itself. Two people try each:

* a plain member of the guild, made able to see the command;
* a member who is a moderator (the mod role, Manage Server) of *another* guild of the same bot.

Buttons for moderators (the report queue, resource approval) are posted in a moderators' channel
that, by misconfiguration, every member can see — the click must still be refused. Each attempt
must be answered with a refusal, and the database must be exactly as before.
"""

from __future__ import annotations

from typing import Any

import discord
import pytest
from discord import app_commands
from sqlalchemy import select
from sqlmodel import SQLModel

from bot import i18n
from tests.harness.world import World

#: What only changes because someone interacted at all (activity tracking), not what they did.
NOT_STATE = {"member_activity", "insight_activity_day"}

REFUSALS = (
    i18n.t("errors.not_moderator", "en"),
    i18n.t("errors.not_allowed", "en"),
    i18n.t("errors.missing_permissions", "en", perms="").rstrip(" ."),
)


def _protected(world: World) -> list[app_commands.Command[Any, ..., Any]]:
    """Leaf slash commands whose effective default_permissions is set."""
    found = []

    def walk(item: Any, inherited: discord.Permissions | None) -> None:
        perms = getattr(item, "default_permissions", None) or inherited
        if isinstance(item, app_commands.Group):
            for child in item.commands:
                walk(child, perms)
        elif isinstance(item, app_commands.Command) and perms is not None and perms.value:
            found.append(item)

    for command in world.bot.tree.get_commands(type=discord.AppCommandType.chat_input):
        walk(command, None)
    return found


def _options(world: World, command: app_commands.Command[Any, ..., Any]) -> dict[str, Any]:
    """A valid value for every required option, by type."""
    kind = discord.AppCommandOptionType
    out: dict[str, Any] = {}
    for p in command.parameters:
        if not p.required:
            continue
        if p.choices:
            value: Any = p.choices[0].value
        elif p.type is kind.string:
            value = "Europe/Berlin" if "zone" in p.name else "x" * max(1, int(p.min_value or 1))
        elif p.type in (kind.integer, kind.number):
            value = int(p.min_value) if p.min_value is not None else 1
        elif p.type is kind.boolean:
            value = True
        elif p.type in (kind.user, kind.mentionable):
            value = world.bob
        elif p.type is kind.channel:
            value = world.general
        elif p.type is kind.role:
            value = world.mod_role
        else:
            pytest.fail(f"no value for option {p.name} ({p.type}) of /{command.qualified_name}")
        out[p.display_name] = value
    return out


async def _snapshot(world: World) -> dict[str, list[tuple[Any, ...]]]:
    await world.services.activity.flush(world.now())
    out = {}
    async with world.db.session() as s:
        conn = await s.connection()
        for table in SQLModel.metadata.sorted_tables:
            if table.name in NOT_STATE:
                continue
            rows = (await conn.execute(select(table))).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


def _refused(result: Any) -> bool:
    text = result.response.content if result.response else ""
    return bool(result.ephemeral) and any(text.startswith(r) for r in REFUSALS)


async def _outsiders(world: World) -> list[Any]:
    """A plain member, and the moderator of another guild (also a plain member here)."""
    plain = world.member("plain")
    other_mod_user = world.env.create_user("othermod")
    other = world.env.create_guild("Other Group", owner=world.env.create_user("otherowner"))
    other_role = other.create_role("Mods", permissions=discord.Permissions(manage_guild=True, manage_messages=True))
    other.add_member(other_mod_user, roles=[other_role])
    other_mod = world.guild.add_member(other_mod_user)
    await world.env.settle()
    await world.services.guilds.update(other.id, world.now(), mod_role_id=other_role.id)
    return [plain, other_mod]


async def test_no_moderator_or_admin_command_works_for_members_or_other_guilds_moderators(world: World) -> None:
    await world.configure_all()
    commands = _protected(world)
    names = {c.qualified_name for c in commands}
    assert {"setup show", "points-revoke", "case view", "cases open", "survey create"} <= names, names
    assert len(commands) >= 30, names
    outsiders = await _outsiders(world)
    for root in {c.qualified_name.split(" ")[0] for c in commands}:
        world.allow_command_for(root, *outsiders)
    before = await _snapshot(world)
    not_refused = []
    for command in commands:
        for who in outsiders:
            result = await who.slash(world.general, command.qualified_name, **_options(world, command))
            if not _refused(result):
                text = result.response.content if result.response else result.modal
                not_refused.append(f"/{command.qualified_name} by {who.name}: {text!r}")
    assert not not_refused, "\n".join(not_refused)
    assert await _snapshot(world) == before


async def test_moderator_buttons_are_refused_even_where_members_can_see_them(world: World) -> None:
    queue = world.guild.create_text_channel("mod-queue")  # misconfigured: visible to everyone
    await world.configure(mod_channel_id=queue.id, mod_role_id=world.mod_role.id, help_channel_id=world.help.id)
    # A report in the queue, a resource waiting for approval.
    shown = await world.carol.slash(world.general, "report", member=world.bob, reason="Rude")
    await world.carol.submit_modal(shown, {"details": "", "rule": ""})
    shown = await world.carol.slash(world.general, "resource add")
    await world.carol.submit_modal(
        shown, {"title": "Crisis lines", "content": "https://example.org", "topic": "Wellbeing", "language": "en"}
    )
    buttons = [
        (m, c.custom_id)
        for m in queue.history()
        if m.author.bot
        for row in m.components
        for c in row.children
        if getattr(c, "custom_id", None)
    ]
    ids = [cid for _m, cid in buttons]
    assert any(cid.startswith("kinship:reports:") for cid in ids), ids
    assert any("approve" in cid for cid in ids), ids
    outsiders = await _outsiders(world)
    before = await _snapshot(world)
    not_refused = []
    for message, custom_id in buttons:
        for who in outsiders:
            result = await who.click(message, custom_id=custom_id)
            if result.modal is not None or not _refused(result):
                not_refused.append(f"{custom_id} by {who.name}: {result!r}")
    assert not not_refused, "\n".join(not_refused)
    assert await _snapshot(world) == before
