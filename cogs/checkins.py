"""Peer check-ins: the weekly post, ``/checkin``, reminders, ``/buddy`` and ``/setup checkins``.

Jobs (the scheduler is only a clock; the tables hold the state):

* ``checkins.post`` (60 s) — claims due weekly posts (one per guild and ISO week) and sends them.
* ``checkins.remind`` (2 s) — at most one reminder DM per tick, so DMs are paced well under 1/s;
  members whose DMs are closed are mentioned in the week's thread instead.
* ``checkins.buddies`` (60 s) — pairs opted-in members once per period and introduces them.

All three are per-guild jobs: a process started with ``SHARD_IDS`` runs them for the guilds on its
own shards only (``bot.guild_scope``), so it never claims, fails or reports another process's guild.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import discord
from discord import app_commands

from bot import i18n
from bot.app import KinshipBot
from bot.delivery import PROBLEM_BACKOFF, backoff, classify, problem_code, send_dm
from bot.services.checkins import DAYS, BuddyIntro, PostJob, ReminderJob, next_post_at
from bot.ui import format_when, lang_of, reply, tr
from cogs._base import FeatureCog
from cogs.checkins_views import (
    AnswerButton,
    BuddyLeaveButton,
    RemindersOffButton,
    buddy_dm_view,
    is_post_of,
    open_modal,
    post_embed,
    post_view,
    reminder_view,
    render_history,
)

log = logging.getLogger(__name__)
_T = app_commands.locale_str

#: The smallest gap between two DMs.
#: Give up on a buddy introduction after this many failed attempts.
INTRO_ATTEMPTS = 6


def _link(guild_id: int, channel_id: int | None) -> str | None:
    return f"https://discord.com/channels/{guild_id}/{channel_id}" if channel_id else None


class CheckinsCog(FeatureCog):
    """The weekly check-in and everything around it."""

    setup_children = ("setup_checkins", "setup_buddies")

    checkin = app_commands.Group(name="checkin", description=_T("The weekly check-in"), guild_only=True)
    buddy = app_commands.Group(
        name="buddy", description=_T("Check-in buddies: be paired with another member"), guild_only=True
    )

    def __init__(self, bot: KinshipBot) -> None:
        super().__init__(bot)

    async def cog_load(self) -> None:
        """Register the persistent buttons and the jobs."""
        await super().cog_load()
        self.bot.add_dynamic_items(AnswerButton, RemindersOffButton, BuddyLeaveButton)
        # per_guild: each shard process posts, reminds and pairs for the guilds on its own shards
        self.bot.scheduler.every("checkins.post", 60, self._post_job, per_guild=True)
        self.bot.scheduler.every("checkins.remind", 2, self._remind_job, per_guild=True)
        self.bot.scheduler.every("checkins.buddies", 60, self._buddies_job, per_guild=True)

    async def cog_unload(self) -> None:
        """Stop the jobs."""
        for name in ("checkins.post", "checkins.remind", "checkins.buddies"):
            self.bot.scheduler.remove(name)
        self.bot.remove_dynamic_items(AnswerButton, RemindersOffButton, BuddyLeaveButton)
        await super().cog_unload()

    # ------------------------------------------------------------------------ commands

    @checkin.command(name="now", description=_T("Check in for this week"))
    async def checkin_now(self, interaction: discord.Interaction) -> None:
        """Open the check-in modal for the open week."""
        assert interaction.guild_id is not None
        await open_modal(interaction, interaction.guild_id, None)

    @checkin.command(name="history", description=_T("Your own last weeks (only you see this)"))
    async def checkin_history(self, interaction: discord.Interaction) -> None:
        """Show the member's last weeks and streak (ephemeral)."""
        assert interaction.guild_id is not None
        history = await self.services.checkins.history(interaction.guild_id, interaction.user.id, self.bot.now())
        await reply(interaction, embed=render_history(history, await lang_of(interaction)))

    @checkin.command(name="reminders", description=_T("A DM reminder when you haven't answered yet"))
    @app_commands.describe(state=_T("On or off"))
    @app_commands.choices(
        state=[app_commands.Choice(name=_T("on"), value="on"), app_commands.Choice(name=_T("off"), value="off")]
    )
    async def checkin_reminders(self, interaction: discord.Interaction, state: app_commands.Choice[str]) -> None:
        """Opt in to (or out of) reminder DMs."""
        assert interaction.guild_id is not None
        on = state.value == "on"
        await self.services.checkins.set_reminders(interaction.guild_id, interaction.user.id, on, self.bot.now())
        if on:
            schedule = await self.services.checkins.get_schedule(interaction.guild_id)
            text = await tr(interaction, "checkins.reminders_on", hour=f"{schedule.reminder_hour:02d}")
        else:
            text = await tr(interaction, "checkins.reminders_off")
        await reply(interaction, text)

    @buddy.command(name="join", description=_T("Join the buddy pairing"))
    async def buddy_join(self, interaction: discord.Interaction) -> None:
        """Opt in to buddies."""
        assert interaction.guild_id is not None
        await self.services.checkins.set_buddies(interaction.guild_id, interaction.user.id, True, self.bot.now())
        await reply(interaction, await tr(interaction, "checkins.buddy_joined"))

    @buddy.command(name="leave", description=_T("Leave the buddy pairing"))
    async def buddy_leave(self, interaction: discord.Interaction) -> None:
        """Opt out of buddies."""
        assert interaction.guild_id is not None
        await self.services.checkins.set_buddies(interaction.guild_id, interaction.user.id, False, self.bot.now())
        await reply(interaction, await tr(interaction, "checkins.buddy_left"))

    @app_commands.command(name="checkins", description=_T("When the weekly check-in is posted"))
    @app_commands.describe(
        day=_T("Day of the week"),
        time=_T("Time of day, 24-hour HH:MM, in the server's time zone"),
        enabled=_T("Post the weekly check-in (on by default)"),
        grace_hours=_T("How many hours late the post may still go out after downtime (default 12)"),
        reminder_hour=_T("Hour (0-23) from which opted-in members get a reminder DM"),
    )
    @app_commands.choices(day=[app_commands.Choice(name=_T(d.capitalize()), value=i) for i, d in enumerate(DAYS)])
    @app_commands.checks.has_permissions(manage_guild=True)
    async def setup_checkins(  # noqa: PLR0917 - slash options are parameters
        self,
        interaction: discord.Interaction,
        day: app_commands.Choice[int],
        time: app_commands.Range[str, 1, 5],
        enabled: bool | None = None,
        grace_hours: app_commands.Range[int, 0, 72] | None = None,
        reminder_hour: app_commands.Range[int, 0, 23] | None = None,
    ) -> None:
        """Set the weekly schedule."""
        assert interaction.guild_id is not None
        changes: dict[str, Any] = {"weekday": day.value, "time": time}
        for name, value in (("enabled", enabled), ("grace_hours", grace_hours), ("reminder_hour", reminder_hour)):
            if value is not None:
                changes[name] = value
        now = self.bot.now()
        schedule = await self.services.checkins.configure(interaction.guild_id, now, **changes)
        settings = await self.services.guilds.get(interaction.guild_id)
        lang = await lang_of(interaction)
        text = i18n.t(
            "checkins.setup_saved",
            lang,
            state=i18n.t("checkins.state_on" if schedule.enabled else "checkins.state_off", lang),
            day=i18n.t(f"checkins.days.{schedule.weekday}", lang),
            time=schedule.time_text,
            timezone=settings.timezone,
            next=format_when(next_post_at(schedule, settings.tz, now)),
            grace=schedule.grace_hours,
            reminder=f"{schedule.reminder_hour:02d}",
        )
        if settings.checkin_channel_id is None:
            text += "\n" + i18n.t("checkins.no_channel", lang)
        await reply(interaction, text)

    @app_commands.command(name="buddies", description=_T("How check-in buddies are paired"))
    @app_commands.describe(every_weeks=_T("Pair members every N weeks (1-8)"), intro=_T("Where buddies are introduced"))
    @app_commands.choices(
        intro=[
            app_commands.Choice(name=_T("Private thread"), value="thread"),
            app_commands.Choice(name=_T("Direct message"), value="dm"),
        ]
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def setup_buddies(
        self,
        interaction: discord.Interaction,
        every_weeks: app_commands.Range[int, 1, 8],
        intro: app_commands.Choice[str] | None = None,
    ) -> None:
        """Set how often buddies are paired and how they are introduced."""
        assert interaction.guild_id is not None
        changes: dict[str, Any] = {"buddy_weeks": every_weeks}
        if intro is not None:
            changes["buddy_dm"] = intro.value == "dm"
        schedule = await self.services.checkins.configure(interaction.guild_id, self.bot.now(), **changes)
        mode = await tr(interaction, "checkins.mode_dm" if schedule.buddy_dm else "checkins.mode_thread")
        await reply(
            interaction, await tr(interaction, "checkins.setup_buddies_saved", weeks=schedule.buddy_weeks, mode=mode)
        )

    # ---------------------------------------------------------------------- the post

    async def _post_job(self, now: datetime) -> None:
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

    async def _remind_job(self, now: datetime) -> None:
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
                    await self.services.checkins.reminder_result(job.guild_id, job.member_id, job.week, "dm_closed")
                    if job.thread_id is None:
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

    async def _buddies_job(self, now: datetime) -> None:
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


async def setup(bot: KinshipBot) -> None:
    """Extension entry point."""
    await bot.add_cog(CheckinsCog(bot))
