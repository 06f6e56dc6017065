"""How long the daily quiet-members sweep query takes as a guild grows (issue #7).

Fills a fresh database with 10k, 50k and 100k members of one guild (about 5 % quiet, 10 % opted in,
some recent prompts for the cool-down anti-join), then times the sweep's one query
(:func:`bot.services.nudges.quiet_members_stmt`) and the digest query — median of several runs —
and prints the growth from 10k. A second table keeps the number of quiet members fixed while the
guild grows: the time should stay flat, because the query reads quiet members only (range scan on
``member_activity (guild_id, last_active_at)``). The query plans are printed too.

    .venv/bin/python bench/quiet_sweep.py                 # SQLite
    KINSHIP_TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test .venv/bin/python bench/quiet_sweep.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import fresh_database

from bot.db import Database
from bot.models.activity import MemberActivity
from bot.models.nudges import Nudge, NudgePreference
from bot.services.nudges import quiet_members_stmt, unconsented_quiet_stmt

GUILD = 1
NOW = datetime(2026, 6, 1, 18, 0, tzinfo=UTC)
SIZES = (10_000, 50_000, 100_000)
RUNS = 25
BATCH = 5_000


def _members(n: int, quiet: Callable[[int], bool], rng: random.Random) -> tuple[list[dict[str, Any]], ...]:
    activity, prefs, nudges = [], [], []
    for member_id in range(1, n + 1):
        is_quiet = quiet(member_id)
        days = rng.uniform(15, 120) if is_quiet else rng.uniform(0, 13)
        activity.append(
            {
                "guild_id": GUILD,
                "member_id": member_id,
                "last_active_at": NOW - timedelta(days=days),
                "joined_at": NOW - timedelta(days=400),
            }
        )
        if rng.random() < 0.10:
            prefs.append(
                {"guild_id": GUILD, "member_id": member_id, "opted_in": True, "updated_at": NOW - timedelta(days=200)}
            )
        if rng.random() < 0.02:  # prompted before: some still in the 30-day cool-down
            planned = NOW - timedelta(days=rng.uniform(1, 90))
            nudges.append(
                {
                    "guild_id": GUILD,
                    "member_id": member_id,
                    "period": planned.date().isoformat(),
                    "state": "sent",
                    "quiet_since": planned - timedelta(days=20),
                    "planned_at": planned,
                    "due_at": planned,
                    "attempts": 1,
                    "detail": "",
                }
            )
    return activity, prefs, nudges


async def _fill(db: Database, n: int, quiet: Callable[[int], bool]) -> None:
    activity, prefs, nudges = _members(n, quiet, random.Random(n))
    async with db.session() as s:
        for table, rows in ((MemberActivity, activity), (NudgePreference, prefs), (Nudge, nudges)):
            for start in range(0, len(rows), BATCH):
                await s.exec(table.__table__.insert(), params=rows[start : start + BATCH])  # type: ignore[attr-defined]
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql("ANALYZE")


def _capture(db: Database) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def _keep(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen.append((statement, parameters))

    return seen


async def _time(db: Database, stmt: Any) -> tuple[float, float, int]:
    timings, rows = [], 0
    async with db.session() as s:  # warm-up: connection, statement cache, pages
        await s.exec(stmt)
    for _ in range(RUNS):
        async with db.session() as s:
            started = time.perf_counter()
            rows = len((await s.exec(stmt)).all())
            timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000, min(timings) * 1000, rows


async def _plan(db: Database, captured: list[tuple[str, Any]], stmt: Any) -> list[str]:
    captured.clear()
    async with db.session() as s:
        await s.exec(stmt)
    sql, params = next((q, p) for q, p in captured if "member_activity" in q)
    prefix = "EXPLAIN QUERY PLAN " if db.dialect == "sqlite" else "EXPLAIN "
    async with db.engine.connect() as conn:
        result = await conn.exec_driver_sql(prefix + sql, params)
        rows = result.all()
    if db.dialect == "sqlite":
        return [f"{'  ' * (0 if r[1] == 0 else 1)}{r[3]}" for r in rows]
    return [r[0] for r in rows]


async def _series(url: str | None, title: str, quiet_of: Callable[[int], Callable[[int], bool]]) -> list[str]:
    sweep = quiet_members_stmt(GUILD, NOW, quiet_days=14, cooldown_days=30)
    digest = unconsented_quiet_stmt(GUILD, NOW - timedelta(weeks=3))
    digest_count = select(func.count()).select_from(digest.subquery())
    lines = [
        title,
        f"{'members':>8} {'quiet':>6} {'planned':>7} | {'sweep median':>12} {'x':>5} {'min':>6} {'x':>5}"
        f" | {'digest median':>13} {'x':>5} {'min':>6} {'x':>5}   (ms)",
    ]
    base: tuple[float, ...] | None = None
    plans: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in SIZES:
            async with fresh_database("postgresql" if url else "sqlite", Path(tmp) / f"m{n}") as db:
                captured = _capture(db)
                await _fill(db, n, quiet_of(n))
                quiet = sum(1 for m in range(1, n + 1) if quiet_of(n)(m))
                sweep_med, sweep_min, planned = await _time(db, sweep)
                digest_med, digest_min, _ = await _time(db, digest_count)
                now = (sweep_med, sweep_min, digest_med, digest_min)
                base = base or now
                x = [f"{v / b:>4.1f}x" for v, b in zip(now, base, strict=True)]
                lines.append(
                    f"{n:>8} {quiet:>6} {planned:>7} | {sweep_med:>12.2f} {x[0]} {sweep_min:>6.2f} {x[1]}"
                    f" | {digest_med:>13.2f} {x[2]} {digest_min:>6.2f} {x[3]}"
                )
                if n == SIZES[-1]:
                    plans = await _plan(db, captured, sweep)
    return [*lines, "", f"query plan of the sweep at {SIZES[-1]:,} members:", *("  " + p for p in plans), ""]


async def main() -> None:
    """Run both series on SQLite, and on PostgreSQL when ``KINSHIP_TEST_DATABASE_URL`` is set."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL even if configured")
    args = parser.parse_args()
    backends: list[tuple[str, str | None]] = [("SQLite", None)]
    if os.environ.get("KINSHIP_TEST_DATABASE_URL") and not args.sqlite_only:
        backends.append(("PostgreSQL", os.environ["KINSHIP_TEST_DATABASE_URL"]))
    out = sys.stdout
    for name, url in backends:
        five_percent = await _series(url, f"== {name}: ~5 % of members quiet ==", lambda n: lambda m: m % 20 == 0)
        fixed = await _series(
            url, f"== {name}: 500 quiet members, guild grows ==", lambda n: lambda m: m % (n // 500) == 0
        )
        out.write("\n".join(five_percent + fixed) + "\n")
        out.flush()


if __name__ == "__main__":
    asyncio.run(main())
