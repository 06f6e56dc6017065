"""Benchmark — two shard processes on one PostgreSQL: throughput next to one process (issue #16).

Each process is a real bot in its own SimCord world, started as ``SHARD_COUNT=2`` with its own
``SHARD_IDS`` (the standard guild on its shard, so the two serve different guilds, as Discord
would route them), on the same PostgreSQL schema. Each runs ``throughput.py``'s mixed workload
(32 in flight). In the same run: one process alone, then both at once (started together on a
signal from this script); the combined rate is all interactions over the wall time from the
first start to the last finish. Duplicates are checked in the database afterwards: each
process's thanks are counted in its guild's ledger (every one exactly once) and no ledger row
appears twice.

    KINSHIP_TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/kinship_bench \\
        .venv/bin/python bench/shards.py [interactions per process]
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import add_noop, run
from sqlalchemy import func, select, text
from throughput import Answers, Recorder, mixed_templates, sustained

from bot.db import Database
from bot.models.recognition import RecognitionEntry
from tests.harness.world import PG_ENV, TestDatabase, running_world

N = int(sys.argv[1]) if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] != "--child" else 1500
IN_FLIGHT = 32
TARGET = 1.7


async def child(url: str, schema: str, shard: int, n: int) -> None:
    """One shard process: prepare, say "ready", wait for "go", run the mix, report."""
    tdb = TestDatabase(url, schema)
    with tempfile.TemporaryDirectory():
        async with running_world(tdb, shards=(2, (shard,)), guild_shard=shard) as w:
            with w.env.time_context():
                await add_noop(w)
                await w.configure(help_channel_id=w.help.id, mod_channel_id=w.mods.id, checkin_channel_id=w.checkins.id)
                await w.owner.slash(w.general, "setup recognition points", cooldown_hours=1, daily_cap=50)
                rec = Recorder()
                mix, _ = await mixed_templates(w, rec)
                answers = Answers(w)
                await sustained(w, answers, mix, 200, IN_FLIGHT)  # warm-up
                await w.env.advance_time(3601)
                before = await guild_entries(w)
                print(json.dumps({"ready": True}), flush=True)
                await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
                started = time.time()
                rate = await sustained(w, answers, mix[200:] + mix[:200], n, IN_FLIGHT)
                ended = time.time()
                expected = sum(1 for t in (mix[200:] + mix[:200])[:n] if t["data"].get("name") == "thanks")
                print(
                    json.dumps(
                        {
                            "guild": w.guild.id,
                            "rate": rate,
                            "started": started,
                            "ended": ended,
                            "thanked": await guild_entries(w) - before,
                            "expected": expected,
                        }
                    ),
                    flush=True,
                )


async def guild_entries(w: Any) -> int:
    """This process's guild's ledger rows (the other process writes its own guild's)."""
    async with w.db.session() as s:
        query = select(func.count()).select_from(RecognitionEntry).where(RecognitionEntry.guild_id == w.guild.id)
        return (await s.exec(query)).one()[0]


def spawn(url: str, schema: str, shard: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--child", url, schema, str(shard), str(N)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent,
    )


def together(url: str, schema: str, shards: list[int]) -> list[dict[str, Any]]:
    procs = [spawn(url, schema, s) for s in shards]
    try:
        for p in procs:
            assert p.stdout is not None
            assert json.loads(p.stdout.readline())["ready"]
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        out = []
        for p in procs:
            assert p.stdout is not None
            out.append(json.loads(p.stdout.readline()))
            p.wait(timeout=120)
        return out
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


async def duplicates(url: str, schema: str) -> int:
    db = Database.from_url(url, schema=schema)
    try:
        async with db.engine.connect() as conn:
            return (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM (SELECT 1 FROM recognition_entry GROUP BY guild_id, giver_id, "
                        "receiver_id, created_at HAVING count(*) > 1) d"
                    )
                )
            ).scalar_one()
    finally:
        await db.close()


async def main() -> None:
    url = os.environ[PG_ENV]
    loop = asyncio.get_running_loop()
    # A fresh schema per run: SimCord's clock and ids are the same in every start, so a second run
    # on the first one's rows would meet its own thanks' cooldowns (every /thanks refused, and
    # cheaper than a real one: that was the "0/90" of the first version of this script).
    with tempfile.TemporaryDirectory() as tmp:
        async with TestDatabase.create("postgresql", Path(tmp)) as tdb:
            assert tdb.schema is not None
            alone = await loop.run_in_executor(None, together, url, tdb.schema, [0])
        async with TestDatabase.create("postgresql", Path(tmp)) as tdb:
            assert tdb.schema is not None
            both = await loop.run_in_executor(None, together, url, tdb.schema, [0, 1])
            dupes = await duplicates(url, tdb.schema)
    one = alone[0]["rate"]
    wall = max(r["ended"] for r in both) - min(r["started"] for r in both)
    combined = len(both) * N / wall
    print(f"shard processes on one PostgreSQL, mixed workload, {IN_FLIGHT} in flight, {N} interactions per process;")
    print(f"cpus={os.cpu_count()}, load={' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'run':<22}{'process':>8}{'per_s':>10}{'thanks_ok':>11}")
    for name, results in (("one process", alone), ("two processes", both)):
        for i, r in enumerate(results):
            ok = f"{r['thanked']}/{r['expected']}"
            print(f"{name:<22}{i:>8}{r['rate']:>10.1f}{ok:>11}")
    complete = all(r["thanked"] == r["expected"] for r in alone + both)
    verdict = "met" if combined >= TARGET * one and dupes == 0 and complete else "MISSED"
    print(f"combined: {combined:.1f}/s over {wall:.2f} s = {combined / one:.2f}x one process (target >= {TARGET}x)")
    print(f"duplicate ledger rows: {dupes}; every thanks recorded once: {complete}; target {verdict}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _, _, url, schema, shard, n = sys.argv
        run(lambda: child(url, schema, int(shard), int(n)))
    else:
        run(main)
