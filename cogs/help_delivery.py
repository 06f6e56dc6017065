"""Everything the help feature sends outside a reply (see ``cogs/help.py``): a request's thread,
helpers' pings, the moderators' escalation, the idle question and archiving, and the notes when a
request is claimed or resolved.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import discord

from bot import i18n
from bot.delivery import classify
from bot.services.help import FailureOutcome, OutboxItem, Request
from bot.ui import NO_PINGS
from cogs.help_views import request_embed, request_view

if TYPE_CHECKING:
    from bot.app import KinshipBot

log = logging.getLogger(__name__)

Opened = Literal["posted", "retry", "missing", "forbidden"]


class Delivery:
    """Everything the help feature sends: threads, pings, escalations, idle questions, archiving.

    Each send starts from stored rows (a pending request, an outbox item), so the ``help.deliver``
    job can redo whatever failed — after a 5xx, a missing channel or permission, or a restart.
    """

    def __init__(self, bot: KinshipBot) -> None:
        self.bot = bot
        self.services = bot.services

    # --------------------------------------------------------------- jobs

    async def deliver_due(self, now: datetime) -> None:
        """``help.deliver``: open the threads still pending, then send what is queued (this
        process's guilds only: those on other shards are not in its cache, their process does it)."""
        for request in await self.services.help.pending_threads(now, scope=self.bot.guild_scope):
            if await self.services.help.lease_thread(request.id, now):
                await self.open_thread(request, now)
        await self.flush(now)

    async def follow_up(self, now: datetime) -> None:
        """``help.follow_up``: queue what the timers say is due, then send it."""
        await self.services.help.follow_up(now, scope=self.bot.guild_scope)
        await self.flush(now)

    # ------------------------------------------------------------- thread

    async def report_missing(self, guild_id: int, channel_id: int) -> None:
        """Record the deleted help channel for ``/setup show``."""
        await self.services.health.report(
            guild_id, "help.channel", "channel_missing", self.bot.now(), detail=f"help channel <#{channel_id}>"
        )

    async def open_thread(self, request: Request, now: datetime) -> Opened:
        """Create the request's thread from the stored row (the caller holds its lease, see
        ``HelpService.lease_thread``); on failure the row stays pending."""
        guild = self.bot.get_guild(request.guild_id)
        if guild is None and not self.bot.owns_guild(request.guild_id):
            return "retry"  # another process's guild: not gone; its help.deliver opens it once the lease lapses
        settings = await self.services.guilds.get(request.guild_id)
        channel = guild.get_channel(settings.help_channel_id) if guild and settings.help_channel_id else None
        if guild is None or not isinstance(channel, (discord.TextChannel, discord.ForumChannel)):
            await self.services.help.thread_failed(request.id, "missing", now)
            if settings.help_channel_id is not None:
                await self.report_missing(request.guild_id, settings.help_channel_id)
            return "missing"
        lang = settings.language
        cfg = await self.services.help.settings(request.guild_id)
        intro = i18n.t("help.thread.intro", lang, asker=f"<@{request.asker_id}>")
        asker = discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(request.asker_id)])
        embed, view = request_embed(request, lang), request_view(request.id, lang)
        try:
            if isinstance(channel, discord.ForumChannel) and request.private:
                # Forum posts are public: a private request waits until a text help channel is set.
                await self.services.help.thread_failed(request.id, "missing", now)
                return "missing"
            if isinstance(channel, discord.ForumChannel):
                tags = await self._forum_tags(channel, request.topic_name)
                created = await channel.create_thread(
                    name=request.title[:100],
                    content=intro,
                    embed=embed,
                    view=view,
                    applied_tags=tags,
                    allowed_mentions=asker,
                    auto_archive_duration=10080,
                )
                thread = created.thread
            else:
                thread = await self._unfinished_thread(request)
                if thread is None:
                    private = request.private or cfg.thread_mode == "private"
                    kind = discord.ChannelType.private_thread if private else discord.ChannelType.public_thread
                    thread = await channel.create_thread(
                        name=request.title[:100], type=kind, auto_archive_duration=10080, invitable=not private
                    )
                    # Remembered before the set-up below: a retry finishes this thread, never a second one.
                    await self.services.help.thread_created(request.id, thread.id, channel.id)
                await thread.add_user(discord.Object(request.asker_id))
                await thread.send(intro, embed=embed, view=view, allowed_mentions=asker, nonce=f"kh{request.id}"[:25])
        except discord.HTTPException as error:
            outcome = classify(error)
            failure: FailureOutcome = outcome if outcome in ("forbidden", "missing") else "retry"  # type: ignore[assignment]
            await self.services.help.thread_failed(request.id, failure, now)
            if failure != "retry":
                code = "missing_permission" if failure == "forbidden" else "channel_missing"
                detail = (
                    f"create threads in <#{channel.id}>" if failure == "forbidden" else f"help channel <#{channel.id}>"
                )
                await self.services.health.report(request.guild_id, "help.channel", code, now, detail=detail)
            log.warning("could not open the thread of help request %s: %s", request.id, error)
            return failure
        await self.services.help.thread_posted(request.id, thread.id, channel.id, now)
        await self.services.health.clear(request.guild_id, "help.channel")
        await self.flush(now, request_id=request.id)
        return "posted"

    async def _unfinished_thread(self, request: Request) -> discord.Thread | None:
        """The thread an earlier attempt created but could not finish setting up, if it still exists."""
        if request.thread_id is None:
            return None
        thread = self.bot.get_channel(request.thread_id)
        if thread is None:
            try:
                thread = await self.bot.fetch_channel(request.thread_id)
            except discord.NotFound:
                return None
        return thread if isinstance(thread, discord.Thread) else None

    async def _forum_tags(self, forum: discord.ForumChannel, topic: str | None) -> list[discord.ForumTag]:
        """The forum tag of the topic; created when missing and the bot may (else no tag)."""
        if not topic:
            return []
        name = topic[:20]
        for tag in forum.available_tags:
            if tag.name.lower() == name.lower():
                return [tag]
        me = forum.guild.me
        if me is None or not forum.permissions_for(me).manage_channels or len(forum.available_tags) >= 20:
            return []
        try:
            return [await forum.create_tag(name=name)]
        except discord.HTTPException:
            log.warning("could not create forum tag %r in %s", name, forum.id, exc_info=True)
            return []

    # ------------------------------------------------------------- outbox

    async def flush(self, now: datetime, *, request_id: int | None = None) -> None:
        """Send every due outbox item of this process's guilds (optionally of one request);
        failures wait for a retry."""
        for item in await self.services.help.due_outbox(now, request_id=request_id, scope=self.bot.guild_scope):
            try:
                sent = await self._send(item, now)
            except discord.HTTPException as error:
                outcome = classify(error)
                if outcome == "gone":
                    await self.services.help.outbox_done(item.id, dropped=True)
                else:
                    failure = outcome if outcome in ("forbidden", "missing") else "retry"
                    await self.services.help.outbox_failed(item.id, failure, now)  # type: ignore[arg-type]
                    log.warning("help outbox item %s (%s) failed: %s", item.id, item.kind, error)
                continue
            await self.services.help.outbox_done(item.id, dropped=not sent)

    async def _send(self, item: OutboxItem, now: datetime) -> bool:
        """Send one item; ``False`` when it can never be sent (it is dropped)."""
        request = item.request
        settings = await self.services.guilds.get(request.guild_id)
        lang = settings.language
        if item.kind == "mods":
            return await self._tell_mods(request, settings.mod_channel_id, settings.mod_role_id, lang, now)
        thread = await self._thread(request.thread_id)
        if thread is None:
            return False
        asker = f"<@{request.asker_id}>"
        only_asker = discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(request.asker_id)])
        if item.kind == "pings":
            if not item.user_ids:
                return True
            if thread.type == discord.ChannelType.private_thread:
                for user_id in item.user_ids:
                    await thread.add_user(discord.Object(user_id))
            topic = request.topic_name or i18n.t("help.ask.no_topic", lang)
            mentions = " ".join(f"<@{u}>" for u in item.user_ids)
            helpers = discord.AllowedMentions(
                everyone=False, roles=False, users=[discord.Object(u) for u in item.user_ids]
            )
            await thread.send(
                i18n.t("help.thread.pings", lang, mentions=mentions, topic=topic), allowed_mentions=helpers
            )
        elif item.kind == "wait":
            await thread.send(i18n.t("help.thread.wait", lang, asker=asker), allowed_mentions=only_asker)
        elif item.kind == "idle":
            cfg = await self.services.help.settings(request.guild_id)
            view = request_view(request.id, lang, ("resolve", "still"))
            text = i18n.t("help.thread.idle", lang, asker=asker, hours=cfg.archive_hours)
            await thread.send(text, view=view, allowed_mentions=only_asker)
        elif item.kind == "archive":
            await thread.send(i18n.t("help.thread.archived", lang), allowed_mentions=NO_PINGS)
            await thread.edit(archived=True)
        return True

    async def _tell_mods(
        self, request: Request, channel_id: int | None, role_id: int | None, lang: str, now: datetime
    ) -> bool:
        guild = self.bot.get_guild(request.guild_id)
        channel = guild.get_channel(channel_id) if guild and channel_id else None
        if not isinstance(channel, discord.TextChannel):
            detail = f"moderators' channel <#{channel_id}>" if channel_id else "moderators' channel (not set)"
            await self.services.health.report(request.guild_id, "help.mods", "channel_missing", now, detail=detail)
            return False
        cfg = await self.services.help.settings(request.guild_id)
        text = i18n.t(
            "help.mods.escalation",
            lang,
            role=f"<@&{role_id}>" if role_id else "",
            minutes=cfg.escalate_minutes,
            thread=f"<#{request.thread_id}>",
            topic=request.topic_name or i18n.t("help.ask.no_topic", lang),
        ).strip()
        pings = discord.AllowedMentions(
            everyone=False, users=False, roles=[discord.Object(role_id)] if role_id else False
        )
        await channel.send(text, allowed_mentions=pings)
        await self.services.health.clear(request.guild_id, "help.mods")
        return True

    async def _thread(self, thread_id: int | None) -> discord.Thread | None:
        if thread_id is None:
            return None
        channel = self.bot.get_channel(thread_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(thread_id)
            except discord.NotFound:
                return None
        return channel if isinstance(channel, discord.Thread) else None

    # ------------------------------------------------------------ in-thread

    async def announce(self, request: Request, kind: str, member_id: int) -> None:
        """A short, ping-free note in the thread (someone claimed, the asker still needs help)."""
        thread = await self._thread(request.thread_id)
        if thread is None:
            return
        lang = (await self.services.guilds.get(request.guild_id)).language
        text = i18n.t(f"help.thread.{kind}", lang, helper=f"<@{member_id}>", asker=f"<@{member_id}>")
        try:
            await thread.send(text, allowed_mentions=NO_PINGS)
        except discord.HTTPException:
            log.warning("could not post in help thread %s", thread.id, exc_info=True)

    async def close_thread(self, request: Request) -> None:
        """After resolution: a thank-you note, then archive the thread."""
        thread = await self._thread(request.thread_id)
        if thread is None:
            return
        lang = (await self.services.guilds.get(request.guild_id)).language
        try:
            await thread.send(
                i18n.t("help.thread.resolved", lang, asker=f"<@{request.asker_id}>"), allowed_mentions=NO_PINGS
            )
            await thread.edit(archived=True)
        except discord.HTTPException:
            log.warning("could not close help thread %s", thread.id, exc_info=True)

    async def display_name(self, guild_id: int, member_id: int) -> str:
        """A member's name for a button label ("" when unknown)."""
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            return ""
        member = guild.get_member(member_id)
        if member is None:
            try:
                member = await guild.fetch_member(member_id)
            except discord.HTTPException:
                return ""
        return member.display_name
