"""Activity tracking: who was last active when — never what they said (issue #7).

The hooks only update an in-memory buffer (:meth:`ActivityService.record`). Messages, the hot
path, are recorded by a synchronous hook inside the bot's dispatch (no task per message); the
``activity.flush`` job writes it every 30 seconds and the bot flushes it on shutdown. Message
events arrive without content (no MESSAGE_CONTENT intent): only the author and the time are used.
"""

from __future__ import annotations

from datetime import datetime

import discord
from discord.ext import commands
from discord.utils import DISCORD_EPOCH

from bot.app import KinshipBot
from cogs._base import FeatureCog

FLUSH_SECONDS = 30


class ActivityCog(FeatureCog):
    """Listens to messages, reactions and interactions in guilds."""

    async def cog_load(self) -> None:
        """Start the flush job and flush on shutdown."""
        await super().cog_load()
        self._record = self.services.activity.record
        self._record_us = self.services.activity.record_us
        self.bot.on_event_sync("message", self._on_message)
        self.bot.scheduler.every("activity.flush", FLUSH_SECONDS, self._flush, leader_only=False)
        self.bot.on_shutdown(self.services.activity.flush_now)

    async def cog_unload(self) -> None:
        """Stop the job and write what is buffered."""
        self.bot.remove_event_sync("message", self._on_message)
        self.bot.scheduler.remove("activity.flush")
        await self.services.activity.flush_now()
        await super().cog_unload()

    async def _flush(self, now: datetime) -> None:
        await self.services.activity.flush(now)

    def _on_message(self, message: discord.Message) -> None:
        """A guild message by a human counts as activity (author and time only).

        Runs for every message: the time is read from the message id (a snowflake holds its
        milliseconds since the Discord epoch) as microseconds, because ``message.created_at``
        makes a datetime, which costs more than all of the rest."""
        author = message.author
        guild = message.guild
        if guild is None or author.bot:
            return
        at_us = ((message.id >> 22) + DISCORD_EPOCH) * 1000
        self._record_us(guild.id, author.id, at_us, getattr(author, "joined_at", None))

    @commands.Cog.listener()
    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        """A reaction in a guild counts as activity."""
        member = payload.member
        if payload.guild_id is None or (member is not None and member.bot):
            return
        self._record(payload.guild_id, payload.user_id, self.bot.now(), member.joined_at if member else None)

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Any command or component used in a guild counts as activity."""
        user = interaction.user
        if interaction.guild_id is None or user.bot:
            return
        self._record(interaction.guild_id, user.id, self.bot.now(), getattr(user, "joined_at", None))


async def setup(bot: KinshipBot) -> None:
    """Extension entry point."""
    await bot.add_cog(ActivityCog(bot))
