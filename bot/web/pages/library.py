"""Resource library approvals: the suggestions waiting for a decision, and the approved resources.

Approve / Reject call the same service as the buttons in the moderators' channel; the queue post
there is then updated by the bot (a ``refresh_resource`` effect, see :mod:`bot.services.dashboard`),
whether the dashboard runs inside ``python -m bot`` or on its own. Suggested texts are member text:
shown escaped, links as plain text (not clickable) until approved.
"""

from __future__ import annotations

from aiohttp import web

from bot.web.access import GuildContext, moderator_action, moderator_page
from bot.web.render import remember_names, render

routes = web.RouteTableDef()


def _resource_id(request: web.Request) -> int:
    raw = request.match_info["resource_id"]
    if not raw.isdigit() or len(raw) > 19:
        raise web.HTTPNotFound
    return int(raw)


@routes.get("/g/{guild_id}/library")
@moderator_page
async def library_page(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """Pending suggestions (oldest first) and the latest approved resources."""
    pending = await ctx.services.library.pending(ctx.guild_id, limit=50)
    approved = await ctx.services.library.list(ctx.guild_id, limit=50)
    people = {i.suggested_by for i in pending + approved if i.suggested_by is not None}
    remember_names(request, await ctx.directory.names(ctx.guild_id, people))
    return render(request, "library.html", pending=pending, approved=approved)


@routes.post("/g/{guild_id}/library/{resource_id}/{decision:approve|reject}")
@moderator_action
async def decide(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """Approve or reject a suggestion, then have the bot update its queue post."""
    resource_id = _resource_id(request)
    library = ctx.services.library
    action = library.approve if request.match_info["decision"] == "approve" else library.reject
    item = await action(ctx.guild_id, resource_id, ctx.user_id, ctx.now())
    if item.queue_message_id is not None:
        await ctx.services.dashboard.queue_effect(
            ctx.guild_id,
            "refresh_resource",
            item.id,
            ctx.now(),
            key=f"resource:{item.id}:decided",
            actor_id=ctx.user_id,
        )
        ctx.wake_bot()
    return ctx.redirect("library", flash=ctx.t(f"library.{item.status}", title=item.title))


@routes.post("/g/{guild_id}/library/{resource_id}/remove")
@moderator_action
async def remove(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """``/resource remove``: delete a resource and its search entry."""
    item = await ctx.services.library.remove(ctx.guild_id, _resource_id(request))
    return ctx.redirect("library", flash=ctx.t("library.removed", title=item.title))
