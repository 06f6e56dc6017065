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

from _harness import ResponseClock, add_noop, bench_world, run, summary, table

ITERATIONS = int(sys.argv[1]) if len(sys.argv) > 1 else 300


async def measure(clock: ResponseClock, action: Callable[[int], Awaitable[Any]], n: int) -> dict[str, float]:
    for i in range(20):  # warm-up: caches, prepared statements, first-use imports
        await action(-1 - i)
    clock.take()
    for i in range(n):
        await action(i)
    return summary(clock.take())


async def main() -> None:
    async with bench_world() as w:
        with w.env.time_context():
            await add_noop(w)
            await w.configure(help_channel_id=w.help.id, mod_channel_id=w.mods.id, checkin_channel_id=w.checkins.id)
            clock = ResponseClock(w)
            actions: dict[str, Callable[[int], Awaitable[Any]]] = {
                "/noop (baseline)": lambda i: w.alice.slash(w.general, "noop"),
                "/setup show": lambda i: w.owner.slash(w.general, "setup show"),
            }
            actions.update(feature_actions(w))
            rows = []
            base = None
            for name, action in actions.items():
                stats = await measure(clock, action, ITERATIONS)
                base = base or stats
                rows.append(
                    {
                        "command": name,
                        **stats,
                        "x_noop_median": stats["median_ms"] / base["median_ms"],
                        "x_noop_p99": stats["p99_ms"] / base["p99_ms"],
                    }
                )
    print(f"command overhead on SQLite, {ITERATIONS} iterations each (after 20 warm-up)")
    print(table(rows, ["command", "n", "median_ms", "p99_ms", "x_noop_median", "x_noop_p99"]))


def feature_actions(w: Any) -> dict[str, Callable[[int], Awaitable[Any]]]:
    """The feature commands, once their cogs exist (filled in by issue #9)."""
    return {}


if __name__ == "__main__":
    run(main)
