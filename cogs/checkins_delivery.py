"""Everything the check-ins feature sends outside a reply (see ``cogs/checkins.py``): the weekly
post and its thread, the reminders, and the buddy introductions.

Jobs (the scheduler is only a clock; the tables hold the state):

* ``checkins.post`` (60 s) — claims due weekly posts (one per guild and ISO week) and sends them.
* ``checkins.remind`` (2 s) — at most one reminder DM per tick, so DMs are paced well under 1/s;
  members whose DMs are closed are mentioned in the week's thread instead where the guild chose
  that (``/setup checkins closed_dms``), and otherwise not reminded (the default).
* ``checkins.buddies`` (60 s) — pairs opted-in members once per period and introduces them.

All three are per-guild jobs: a process started with ``SHARD_IDS`` runs them for the guilds on its
own shards only (``bot.guild_scope``), so it never claims, fails or reports another process's guild.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import aiohttp
import discord

from bot import i18n
from bot.delivery import PROBLEM_BACKOFF, backoff, classify, problem_code, send_dm
from bot.services.checkins import BuddyIntro, PostJob, ReminderJob
from cogs.checkins_views import buddy_dm_view, is_post_of, post_embed, post_view, reminder_view

if TYPE_CHECKING:
    from bot.app import KinshipBot

log = logging.getLogger(__name__)

#: Give up on a buddy introduction after this many failed attempts.
INTRO_ATTEMPTS = 6


def _link(guild_id: int, channel_id: int | None) -> str | None:
    return f"https://discord.com/channels/{guild_id}/{channel_id}" if channel_id else None


class Delivery:
    """The weekly post, reminders and buddy introductions. Each send starts from stored rows (a claimed
    post, a claimed reminder, a pending introduction), so the jobs can redo whatever failed."""

    def __init__(self, bot: KinshipBot) -> None:
        self.bot = bot
        self.services = bot.services

    # ---------------------------------------------------------------------- the post

    async def post_job(self, now: datetime) -> None:
        for job in await self.services.checkins.claim_due_posts(now, scope=self.bot.guild_scope):
            await self._post_one(job, now)

    async def _post_one(self, job: PostJob, now: datetime) -> None:
        channel = self.bot.get_channel(job.channel_id)
        if not isinstance(channel, discord.TextChannel):
            await self._post_problem(job, now, "channel_missing", f"check-in channel {job.channel_id}")
            return
        try:
            message = await self._already_posted(channel, job) if job.attempts > 1 else None
            if message is None:
                message = await channel.send(
                    embed=post_embed(job.language),
                    view=post_view(job.guild_id, job.week, job.language),
                    nonce=job.nonce,  # discord.py adds enforce_nonce: Discord drops a duplicate
                )
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError) as error:
            outcome = classify(error)
            code = problem_code(outcome)
            reason = (
                f"{error.text or error.status}" if isinstance(error, discord.HTTPException) else type(error).__name__
            )
            await self._post_problem(job, now, code, f"#{channel.name}: {reason}"[:200])
            return
        thread_id = await self._open_thread(message, job)
        await self.services.checkins.post_done(
            job.post_id, now, channel_id=channel.id, message_id=message.id, thread_id=thread_id
        )
        if thread_id is not None:
            await self.services.health.clear(job.guild_id, "checkins.post")
        log.info("posted check-in for guild %s week %s", job.guild_id, job.week)

    async def _already_posted(self, channel: discord.TextChannel, job: PostJob) -> discord.Message | None:
        """After a crash between sending and recording, find the post instead of sending it twice."""
        async for message in channel.history(limit=25, after=job.scheduled_at - timedelta(minutes=1)):
            if self.bot.user and message.author.id == self.bot.user.id and is_post_of(message, job.guild_id, job.week):
                return message
        return None

    async def _open_thread(self, message: discord.Message, job: PostJob) -> int | None:
        if message.thread is not None:
            return message.thread.id
        try:
            thread = await message.create_thread(
                name=i18n.t("checkins.thread_name", job.language, week=job.week), auto_archive_duration=10080
            )
        except discord.HTTPException as error:
            await self.services.health.report(
                job.guild_id,
                "checkins.post",
                problem_code(classify(error)),
                self.bot.now(),
                detail=f"the week's thread in #{getattr(message.channel, 'name', '?')} ({error.code})",
            )
            return None
        try:  # the thread exists: keep it even if its first line could not be sent
            await thread.send(i18n.t("checkins.thread_intro", job.language))
        except discord.HTTPException as error:
            log.warning("check-in thread %s has no introduction: %s", thread.id, error)
        return thread.id

    async def _post_problem(self, job: PostJob, now: datetime, code: str, detail: str) -> None:
        wait = backoff(job.attempts, now)
        if code != "delivery_failed":
            wait = max(wait, now + PROBLEM_BACKOFF)
        await self.services.checkins.post_failed(job.post_id, wait)
        await self.services.health.report(job.guild_id, "checkins.post", code, now, detail=detail)
        log.warning("check-in post for guild %s week %s failed (%s); next try %s", job.guild_id, job.week, code, wait)

    # --------------------------------------------------------------------- reminders

    def _dm_slots(self, now: datetime) -> int:
        return 1 if self.bot.dm_pacer.ready(now) else 0

    async def remind_job(self, now: datetime) -> None:
        jobs = await self.services.checkins.claim_reminders(now, self._dm_slots(now), scope=self.bot.guild_scope)
        in_thread: dict[tuple[int, str, int], list[ReminderJob]] = {}
        for job in jobs:
            if job.via == "dm":
                guild_name = await self.bot.guild_name(job.guild_id) or "Kinship"
                content = i18n.t("checkins.reminder_dm", job.language, guild=guild_name)
                view = reminder_view(job.guild_id, job.language, _link(job.guild_id, job.thread_id))
                outcome, _ = await send_dm(self.bot, job.member_id, content, view=view)
                if outcome == "sent":
                    await self.services.checkins.reminder_result(job.guild_id, job.member_id, job.week, "sent")
                    continue
                if outcome == "dm_closed":
                    # A mention in the week's thread only where the guild chose it; else no reminder.
                    if not await self.services.checkins.reminder_result(
                        job.guild_id, job.member_id, job.week, "dm_closed"
                    ):
                        continue
                else:
                    retry = outcome in ("retry", "dm_too_fast")
                    result = "release" if retry else "failed"
                    await self.services.checkins.reminder_result(job.guild_id, job.member_id, job.week, result)
                    continue
            assert job.thread_id is not None
            in_thread.setdefault((job.guild_id, job.week, job.thread_id), []).append(job)
        for (guild_id, week, thread_id), batch in in_thread.items():
            await self._remind_in_thread(guild_id, week, thread_id, batch)

    async def _remind_in_thread(self, guild_id: int, week: str, thread_id: int, batch: list[ReminderJob]) -> None:
        """One line in the week's thread that pings exactly the members it reminds."""
        ids = [job.member_id for job in batch]
        text = i18n.t("checkins.reminders_thread", batch[0].language, mentions=" ".join(f"<@{i}>" for i in ids))
        outcome = "sent"
        try:
            thread = self.bot.get_channel(thread_id) or await self.bot.fetch_channel(thread_id)
            await thread.send(  # type: ignore[union-attr]
                text[:2000], allowed_mentions=discord.AllowedMentions(users=[discord.Object(i) for i in ids])
            )
        except discord.HTTPException as error:
            classify(error)
            outcome = "failed"
            log.warning("could not post reminders in thread %s of guild %s: %s", thread_id, guild_id, error)
        for member_id in ids:
            await self.services.checkins.reminder_result(guild_id, member_id, week, outcome)  # type: ignore[arg-type]

    # ----------------------------------------------------------------------- buddies

    async def buddies_job(self, now: datetime) -> None:
        scope = self.bot.guild_scope
        await self.services.checkins.pair_buddies(now, scope=scope)
        for intro in await self.services.checkins.pending_intros(now, self._dm_slots(now), scope=scope):
            if intro.dm:
                await self._intro_by_dm(intro, now)
            else:
                await self._intro_in_thread(intro, now)

    async def _intro_in_thread(self, intro: BuddyIntro, now: datetime) -> None:
        channel = self.bot.get_channel(intro.channel_id or 0)
        if not isinstance(channel, discord.TextChannel):
            await self._intro_problem(intro, now, "channel_missing", f"check-in channel {intro.channel_id}")
            return
        thread: discord.Thread | None = None
        try:
            thread = await channel.create_thread(
                name=i18n.t("checkins.buddy_thread_name", intro.language, week=intro.period),
                type=discord.ChannelType.private_thread,
                invitable=False,
                auto_archive_duration=10080,
            )
            for member_id in intro.member_ids:
                await thread.add_user(discord.Object(member_id))
            mentions = " ".join(f"<@{m}>" for m in intro.member_ids)
            await thread.send(
                i18n.t("checkins.buddy_intro", intro.language, mentions=mentions),
                allowed_mentions=discord.AllowedMentions(users=[discord.Object(m) for m in intro.member_ids]),
            )
        except discord.HTTPException as error:
            code = problem_code(classify(error))
            await self._intro_problem(
                intro, now, code, f"buddy thread in #{channel.name}: {error.text or error.status}"
            )
            if thread is not None:  # half set up: the retry opens a new one, so don't leave this behind
                try:
                    await thread.delete()
                except discord.HTTPException:
                    log.warning("could not remove the unfinished buddy thread %s", thread.id)
            return
        await self.services.checkins.intro_done(intro.group_id, thread_id=thread.id)
        await self.services.health.clear(intro.guild_id, "checkins.buddies")

    async def _intro_problem(self, intro: BuddyIntro, now: datetime, code: str, detail: str) -> None:
        give_up = intro.attempts + 1 >= INTRO_ATTEMPTS
        retry_at = None if give_up else max(backoff(intro.attempts + 1, now), now + PROBLEM_BACKOFF)
        await self.services.checkins.intro_failed(intro.group_id, retry_at)
        await self.services.health.report(intro.guild_id, "checkins.buddies", code, now, detail=detail[:200])
        log.warning("buddy introduction %s failed (%s); retry at %s", intro.group_id, code, retry_at)

    async def _intro_by_dm(self, intro: BuddyIntro, now: datetime) -> None:
        guild_name = await self.bot.guild_name(intro.guild_id) or "Kinship"
        for member_id in intro.recipients:
            names = ", ".join(f"<@{m}>" for m in intro.member_ids if m != member_id)
            content = i18n.t("checkins.buddy_dm", intro.language, guild=guild_name, names=names)
            outcome, _ = await send_dm(self.bot, member_id, content, view=buddy_dm_view(intro.guild_id, intro.language))
            if outcome in ("sent", "dm_closed", "gone", "forbidden", "missing"):
                await self.services.checkins.intro_done(intro.group_id, member_id=member_id)
