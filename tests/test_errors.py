"""One error handler: kind ephemeral messages for expected errors, an id for unexpected ones."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import discord
import pytest
from discord import app_commands

from bot.errors import InvalidInput, TryLater
from bot.ui import KinshipView, reply
from tests.harness.world import World


async def _add_commands(world: World) -> None:
    tree = world.bot.tree

    @app_commands.command(name="boom", description="Raises something unexpected")
    async def boom(interaction: discord.Interaction) -> None:
        raise RuntimeError("database exploded")

    @app_commands.command(name="picky", description="Refuses the input")
    async def picky(interaction: discord.Interaction) -> None:
        raise InvalidInput("setup.errors.bad_timezone", value="Mars/Olympus")

    @app_commands.command(name="later", description="Rate limited")
    async def later(interaction: discord.Interaction) -> None:
        raise TryLater(retry_at=world.now() + timedelta(hours=2))

    @app_commands.command(name="slow", description="Has a cooldown")
    @app_commands.checks.cooldown(1, 60)
    async def slow(interaction: discord.Interaction) -> None:
        await reply(interaction, "ok")

    class Broken(KinshipView):
        @discord.ui.button(label="Break", custom_id="test:break")
        async def go(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
            raise RuntimeError("view exploded")

    @app_commands.command(name="view", description="Sends a broken button")
    async def view(interaction: discord.Interaction) -> None:
        await reply(interaction, "press", view=Broken())

    for command in (boom, picky, later, slow, view):
        tree.add_command(command)
    await tree.sync()


async def test_unexpected_error_is_logged_with_an_id_and_apologised_for(
    world: World, allow_error_logs: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    allow_error_logs.extend(["unexpected error", "database exploded"])
    await _add_commands(world)
    with caplog.at_level(logging.ERROR, logger="bot.ui"):
        r = await world.alice.slash(world.general, "boom")
    assert r.ephemeral
    error_id = re.search(r"`([0-9a-f]{8})`", r.response.content).group(1)
    record = next(rec for rec in caplog.records if error_id in rec.getMessage())
    message = record.getMessage()
    assert "boom" in message and str(world.guild.id) in message and str(world.alice.id) in message
    assert record.exc_info and "database exploded" in str(record.exc_info[1])
    assert "database exploded" not in r.response.content  # no internals shown to members
    assert world.bot.is_ready()  # nothing crashed


async def test_kinship_errors_are_shown_kindly_in_the_members_language(world: World) -> None:
    await _add_commands(world)
    r = await world.alice.slash(world.general, "picky")
    assert r.ephemeral and "Mars/Olympus" in r.response.content and "Europe/Berlin" in r.response.content
    world.set_locale(world.alice, "de")
    r = await world.alice.slash(world.general, "later")
    assert r.ephemeral and r.response.content.startswith("Das geht gerade nicht.") and "<t:" in r.response.content


async def test_cooldown_says_how_long_to_wait(world: World) -> None:
    await _add_commands(world)
    await world.alice.slash(world.general, "slow")
    r = await world.alice.slash(world.general, "slow")
    assert r.ephemeral and "wait 60 seconds" in r.response.content


async def test_errors_in_buttons_are_rendered_too(world: World, allow_error_logs: list[str]) -> None:
    allow_error_logs.extend(["unexpected error", "view exploded"])
    await _add_commands(world)
    r = await world.alice.slash(world.general, "view")
    clicked = await world.alice.click(r.response, label="Break")
    assert clicked.ephemeral and "error id" in clicked.response.content


def test_within_limits_keeps_embeds_under_6000_characters() -> None:
    from bot.ui import EMBED_TOTAL, within_limits

    embed = discord.Embed(title="t" * 256, description="d" * 4000)
    for i in range(10):
        embed.add_field(name=f"field {i}", value="v" * 1024)
    within_limits(embed)
    assert len(embed) <= EMBED_TOTAL and len(embed.fields) >= 1
