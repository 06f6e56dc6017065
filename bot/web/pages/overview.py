"""``/``: the guilds the visitor moderates; ``/g/{guild_id}``: the guild's overview — the same
health checks as ``/setup show`` (through the same service call), each with how to fix it, the
problems Kinship ran into, and the queue at a glance."""

from __future__ import annotations

from aiohttp import web

from bot.web.access import GuildContext, login_redirect, moderator_page
from bot.web.render import render
from bot.web.session import current_session
from bot.web.state import dashboard_of

routes = web.RouteTableDef()

#: Which settings field fixes a finding (the settings page anchors its fields by these names).
FIX_FIELD = {"help": "help_channel_id", "mod": "mod_channel_id", "checkin": "checkin_channel_id"}
FIX_FIELD_BY_KEY = {
    "setup.health.no_mod_role": "mod_role_id",
    "setup.health.mod_channel_public": "mod_channel_id",
    "setup.health.mod_channel_visible": "mod_channel_id",
}


@routes.get("/")
async def guilds(request: web.Request) -> web.StreamResponse:
    """The guilds with Kinship that the visitor moderates (checked now, not at login)."""
    session = current_session(request)
    if session is None:
        raise login_redirect(request)
    dash = dashboard_of(request)
    found = await dash.access.guilds_for(session.user_id, session.guild_ids)
    if len(found) == 1 and request.query.get("all") is None:
        raise web.HTTPFound(f"/g/{found[0][0]}")
    return render(request, "guilds.html", guilds=found)


@routes.get("/g/{guild_id}")
@moderator_page
async def overview(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """Health checks with a fix hint each, recorded problems, the queue's counts."""
    observed = await ctx.directory.observe(ctx.guild_id, ctx.settings)
    findings = ctx.services.guilds.evaluate(ctx.settings, observed)
    problems = await ctx.services.health.list(ctx.guild_id)
    counts = await ctx.services.reports.state_counts(ctx.guild_id)
    channels = {c.id: c.name for c in await ctx.directory.channels(ctx.guild_id)}
    roles = {r.id: r.name for r in await ctx.directory.roles(ctx.guild_id)}
    rows = []
    for finding in findings:
        params = dict(finding.params)
        kind = params.get("kind")
        if kind:
            params["kind"] = ctx.t(f"setup.kind.{kind}")
        hint_key = f"web.overview.fix.{finding.key.rsplit('.', 1)[-1]}"
        rows.append(
            {
                "level": finding.level,
                "text": ctx.t(finding.key, **params),
                "hint": ctx.t(hint_key, **params) if finding.level != "ok" else "",
                "field": FIX_FIELD.get(kind or "") or FIX_FIELD_BY_KEY.get(finding.key, ""),
            }
        )
    configured = [
        (ctx.t(f"setup.kind.{k}"), ctx.settings.channel_id(k))  # type: ignore[arg-type]
        for k in ("help", "mod", "checkin")
    ]
    return render(
        request,
        "overview.html",
        findings=rows,
        problems=problems,
        counts=counts,
        configured=[(label, cid, channels.get(cid) if cid else None) for label, cid in configured],
        mod_role=(ctx.settings.mod_role_id, roles.get(ctx.settings.mod_role_id or 0)),
        worst="error"
        if any(r["level"] == "error" for r in rows) or problems
        else ("warn" if any(r["level"] == "warn" for r in rows) else "ok"),
    )
