"""Settings: every ``/setup`` setting as a form, one per section of :mod:`bot.services.settings`.

Channels and roles are pickers filled from the guild (the directory); a submitted id must be one of
them. Saving goes through :meth:`SettingsService.save`, which validates every field (one message
each) and then calls the same service methods the slash commands call — so ``/setup show`` reports
what was saved here. Help topics (``/setup topics add|remove``) have their own two small forms.
"""

from __future__ import annotations

from aiohttp import web

from bot.services.guilds import suggest_timezones
from bot.services.settings import BY_KEY, SECTIONS, ChannelChoice, FieldErrors, GuildChoices, RoleChoice
from bot.web.access import GuildContext, moderator_action, moderator_page
from bot.web.render import render

routes = web.RouteTableDef()


async def guild_choices(ctx: GuildContext) -> GuildChoices:
    """The guild's channels and roles, as the settings service checks them."""
    channels = await ctx.directory.channels(ctx.guild_id)
    roles = await ctx.directory.roles(ctx.guild_id)
    return GuildChoices(
        channels=tuple(ChannelChoice(c.id, c.name, c.kind) for c in channels),
        roles=tuple(
            RoleChoice(r.id, r.name, managed=r.managed, assignable=r.assignable) for r in roles if not r.is_everyone
        ),
    )


async def _page(
    request: web.Request,
    ctx: GuildContext,
    *,
    values: dict[str, dict[str, str]] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    summary: str = "",
    status: int = 200,
) -> web.Response:
    choices = await guild_choices(ctx)
    return render(
        request,
        "settings.html",
        status=status,
        sections=SECTIONS,
        values=values or await ctx.services.settings.values(ctx.guild_id),
        errors=errors or {},
        summary=summary,
        channels=choices.channels,
        roles=[r for r in choices.roles if not r.managed],
        channel_names={c.id: c.name for c in choices.channels},
        role_names={r.id: r.name for r in choices.roles},
        timezones=suggest_timezones("", limit=1000),
        topics=await ctx.services.help.topics(ctx.guild_id),
    )


@routes.get("/g/{guild_id}/settings")
@moderator_page
async def settings_page(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """Every section's form with the current values."""
    return await _page(request, ctx)


@routes.post("/g/{guild_id}/settings/{section}")
@moderator_action
async def save_section(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """Save one section; with mistakes, show the form again with a message at each field."""
    section = request.match_info["section"]
    spec = BY_KEY.get(section)
    if spec is None:
        raise web.HTTPNotFound
    form = await request.post()
    raw = {f.name: str(form.get(f.name, "")) for f in spec.fields}
    try:
        await ctx.services.settings.save(ctx.guild_id, section, raw, ctx.now(), await guild_choices(ctx))
    except FieldErrors as bad:
        values = await ctx.services.settings.values(ctx.guild_id)
        values[section] = raw
        messages = {name: ctx.t(e.key, **e.params) for name, e in bad.errors.items()}
        summary = ctx.t(bad.key, **bad.params)
        return await _page(request, ctx, values=values, errors={section: messages}, summary=summary, status=400)
    return ctx.redirect("settings", flash=ctx.t("web_pages.settings.saved", section=ctx.t(f"settings.{section}.title")))


@routes.post("/g/{guild_id}/settings/topics/add")
@moderator_action
async def add_topic(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """``/setup topics add``."""
    form = await request.post()
    topic = await ctx.services.help.add_topic(ctx.guild_id, str(form.get("name", ""))[:100], ctx.now())
    return ctx.redirect("settings", flash=ctx.t("help.topics.added", name=topic.name))


@routes.post("/g/{guild_id}/settings/topics/remove")
@moderator_action
async def remove_topic(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """``/setup topics remove``."""
    form = await request.post()
    topic = await ctx.services.help.remove_topic(ctx.guild_id, str(form.get("name", ""))[:100])
    return ctx.redirect("settings", flash=ctx.t("help.topics.removed", name=topic.name))
