"""Benchmark 3 — activity ingestion: MESSAGE_CREATE events per second, tracking on and off.

Two bots in the same run: every cog loaded (tracking on: ``cogs.activity`` records each message's
author in memory), and every cog but ``cogs.activity`` (tracking off). One real message is sent
through SimCord to capture its MESSAGE_CREATE payload; then ``EVENTS`` copies of it, from
``AUTHORS`` different members, are fed straight into discord.py's parser
(``bot._connection.parsers["MESSAGE_CREATE"]``) and the listener tasks drained, so the figure is
the bot (discord.py's parsing and dispatch plus our listeners), not SimCord (whose per-task
bookkeeping on the event loop is switched off while the events are fed: ``native_loop``). The flush that writes
the buffer to the database runs every 30 s; its time for all buffered members is shown next to it.
Target: ≥ 20,000 events/s with tracking on, and ≤ 1.2× the cost of tracking off.

    .venv/bin/python bench/activity_ingestion.py [events]
"""

from __future__ import annotations

import asyncio
import copy
import gc
import statistics
import sys
import time
from typing import Any

from _harness import bench_world, native_loop, run, table

from bot.app import all_extensions

EVENTS = int(sys.argv[1]) if __name__ == "__main__" and len(sys.argv) > 1 else 100_000
AUTHORS = 10_000
BATCH = 1_000
ROUNDS = 5


def payloads(template: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """``n`` MESSAGE_CREATE payloads from ``AUTHORS`` different members (fresh message ids)."""
    out = []
    base_id = int(template["id"])
    for i in range(n):
        p = copy.deepcopy(template)
        author_id = str(10**17 + i % AUTHORS)
        p["id"] = str(base_id + 1 + i)
        p["author"] = {**p["author"], "id": author_id, "username": f"member{i % AUTHORS}"}
        p["content"] = ""  # no MESSAGE_CONTENT intent: only the author and the time are used
        out.append(p)
    return out


async def drain(baseline: int) -> None:
    """Let the listener tasks the parser scheduled run to completion."""
    while len(asyncio.all_tasks()) > baseline:  # noqa: ASYNC110 (a yield to the loop, not a wait)
        await asyncio.sleep(0)


async def ingest(extensions: list[str] | None) -> dict[str, Any]:
    async with bench_world(extensions=extensions) as w:
        captured: list[dict[str, Any]] = []
        state = w.bot._connection
        parse = state.parsers["MESSAGE_CREATE"]

        def capture(data: dict[str, Any]) -> Any:
            captured.append(copy.deepcopy(data))
            return parse(data)

        with w.env.time_context():
            state.parsers["MESSAGE_CREATE"] = capture
            await w.alice.send(w.general, "hello")
            state.parsers["MESSAGE_CREATE"] = parse
        batch = payloads(captured[-1], EVENTS)
        tracking = "cogs.activity" in w.bot.extensions
        rates = []
        gc.collect()
        baseline = len(asyncio.all_tasks())
        for _ in range(ROUNDS):
            with native_loop():
                started = time.perf_counter()
                for i in range(0, EVENTS, BATCH):
                    for payload in batch[i : i + BATCH]:
                        parse(payload)
                    await drain(baseline)
                rates.append(EVENTS / (time.perf_counter() - started))
        flush_s = None
        if tracking:
            pending = w.services.activity.pending
            started = time.perf_counter()
            await w.services.activity.flush(w.now())
            flush_s = time.perf_counter() - started
        return {
            "tracking": "on" if tracking else "off",
            "events": EVENTS,
            "authors": AUTHORS,
            "per_s": statistics.median(rates),
            "best_per_s": max(rates),
            "flush_ms": flush_s * 1000 if flush_s is not None else None,
            "flushed": pending if tracking else None,
        }


async def main() -> None:
    everything = all_extensions()
    on = await ingest(everything)
    off = await ingest([e for e in everything if e != "cogs.activity"])
    on["x_cost_of_off"] = off["per_s"] / on["per_s"]
    off["x_cost_of_off"] = 1.0
    verdict = "met" if on["per_s"] >= 20_000 and on["x_cost_of_off"] <= 1.2 else "MISSED"
    print(f"activity ingestion, {EVENTS} MESSAGE_CREATE events from {AUTHORS} members, median of {ROUNDS} rounds")
    print(
        table(
            [on, off], ["tracking", "events", "authors", "per_s", "best_per_s", "x_cost_of_off", "flush_ms", "flushed"]
        )
    )
    print(f"target >= 20,000/s with tracking on and <= 1.2x the cost of tracking off: {verdict}")


if __name__ == "__main__":
    run(main)
