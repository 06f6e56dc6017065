"""Benchmark 1 — command overhead: dispatch → response request, next to a no-op command.

Measures, for each command, the time from INTERACTION_CREATE reaching discord.py's parser to
the bot's interaction-callback request (the moment Discord would get its answer), on SQLite.
Prints median and p99 and the ratio to the no-op command measured in the same run.
Target: ≤ 1.5× the no-op at the median, p99 under 20 ms.

    .venv/bin/python bench/command_overhead.py [iterations]
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import Any

from _harness import ResponseClock, TransactionCounter, add_noop, bench_world, run, summary, table

EXPIRE = 901  # seconds: longer than every modal's and view's timeout
P99_TARGET_MS = 20

ITERATIONS = int(sys.argv[1]) if __name__ == "__main__" and len(sys.argv) > 1 else 300


async def measure(w: Any, clock: ResponseClock, action: Callable[[int], Awaitable[Any]], n: int) -> dict[str, float]:
    """Warm up, then time ``n`` runs of ``action``. Between runs the virtual clock moves past every
    modal's and view's timeout (untimed): SimCord's settle loop inspects every waiting view on each
    await of the bot, so hundreds of abandoned modals would be measured instead of the bot."""
    for i in range(20):  # warm-up: caches, prepared statements, first-use imports
        await action(-1 - i)
        await w.env.advance_time(EXPIRE)
    clock.take()
    tx = TransactionCounter(w)
    for i in range(n):
        await action(i)
        await w.env.advance_time(EXPIRE)
    return {**summary(clock.take()), "db_tx": tx.take() / n}


async def main() -> None:
    async with bench_world() as w:
        with w.env.time_context():
            await add_noop(w)
            await w.configure(help_channel_id=w.help.id, mod_channel_id=w.mods.id, checkin_channel_id=w.checkins.id)
            clock = ResponseClock(w)
            actions: dict[str, Callable[[int], Awaitable[Any]]] = {
                "/noop (baseline)": lambda i: w.alice.slash(w.general, "noop"),
                "/noop-db (1 read)": lambda i: w.alice.slash(w.general, "noop-db"),
                "/setup show": lambda i: w.owner.slash(w.general, "setup show"),
            }
            await prepare(w)
            actions.update(feature_actions(w, clock))
            rows = []
            base: dict[str, float] = {}
            base_db: dict[str, float] = {}
            for name, action in actions.items():
                stats = await measure(w, clock, action, ITERATIONS)
                base = base or stats
                if name.startswith("/noop-db"):
                    base_db = stats
                rows.append(
                    {
                        "command": name,
                        **stats,
                        "x_noop_median": stats["median_ms"] / base["median_ms"],
                        "x_noop_p99": stats["p99_ms"] / base["p99_ms"],
                        "x_noop_db_median": stats["median_ms"] / base_db["median_ms"] if base_db else None,
                        "p99_ok": "yes" if stats["p99_ms"] < P99_TARGET_MS else "NO",
                    }
                )
    print(f"command overhead on SQLite, {ITERATIONS} iterations each (after 20 warm-up)")
    columns = ["command", "n", "db_tx", "median_ms", "p99_ms", "x_noop_median", "x_noop_p99", "x_noop_db_median"]
    print(table(rows, [*columns, "p99_ok"]))
    print("db_tx: database transactions per run of the step (after the response too, e.g. delivery).")
    print(f"targets: x_noop_median <= 1.5 and p99 < {P99_TARGET_MS} ms")


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
