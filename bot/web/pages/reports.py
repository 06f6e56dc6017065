"""The reports queue, a case with its audit trail, the moderators' actions, reveal, and a member's
case history (``/g/{guild_id}/reports…``, ``/g/{guild_id}/members/…``).

Every action is the same service call the Discord button makes (:class:`ReportService`), so it is
audited the same way and follows the same rules. What the button then does in Discord — edit the
moderators' message, DM the reporter who asked to be told, open or end a mediation thread — is
queued as an effect for the bot process holding the guild (``cogs/dashboard.py``). Reporters are
anonymous here as in Discord: nothing on these pages knows who reported, except the answer to the
second moderator's reveal, shown once, to that moderator only.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web

from bot.errors import InvalidInput, NotConfigured
from bot.services.reports import CLOSED_STATES, OUTCOMES, STATES, Case, CaseUpdate, ReportView
from bot.web.access import GuildContext, moderator_action, moderator_page
from bot.web.render import remember_names, render

routes = web.RouteTableDef()
PAGE_SIZE = 50
#: The queue's tabs: name → states shown.
FILTERS: dict[str, tuple[str, ...]] = {
    "active": ("open", "claimed", "mediating"),
    "open": ("open",),
    "claimed": ("claimed",),
    "mediating": ("mediating",),
    "closed": CLOSED_STATES,
}
ACTIONS = ("claim", "resolve", "dismiss", "mediate", *OUTCOMES)


def _case_no(request: web.Request) -> int:
    raw = request.match_info["case_no"]
    if not raw.isdigit() or len(raw) > 9:
        raise web.HTTPNotFound
    return int(raw)


def _member_id(raw: str) -> int | None:
    raw = raw.strip().removeprefix("<@").removeprefix("!").removesuffix(">")
    return int(raw) if raw.isdigit() and 15 <= len(raw) <= 20 else None


async def _names(request: web.Request, ctx: GuildContext, reports: list[ReportView], case: Case | None = None) -> None:
    ids: set[int] = set()
    for r in reports:
        ids.update(i for i in (r.reported_id, r.claimed_by, r.closed_by) if i)
    if case is not None:
        ids.update(e.actor_id for e in case.history if e.actor_id)
    remember_names(request, await ctx.directory.names(ctx.guild_id, ids))


@routes.get("/g/{guild_id}/reports")
@moderator_page
async def queue(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """Cases by state: the active queue (oldest first) by default, or one state, or closed ones."""
    current = request.query.get("state", "active")
    if current not in FILTERS:
        current = "active"
    page = int(request.query["page"]) if request.query.get("page", "").isdigit() else 0
    page = min(page, 10_000)
    cases = await ctx.services.reports.cases_in(
        ctx.guild_id, FILTERS[current], limit=PAGE_SIZE + 1, offset=page * PAGE_SIZE
    )
    counts = await ctx.services.reports.state_counts(ctx.guild_id)
    await _names(request, ctx, cases)
    totals = {name: sum(counts[s] for s in states) for name, states in FILTERS.items()}
    return render(
        request,
        "reports.html",
        cases=cases[:PAGE_SIZE],
        current=current,
        filters=list(FILTERS),
        totals=totals,
        page=page,
        more=len(cases) > PAGE_SIZE,
    )


@routes.get("/g/{guild_id}/reports/{case_no}")
@moderator_page
async def case_page(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """One case: what was reported, its state, its whole audit trail, and the actions."""
    return await _render_case(request, ctx, await ctx.services.reports.case(ctx.guild_id, _case_no(request)))


async def _render_case(
    request: web.Request, ctx: GuildContext, case: Case, *, revealed: dict[str, Any] | None = None
) -> web.StreamResponse:
    await _names(request, ctx, [case.report], case)
    r = case.report
    link = None
    if r.mod_channel_id and r.mod_message_id:
        link = f"https://discord.com/channels/{r.guild_id}/{r.mod_channel_id}/{r.mod_message_id}"
    evidence_link = None
    if r.evidence is not None and r.evidence.jump_url.startswith("https://discord.com/channels/"):
        evidence_link = r.evidence.jump_url
    busy = r.closed or r.state == "mediating"
    return render(
        request,
        "case.html",
        case=case,
        r=r,
        history=[_entry(ctx, e) for e in case.history],
        mod_link=link,
        evidence_link=evidence_link,
        busy=busy,
        outcomes=OUTCOMES,
        revealed=revealed,
    )


def _entry(ctx: GuildContext, entry: Any) -> dict[str, Any]:
    """One audit line, worded as in the moderators' embed."""
    detail = entry.detail
    if entry.action == "mediation_closed":
        detail = ctx.t(f"reports.outcome.{entry.detail}")
    elif entry.action.startswith("invite_"):
        detail = ctx.t(f"reports.party.{entry.detail}")
    elif entry.action == "claim":
        detail = ctx.t("web.reports.took_over") if entry.detail == "took_over" else ""
    elif entry.action == "filed":
        detail = ""
    return {"at": entry.at, "action": ctx.t(f"reports.audit.{entry.action}"), "actor": entry.actor_id, "detail": detail}


