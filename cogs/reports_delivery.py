"""Everything the reports feature sends outside a reply (see ``cogs/reports.py``): the outbox that
posts each report to the moderators exactly once, the moderators' message kept up to date, and
the mediation flow (its thread, the parties' DM invitations and their answers).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import aiohttp
import discord

from bot import delivery, i18n
from bot.errors import InvalidInput, KinshipError, NotAllowed, NotConfigured
from bot.services.reports import Case
from bot.ui import NO_PINGS, reply, tr
from cogs.reports_views import case_embed, case_view, invite_view

if TYPE_CHECKING:
    from bot.app import KinshipBot

log = logging.getLogger(__name__)
HEALTH_KEY = "reports.undelivered"
#: Retry soon when nothing was asked of Discord (channel not set/not cached, permission seen missing).
QUICK_RETRY = timedelta(seconds=60)
SEND_ERRORS = (discord.HTTPException, aiohttp.ClientError, TimeoutError, OSError)


class Delivery:
    """The report outbox, the moderators' message and mediation. Each delivery starts from the stored
    report, so the ``reports.deliver`` job can redo whatever failed (a 5xx, a missing channel, a restart).
    """

    def __init__(self, bot: KinshipBot) -> None:
        self.bot = bot
        self.services = bot.services

    async def _lang(self, guild_id: int) -> str:
        return (await self.services.guilds.get(guild_id)).language

    # ------------------------------------------------------------------ the outbox

    async def deliver_due(self, now: datetime) -> None:
        """``reports.deliver``: post the reports due (this process's guilds only), one failure not stopping the rest."""
        for report_id in await self.services.reports.due_deliveries(now, scope=self.bot.guild_scope):
            try:
                await self.deliver(report_id, now)
            except Exception:  # one broken report must not hold up the others; its lease expires, it is retried
                log.exception("delivering report %s failed unexpectedly", report_id)

    async def deliver(self, report_id: int, now: datetime) -> None:
        """Post one report to the moderators' channel, exactly once (claim → send with nonce → record).
        Only a report of this process's guilds is claimed: another shard's report is left to its process."""
        claim = await self.services.reports.claim_delivery(report_id, now, scope=self.bot.guild_scope)
        if claim is None:
            return
        report = claim.case.report
        settings = await self.services.guilds.get(report.guild_id)
        guild = self.bot.get_guild(report.guild_id)
        channel = guild.get_channel(settings.mod_channel_id) if guild and settings.mod_channel_id else None
        problem: tuple[str, str, datetime] | None = None
        if settings.mod_channel_id is None:
            problem = ("channel_missing", "reports.health.not_set", now + QUICK_RETRY)
        elif guild is None or not isinstance(channel, discord.TextChannel):
            problem = ("channel_missing", "reports.health.missing", now + QUICK_RETRY)
        elif not all(
            getattr(channel.permissions_for(guild.me), p) for p in ("view_channel", "send_messages", "embed_links")
        ):
            problem = ("missing_permission", "reports.health.forbidden", now + QUICK_RETRY)
        else:
            try:
                message = await channel.send(
                    embed=case_embed(claim.case, settings.language),
                    view=case_view(claim.case, settings.language),
                    nonce=f"r{report.id}",  # enforce_nonce: a retry after an ambiguous failure is not a duplicate
                    allowed_mentions=NO_PINGS,
                )
            except SEND_ERRORS as error:
                outcome = delivery.classify(error)
                if outcome == "retry":
                    problem = ("delivery_failed", "reports.health.retry", delivery.backoff(claim.attempts, now))
                elif outcome == "forbidden":
                    problem = ("missing_permission", "reports.health.forbidden", now + delivery.PROBLEM_BACKOFF)
                else:
                    problem = ("channel_missing", "reports.health.missing", now + delivery.PROBLEM_BACKOFF)
                log.warning("report %s not delivered (%s): %s", report.id, outcome, error)
            else:
                on_record = await self.services.reports.mark_delivered(report.id, channel.id, message.id, now)
                if on_record != message.id:  # another sender won the race after our lease ran out
                    log.warning("report %s was already delivered; deleting duplicate %s", report.id, message.id)
                    await message.delete()
                    return
                await self._open_thread(message, report.id, report.case_no, settings.language)
        if problem is not None:
            _code, reason_key, retry_at = problem
            await self.services.reports.mark_failed(report.id, claim.token, i18n.t(reason_key, "en"), retry_at)
        count = await self.services.reports.undelivered(report.guild_id)
        if count == 0:
            await self.services.health.clear(report.guild_id, HEALTH_KEY)
        elif problem is not None:
            reason = i18n.t(problem[1], settings.language)
            detail = i18n.t("reports.health.undelivered", settings.language, count=count, reason=reason)
            await self.services.health.report(report.guild_id, HEALTH_KEY, problem[0], now, detail=detail)

    async def _open_thread(self, message: discord.Message, report_id: int, case_no: int, lang: str) -> None:
        try:
            thread = await message.create_thread(name=i18n.t("reports.thread_name", lang, case_no=case_no))
        except SEND_ERRORS as error:
            log.warning("no discussion thread for report %s: %s", report_id, error)
            return
        await self.services.reports.set_thread(report_id, thread.id)

    # ------------------------------------------------------------------ the moderators' message

    async def show(self, interaction: discord.Interaction, case: Case) -> None:
        """Show a changed case: edit the pressed moderators' message, or refresh it and answer ephemerally."""
        lang = await self._lang(case.report.guild_id)
        embed, view = case_embed(case, lang), case_view(case, lang)
        if interaction.message is not None and interaction.message.id == case.report.mod_message_id:
            if interaction.response.is_done():
                await interaction.edit_original_response(embed=embed, view=view)
            else:
                await interaction.response.edit_message(embed=embed, view=view)
        else:
            await self.refresh(case)
            await reply(interaction, embed=embed)

    async def refresh(self, case: Case, *, retry_errors: bool = False) -> None:
        """Edit the moderators' message of a case (after something happened elsewhere). With
        ``retry_errors`` a failure worth retrying (5xx, 429, network) is raised for the caller's
        outbox to try again (the dashboard's effects); otherwise it is logged."""
        r = case.report
        if r.mod_channel_id is None or r.mod_message_id is None:
            return
        channel = self.bot.get_channel(r.mod_channel_id)
        if channel is None and not self.bot.owns_guild(r.guild_id):
            # An invitation answer (a DM button: Discord delivers it on shard 0, wherever the guild
            # lives) for a guild on another process's shards: editing the message needs only ids.
            channel = self.bot.get_partial_messageable(r.mod_channel_id, guild_id=r.guild_id)
        if not isinstance(channel, (discord.TextChannel, discord.PartialMessageable)):
            return
        lang = await self._lang(r.guild_id)
        try:
            await channel.get_partial_message(r.mod_message_id).edit(
                embed=case_embed(case, lang), view=case_view(case, lang)
            )
        except SEND_ERRORS as error:
            if retry_errors and delivery.classify(error) == "retry":
                raise
            log.warning("could not update the moderators' message of report %s: %s", r.id, error)

    async def dm(self, member_id: int, content: str, view: discord.ui.View | None = None) -> bool:
        """DM a member (shared pace, no pings); ``False`` when Discord refused (closed DMs and the like)."""
        outcome, _ = await delivery.send_dm(self.bot, member_id, content, view=view)
        return outcome == "sent"

    async def notify_closed(self, member_id: int, case: Case) -> None:
        """Tell the reporter (who asked for it) that their case is closed. No detail, no sanction."""
        lang = await self._lang(case.report.guild_id)
        guild = await self.bot.guild_name(case.report.guild_id)
        text = i18n.t("reports.closed_dm", lang, case_no=case.report.case_no, guild=guild)
        await self.dm(member_id, text)

    # ------------------------------------------------------------------ mediation

    async def mediation_channel(self, guild: discord.Guild, report_id: int) -> discord.TextChannel:
        """The help channel mediation threads open in, after checking the case can be mediated."""
        settings = await self.services.guilds.get(guild.id)
        channel = guild.get_channel(settings.help_channel_id) if settings.help_channel_id else None
        if not isinstance(channel, discord.TextChannel):
            raise NotConfigured("reports.errors.no_mediation_channel")
        current = await self.services.reports.case_by_id(guild.id, report_id)
        if current.report.closed or current.report.state == "mediating":
            raise InvalidInput("reports.errors.cannot_mediate", case_no=current.report.case_no)
        return channel

    async def open_mediation(
        self, channel: discord.TextChannel, report_id: int, moderator_id: int
    ) -> tuple[Case, discord.Thread, int, list[str]]:
        """Open a private thread with the moderator, start mediation, invite each party by DM.
        Returns the case, the thread, how many were invited and the parties that could not be
        reached. Shared by the **Mediate** button and the dashboard (``cogs/dashboard.py``)."""
        guild = channel.guild
        lang = (await self.services.guilds.get(guild.id)).language
        current = await self.services.reports.case_by_id(guild.id, report_id)
        try:
            thread = await channel.create_thread(
                name=i18n.t("reports.mediation.thread_name", lang, case_no=current.report.case_no),
                type=discord.ChannelType.private_thread,
                invitable=False,
            )
        except SEND_ERRORS as error:
            log.warning("could not open a mediation thread: %s", error)
            raise NotAllowed("reports.errors.mediation_thread_failed") from error
        try:
            start = await self.services.reports.start_mediation(
                report_id, guild.id, moderator_id, thread.id, self.bot.now()
            )
        except KinshipError:
            await thread.delete()
            raise
        try:  # the case is in mediation now: a hiccup here must not keep the parties from their invitations
            await thread.add_user(discord.Object(id=moderator_id))
            await thread.send(
                i18n.t("reports.mediation.intro", lang, moderator=f"<@{moderator_id}>"), allowed_mentions=NO_PINGS
            )
        except SEND_ERRORS as error:
            log.warning("mediation thread %s opened without its introduction: %s", thread.id, error)
        unreachable = []
        for invitation in start.invitations:
            text = i18n.t(
                f"reports.mediation.invite_{invitation.party}", lang, guild=guild.name, case_no=current.report.case_no
            )
            if not await self.dm(invitation.member_id, text, invite_view(invitation.invite_id, lang)):
                await self.services.reports.invite_undeliverable(invitation.invite_id, self.bot.now())
                unreachable.append(invitation.party)
        case = await self.services.reports.case_by_id(guild.id, report_id)
        return case, thread, len(start.invitations), unreachable

    async def mediate(self, interaction: discord.Interaction, report_id: int) -> None:
        """Open a private thread in the help channel with the moderator, then invite each party by DM."""
        assert interaction.guild is not None
        channel = await self.mediation_channel(interaction.guild, report_id)
        await interaction.response.defer()
        case, thread, invited, unreachable = await self.open_mediation(channel, report_id, interaction.user.id)
        await self.show(interaction, case)
        note = await tr(interaction, "reports.mediation.opened", thread=thread.mention, count=invited)
        if unreachable:
            parties = [await tr(interaction, f"reports.party.{party}") for party in unreachable]
            note += "\n" + await tr(interaction, "reports.mediation.unreachable", parties=", ".join(parties))
        await reply(interaction, note)

    async def on_invite(self, interaction: discord.Interaction, invite_id: int, *, join: bool) -> None:
        """A party answers their invitation. Join adds them to the thread; nothing else does.

        A DM button: it arrives on shard 0 even when the guild is on another process's shards, so
        everything here goes by id (the thread is fetched when it is not in this cache)."""
        answer = await self.services.reports.answer_invite(invite_id, interaction.user.id, join, self.bot.now())
        lang = i18n.pick(interaction.locale.value, await self._lang(answer.guild_id))
        if join:
            text = i18n.t("reports.mediation.thread_gone", lang)
            try:
                thread = self.bot.get_channel(answer.thread_id) or await self.bot.fetch_channel(answer.thread_id)
                if isinstance(thread, discord.Thread):
                    await thread.add_user(discord.Object(id=interaction.user.id))
                    text = i18n.t("reports.mediation.joined", lang, thread=f"<#{answer.thread_id}>")
            except (discord.NotFound, discord.Forbidden) as error:  # moderators deleted or locked it
                log.info("mediation thread %s of invite %s is unusable: %s", answer.thread_id, invite_id, error)
        else:
            text = i18n.t("reports.mediation.declined", lang)
        await interaction.response.edit_message(content=text, view=None, allowed_mentions=NO_PINGS)
        await self.refresh(await self.services.reports.case_by_id(answer.guild_id, answer.report_id))

    async def end_mediation_thread(self, case: Case) -> None:
        """Say the mediation ended in its thread, then archive and lock it."""
        thread_id = case.report.mediation_thread_id
        thread = self.bot.get_channel(thread_id) if thread_id else None
        if not isinstance(thread, discord.Thread):
            return
        lang = await self._lang(case.report.guild_id)
        try:
            await thread.send(i18n.t("reports.mediation.ended", lang), allowed_mentions=NO_PINGS)
            await thread.edit(archived=True, locked=True)
        except SEND_ERRORS as error:
            log.warning("could not close mediation thread %s: %s", thread_id, error)
