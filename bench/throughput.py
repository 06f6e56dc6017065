"""Benchmark 2 — throughput: interactions per second sustained for a mixed workload.

SimCord's actors (``member.slash``) settle the whole world after every interaction, which costs
far more than the bot's own work, so this benchmark captures each interaction's ``data`` once
through an actor, then creates fresh interactions with SimCord's own builder and emits them as
INTERACTION_CREATE, keeping 1 and then 32 in flight, as a busy gateway would. An interaction
counts when its callback request (the answer) reaches Discord; the run ends when all have. The
no-op command is run the same way in the same process, as the baseline.

Mixed workload (per 10 interactions): 2× /points, 1× /leaderboard, 1× /ask mine,
1× /checkin history, 1× /setup show, 1× /checkin now (opens a modal), 3× /thanks (a write:
a different giver→receiver pair each time among 200 members, so no cooldown or cap refuses
one; the ledger is counted after each run to prove it).
Target: ≥ 500/s on SQLite.

    .venv/bin/python bench/throughput.py [interactions]
    KINSHIP_TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test .venv/bin/python bench/throughput.py
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

from _harness import TransactionCounter, add_noop, bench_world, run, table
from simcord import interactions as sim_interactions
from sqlalchemy import func
from sqlmodel import select

from bot.models.recognition import RecognitionEntry
from tests.harness.world import PG_ENV, World

N = int(sys.argv[1]) if __name__ == "__main__" and len(sys.argv) > 1 else 2000
LEVELS = (1, 32)  # interactions in flight
MEMBERS = 200
TARGET = 500
PAST_COOLDOWN = 3601  # seconds: the pair cooldown is set to one hour


class Recorder:
    """Captures the ``data`` of interactions made through actors, to replay them."""

    def __init__(self) -> None:
        self.last: dict[str, Any] | None = None
        self._original = sim_interactions.base_payload

        def capture(backend: Any, **kwargs: Any) -> Any:
            self.last = kwargs
            return self._original(backend, **kwargs)

        sim_interactions.base_payload = capture

    async def capture(self, step: Any) -> dict[str, Any]:
        """Run ``step`` (an actor call) and return the interaction it made."""
        await step
        assert self.last is not None
        return dict(self.last)


class Answers:
    """Counts interaction callbacks (answers) as they reach the fake Discord."""

    def __init__(self, world: World) -> None:
        self.count = 0
        self.changed = asyncio.Event()
        adapter = world.env._webhook_adapter
        request = adapter.request

        async def counted(route: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return await request(route, *args, **kwargs)
            finally:
                if str(getattr(route, "url", "")).endswith("/callback"):
                    self.count += 1
                    self.changed.set()

        adapter.request = counted


async def sustained(world: World, answers: Answers, templates: list[dict[str, Any]], n: int, concurrency: int) -> float:
    """Emit ``n`` interactions (cycling through ``templates``) with ``concurrency`` in flight;
    return interactions per second until the last one was answered."""
    backend = world.env.backend
    start_count = answers.count
    sent = 0
    started = time.perf_counter()
    while answers.count - start_count < n:
        while sent < n and sent - (answers.count - start_count) < concurrency:
            kwargs = templates[sent % len(templates)]
            _record, payload = sim_interactions.base_payload(backend, **kwargs)
            backend.emit("INTERACTION_CREATE", payload)
            sent += 1
        answers.changed.clear()
        await asyncio.wait_for(answers.changed.wait(), timeout=30)
    elapsed = time.perf_counter() - started
    await world.env.settle()  # let work after the answers (deliveries, role updates) finish, untimed
    return n / elapsed


async def mixed_templates(world: World, rec: Recorder) -> tuple[list[dict[str, Any]], int]:
    """The mix, and how many thanks it holds. Every thanks in it is a different giver→receiver
    pair (``MEMBERS`` × 3 pairs), so the first ``N`` interactions never hit a cooldown or cap."""
    w = world
    members = [w.member(f"m{i}") for i in range(MEMBERS)]
    await w.env.settle()
    reads = [
        await rec.capture(w.alice.slash(w.general, "points")),
        await rec.capture(w.bob.slash(w.general, "points")),
        await rec.capture(w.alice.slash(w.general, "leaderboard")),
        await rec.capture(w.alice.slash(w.general, "ask mine")),
        await rec.capture(w.carol.slash(w.general, "checkin history")),
        await rec.capture(w.owner.slash(w.general, "setup show")),
        await rec.capture(w.carol.slash(w.general, "checkin now")),
    ]
    template = await rec.capture(w.alice.slash(w.general, "thanks", member=w.bob, reason="for being there"))
    text = json.dumps(template["data"])
    thanks = []
    for k in (1, 2, 3):
        for i, giver in enumerate(members):
            receiver = members[(i + k) % MEMBERS]
            data = json.loads(text.replace(str(w.bob.id), str(receiver.id)))
            thanks.append({**template, "user_id": giver.id, "data": data})
    mix = []
    for block in range(len(thanks) // 3):
        mix += [*reads, *thanks[3 * block : 3 * block + 3]]
    return mix, len(thanks)


async def entries(world: World) -> int:
    """Recognition ledger rows (to check that every thanks in a run was accepted)."""
    async with world.db.session() as s:
        return (await s.exec(select(func.count()).select_from(RecognitionEntry))).one()


async def one_backend(backend: str) -> list[dict[str, Any]]:
    rows = []
    async with bench_world(backend) as w:
        with w.env.time_context():
            await add_noop(w)
            await w.configure(help_channel_id=w.help.id, mod_channel_id=w.mods.id, checkin_channel_id=w.checkins.id)
            await w.owner.slash(w.general, "setup recognition points", cooldown_hours=1, daily_cap=50)
            rec = Recorder()
            noop = [await rec.capture(w.alice.slash(w.general, "noop"))]
            noop_db = [await rec.capture(w.alice.slash(w.general, "noop-db"))]
            mix, _ = await mixed_templates(w, rec)
            assert len(mix) >= N, f"at most {len(mix)} interactions per run"
            answers = Answers(w)
            tx = TransactionCounter(w)
            for level in LEVELS:
                base = None
                for name, templates in (("/noop", noop), ("/noop-db (1 read)", noop_db), ("mixed", mix)):
                    await sustained(w, answers, templates, min(N, 300), level)  # warm-up
                    await w.env.advance_time(PAST_COOLDOWN)
                    tx.take()
                    before = await entries(w)
                    rate = await sustained(w, answers, templates, N, level)
                    per = tx.take() / N
                    thanked = await entries(w) - before
                    expected = sum(1 for t in templates[:N] if t["data"].get("name") == "thanks")
                    assert thanked == expected, f"{expected - thanked} thanks were refused: not the mix intended"
                    await w.env.advance_time(PAST_COOLDOWN)
                    base = base or rate
                    row = {"database": backend, "in_flight": level, "workload": name, "n": N, "per_s": rate}
                    row.update(db_tx=per, x_noop_cost=base / rate)
                    if name == "mixed" and backend == "sqlite":
                        row["target"] = f">= {TARGET}/s: " + ("met" if rate >= TARGET else "MISSED")
                    rows.append(row)
    return rows


async def main() -> None:
    rows = await one_backend("sqlite")
    if os.environ.get(PG_ENV):
        rows += await one_backend("postgresql")
    print(f"throughput, {N} interactions per workload and level (after a warm-up)")
    print(table(rows, ["database", "in_flight", "workload", "n", "db_tx", "per_s", "x_noop_cost", "target"]))
    print("db_tx: database transactions per interaction; x_noop_cost: time per interaction / the no-op's")


if __name__ == "__main__":
    run(main)
