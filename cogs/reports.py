"""Conflict reports (issue #6): ``/report``, **Report message**, the moderators' queue, ``/case``,
``/cases``, mediation and ``/setup reports limits``.

Anonymity: the reporter's id reaches Discord only in their own ephemeral receipt interaction,
in DMs to them, and in the ephemeral ``/case reveal`` answer to moderators who approved it.
Mediation invitations go to each party in a separate DM; the reported member's invitation never
mentions a report or a reporter, and the reporter is told that joining shows who they are.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import aiohttp
import discord
from discord import app_commands

from bot import delivery, i18n
from bot.app import KinshipBot
from bot.errors import InvalidInput, KinshipError, NotAllowed, NotConfigured
from bot.services.reports import Case, Evidence
from bot.ui import NO_PINGS, ensure_moderator, lang_of, moderator_only, reply, tr
from cogs._base import FeatureCog
from cogs.reports_views import (
    DYNAMIC_ITEMS,
    NoteModal,
    ReportModal,
    case_embed,
    case_view,
    cases_embed,
    invite_view,
    modal_labels,
    receipt_view,
)

log = logging.getLogger(__name__)
_T = app_commands.locale_str
HEALTH_KEY = "reports.undelivered"
#: Retry soon when nothing was asked of Discord (channel not set/not cached, permission seen missing).
QUICK_RETRY = timedelta(seconds=60)
SEND_ERRORS = (discord.HTTPException, aiohttp.ClientError, TimeoutError, OSError)


class ReportsCog(FeatureCog):
    """Safe reports, a moderators' queue that never loses one, and mediation."""

    setup_children = ("reports_setup",)
    reports_setup = app_commands.Group(name="reports", description=_T("Conflict reports"))
    case = app_commands.Group(
        name="case",
        description=_T("Look at a report"),
        guild_only=True,
        default_permissions=discord.Permissions(manage_messages=True),
    )
    cases = app_commands.Group(
        name="cases",
        description=_T("Lists of reports"),
        guild_only=True,
        default_permissions=discord.Permissions(manage_messages=True),
    )

    def __init__(self, bot: KinshipBot) -> None:
        super().__init__(bot)
        self.report_message_menu = app_commands.ContextMenu(
            name=_T("Report message"),
            callback=self.report_message,
            allowed_contexts=app_commands.AppCommandContext(guild=True),
        )

    async def cog_load(self) -> None:
        """Register the persistent buttons, the context menu and the outbox job."""
        await super().cog_load()
        self.bot.add_dynamic_items(*DYNAMIC_ITEMS)
        self.bot.tree.add_command(self.report_message_menu)
        self.bot.scheduler.every("reports.deliver", 30, self._deliver_due, per_guild=True)

    async def cog_unload(self) -> None:
        """Undo :meth:`cog_load`."""
        await super().cog_unload()
        self.bot.remove_dynamic_items(*DYNAMIC_ITEMS)
        self.bot.tree.remove_command(self.report_message_menu.name, type=discord.AppCommandType.message)
        self.bot.scheduler.remove("reports.deliver")

    async def _lang(self, guild_id: int) -> str:
        return (await self.services.guilds.get(guild_id)).language

    # ------------------------------------------------------------------ reporting

    @app_commands.command(name="report", description=_T("Tell the moderators about a conflict, privately"))
    @app_commands.describe(member=_T("Who is this about?"), reason=_T("In a few words: what happened?"))
    @app_commands.guild_only()
    async def report(
        self, interaction: discord.Interaction, member: discord.User, reason: app_commands.Range[str, 1, 200]
    ) -> None:
        """Check the gate and limits, then ask for details in a modal."""
        await self._open_form(interaction, member, "reports.modal.title_member", reason=reason, evidence=None)

    async def report_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """**Report message**: snapshot the message now (it may be deleted later), then ask for details."""
        author = message.author
        evidence = Evidence(
            message_id=message.id,
            channel_id=message.channel.id,
            author_id=author.id,
            author_name=author.display_name,
            jump_url=message.jump_url,
            content=message.content,
            attachments=tuple(a.filename for a in message.attachments),
            created_at=message.created_at,
        )
        await self._open_form(interaction, author, "reports.modal.title_message", reason=None, evidence=evidence)

    async def _open_form(
        self,
        interaction: discord.Interaction,
        reported: discord.abc.User,
        title_key: str,
        *,
        reason: str | None,
        evidence: Evidence | None,
    ) -> None:
        """The code-of-conduct gate and the reporter's limits first, then the details form."""
        assert interaction.guild_id is not None
        await self.services.conduct.require_acknowledged(interaction.guild_id, interaction.user.id)
        await self.services.reports.check_can_report(
            interaction.guild_id, interaction.user.id, reported.id, reported_is_bot=reported.bot, now=self.bot.now()
        )
        modal = ReportModal(
            title=await tr(interaction, title_key),
            labels=await modal_labels(interaction),
            reported_id=reported.id,
            reported_is_bot=reported.bot,
            reason=reason,
            evidence=evidence,
        )
        await interaction.response.send_modal(modal)

    async def file(self, interaction: discord.Interaction, **fields: object) -> None:
        """Store the report (committed first), send the receipt, then try to deliver it right away."""
        assert interaction.guild_id is not None
        receipt = await self.services.reports.file_report(
            interaction.guild_id,
            interaction.user.id,
            now=self.bot.now(),
            **fields,  # type: ignore[arg-type]
        )
        text = await tr(interaction, "reports.receipt", case_no=receipt.case_no)
        try:
            await reply(interaction, text, view=receipt_view(receipt.report_id, await lang_of(interaction)))
        except discord.HTTPException as error:  # the report is stored; the moderators must still get it
            log.warning("receipt for report %s not sent: %s", receipt.report_id, error)
        try:
            await self.deliver(receipt.report_id, self.bot.now())
        except Exception:  # the outbox job retries; the reporter must not see an error for a stored report
            log.exception("immediate delivery of report %s failed; the outbox will retry", receipt.report_id)

    async def on_notify(self, interaction: discord.Interaction, report_id: int) -> None:
        """The reporter opts in to a DM when their case is closed."""
        case_no = await self.services.reports.opt_in_notify(report_id, interaction.user.id)
        await reply(interaction, await tr(interaction, "reports.notify_ok", case_no=case_no))

    # ------------------------------------------------------------------ the outbox

    async def _deliver_due(self, now: datetime) -> None:
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

    # ------------------------------------------------------------------ the moderators' buttons

    async def on_case_action(self, interaction: discord.Interaction, action: str, report_id: int) -> None:
        """A moderator pressed a case button. Non-moderators are refused before anything changes."""
        await ensure_moderator(interaction)
        assert interaction.guild_id is not None
        if action == "note":
            title = await tr(interaction, "reports.modal.note_title")
            await interaction.response.send_modal(
                NoteModal(report_id, title=title, label=await tr(interaction, "reports.modal.note"))
            )
            return
        if action == "mediate":
            await self._mediate(interaction, report_id)
            return
        now, reports = self.bot.now(), self.services.reports
        if action in ("claim", "resolve", "dismiss"):
            update = await reports.act(report_id, interaction.guild_id, interaction.user.id, action, now=now)  # type: ignore[arg-type]
        else:
            update = await reports.close_mediation(report_id, interaction.guild_id, interaction.user.id, action, now)
        await self._show(interaction, update.case)
        if update.notify_member_id is not None:
            await self._notify_closed(update.notify_member_id, update.case)
        if action not in ("claim", "resolve", "dismiss"):
            await self._end_mediation_thread(update.case)

    async def on_note(self, interaction: discord.Interaction, report_id: int, note: str) -> None:
        """The note modal was submitted."""
        await ensure_moderator(interaction)
        assert interaction.guild_id is not None
        update = await self.services.reports.act(
            report_id, interaction.guild_id, interaction.user.id, "note", now=self.bot.now(), note=note
        )
        await self._show(interaction, update.case)

    async def _show(self, interaction: discord.Interaction, case: Case) -> None:
        lang = await self._lang(case.report.guild_id)
        embed, view = case_embed(case, lang), case_view(case, lang)
        if interaction.message is not None and interaction.message.id == case.report.mod_message_id:
            if interaction.response.is_done():
                await interaction.edit_original_response(embed=embed, view=view)
            else:
                await interaction.response.edit_message(embed=embed, view=view)
        else:
            await self._refresh(case)
            await reply(interaction, embed=embed)

    async def _refresh(self, case: Case) -> None:
        """Edit the moderators' message of a case (after something happened elsewhere)."""
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
            log.warning("could not update the moderators' message of report %s: %s", r.id, error)

    async def _dm(self, member_id: int, content: str, view: discord.ui.View | None = None) -> bool:
        """DM a member (shared pace, no pings); ``False`` when Discord refused (closed DMs and the like)."""
        outcome, _ = await delivery.send_dm(self.bot, member_id, content, view=view)
        return outcome == "sent"

    async def _notify_closed(self, member_id: int, case: Case) -> None:
        """Tell the reporter (who asked for it) that their case is closed. No detail, no sanction."""
        lang = await self._lang(case.report.guild_id)
        guild = await self.bot.guild_name(case.report.guild_id)
        text = i18n.t("reports.closed_dm", lang, case_no=case.report.case_no, guild=guild)
        await self._dm(member_id, text)

    # ------------------------------------------------------------------ mediation

    async def _mediate(self, interaction: discord.Interaction, report_id: int) -> None:
        """Open a private thread in the help channel with the moderator, then invite each party by DM."""
        assert interaction.guild is not None
        settings = await self.services.guilds.get(interaction.guild.id)
        channel = interaction.guild.get_channel(settings.help_channel_id) if settings.help_channel_id else None
        if not isinstance(channel, discord.TextChannel):
            raise NotConfigured("reports.errors.no_mediation_channel")
        current = await self.services.reports.case_by_id(interaction.guild.id, report_id)
        if current.report.closed or current.report.state == "mediating":
            raise InvalidInput("reports.errors.cannot_mediate", case_no=current.report.case_no)
        await interaction.response.defer()
        lang = settings.language
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
                report_id, interaction.guild.id, interaction.user.id, thread.id, self.bot.now()
            )
        except KinshipError:
            await thread.delete()
            raise
        try:  # the case is in mediation now: a hiccup here must not keep the parties from their invitations
            await thread.add_user(interaction.user)
            await thread.send(
                i18n.t("reports.mediation.intro", lang, moderator=interaction.user.mention), allowed_mentions=NO_PINGS
            )
        except SEND_ERRORS as error:
            log.warning("mediation thread %s opened without its introduction: %s", thread.id, error)
        unreachable = []
        for invitation in start.invitations:
            text = i18n.t(
                f"reports.mediation.invite_{invitation.party}",
                lang,
                guild=interaction.guild.name,
                case_no=current.report.case_no,
            )
            if not await self._dm(invitation.member_id, text, invite_view(invitation.invite_id, lang)):
                await self.services.reports.invite_undeliverable(invitation.invite_id, self.bot.now())
                unreachable.append(await tr(interaction, f"reports.party.{invitation.party}"))
        case = await self.services.reports.case_by_id(interaction.guild.id, report_id)
        await self._show(interaction, case)
        note = await tr(interaction, "reports.mediation.opened", thread=thread.mention, count=len(start.invitations))
        if unreachable:
            note += "\n" + await tr(interaction, "reports.mediation.unreachable", parties=", ".join(unreachable))
        await reply(interaction, note)

    async def on_invite(self, interaction: discord.Interaction, invite_id: int, *, join: bool) -> None:
        """A party answers their invitation. Join adds them to the thread; nothing else does.

        A DM button: it arrives on shard 0 even when the guild is on another process's shards, so
        everything here goes by id (the thread is fetched when it is not in this cache)."""
        answer = await self.services.reports.answer_invite(invite_id, interaction.user.id, join, self.bot.now())
        lang = i18n.pick(interaction.locale.value, await self._lang(answer.guild_id))
        if join:
            thread = self.bot.get_channel(answer.thread_id) or await self.bot.fetch_channel(answer.thread_id)
            assert isinstance(thread, discord.Thread)
            await thread.add_user(discord.Object(id=interaction.user.id))
            text = i18n.t("reports.mediation.joined", lang, thread=f"<#{answer.thread_id}>")
        else:
            text = i18n.t("reports.mediation.declined", lang)
        await interaction.response.edit_message(content=text, view=None, allowed_mentions=NO_PINGS)
        await self._refresh(await self.services.reports.case_by_id(answer.guild_id, answer.report_id))

    async def _end_mediation_thread(self, case: Case) -> None:
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

    # ------------------------------------------------------------------ moderators' commands

    @case.command(name="view", description=_T("Show a case"))
    @app_commands.describe(id=_T("The case number"))
    @moderator_only()
    async def view_case(self, interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
        """Show one case (ephemeral)."""
        assert interaction.guild_id is not None
        case = await self.services.reports.case(interaction.guild_id, id)
        await reply(interaction, embed=case_embed(case, await self._lang(interaction.guild_id)))

    @case.command(name="reveal", description=_T("Reveal who reported (needs two moderators)"))
    @app_commands.describe(id=_T("The case number"))
    @moderator_only()
    async def reveal_case(self, interaction: discord.Interaction, id: app_commands.Range[int, 1]) -> None:
        """Approve revealing the reporter; the second different moderator completes it. Audited."""
        assert interaction.guild_id is not None
        reveal = await self.services.reports.approve_reveal(
            interaction.guild_id, id, interaction.user.id, self.bot.now()
        )
        if not reveal.complete:
            text = await tr(interaction, "reports.reveal.pending", case_no=reveal.case_no)
        elif reveal.reporter_id is None:
            text = await tr(interaction, "reports.reveal.erased", case_no=reveal.case_no)
        else:
            text = await tr(
                interaction,
                "reports.reveal.done",
                case_no=reveal.case_no,
                reporter=f"<@{reveal.reporter_id}>",
                id=reveal.reporter_id,
            )
        await reply(interaction, text)

    @cases.command(name="member", description=_T("Cases about a member"))
    @app_commands.describe(member=_T("The member"))
    @moderator_only()
    async def cases_member(self, interaction: discord.Interaction, member: discord.User) -> None:
        """The history of cases about a member (ephemeral)."""
        assert interaction.guild_id is not None
        found = await self.services.reports.cases_about(interaction.guild_id, member.id)
        title = await tr(interaction, "reports.list.about", name=member.display_name)
        await reply(
            interaction,
            embed=cases_embed(
                title, found, await tr(interaction, "reports.list.none"), await self._lang(interaction.guild_id)
            ),
        )

    @cases.command(name="open", description=_T("Cases not yet resolved or dismissed"))
    @moderator_only()
    async def cases_open(self, interaction: discord.Interaction) -> None:
        """Open cases (ephemeral)."""
        assert interaction.guild_id is not None
        found = await self.services.reports.open_cases(interaction.guild_id)
        title = await tr(interaction, "reports.list.open")
        await reply(
            interaction,
            embed=cases_embed(
                title, found, await tr(interaction, "reports.list.none_open"), await self._lang(interaction.guild_id)
            ),
        )

    # ------------------------------------------------------------------ /setup reports

    @reports_setup.command(name="limits", description=_T("How many reports a member may file"))
    @app_commands.describe(
        per_window=_T("Reports allowed within the window"),
        window_minutes=_T("The window in minutes"),
        per_day=_T("Reports allowed per 24 hours"),
    )
    @app_commands.rename(per_window="per-window", window_minutes="window-minutes", per_day="per-day")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def limits(
        self,
        interaction: discord.Interaction,
        per_window: app_commands.Range[int, 1, 20] | None = None,
        window_minutes: app_commands.Range[int, 1, 1440] | None = None,
        per_day: app_commands.Range[int, 1, 100] | None = None,
    ) -> None:
        """Show or change the limits."""
        assert interaction.guild_id is not None
        limits = await self.services.reports.set_limits(
            interaction.guild_id, burst=per_window, minutes=window_minutes, daily=per_day
        )
        await reply(
            interaction,
            await tr(interaction, "reports.limits", burst=limits.burst, minutes=limits.minutes, daily=limits.daily),
        )


async def setup(bot: KinshipBot) -> None:
    """Extension entry point."""
    await bot.add_cog(ReportsCog(bot))
