"""Help requests: what is open, what waited longer than the escalation time, how fast help came."""

from __future__ import annotations

from aiohttp import web

from bot.web.access import GuildContext, moderator_page
from bot.web.render import remember_names, render

routes = web.RouteTableDef()


@routes.get("/g/{guild_id}/help")
@moderator_page
async def help_page(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """Open requests (overdue first) and the time to first response of the last 30 days."""
    overview = await ctx.services.help.overview(ctx.guild_id, ctx.now())
    people = {r.asker_id for r in overview.requests} | {h for r in overview.requests for h in r.helper_ids}
    remember_names(request, await ctx.directory.names(ctx.guild_id, people))
    return render(request, "help.html", overview=overview)
