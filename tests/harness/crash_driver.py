"""A bot process for the kill -9 test (``tests/test_crash.py``); not a test module.

``submit DB RECEIPTS COUNT`` runs the real bot in SimCord on the SQLite file ``DB``, configures the
guild, and files ``COUNT`` reports as rotating members, appending each receipt's case number to
``RECEIPTS`` (flushed and fsynced) the moment the member sees it, while a third of Discord's
answers to the bot fail (``tests/harness/faults.py``), so some reports are still in the outbox.
The test kills it with SIGKILL.

``deliver DB`` starts the bot again on the same file (a fresh virtual Discord: SimCord's ids are
deterministic, so the guild and channels have the same ids), notes which reports the database
says are undelivered, runs the delivery job on the virtual clock until none is, and prints one
JSON line: ``undelivered_before`` (case numbers), ``posted`` (case numbers of the report messages
in this run's moderators' channel, repeats included) and ``stored`` / ``delivered`` (from the DB).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlmodel import select

from bot.models.reports import Report
from tests.harness.faults import flaky_discord
from tests.harness.world import TestDatabase, World, running_world

REPORTERS = 20


async def _configure(w: World) -> list[Any]:
    await w.configure(mod_channel_id=w.mods.id, mod_role_id=w.mod_role.id, help_channel_id=w.help.id)
    members = [w.member(f"reporter{i}") for i in range(REPORTERS)]
    await w.env.settle()
    return members


async def submit(db_path: str, receipts: str, count: int) -> None:
    async with running_world(TestDatabase(f"sqlite+aiosqlite:///{db_path}")) as w:
        with w.env.time_context():
            members = await _configure(w)
            await w.owner.slash(w.general, "setup reports limits", **{"per-window": 20, "per-day": 100})
            fd = os.open(receipts, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            # A third of Discord's answers fail, so some reports wait in the outbox when the kill comes.
            with flaky_discord(rate=0.33, seed=int(os.environ.get("CRASH_SEED", "9"))):
                await _file(w, members, fd, count)


async def _file(w: World, members: list[Any], fd: int, count: int) -> None:
    for i in range(count):
        reporter, target = members[i % REPORTERS], members[(i + 1) % REPORTERS]
        shown = await reporter.slash(w.general, "report", member=target, reason=f"report {i}")
        done = await reporter.submit_modal(shown, {"details": "", "rule": ""})
        text = done.response.content if done.response else ""
        if "case #" in text:
            case_no = text.split("case #", 1)[1].split()[0].strip(".,!*")
            os.write(fd, f"{case_no}\n".encode())
            os.fsync(fd)


async def deliver(db_path: str) -> None:
    async with running_world(TestDatabase(f"sqlite+aiosqlite:///{db_path}")) as w:
        with w.env.time_context():
            await _configure(w)
            async with w.db.session() as s:
                before = sorted(r.case_no for r in (await s.exec(select(Report))).all() if r.delivered_at is None)
            for _ in range(30):
                await w.advance(300)  # past any lease a killed process held
                await w.tick("reports.deliver")
                if await w.services.reports.undelivered(w.guild.id) == 0:
                    break
            titles = [m.embeds[0].title or "" for m in w.mods.history() if m.author.bot and m.embeds]
            posted = [int(t.split(" ")[1].lstrip("#")) for t in titles if t.startswith("Case #")]
            async with w.db.session() as s:
                rows = (await s.exec(select(Report))).all()
            result = {
                "undelivered_before": before,
                "posted": posted,
                "stored": sorted(r.case_no for r in rows),
                "delivered": sorted(r.case_no for r in rows if r.delivered_at is not None),
            }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "submit":
        asyncio.run(submit(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    elif mode == "deliver":
        asyncio.run(deliver(sys.argv[2]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")
