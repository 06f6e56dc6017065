"""Benchmark 1 — command overhead: dispatch → response request, next to a no-op and the floor.

Measures, for each command, the time from INTERACTION_CREATE reaching discord.py's parser to
the bot's interaction-callback request (the moment Discord would get its answer), on SQLite and
(when ``KINSHIP_TEST_DATABASE_URL`` is set) PostgreSQL. Prints median and p99, the ratio to the
no-op command measured in the same run, and the floor (``bench/_floor.py``): the no-op's median
plus the command's own SQL, replayed right after each sample over a raw driver connection with
nothing in between. Targets: median ≤ 1.5× the floor, p99 under 20 ms. For every command that
misses the floor target, a profile of 100 more samples shows where the rest of its time goes.

    .venv/bin/python bench/command_overhead.py [iterations]
    KINSHIP_TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/kinship_bench \
        .venv/bin/python bench/command_overhead.py [iterations]
"""

from __future__ import annotations

import cProfile
import os
import pstats
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from _floor import Floor, StatementLog
from _harness import ResponseClock, TransactionCounter, add_noop, bench_world, run, summary, table

from bot.db import Database
from bot.heap import freeze_long_lived
from tests.harness.world import PG_ENV

EXPIRE = 901  # seconds: longer than every modal's and view's timeout
P99_TARGET_MS = 20
FLOOR_TARGET = 1.5
PROFILE_SAMPLES = 100

ITERATIONS = int(sys.argv[1]) if __name__ == "__main__" and len(sys.argv) > 1 else 300


async def measure(
    w: Any, clock: ResponseClock, floor: Floor | None, action: Callable[[int], Awaitable[Any]], n: int
) -> dict[str, float]:
    """Warm up, then time ``n`` runs of ``action``. Between runs the virtual clock moves past every
    modal's and view's timeout (untimed): SimCord's settle loop inspects every waiting view on each
    await of the bot, so hundreds of abandoned modals would be measured instead of the bot. After
    each run, the floor replays the SQL sent between the interaction's arrival and its answer
    (timed) and everything else (untimed)."""
    for i in range(20):  # warm-up: caches, prepared statements, first-use imports
        await action(-1 - i)
        await w.env.advance_time(EXPIRE)
    if floor is not None:
        await floor.catch_up()
    clock.take()
    tx = TransactionCounter(w)
    replays: list[float] = []
    inline: list[float] = []
    statements = 0
    for i in range(n):
        marks: dict[str, int] = {}
        if floor is not None:
            clock.on_start = lambda marks=marks: marks.setdefault("start", floor.mark())  # type: ignore[misc]
            clock.on_answer = lambda marks=marks: marks.setdefault("answer", floor.mark())  # type: ignore[misc]
        await action(i)
        if floor is not None:
            await floor.catch_up(marks["start"])
            statements += sum(len(t.statements) for t in floor.log.done[marks["start"] : marks["answer"]])
            replays.append(await floor.catch_up(marks["answer"]))
            inline.append(floor.inline_elapsed)
        await w.env.advance_time(EXPIRE)
        if floor is not None:
            await floor.catch_up()
    clock.on_start = clock.on_answer = None
    out = {**summary(clock.take()), "db_tx": tx.take() / n}
    if replays:
        out.update(replay_ms=statistics.median(replays) * 1000, stmts=statements / n)
        if floor is not None and floor.inline is not None:
            out.update(inline_ms=statistics.median(inline) * 1000)
    return out


_AREAS = (
    ("our code", ("/bot/", "/cogs/")),
    ("SQLAlchemy", ("/sqlalchemy/", "/sqlmodel/")),
    ("SimCord", ("/simcord/",)),
    ("discord.py", ("/discord/",)),
    ("driver", ("/aiosqlite/", "/asyncpg/", "sqlite3")),
    ("asyncio", ("/asyncio/",)),
)