async def _queue_effects(ctx: GuildContext, update: CaseUpdate, *kinds: str) -> None:
    """What the button does next in Discord, queued for the bot (each with a unique key)."""
    r = update.case.report
    for kind in kinds:
        await ctx.services.dashboard.queue_effect(
            ctx.guild_id, kind, r.id, ctx.now(), key=f"{kind}:{r.id}:{uuid.uuid4().hex}", actor_id=ctx.user_id
        )
    if update.notify_member_id is not None:
        await ctx.services.dashboard.queue_effect(
            ctx.guild_id,
            "notify_closed",
            r.id,
            ctx.now(),
            key=f"notify_closed:{r.id}",  # the reporter is told once, whatever happens
            member_id=update.notify_member_id,
        )
    ctx.wake_bot()


@routes.post("/g/{guild_id}/reports/{case_no}/action")
@moderator_action
async def act(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """Claim, Mediate, Resolve, Dismiss, or close a mediation with an outcome — as the buttons do."""
    case_no = _case_no(request)
    action = (await request.post()).get("action")
    if action not in ACTIONS:
        raise InvalidInput("web.reports.unknown_action")
    current = await ctx.services.reports.case(ctx.guild_id, case_no)
    report_id, reports, now = current.report.id, ctx.services.reports, ctx.now()
    page = f"reports/{case_no}"
    if action == "mediate":
        await _check_mediation(ctx, current)
        await ctx.services.dashboard.queue_effect(
            ctx.guild_id, "mediate", report_id, now, key=f"mediate:{report_id}:{uuid.uuid4().hex}", actor_id=ctx.user_id
        )
        ctx.wake_bot()
        return ctx.redirect(page, flash=ctx.t("web.reports.done.mediate", case_no=case_no))
    if action in ("claim", "resolve", "dismiss"):
        update = await reports.act(report_id, ctx.guild_id, ctx.user_id, action, now=now)
        await _queue_effects(ctx, update, "refresh_case")
    else:
        update = await reports.close_mediation(report_id, ctx.guild_id, ctx.user_id, str(action), now)
        await _queue_effects(ctx, update, "end_mediation")
    key = action if action in ("claim", "resolve", "dismiss") else "closed_mediation"
    return ctx.redirect(page, flash=ctx.t(f"web.reports.done.{key}", case_no=case_no))


async def _check_mediation(ctx: GuildContext, current: Case) -> None:
    """What the button checks before opening a thread, told at once instead of after the bot tried."""
    if current.report.closed or current.report.state == "mediating":
        raise InvalidInput("reports.errors.cannot_mediate", case_no=current.report.case_no)
    help_id = ctx.settings.help_channel_id
    channels = {c.id: c for c in await ctx.directory.channels(ctx.guild_id)}
    if help_id is None or help_id not in channels or channels[help_id].kind != "text":
        raise NotConfigured("reports.errors.no_mediation_channel")


@routes.post("/g/{guild_id}/reports/{case_no}/note")
@moderator_action
async def note(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """Add a note to the case (audited; the moderators' message shows it)."""
    case_no = _case_no(request)
    text = (await request.post()).get("note")
    current = await ctx.services.reports.case(ctx.guild_id, case_no)
    update = await ctx.services.reports.act(
        current.report.id, ctx.guild_id, ctx.user_id, "note", now=ctx.now(), note=str(text or "")[:1000]
    )
    await _queue_effects(ctx, update, "refresh_case")
    return ctx.redirect(f"reports/{case_no}", flash=ctx.t("web.reports.done.note", case_no=case_no))


@routes.post("/g/{guild_id}/reports/{case_no}/reveal")
@moderator_action
async def reveal(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """Approve revealing the reporter; the second different moderator sees who it was — on this
    answer only (never in a cookie, a redirect or a log). Both steps are audited."""
    case_no = _case_no(request)
    result = await ctx.services.reports.approve_reveal(ctx.guild_id, case_no, ctx.user_id, ctx.now())
    if not result.complete:
        return ctx.redirect(f"reports/{case_no}", flash=ctx.t("web.reports.reveal_pending", case_no=case_no))
    case = await ctx.services.reports.case(ctx.guild_id, case_no)
    revealed: dict[str, Any] = {"erased": result.reporter_id is None, "id": result.reporter_id}
    if result.reporter_id is not None:
        remember_names(request, await ctx.directory.names(ctx.guild_id, [result.reporter_id]))
    response = await _render_case(request, ctx, case, revealed=revealed)
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.get("/g/{guild_id}/members")
@moderator_page
async def find_member(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """The "cases about a member" search box: an id or a mention."""
    member_id = _member_id(request.query.get("member", ""))
    if member_id is None:
        raise InvalidInput("web.reports.bad_member")
    raise web.HTTPFound(ctx.url(f"members/{member_id}"))


@routes.get("/g/{guild_id}/members/{member_id}")
@moderator_page
async def member_history(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """Every case about one member, newest first."""
    member_id = _member_id(request.match_info["member_id"])
    if member_id is None:
        raise web.HTTPNotFound
    cases = await ctx.services.reports.cases_about(ctx.guild_id, member_id, limit=PAGE_SIZE)
    await _names(request, ctx, cases)
    remember_names(request, await ctx.directory.names(ctx.guild_id, [member_id]))
    return render(request, "member.html", member_id=member_id, cases=cases, states=STATES)
