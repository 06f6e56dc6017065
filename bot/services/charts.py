"""The ``/stats`` chart: three small panels rendered to PNG bytes with matplotlib (headless).

Uses :class:`matplotlib.figure.Figure` with the Agg canvas directly, never ``pyplot``: no global
figure state. :class:`ChartRenderer` renders in a worker *process*: in a thread of the bot's
process, Agg's drawing and the font code hold the GIL for tens of milliseconds at a time
(``bench/loop_stall.py``: a 1 ms ticker waited 30–55 ms per render), and importing matplotlib
adds ~50,000 objects to every full garbage-collector pass of the bot's heap.
The image is 800 × 600 px with large fonts, so it stays readable at Discord's embed size; texts
come from the ``stats.chart`` catalogue in the guild's language.
"""

from __future__ import annotations

import asyncio
import io
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

from bot import i18n
from bot.services.insights import StatsReport

if TYPE_CHECKING:  # matplotlib (~24 MB) is imported on the first /stats, not at start-up
    from matplotlib.figure import Figure

log = logging.getLogger(__name__)

WIDTH_IN, HEIGHT_IN, DPI = 8.0, 6.0, 100
GREEN, AMBER, BLUE = "#7A9E7E", "#D9A441", "#4F7CAC"


def _label(day: object, lang: str) -> str:
    # "12 Jan" / "12.01." — short and unambiguous in both languages.
    return day.strftime("%d.%m.") if lang == "de" else day.strftime("%b %d")  # type: ignore[attr-defined]


def _panel(
    ax: object,
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    colour: str,
    *,
    empty: str,
    percent: bool = False,
) -> None:
    ax.set_title(title, fontsize=14, loc="left", fontweight="bold")  # type: ignore[attr-defined]
    ax.tick_params(labelsize=11)  # type: ignore[attr-defined]
    ax.spines[["top", "right"]].set_visible(False)  # type: ignore[attr-defined]
    ax.grid(axis="y", alpha=0.3)  # type: ignore[attr-defined]
    xs = list(range(len(labels)))
    ax.set_xticks(xs, labels)  # type: ignore[attr-defined]
    ax.set_xlim(-0.6, max(len(labels) - 0.4, 0.6))  # type: ignore[attr-defined]
    if all(v is None for v in values):
        ax.set_yticks([])  # type: ignore[attr-defined]
        ax.text(  # type: ignore[attr-defined]
            0.5, 0.5, empty, transform=ax.transAxes, ha="center", va="center", fontsize=12, color="#777777"
        )
        return
    heights = [v if v is not None else 0 for v in values]
    bars = ax.bar(xs, heights, color=colour, width=0.6)  # type: ignore[attr-defined]
    top = 100.0 if percent else (max(heights) or 1)
    ax.set_ylim(0, top * 1.25)  # type: ignore[attr-defined]
    if percent:
        ax.set_yticks([0, 50, 100], ["0 %", "50 %", "100 %"])  # type: ignore[attr-defined]
    for bar, value in zip(bars, values, strict=True):
        if value is None:
            continue
        text = (
            f"{value:.0f} %" if percent else (f"{value:.0f}" if value >= 10 else f"{value:.1f}".rstrip("0").rstrip("."))
        )
        ax.annotate(  # type: ignore[attr-defined]
            text,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=11,
            xytext=(0, 2),
            textcoords="offset points",
        )


class ChartRenderer:
    """Renders charts in one worker process, started on the first chart and kept for the next
    (it imports matplotlib once, off the bot's event loop and out of its heap). A worker that
    died is replaced and the chart tried once more in the new one."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    async def render(self, report: StatsReport, lang: str) -> bytes:
        """:func:`render` in the worker process."""
        loop = asyncio.get_running_loop()
        for attempt in (1, 2):
            pool = self._executor()
            try:
                return await loop.run_in_executor(pool, render, report, lang)
            except BrokenProcessPool:
                self._discard(pool)
                if attempt == 2:
                    raise
                log.warning("the chart worker process died; starting a new one")
        raise AssertionError("unreachable")

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # "spawn": a fork of a process with threads (aiosqlite's, the pool's) may copy a held lock.
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return self._pool

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the worker process (if one was started) without waiting for a chart being drawn;
        a later chart starts a new one."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.shutdown(wait=False, cancel_futures=True)


def render(report: StatsReport, lang: str) -> bytes:
    """The weekly chart of a report as PNG bytes (CPU work that holds the GIL: run it in
    :class:`ChartRenderer`'s process, not on the event loop nor in one of its threads)."""
    buf = io.BytesIO()
    figure(report, lang).savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def figure(report: StatsReport, lang: str) -> Figure:
    """The chart as a matplotlib figure (three panels sharing the week axis)."""
    weeks = report.weeks
    labels = [_label(w.start, lang) for w in weeks]
    empty = i18n.t("stats.chart.no_data", lang)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(3, 1, sharex=True)
    fig.suptitle(i18n.t("stats.chart.title", lang, days=report.days), fontsize=16)
    _panel(
        axes[0],
        i18n.t("stats.chart.active", lang),
        labels,
        [float(w.active_members) for w in weeks],
        GREEN,
        empty=empty,
    )
    _panel(
        axes[1],
        i18n.t("stats.chart.response", lang),
        labels,
        [w.help_median_response_minutes for w in weeks],
        AMBER,
        empty=empty,
    )
    _panel(
        axes[2],
        i18n.t("stats.chart.participation", lang),
        labels,
        [w.participation * 100 if w.participation is not None else None for w in weeks],
        BLUE,
        empty=empty,
        percent=True,
    )
    axes[2].set_xlabel(i18n.t("stats.chart.week_of", lang), fontsize=12)
    return fig