def profile_text(profile: cProfile.Profile, top: int = 6) -> str:
    """Own time by area (our code, SQLAlchemy, SimCord, …) and the top functions by own time."""
    stats = pstats.Stats(profile)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1.0
    areas: dict[str, float] = {}
    for (filename, _line, _name), v in raw.items():
        area = next((a for a, keys in _AREAS if any(k in filename for k in keys)), "other (built-ins, …)")
        areas[area] = areas.get(area, 0.0) + v[2]
    shares = sorted(areas.items(), key=lambda x: -x[1])
    lines = ["    own time: " + ", ".join(f"{a} {t / total:.0%}" for a, t in shares)]
    for (filename, line, name), v in sorted(raw.items(), key=lambda x: -x[1][2])[:top]:
        short = "/".join(filename.split("/")[-2:])
        lines.append(f"    {v[2] / total:5.1%}  {name} ({short}:{line})")
    return "\n".join(lines)


async def one_backend(backend: str) -> tuple[list[dict[str, Any]], list[str]]:
    log = StatementLog()
    original = Database.migrate

    async def migrate_then_log(self: Database) -> None:  # the log starts with the bot's first work
        await original(self)
        log.on = log.on or not log.done

    Database.migrate = migrate_then_log  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            async with bench_world(backend) as w, Floor.open(log, w.db, Path(tmp)) as floor:
                Database.migrate = original  # type: ignore[method-assign]
                with w.env.time_context():
                    return await _commands(w, floor)
    finally:
        Database.migrate = original  # type: ignore[method-assign]
        log.close()


async def _commands(w: Any, floor: Floor) -> tuple[list[dict[str, Any]], list[str]]:
    await add_noop(w)
    await w.configure(help_channel_id=w.help.id, mod_channel_id=w.mods.id, checkin_channel_id=w.checkins.id)
    clock = ResponseClock(w, quiet=True)
    actions: dict[str, Callable[[int], Awaitable[Any]]] = {
        "/noop (baseline)": lambda i: w.alice.slash(w.general, "noop"),
        "/noop-db (1 read)": lambda i: w.alice.slash(w.general, "noop-db"),
        "/setup show": lambda i: w.owner.slash(w.general, "setup show"),
    }
    await prepare(w)
    actions.update(feature_actions(w, clock))
    freeze_long_lived("the bench's start-up")  # as the bot does on READY
    rows = []
    base: dict[str, float] = {}
    for name, action in actions.items():
        stats = await measure(w, clock, floor, action, ITERATIONS)
        base = base or stats
        floor_ms = base["median_ms"] + stats["replay_ms"]
        x_floor = stats["median_ms"] / floor_ms
        inline = {}
        if "inline_ms" in stats:  # SQLite: the stricter floor, sqlite3 on the loop's thread
            inline_floor = base["median_ms"] + stats["inline_ms"]
            inline = {"floor_inline_ms": inline_floor, "x_inline": stats["median_ms"] / inline_floor}
        rows.append(
            {
                "database": w.db.dialect,
                "command": name,
                **stats,
                "floor_ms": floor_ms,
                "x_floor": x_floor,
                **inline,
                "x_noop": stats["median_ms"] / base["median_ms"],
                "target": ("met" if x_floor <= FLOOR_TARGET else "MISSED")
                + ("" if stats["p99_ms"] < P99_TARGET_MS else ", p99 MISSED"),
            }
        )
    failed = f"{floor.errors} replayed transactions failed where the bot's committed"
    notes = [f"{w.db.dialect}: {failed} {floor.first_error}"]
    for row, (name, action) in zip(rows, actions.items(), strict=True):
        if row["x_floor"] <= FLOOR_TARGET:
            continue
        profile = cProfile.Profile()
        clock.on_start, clock.on_answer = profile.enable, profile.disable  # only the timed window
        for i in range(PROFILE_SAMPLES):
            await action(10_000 + i)
            profile.disable()
            await w.env.advance_time(EXPIRE)
        clock.on_start = clock.on_answer = None
        notes.append(f"{w.db.dialect} {name}: {row['x_floor']:.2f}x the floor; profile of {PROFILE_SAMPLES} samples")
        notes.append(profile_text(profile))
    return rows, notes


