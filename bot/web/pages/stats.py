"""Stats: the figures and the chart of ``/stats`` (aggregate only, the same minimum group size).

The report is the one ``/stats`` computes (:meth:`InsightService.report`); the page and its chart
reuse it for :data:`CACHE_FOR`, so reloading or switching tabs does not recompute a 100k-member
guild's weeks each time (see ``bench/dashboard.py``)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot import i18n
from bot.services.insights import PERIODS, StatsReport
from bot.web.access import GuildContext, moderator_page
from bot.web.render import render

routes = web.RouteTableDef()
DEFAULT_DAYS = 30
#: The report (and its chart) is reused this long: aggregates over weeks barely move in a minute,
#: and computing them reads every activity day of the period (hundreds of ms on a 100k guild).
CACHE_FOR = timedelta(seconds=60)


def _cache(ctx: GuildContext, name: str) -> dict[Any, tuple[datetime, Any]]:
    """A cache of this dashboard (never module-wide: two dashboards on two databases share nothing)."""
    caches: dict[str, dict[Any, tuple[datetime, Any]]] = vars(ctx.dashboard).setdefault("_stats_caches", {})
    return caches.setdefault(name, {})


async def _report(ctx: GuildContext, days: int) -> StatsReport:
    """``InsightService.report`` (the call ``/stats`` makes), reused for :data:`CACHE_FOR`."""
    now = ctx.now()
    reports = _cache(ctx, "reports")
    hit = reports.get((ctx.guild_id, days))
    if hit is not None and hit[0] > now:
        return hit[1]
    report = await ctx.services.insights.report(ctx.guild_id, now=now, days=days)
    if len(reports) > 1000:
        reports.clear()
    reports[(ctx.guild_id, days)] = (now + CACHE_FOR, report)
    return report


def _days(request: web.Request) -> int:
    raw = request.query.get("days", "")
    return int(raw) if raw.isdigit() and int(raw) in PERIODS else DEFAULT_DAYS


minutes_text = i18n.duration_text


def percent_text(value: float | None, lang: str) -> str:
    """A rate (0..1) as ``/stats`` writes it."""
    return i18n.t("stats.percent", lang, value=round(value * 100)) if value is not None else i18n.t("stats.none", lang)


def feeling_text(value: float | None, contributors: int, lang: str) -> str:
    """Mood or pulse: nothing, "fewer than 5" (withheld by the service), or the mean."""
    if contributors == 0:
        return i18n.t("stats.none", lang)
    if value is None:
        return i18n.t("stats.hidden", lang)
    return i18n.t("stats.mood_value", lang, value=f"{value:.1f}", members=contributors)


@routes.get("/g/{guild_id}/stats")
@moderator_page
async def stats_page(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """The numbers of ``/stats`` for 7, 30 or 90 days, with the weekly table and the chart."""
    days = _days(request)
    report = await _report(ctx, days)
    lang = ctx.lang
    return render(
        request,
        "stats.html",
        report=report,
        days=days,
        periods=PERIODS,
        minutes_text=lambda m: minutes_text(m, lang),
        percent_text=lambda v: percent_text(v, lang),
        feeling_text=lambda v, n: feeling_text(v, n, lang),
        chart_url=ctx.url("stats/chart.png", days=days),
    )


@routes.get("/g/{guild_id}/stats/chart.png")
@moderator_page
async def stats_chart(request: web.Request, ctx: GuildContext) -> web.StreamResponse:
    """The ``/stats`` chart (PNG, rendered off the event loop) in the visitor's language."""
    days, now = _days(request), ctx.now()
    key = (ctx.guild_id, days, ctx.lang)
    charts_cache = _cache(ctx, "charts")
    hit = charts_cache.get(key)
    if hit is not None and hit[0] > now:
        png = hit[1]
    else:
        png = await ctx.services.charts.render(await _report(ctx, days), ctx.lang)
        if len(charts_cache) > 200:
            charts_cache.clear()
        charts_cache[key] = (now + CACHE_FOR, png)
    return web.Response(body=png, content_type="image/png", headers={"Cache-Control": "private, no-store"})
