"""Milestones: point thresholds that give a role (``/setup milestones add|remove|list``), with how
many members reached each one (counts only)."""

from __future__ import annotations

from aiohttp import web

from bot.errors import InvalidInput
from bot.services.recognition import validate_milestone_role
from bot.web.access import GuildContext, manager_action, moderator_page
from bot.web.render import render

routes = web.RouteTableDef()
MAX_THRESHOLD = 1_000_000


@routes.get("/g/{guild_id}/milestones")
@moderator_page
async def milestones_page(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """The milestones, lowest first, and a form to add one."""
    rows = await ctx.services.recognition.milestone_overview(ctx.guild_id)
    roles = await ctx.directory.roles(ctx.guild_id)
    return render(
        request,
        "milestones.html",
        milestones=rows,
        role_names={r.id: r.name for r in roles},
        roles=[r for r in roles if not r.is_everyone and not r.managed],
        max_threshold=MAX_THRESHOLD,
    )


@routes.post("/g/{guild_id}/milestones/add")
@manager_action
async def add_milestone(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """Map a threshold to a role Kinship can give (the same checks as the slash command)."""
    form = await request.post()
    threshold, role_id = str(form.get("threshold", "")).strip(), str(form.get("role_id", "")).strip()
    if not threshold.isdigit() or len(threshold) > 7:
        raise InvalidInput("recognition.errors.out_of_range", low=1, high=MAX_THRESHOLD)
    role = next((r for r in await ctx.directory.roles(ctx.guild_id) if str(r.id) == role_id), None)
    if role is None:
        raise InvalidInput("settings.errors.unknown_role")
    validate_milestone_role(
        role.name,
        is_default=role.is_everyone,
        managed=role.managed,
        assignable=role.assignable,
    )
    await ctx.services.recognition.add_milestone(ctx.guild_id, int(threshold), role.id, ctx.now())
    return ctx.redirect(
        "milestones",
        flash=ctx.t("web_pages.milestones.added", threshold=int(threshold), role=role.name),
    )


@routes.post("/g/{guild_id}/milestones/{threshold}/remove")
@manager_action
async def remove_milestone(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """Stop giving a milestone role (roles already given stay)."""
    raw = request.match_info["threshold"]
    if not raw.isdigit() or len(raw) > 7:
        raise web.HTTPNotFound
    await ctx.services.recognition.remove_milestone(ctx.guild_id, int(raw))
    return ctx.redirect("milestones", flash=ctx.t("web_pages.milestones.removed", threshold=int(raw)))
