"""Benchmark 5 — memory: resident set size with 100k tracked and 10k cached members.

Each configuration runs in a fresh subprocess (so nothing freed-but-kept by the allocator leaks
from one into the next) and reports ``VmRSS`` from ``/proc/self/status`` after a full GC:

* ``idle``      — the bot with every cog loaded, in SimCord, on a fresh SQLite database;
* ``tracked``   — plus 100k members' activity recorded in the buffer (as between two flushes),
  then flushed to the database (RSS read both before and after the flush);
* ``cached``    — plus 10k members in discord.py's member cache, fed as one GUILD_MEMBERS_CHUNK
  (without the members intent discord.py keeps almost none of them, so they are also added to the
  cache directly: the worst case);
* ``both``      — tracked and cached together.

Target: ≤ 150 MB for ``both``. The growth over ``idle`` is what the bot's data costs; ``idle``
includes SimCord and the test harness, which production does not load (``imports`` shows the
interpreter with only the production imports, for comparison).

    .venv/bin/python bench/memory.py
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import discord
from _harness import bench_world, run, table

TRACKED = 100_000
CACHED = 10_000
TARGET_MB = 150
CONFIGS = ("imports", "idle", "tracked", "cached", "both")


def rss_mb() -> float:
    """Resident set size of this process, in MB."""
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def member_payload(i: int, joined: str) -> dict[str, Any]:
    """A guild member as Discord sends it in GUILD_MEMBERS_CHUNK."""
    return {
        "user": {"id": str(2 * 10**17 + i), "username": f"member{i}", "discriminator": "0", "avatar": None},
        "roles": [],
        "joined_at": joined,
        "deaf": False,
        "mute": False,
        "flags": 0,
    }


async def measure(config: str) -> dict[str, Any]:
    async with bench_world() as w:
        with w.env.time_context():
            await w.env.settle()
        out: dict[str, Any] = {"config": config, "rss_mb": rss_mb()}
        if config in ("cached", "both"):
            joined = (w.now() - timedelta(days=30)).isoformat()
            chunk = {
                "guild_id": str(w.guild.id),
                "members": [member_payload(i, joined) for i in range(CACHED)],
                "chunk_index": 0,
                "chunk_count": 1,
            }
            state = w.bot._connection
            state.parsers["GUILD_MEMBERS_CHUNK"](chunk)
            guild = w.bot.get_guild(w.guild.id)
            # Kinship asks for no members intent, so discord.py caches almost no one; to measure
            # the worst case anyway, put every member of the chunk in the cache as it would.
            for data in chunk["members"]:
                guild._add_member(discord.Member(data=data, guild=guild, state=state))
            del chunk
            out["cached"] = len(guild.members)
        if config in ("tracked", "both"):
            activity = w.services.activity
            now = w.now()
            for i in range(TRACKED):
                activity.record(w.guild.id, 3 * 10**17 + i, now - timedelta(seconds=i), now - timedelta(days=90))
            out["tracked"] = activity.pending
            out["rss_mb"] = rss_mb()
            await activity.flush(now)
            out["rss_after_flush_mb"] = rss_mb()
        else:
            out["rss_mb"] = rss_mb()
        return out


def child(config: str) -> None:
    result: dict[str, Any] = {}
    if config == "imports":
        import bot.__main__  # noqa: F401  (everything production imports at start-up)
        from bot.app import all_extensions

        for name in all_extensions():
            __import__(name)
        sys.stdout.write(json.dumps({"config": config, "rss_mb": rss_mb()}) + "\n")
        return

    async def main() -> None:
        result.update(await measure(config))

    run(main)
    sys.stdout.write(json.dumps(result) + "\n")


def parent() -> None:
    rows = []
    for config in CONFIGS:
        done = subprocess.run(
            [sys.executable, __file__, "--child", config], capture_output=True, text=True, check=True, timeout=600
        )
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    idle = rows[1]["rss_mb"]
    for row in rows:
        row["over_idle_mb"] = row["rss_mb"] - idle
    both = rows[-1]
    verdict = "met" if both["rss_mb"] <= TARGET_MB else "MISSED"
    production = rows[0]["rss_mb"] + both["over_idle_mb"]
    print(f"resident memory (VmRSS), each configuration in a fresh process; {TRACKED} tracked, {CACHED} cached")
    print(table(rows, ["config", "tracked", "cached", "rss_mb", "over_idle_mb", "rss_after_flush_mb"]))
    print(f"target <= {TARGET_MB} MB (both, SimCord included): {verdict}")
    print(f"estimate without SimCord (imports + what 'both' adds over idle): {production:.1f} MB")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        parent()
