"""Jinja2 (autoescape on for every template) with the layout's helpers, and ``render()``.

Every template extends ``base.html`` and gets:

* ``t(key, **params)`` — the catalogue text in the visitor's language (``web.*`` keys live in
  ``bot/i18n/locales/<lang>/web.toml``, the pages' own in ``web_pages.toml``);
* ``lang``, ``user`` (the session or ``None``), ``guild`` (the :class:`GuildContext` on guild
  pages), ``nav`` (the guild's pages), ``flash`` (a one-time message), ``csrf_field()`` (the
  hidden input every ``<form method="post">`` needs) and ``csrf_token``;
* functions ``when(dt)`` (a date and time in the guild's time zone), ``ago(dt)`` ("3 h ago"),
  ``duration(td_or_seconds)`` ("2 h 5 min"), ``name(user_id)`` (a member's display name with
  the id as a tooltip, or the id; see :func:`remember_names`), ``plain_name(user_id)`` (the same
  as text, e.g. for ``<title>``), ``md(text)`` (a catalogue text's ``**bold**``/`` `code` ``) and
  ``static(file)``.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from bot import i18n
from bot.web.access import GuildContext, visitor_lang
from bot.web.session import CSRF_FIELD, FLASH_COOKIE, csrf_token, current_session, take_flash
from bot.web.state import GUILD, NAMES, dashboard_of

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

#: The guild's pages, in the navigation's order: (catalogue key under ``web.nav``, path under /g/{id}).
NAV: tuple[tuple[str, str], ...] = (
    ("overview", ""),
    ("reports", "reports"),
    ("help", "help"),
    ("stats", "stats"),
    ("settings", "settings"),
    ("library", "library"),
    ("surveys", "surveys"),
    ("milestones", "milestones"),
)


@cache
def environment() -> jinja2.Environment:
    """The one Jinja2 environment: autoescape for everything, undefined names are errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static"] = static_url
    env.globals["md"] = md
    return env


@cache
def _static_version(name: str) -> str:
    path = STATIC / name
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10] if path.is_file() else "0"


def static_url(name: str) -> str:
    """``/static/<name>?v=<hash>``: cached by browsers, refreshed when the file changes."""
    return f"/static/{name}?v={_static_version(name)}"


_BOLD = re.compile(r"\*\*(.+?)\*\*")
_CODE = re.compile(r"`([^`]+)`")


def md(text: str) -> Markup:
    """The two bits of Discord markdown the shared texts use (``**bold**``, `` `code` ``), after
    escaping everything else."""
    html = str(escape(text))
    html = _BOLD.sub(r"<strong>\1</strong>", html)
    return Markup(_CODE.sub(r"<code>\1</code>", html))  # noqa: S704  # escaped above; only our tags added


def _ago(value: timedelta, lang: str) -> str:
    if value < timedelta(minutes=1):
        return i18n.t("web.time.just_now", lang)
    return i18n.t("web.time.ago", lang, duration=_duration(value, lang))


def _duration(value: timedelta | float | int | None, lang: str) -> str:
    if value is None:
        return "—"
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    days, rest = divmod(max(seconds, 0), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = []
    if days:
        parts.append(i18n.t("web.time.days", lang, n=days))
    if hours and len(parts) < 2:
        parts.append(i18n.t("web.time.hours", lang, n=hours))
    if not days and (minutes or not parts):
        parts.append(i18n.t("web.time.minutes", lang, n=minutes))
    return " ".join(parts)


def template_context(request: web.Request) -> dict[str, Any]:
    """The helpers every template gets (see the module docstring)."""
    dash = dashboard_of(request)
    guild: GuildContext | None = request.get(GUILD)
    lang = guild.lang if guild else visitor_lang(request)
    tz = ZoneInfo(guild.settings.timezone) if guild else ZoneInfo("UTC")
    names: dict[int, str] = request.get(NAMES) or {}
    token = csrf_token(request)

    def t(key: str, /, **params: Any) -> str | Markup:
        if any(isinstance(v, Markup) for v in params.values()):  # e.g. name(...): keep its markup, escape the rest
            return Markup(escape(i18n.t(key, lang))).format(**params)  # noqa: S704
        return i18n.t(key, lang, **params)

    def when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return value.astimezone(tz).strftime(fmt) if value else "—"

    def ago(value: datetime | None) -> str:
        if value is None:
            return "—"
        return _ago(dash.now() - value, lang)

    def name(user_id: int | None) -> Markup:
        if user_id is None:
            return escape(i18n.t("web.someone", lang))
        known = names.get(user_id)
        if not known:
            return escape(str(user_id))
        return Markup('<span class="person" title="{}">{}</span>').format(user_id, known)

    nav = []
    if guild is not None:
        for key, page in NAV:
            url = guild.url(page)
            active = request.path == url if not page else request.path.startswith(url)
            nav.append({"key": key, "url": url, "label": t(f"web.nav.{key}"), "active": active})
    return {
        "t": t,
        "lang": lang,
        "user": current_session(request),
        "guild": guild,
        "nav": nav,
        "flash": take_flash(request),
        "csrf_token": token,
        "csrf_field": lambda: Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, escape(token)),
        "when": when,
        "ago": ago,
        "duration": lambda v: _duration(v, lang),
        "name": name,
        "plain_name": lambda user_id: names.get(user_id) or str(user_id),
        "now": dash.now(),
    }


def render(request: web.Request, template: str, /, *, status: int = 200, **ctx: Any) -> web.Response:
    """Render ``template`` (which extends ``base.html``) with the layout's helpers and ``ctx``."""
    context = template_context(request)
    context.update(ctx)
    html = environment().get_template(template).render(context)
    response = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    if context["flash"] is not None:
        response.del_cookie(FLASH_COOKIE, path="/")
    return response


def remember_names(request: web.Request, names: dict[int, str]) -> None:
    """Names the ``name`` filter uses on this page (from ``ctx.directory.names``)."""
    if NAMES not in request:
        request[NAMES] = {}
    request[NAMES].update(names)
