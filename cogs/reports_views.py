"""Views, persistent buttons, modals and embeds of the conflict reports feature (issue #6).

Everything rendered here for moderators is built from :class:`bot.services.reports.ReportView`,
which has no reporter field: the reporter cannot leak into the moderators' embed, ``/case view``
or a thread by accident. Button custom_ids carry only report or invitation ids.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord

from bot import i18n
from bot.services.reports import OUTCOMES, Case, Evidence, ReportView
from bot.ui import COLOR, WARN_COLOR, KinshipModal, KinshipView, fit, guarded, tr

if TYPE_CHECKING:
    from cogs.reports import ReportsCog

PREFIX = "kinship:reports"
CASE_ACTIONS = ("claim", "mediate", "resolve", "dismiss", "note", *OUTCOMES)
STATE_COLOURS = {
    "open": WARN_COLOR,
    "claimed": COLOR,
    "mediating": COLOR,
    "resolved": discord.Colour.dark_grey(),
    "dismissed": discord.Colour.dark_grey(),
}
HISTORY_LINES = 8


def _cog(interaction: discord.Interaction) -> ReportsCog:
    cog = interaction.client.get_cog("ReportsCog")  # type: ignore[attr-defined]
    assert cog is not None
    return cog


def quote(text: str, limit: int) -> str:
    """Quote user text inside an embed without letting it break out (no code fences, no mentions).
    The result, quote marks included, is at most ``limit`` characters."""
    quoted = "\n".join(f"> {line}" for line in text.replace("`", "ˋ").splitlines()) or "> —"
    return fit(quoted, limit)


def when(value: Any) -> str:
    """A relative Discord timestamp."""
    return discord.utils.format_dt(value, "R")


def mod_link(report: ReportView) -> str | None:
    """The jump link to the report in the moderators' channel, once delivered."""
    if report.mod_message_id is None or report.mod_channel_id is None:
        return None
    return f"https://discord.com/channels/{report.guild_id}/{report.mod_channel_id}/{report.mod_message_id}"


def _evidence_text(evidence: Evidence, lang: str) -> str:
    head = i18n.t(
        "reports.embed.evidence_head",
        lang,
        author=fit(discord.utils.escape_markdown(evidence.author_name), 80),
        channel=f"<#{evidence.channel_id}>",
        when=discord.utils.format_dt(evidence.created_at, "f"),
        link=evidence.jump_url,
    )
    body = quote(evidence.content, 600) if evidence.content else i18n.t("reports.embed.no_text", lang)
    files = ""
    if evidence.attachments:
        names = fit(", ".join(evidence.attachments), 150)
        files = "\n" + i18n.t("reports.embed.attachments", lang, names=discord.utils.escape_markdown(names))
    return fit(f"{head}\n{body}{files}", 1024)


def _history_text(case: Case, lang: str) -> str:
    lines = []
    for entry in case.history[-HISTORY_LINES:]:
        action = i18n.t(f"reports.audit.{entry.action}", lang)
        detail = entry.detail
        if entry.action == "mediation_closed":
            detail = i18n.t(f"reports.outcome.{entry.detail}", lang)
        elif entry.action.startswith("invite_"):
            detail = i18n.t(f"reports.party.{entry.detail}", lang)
        elif entry.action in ("filed", "claim"):
            detail = ""
        actor = f" · <@{entry.actor_id}>" if entry.actor_id else ""
        extra = f": {fit(discord.utils.escape_markdown(detail), 120)}" if detail else ""
        lines.append(f"{when(entry.at)} {action}{actor}{extra}")
    return fit("\n".join(lines), 1024) or "—"


