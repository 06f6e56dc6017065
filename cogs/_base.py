"""The base class of every feature cog.

A cog may add its own subcommands under ``/setup`` (owned by ``cogs/setup.py``, default
permission Manage Server): declare them as class attributes and list their attribute names in
``setup_children``. They are moved under ``/setup`` when the cog loads and removed on unload::

    class HelpCog(FeatureCog):
        setup_children = ("topics",)
        topics = app_commands.Group(name="topics", description="Manage help topics")

        @topics.command(name="add")
        @app_commands.checks.has_permissions(manage_guild=True)
        async def topics_add(self, interaction: discord.Interaction, name: str) -> None: ...

Every such subcommand still carries its own runtime permission check: ``default_permissions``
only changes what Discord shows.
"""

from __future__ import annotations

from typing import ClassVar

from discord import app_commands
from discord.ext import commands

from bot.app import KinshipBot

SETUP = "setup"


class FeatureCog(commands.Cog):
    """Holds the bot and its services; moves ``setup_children`` under ``/setup``."""

    setup_children: ClassVar[tuple[str, ...]] = ()

    def __init__(self, bot: KinshipBot) -> None:
        self.bot = bot
        self.services = bot.services
        children = [getattr(self, name) for name in self.setup_children]
        self._setup_commands: list[app_commands.Group | app_commands.Command] = children  # type: ignore[type-arg]
        self.__cog_app_commands__ = [c for c in self.__cog_app_commands__ if all(c is not x for x in children)]

    async def cog_load(self) -> None:
        """Attach ``setup_children`` under ``/setup``. Subclasses calling super() keep this."""
        if not self._setup_commands:
            return
        root = self.bot.tree.get_command(SETUP)
        if not isinstance(root, app_commands.Group):
            raise RuntimeError("cogs.setup must load before cogs that add /setup subcommands")
        for child in self._setup_commands:
            root.add_command(child, override=True)

    async def cog_unload(self) -> None:
        """Detach ``setup_children`` from ``/setup``."""
        root = self.bot.tree.get_command(SETUP)
        if isinstance(root, app_commands.Group):
            for child in self._setup_commands:
                root.remove_command(child.name)