async def main() -> None:
    rows, notes = await one_backend("sqlite")
    if os.environ.get(PG_ENV):
        more, more_notes = await one_backend("postgresql")
        rows, notes = rows + more, notes + more_notes
    print(f"command overhead, {ITERATIONS} iterations each (after 20 warm-up); cpus={os.cpu_count()}, load={_load()}")
    columns = ["database", "command", "db_tx", "stmts", "median_ms", "p99_ms", "replay_ms", "floor_ms", "x_floor"]
    print(table(rows, [*columns, "floor_inline_ms", "x_inline", "x_noop", "target"]))
    print("db_tx: transactions per sample (after the answer too); stmts: SQL statements before the answer;")
    print("replay_ms: those statements' transactions sent straight to the driver (median; SQLite: aiosqlite);")
    print("floor_ms: /noop's median + replay_ms. Targets: x_floor <= 1.5, p99 < 20 ms;")
    print("floor_inline_ms / x_inline (SQLite): the same with the replay through sqlite3 on the loop's thread")
    print("\n".join(notes))


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def feature_actions(w: Any, clock: ResponseClock) -> dict[str, Callable[[int], Awaitable[Any]]]:
    """The feature commands. A command that opens a modal is measured twice: the command (its
    answer is the modal) and the modal's submit (which does the work). The virtual clock moves an
    hour before each thanks and report, so the per-pair cooldown and the per-reporter limits (raised
    in ``prepare``) never refuse one: every sample is the successful path."""
    hour = 3601

    async def ask_submit(i: int) -> Any:
        with clock.ignoring():
            shown = await w.alice.slash(w.general, "ask new")
        done = await w.alice.submit_modal(
            shown, {"title": f"Cannot sleep {i}", "body": "Exams.", "wants": ["listening"], "note": ""}
        )
        return _ok(done)

    async def checkin_submit(i: int) -> Any:
        with clock.ignoring():
            shown = await w.bob.slash(w.general, "checkin now")
        return _ok(await w.bob.submit_modal(shown, {"mood": str(1 + i % 5), "note": "okay week"}))

    async def thanks(i: int) -> Any:
        w.env.backend.clock.advance(hour)
        return _ok(await w.alice.slash(w.general, "thanks", member=w.bob, reason="for listening"))

    async def report_submit(i: int) -> Any:
        w.env.backend.clock.advance(hour)
        with clock.ignoring():
            shown = await w.carol.slash(w.general, "report", member=w.bob, reason="rude")
        return _ok(await w.carol.submit_modal(shown, {"details": "in #general", "rule": ""}))

    return {
        "/ask new (modal)": lambda i: w.alice.slash(w.general, "ask new"),
        "/ask submit": ask_submit,
        "/checkin now (modal)": lambda i: w.bob.slash(w.general, "checkin now"),
        "/checkin submit": checkin_submit,
        "/thanks": thanks,
        "/report (modal)": lambda i: w.carol.slash(w.general, "report", member=w.bob, reason="rude"),
        "/report submit": report_submit,
    }


async def prepare(w: Any) -> None:
    """Settings that keep every sample on the successful path."""
    await w.configure(mod_role_id=w.mod_role.id)
    await w.owner.slash(w.general, "setup reports limits", **{"per-window": 20, "window-minutes": 1, "per-day": 100})
    await w.owner.slash(w.general, "setup recognition points", cooldown_hours=1, daily_cap=50)


def _ok(result: Any) -> Any:
    """Fail loudly when a sample took the refusal path instead of the work."""
    text = " ".join(m.content or "" for m in [result.response, *result.followups] if m is not None)
    if any(word in text.lower() for word in ("try again", "limit", "went wrong", "can't", "cannot")):
        raise AssertionError(f"benchmark step was refused: {text!r}")
    return result


if __name__ == "__main__":
    run(main)
