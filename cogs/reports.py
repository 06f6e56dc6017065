"""Conflict reports (issue #6): ``/report``, **Report message**, the moderators' queue, ``/case``,
``/cases``, mediation and ``/setup reports limits``.

Anonymity: the reporter's id reaches Discord only in their own ephemeral receipt interaction,
in DMs to them, and in the ephemeral ``/case reveal`` answer to moderators who approved it.
Mediation invitations go to each party in a separate DM; the reported member's invitation never
mentions a report or a reporter, and the reporter is told that joining shows who they are.

Discord glue only: the rules live in :mod:`bot.services.reports`; the views in
``cogs/reports_views.py``; the outbox, the moderators' message and mediation's threads and DMs
(:class:`cogs.reports_delivery.Delivery`) in ``cogs/reports_delivery.py``.
"""

from __future__ import annotations

import logging
from datetime import datetime

import discord
from discord import app_commands

from bot.app import KinshipBot
from bot.services.reports import Evidence
from bot.ui import ensure_moderator, lang_of, moderator_only, reply, tr
from cogs._base import FeatureCog
from cogs.reports_delivery import Delivery
from cogs.reports_views import (
    DYNAMIC_ITEMS,
    NoteModal,
    ReportModal,
    case_embed,
    cases_embed,
    modal_labels,
    receipt_view,
)

log = logging.getLogger(__name__)
_T = app_commands.locale_str


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
        self.delivery = Delivery(bot)
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
        self.bot.scheduler.every("reports.deliver", 30, self.delivery.deliver_due, per_guild=True)

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

    async def deliver(self, report_id: int, now: datetime) -> None:
        """Post one report to the moderators' channel, exactly once (see :meth:`Delivery.deliver`)."""
        await self.delivery.deliver(report_id, now)

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
            await self.delivery.mediate(interaction, report_id)
            return
        now, reports = self.bot.now(), self.services.reports
        if action in ("claim", "resolve", "dismiss"):
            update = await reports.act(report_id, interaction.guild_id, interaction.user.id, action, now=now)  # type: ignore[arg-type]
        else:
            update = await reports.close_mediation(report_id, interaction.guild_id, interaction.user.id, action, now)
        await self.delivery.show(interaction, update.case)
        if update.notify_member_id is not None:
            await self.delivery.notify_closed(update.notify_member_id, update.case)
        if action not in ("claim", "resolve", "dismiss"):
            await self.delivery.end_mediation_thread(update.case)

    async def on_note(self, interaction: discord.Interaction, report_id: int, note: str) -> None:
        """The note modal was submitted."""
        await ensure_moderator(interaction)
        assert interaction.guild_id is not None
        update = await self.services.reports.act(
            report_id, interaction.guild_id, interaction.user.id, "note", now=self.bot.now(), note=note
        )
        await self.delivery.show(interaction, update.case)

    # ------------------------------------------------------------------ mediation

    async def on_invite(self, interaction: discord.Interaction, invite_id: int, *, join: bool) -> None:
        """A party answers their mediation invitation (see :meth:`Delivery.on_invite`)."""
        await self.delivery.on_invite(interaction, invite_id, join=join)

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
