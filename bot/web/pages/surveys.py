"""Survey results: the guild's latest surveys and pulses, and each one's aggregate results —
exactly what ``/survey results`` shows (an anonymous survey with fewer than 5 answers shows none)."""

from __future__ import annotations

import re

from aiohttp import web

from bot.web.access import GuildContext, moderator_page
from bot.web.render import remember_names, render

routes = web.RouteTableDef()
BAR_WIDTH = 20
#: A named survey's text answer starts with its author's mention (as ``/survey results`` shows it).
_AUTHOR = re.compile(r"^<@([0-9]{1,20})>: (.*)$", re.DOTALL)


def split_author(text: str) -> tuple[int | None, str]:
    """``"<@123>: answer"`` → ``(123, "answer")``; an anonymous answer has no author."""
    match = _AUTHOR.match(text)
    return (int(match[1]), match[2]) if match else (None, text)


@routes.get("/g/{guild_id}/surveys")
@moderator_page
async def surveys_page(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """The latest 50 surveys, newest first, with their number of answers."""
    return render(request, "surveys.html", surveys=await ctx.services.surveys.recent(ctx.guild_id, limit=50))


@routes.get("/g/{guild_id}/surveys/{survey_id}")
@moderator_page
async def survey_results(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """One survey's aggregate results (another guild's survey is "not found")."""
    raw = request.match_info["survey_id"]
    if not raw.isdigit() or len(raw) > 19:
        raise web.HTTPNotFound
    results = await ctx.services.surveys.results(ctx.guild_id, int(raw))
    texts = [[split_author(t) for t in q.texts] for q in results.questions]
    authors = {a for answers in texts for a, _ in answers if a is not None}
    remember_names(request, await ctx.directory.names(ctx.guild_id, authors))
    return render(request, "survey_results.html", results=results, texts=texts)
