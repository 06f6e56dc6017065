"""Settings: every ``/setup`` setting as a form, one per section of :mod:`bot.services.settings`.

Channels and roles are pickers filled from the guild (the directory); a submitted id must be one of
them. Saving goes through :meth:`SettingsService.save`, which validates every field (one message
each) and then calls the same service methods the slash commands call — so ``/setup show`` reports
what was saved here. Help topics (``/setup topics add|remove``) and support contacts
(``/setup resources add|remove``) have their own small forms. Every change needs Manage Server
(:func:`~bot.web.access.manager_action`), as the ``/setup`` commands do; other moderators read.
"""

from __future__ import annotations

import functools

from aiohttp import web
from markupsafe import Markup

from bot.services.care import GUILD_REGIONS, MAX_CONTACT, MAX_NAME, MAX_URL
from bot.services.guilds import suggest_timezones
from bot.services.settings import BY_KEY, SECTIONS, ChannelChoice, FieldErrors, GuildChoices, RoleChoice
from bot.web.access import GuildContext, manager_action, moderator_page
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
    values = values or await ctx.services.settings.values(ctx.guild_id)
    return render(
        request,
        "settings.html",
        status=status,
        sections=SECTIONS,
        values=values,
        errors=errors or {},
        summary=summary,
        options=_options(ctx, values, choices),
        timezone_options=_timezone_options(),
        topics=await ctx.services.help.topics(ctx.guild_id),
        contacts=await ctx.services.care.list(ctx.guild_id),
        contact_regions=GUILD_REGIONS,
        contact_limits={"name": MAX_NAME, "contact": MAX_CONTACT, "url": MAX_URL},
    )


@functools.cache
def _timezone_options() -> Markup:
    """The time zone suggestions, the same on every page: made once."""
    return Markup("").join(Markup('<option value="{}">').format(z) for z in suggest_timezones("", limit=1000))


def _option_tags(picker: list[tuple[str, str, bool]]) -> Markup:
    # One string per picker rather than a template loop: a big guild's settings page has ~1,500
    # options, and Jinja's loop over them was most of the page's time (bench/dashboard.py).
    return Markup("").join(
        Markup('<option value="{}"{}>{}</option>').format(v, Markup(" selected") if selected else "", label)
        for v, label, selected in picker
    )


def _options(
    ctx: GuildContext, values: dict[str, dict[str, str]], choices: GuildChoices
) -> dict[tuple[str, str], Markup]:
    """(section, field) → the picker's ``<option>`` tags (escaped) for every channel and role field.
    A saved id the guild no longer has stays selectable, marked deleted (saving it is refused)."""
    roles = [(str(r.id), f"@{r.name}") for r in choices.roles if not r.managed]
    by_type: dict[tuple[str, ...], list[tuple[str, str]]] = {}
    names = {str(c.id): f"#{c.name}" for c in choices.channels}
    out: dict[tuple[str, str], Markup] = {}
    for section in SECTIONS:
        for spec in section.fields:
            if spec.kind not in ("channel", "role"):
                continue
            current = values[section.key].get(spec.name, "")
            if spec.kind == "channel":
                if spec.channel_types not in by_type:
                    forum = ctx.t("web_pages.settings.forum")
                    by_type[spec.channel_types] = [
                        (str(c.id), f"#{c.name}" + (f" ({forum})" if c.type == "forum" else ""))
                        for c in choices.channels
                        if c.type in spec.channel_types
                    ]
                listed = by_type[spec.channel_types]
                gone = names.get(current) or ctx.t("setup.show.deleted", id=current)
            else:
                listed = roles
                gone = ctx.t("web_pages.settings.deleted_role", id=current)
            picker = [("", ctx.t("setup.show.not_set"), not current)]
            picker += [(v, label, v == current) for v, label in listed]
            if current and all(v != current for v, _ in listed):
                picker.append((current, gone, True))
            out[(section.key, spec.name)] = _option_tags(picker)
    return out


@routes.get("/g/{guild_id}/settings")
@moderator_page
async def settings_page(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """Every section's form with the current values."""
    return await _page(request, ctx)


@routes.post("/g/{guild_id}/settings/{section}")
@manager_action
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
@manager_action
async def add_topic(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """``/setup topics add``."""
    form = await request.post()
    topic = await ctx.services.help.add_topic(ctx.guild_id, str(form.get("name", ""))[:100], ctx.now())
    return ctx.redirect("settings", flash=ctx.t("help.topics.added", name=topic.name))


@routes.post("/g/{guild_id}/settings/topics/remove")
@manager_action
async def remove_topic(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """``/setup topics remove``."""
    form = await request.post()
    topic = await ctx.services.help.remove_topic(ctx.guild_id, str(form.get("name", ""))[:100])
    return ctx.redirect("settings", flash=ctx.t("help.topics.removed", name=topic.name))


@routes.post("/g/{guild_id}/settings/contacts/add")
@manager_action
async def add_contact(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """``/setup resources add``: a support contact members see in ``/resources``."""
    form = await request.post()
    added = await ctx.services.care.add(
        ctx.guild_id,
        str(form.get("region", "")),
        name=str(form.get("name", ""))[: MAX_NAME * 2],
        contact=str(form.get("contact", ""))[: MAX_CONTACT * 2],
        url=str(form.get("url", "")) or None,
        added_by=ctx.user_id,
        now=ctx.now(),
    )
    region = ctx.t(f"care.region.{added.region}")
    return ctx.redirect("settings", flash=ctx.t("web_pages.settings.contact_added", name=added.name, region=region))


@routes.post("/g/{guild_id}/settings/contacts/{contact_id:[0-9]{1,20}}/remove")
@manager_action
async def remove_contact(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """``/setup resources remove``."""
    gone = await ctx.services.care.remove(ctx.guild_id, request.match_info["contact_id"])
    return ctx.redirect("settings", flash=ctx.t("web_pages.settings.contact_removed", name=gone.name))