def case_embed(case: Case, lang: str) -> discord.Embed:
    """The moderators' embed of a case. The reporter is always "anonymous" here."""
    r = case.report
    state = i18n.t(f"reports.state.{r.state}", lang)
    embed = discord.Embed(
        title=i18n.t("reports.embed.title", lang, case_no=r.case_no, state=state),
        colour=STATE_COLOURS.get(r.state, COLOR),
        timestamp=r.created_at,
    )
    embed.add_field(name=i18n.t("reports.embed.reported", lang), value=f"<@{r.reported_id}>", inline=True)
    embed.add_field(name=i18n.t("reports.embed.reporter", lang), value=i18n.t("reports.embed.anonymous", lang))
    claimed = i18n.t("reports.embed.nobody", lang)
    if r.claimed_by:
        claimed = f"<@{r.claimed_by}> {when(r.claimed_at)}"
    embed.add_field(name=i18n.t("reports.embed.claimed", lang), value=claimed, inline=True)
    embed.add_field(name=i18n.t("reports.embed.reason", lang), value=quote(r.reason, 300), inline=False)
    if r.details:
        embed.add_field(name=i18n.t("reports.embed.details", lang), value=quote(r.details, 1024), inline=False)
    if r.rule_ref:
        embed.add_field(name=i18n.t("reports.embed.rule", lang), value=quote(r.rule_ref, 120), inline=False)
    if r.evidence is not None:
        embed.add_field(
            name=i18n.t("reports.embed.evidence", lang), value=_evidence_text(r.evidence, lang), inline=False
        )
    if r.state == "mediating" and r.mediation_thread_id:
        value = i18n.t("reports.embed.mediation_running", lang, thread=f"<#{r.mediation_thread_id}>")
        embed.add_field(name=i18n.t("reports.embed.mediation", lang), value=value, inline=False)
    elif r.mediation_outcome:
        value = i18n.t(f"reports.outcome.{r.mediation_outcome}", lang)
        embed.add_field(name=i18n.t("reports.embed.mediation", lang), value=value, inline=False)
    if r.closed_by:
        value = f"{state} · <@{r.closed_by}> {when(r.closed_at)}"
        embed.add_field(name=i18n.t("reports.embed.closed", lang), value=value, inline=False)
    embed.add_field(name=i18n.t("reports.embed.history", lang), value=_history_text(case, lang), inline=False)
    embed.set_footer(text=i18n.t("reports.embed.footer", lang, case_no=r.case_no))
    return embed


def case_line(report: ReportView, lang: str) -> str:
    """One line of ``/cases``."""
    state = i18n.t(f"reports.state.{report.state}", lang)
    link = mod_link(report)
    number = f"[#{report.case_no}]({link})" if link else f"#{report.case_no}"
    claimed = f" · <@{report.claimed_by}>" if report.claimed_by else ""
    reason = fit(discord.utils.escape_markdown(report.reason.replace("\n", " ")), 60)
    return f"{number} · {state} · <@{report.reported_id}>{claimed} · {when(report.created_at)} · {reason}"


def cases_embed(title: str, reports: list[ReportView], empty: str, lang: str) -> discord.Embed:
    """The ``/cases`` list."""
    lines = [case_line(r, lang) for r in reports]
    text = "\n".join(lines) if lines else empty
    return discord.Embed(title=title, description=fit(text, 4000), colour=COLOR)


# ---------------------------------------------------------------------- persistent buttons


class CaseButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=re.compile(rf"{PREFIX}:case:(?P<action>[a-z_]{{1,16}}):(?P<report_id>[0-9]{{1,20}})"),
):
    """Claim, Mediate, Resolve, Dismiss, Add note and the mediation outcomes. Moderators only."""

    def __init__(
        self,
        action: str,
        report_id: int,
        *,
        label: str = "…",
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
        disabled: bool = False,
        row: int | None = None,
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=style,
                disabled=disabled,
                row=row,
                custom_id=f"{PREFIX}:case:{action}:{report_id}",
            )
        )
        self.action = action
        self.report_id = report_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str], /
    ) -> CaseButton:
        """Rebuild from a clicked custom_id (also after a restart)."""
        return cls(match["action"], int(match["report_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Hand the click to the cog; errors (e.g. not a moderator) are rendered kindly."""
        if self.action not in CASE_ACTIONS:
            return
        await guarded(interaction, lambda: _cog(interaction).on_case_action(interaction, self.action, self.report_id))


class NotifyButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=re.compile(rf"{PREFIX}:notify:(?P<report_id>[0-9]{{1,20}})"),
):
    """On the reporter's receipt: "Tell me when it's closed"."""

    def __init__(self, report_id: int, *, label: str = "…") -> None:
        super().__init__(
            discord.ui.Button(
                label=label, style=discord.ButtonStyle.secondary, custom_id=f"{PREFIX}:notify:{report_id}"
            )
        )
        self.report_id = report_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str], /
    ) -> NotifyButton:
        """Rebuild from a clicked custom_id."""
        return cls(int(match["report_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Opt in to the DM."""
        await guarded(interaction, lambda: _cog(interaction).on_notify(interaction, self.report_id))


class InviteButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=re.compile(rf"{PREFIX}:invite:(?P<choice>join|decline):(?P<invite_id>[0-9]{{1,20}})"),
):
    """In a mediation invitation DM: **Join** or **No thanks**. Nobody is added without pressing Join."""

    def __init__(self, choice: str, invite_id: int, *, label: str = "…") -> None:
        style = discord.ButtonStyle.success if choice == "join" else discord.ButtonStyle.secondary
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=f"{PREFIX}:invite:{choice}:{invite_id}"))
        self.choice = choice
        self.invite_id = invite_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: re.Match[str], /
    ) -> InviteButton:
        """Rebuild from a clicked custom_id."""
        return cls(match["choice"], int(match["invite_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Answer the invitation."""
        join = self.choice == "join"
        await guarded(interaction, lambda: _cog(interaction).on_invite(interaction, self.invite_id, join=join))


DYNAMIC_ITEMS = (CaseButton, NotifyButton, InviteButton)


def case_view(case: Case, lang: str) -> KinshipView:
    """The moderators' buttons for a case in its current state."""
    r = case.report
    view = KinshipView(timeout=None)
    closed, mediating = r.closed, r.state == "mediating"
    S = discord.ButtonStyle
    buttons = [
        ("claim", S.primary, closed or mediating),
        ("mediate", S.secondary, closed or mediating),
        ("resolve", S.success, closed or mediating),
        ("dismiss", S.danger, closed or mediating),
        ("note", S.secondary, False),
    ]
    for action, style, disabled in buttons:
        label = i18n.t(f"reports.button.{action}", lang)
        view.add_item(CaseButton(action, r.id, label=label, style=style, disabled=disabled, row=0))
    if mediating:
        for outcome in OUTCOMES:
            label = i18n.t(f"reports.button.close_{outcome}", lang)
            view.add_item(CaseButton(outcome, r.id, label=label, row=1))
    return view


def receipt_view(report_id: int, lang: str) -> KinshipView:
    """The reporter's receipt button."""
    view = KinshipView(timeout=None)
    view.add_item(NotifyButton(report_id, label=i18n.t("reports.button.notify", lang)))
    return view


def invite_view(invite_id: int, lang: str) -> KinshipView:
    """Join / No thanks."""
    view = KinshipView(timeout=None)
    view.add_item(InviteButton("join", invite_id, label=i18n.t("reports.button.join", lang)))
    view.add_item(InviteButton("decline", invite_id, label=i18n.t("reports.button.decline", lang)))
    return view


# ---------------------------------------------------------------------- modals


class ReportModal(KinshipModal):
    """Details of a report. ``reason`` is asked here for message reports (the slash command has it
    as an option); ``evidence`` is the message snapshot taken when the context menu was used."""

    def __init__(
        self,
        *,
        title: str,
        labels: dict[str, str],
        reported_id: int,
        reported_is_bot: bool,
        reason: str | None,
        evidence: Evidence | None,
    ) -> None:
        super().__init__(title=fit(title, 45), timeout=900)
        self.reported_id = reported_id
        self.reported_is_bot = reported_is_bot
        self.reason = reason
        self.evidence = evidence
        self.reason_input: discord.ui.TextInput[Any] | None = None
        if reason is None:
            self.reason_input = discord.ui.TextInput(
                label=labels["reason"], custom_id="reason", max_length=200, style=discord.TextStyle.short
            )
            self.add_item(self.reason_input)
        self.details = discord.ui.TextInput(
            label=labels["details"],
            custom_id="details",
            style=discord.TextStyle.paragraph,
            max_length=1000,
            required=False,
            placeholder=labels["details_hint"],
        )
        self.rule = discord.ui.TextInput(label=labels["rule"], custom_id="rule", max_length=100, required=False)
        self.add_item(self.details)
        self.add_item(self.rule)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """File the report, send the receipt, then try to deliver it to the moderators."""
        reason = self.reason if self.reason is not None else (self.reason_input.value if self.reason_input else "")
        await _cog(interaction).file(
            interaction,
            reported_id=self.reported_id,
            reported_is_bot=self.reported_is_bot,
            reason=reason,
            details=self.details.value,
            rule_ref=self.rule.value,
            evidence=self.evidence,
        )


class NoteModal(KinshipModal):
    """A moderator's note on a case."""

    def __init__(self, report_id: int, *, title: str, label: str) -> None:
        super().__init__(title=fit(title, 45), timeout=900)
        self.report_id = report_id
        self.note = discord.ui.TextInput(
            label=label, custom_id="note", style=discord.TextStyle.paragraph, max_length=1000
        )
        self.add_item(self.note)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Add the note (moderators only)."""
        await _cog(interaction).on_note(interaction, self.report_id, self.note.value)


async def modal_labels(interaction: discord.Interaction) -> dict[str, str]:
    """The report modal's labels in the member's language."""
    keys = ("reason", "details", "details_hint", "rule")
    return {k: await tr(interaction, f"reports.modal.{k}") for k in keys}


__all__ = [
    "DYNAMIC_ITEMS",
    "NoteModal",
    "ReportModal",
    "case_embed",
    "case_view",
    "cases_embed",
    "invite_view",
    "modal_labels",
    "receipt_view",
]
