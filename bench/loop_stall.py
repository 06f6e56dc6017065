"""Benchmark — event-loop stalls on a 100k-member guild while the heavy jobs run (issue #16).

A bot that blocks its event loop misses gateway heartbeats, and interactions expire after 3 s.
This fills one guild's database with 100,000 members (activity, 10 % opted in to prompts, 10 %
buddies, 30,000 thanks last week, three weeks of activity days and check-ins), buffers activity
for all 100,000 members, and then runs, one after another at Monday 10:00, with interactions
arriving all the while:

1. the activity flush (100,000 buffered members), 2. the quiet sweep (``nudges.sweep``),
3. the weekly check-in post and 4. its buddy pairing (``checkins.buddies``), 5. the weekly
recognition post, 6. ``/stats`` (90 days) with its chart.

A thread posts a callback to the loop every millisecond (``call_soon_threadsafe``); a stall is
the gap between two of those callbacks running, minus the millisecond: what a heartbeat would
wait. Another callback every 50 ms emits an interaction (the read mix of ``throughput.py`` but
``/leaderboard``, whose all-time standings read every entry of the guild: it is timed alone),
timed from INTERACTION_CREATE to its answer. The same runs for a few seconds with no job first:
the baseline of the same run. Targets: longest stall < 20 ms, interaction p99 < 50 ms.

    .venv/bin/python bench/loop_stall.py [members] [--no-freeze | --compare] [--where]

The bot's start-up heap is frozen after seeding, where a real bot's READY comes (after start-up
against the existing database): ``--no-freeze`` leaves it in the collector's passes, ``--compare``
runs both, one after the other. ``--where`` samples the loop thread's stack while it is stalled.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import os
import random
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from _harness import ResponseClock, add_noop, bench_world, run, summary, table
from simcord import interactions as sim_interactions
from throughput import Recorder

from bot.heap import freeze_long_lived
from bot.models.activity import InsightActivityDay, MemberActivity
from bot.models.checkins import CheckinAnswer, CheckinMember
from bot.models.nudges import NudgePreference
from bot.models.recognition import RecognitionEntry
from bot.services.checkins import week_key

_ARGS = [a for a in sys.argv[1:] if not a.startswith("--")] if __name__ == "__main__" else []
MEMBERS = int(_ARGS[0]) if _ARGS else 100_000
WHERE = "--where" in sys.argv  # sample the loop thread's stack while it is stalled
FREEZE = "--no-freeze" not in sys.argv  # the bot freezes its start-up heap after READY (bot/heap.py)
FIRST = 10**17  # member ids of the seeded members (far from SimCord's)
TICK = 0.001
EVERY = 0.050  # an interaction every 50 ms (20/s)
IN_FLIGHT = 32  # at most this many unanswered interactions; more are counted as skipped
BASELINE_SECONDS = 3.0
STALL_TARGET_MS = 20
P99_TARGET_MS = 50
MONDAY = datetime(2026, 1, 12, 10, 0, tzinfo=UTC)  # SimCord starts on Thursday 2026-01-01
BATCH = 5_000


class GcPauses:
    """Python's garbage collector runs on whichever thread allocates: its pauses, per generation."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._t0 = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._t0))

    def take(self) -> dict[str, float]:
        """Longest pause and number of full (generation 2) collections since the last call."""
        out, self.pauses = self.pauses, []
        return {"gc_max_ms": max((p for _, p in out), default=0.0) * 1000, "gc2": sum(1 for g, _ in out if g == 2)}


class Probe:
    """The 1 ms ticker and the interaction stream, both posted to the loop from a thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, emit: Callable[[], None]) -> None:
        self.loop = loop
        self.emit = emit
        self.last: float | None = None
        self.stalls: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.stalls.append(max(0.0, now - self.last - TICK))
        self.last = now

    def _run(self) -> None:
        next_emit = time.perf_counter()
        deadline = time.perf_counter() + 600  # stops by itself whatever happens
        while not self._stop.is_set() and time.perf_counter() < deadline:
            self.loop.call_soon_threadsafe(self._tick)
            if time.perf_counter() >= next_emit:
                self.loop.call_soon_threadsafe(self.emit)
                next_emit += EVERY
            time.sleep(TICK)

    def start(self) -> None:
        """Start ticking."""
        self._thread.start()

    def stop(self) -> None:
        """Stop ticking (and wait for the thread)."""
        self._stop.set()
        self._thread.join()

    def take(self) -> list[float]:
        """Stalls since the last call."""
        out, self.stalls = self.stalls, []
        self.last = None
        return out


class StallSampler:
    """While the ticker is more than 10 ms late, sample the loop thread's stack (``--where``):
    what the loop was doing when a heartbeat would have waited. A thread holding the GIL (a
    worker's pure-Python loop, a collection) shows as the loop thread's resting place."""

    def __init__(self, probe: Probe) -> None:
        self.probe = probe
        self.loop_thread = threading.get_ident()
        self.stacks: collections.Counter[str] = collections.Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            time.sleep(0.001)
            last = self.probe.last
            if last is None or time.perf_counter() - last < 0.010:
                continue
            frame = sys._current_frames().get(self.loop_thread)
            lines = []
            while frame is not None and len(lines) < 8:
                code = frame.f_code
                where = code.co_filename.rsplit("/", 2)
                lines.append(f"{'/'.join(where[-2:])}:{frame.f_lineno} {code.co_name}")
                frame = frame.f_back
            self.stacks[" < ".join(lines)] += 1

    def start(self) -> None:
        """Start sampling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()
        self._thread.join()

    def take(self) -> list[tuple[str, int]]:
        """The most sampled stacks since the last call."""
        out, self.stacks = self.stacks, collections.Counter()
        return out.most_common(4)


async def seed(w: Any, rng: random.Random) -> None:
    """100k members' rows, written straight to the tables (untimed)."""
    g = w.guild.id
    week_start = MONDAY - timedelta(days=7)
    activity, prefs, buddies, entries, days, answers = [], [], [], [], [], []
    for i in range(MEMBERS):
        member = FIRST + i
        quiet = rng.random() < 0.05
        last = MONDAY - timedelta(days=rng.uniform(15, 60) if quiet else rng.uniform(0, 10))
        joined = MONDAY - timedelta(days=400)
        activity.append({"guild_id": g, "member_id": member, "last_active_at": last, "joined_at": joined})
        if rng.random() < 0.10:
            prefs.append({"guild_id": g, "member_id": member, "opted_in": True, "updated_at": week_start})
        if rng.random() < 0.10:
            buddies.append({"guild_id": g, "member_id": member, "buddies": True, "updated_at": week_start})
        for d in range(3):
            day = (MONDAY - timedelta(days=7 * d + rng.randint(1, 7))).replace(hour=0, minute=0)
            days.append({"guild_id": g, "day": day, "member_id": member})
        if rng.random() < 0.2:
            for d in range(1, 4):
                answers.append(
                    {
                        "guild_id": g,
                        "member_id": member,
                        "week": week_key((MONDAY - timedelta(days=7 * d)).date()),
                        "mood": rng.randint(1, 5),
                        "answered_at": MONDAY - timedelta(days=7 * d - 1),
                    }
                )
    for _ in range(30_000):
        giver, receiver = rng.sample(range(MEMBERS), 2)
        entries.append(
            {
                "guild_id": g,
                "giver_id": FIRST + giver,
                "receiver_id": FIRST + receiver,
                "amount": 1,
                "source": "thanks",
                "created_at": week_start + timedelta(seconds=rng.uniform(0, 7 * 86400)),
            }
        )
    days = list({(r["member_id"], r["day"]): r for r in days}.values())
    async with w.db.session() as s:
        for model, rows in (
            (MemberActivity, activity),
            (NudgePreference, prefs),
            (CheckinMember, buddies),
            (RecognitionEntry, entries),
            (InsightActivityDay, days),
            (CheckinAnswer, answers),
        ):
            for start in range(0, len(rows), BATCH):
                await s.exec(model.__table__.insert(), params=rows[start : start + BATCH])  # type: ignore[attr-defined]
    async with w.db.engine.begin() as conn:
        await conn.exec_driver_sql("ANALYZE")


async def main() -> None:
    rng = random.Random(16)
    async with bench_world() as w:
        with w.env.time_context():
            w.env.settle_timeout = 120  # the first /stats imports matplotlib
            await add_noop(w)
            await w.configure_all()
            await w.env.advance_time((MONDAY - w.now()).total_seconds() - 3 * 86400)  # Friday before
            services = w.services
            now = w.now()
            await services.checkins.configure(w.guild.id, now, weekday=0, time="09:00")
            await services.recognition.configure(w.guild.id, now, weekly_enabled=True, weekly_channel_id=w.general.id)
            await w.alice.slash(w.general, "nudges on")
            started = time.perf_counter()
            await seed(w, rng)
            _say(f"seeded in {time.perf_counter() - started:.1f} s")
            seeded = time.perf_counter() - started
            if FREEZE:  # as `python -m bot` does after READY, which comes after start-up against the
                # existing database: the start-up heap is never scanned again. What the bot makes
                # after READY (the first /stats' matplotlib, the activity buffer) is not frozen here.
                freeze_long_lived("the bench's READY")
            await w.env.advance_time((MONDAY - w.now()).total_seconds())
            _say("capturing interactions")
            rec = Recorder()
            templates = [
                await rec.capture(w.alice.slash(w.general, "points")),
                await rec.capture(w.alice.slash(w.general, "ask mine")),
                await rec.capture(w.carol.slash(w.general, "checkin history")),
                await rec.capture(w.owner.slash(w.general, "setup show")),
                await rec.capture(w.alice.slash(w.general, "noop-db")),
            ]
            t0 = time.perf_counter()
            leaderboard = await rec.capture(w.alice.slash(w.general, "leaderboard"))
            stats = await rec.capture(w.mod.slash(w.general, "stats", period="90d"))  # warm: imports matplotlib
            _say(f"first /stats: {time.perf_counter() - t0:.1f} s")
            clock = ResponseClock(w)
            backend = w.env.backend
            sent = [0]

            skipped = [0]

            def emit() -> None:
                if len(clock.started) >= IN_FLIGHT:  # a backlog: count it instead of growing it
                    skipped[0] += 1
                    return
                kwargs = templates[sent[0] % len(templates)]
                sent[0] += 1
                backend.emit("INTERACTION_CREATE", sim_interactions.base_payload(backend, **kwargs)[1])

            def emit_stats() -> None:
                backend.emit("INTERACTION_CREATE", sim_interactions.base_payload(backend, **stats)[1])

            record_us = services.activity.record_us
            at_us = int(MONDAY.timestamp() * 1_000_000)
            for i in range(MEMBERS):
                record_us(w.guild.id, FIRST + i, at_us - i, MONDAY - timedelta(days=400))

            async def job(name: str) -> Callable[[], Awaitable[Any]]:
                async def go() -> Any:
                    assert await w.bot.scheduler.run(name, w.now()), f"{name} did not run"

                return go

            async def chart() -> None:
                done = len(w.requests("POST", "/webhooks/"))
                emit_stats()
                for _ in range(6000):  # until the chart's follow-up is sent (at most ~60 s)
                    if len(w.requests("POST", "/webhooks/")) > done:
                        return
                    await asyncio.sleep(0.01)
                raise AssertionError("/stats did not answer")

            steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
                ("activity flush (100k buffered)", await job("activity.flush")),
                ("quiet sweep", await job("nudges.sweep")),
                ("weekly check-in post", await job("checkins.post")),
                ("buddy pairing", await job("checkins.buddies")),
                ("weekly recognition post", await job("recognition.weekly")),
                ("/stats 90d with chart", chart),
            ]
            solo = []
            for kwargs in [*templates, leaderboard]:  # each interaction alone first: what one costs at this size
                for _ in range(5):
                    backend.emit("INTERACTION_CREATE", sim_interactions.base_payload(backend, **kwargs)[1])
                    await w.env.settle()
                times = sorted(clock.take())
                solo.append(f"/{kwargs['data']['name']} {times[len(times) // 2] * 1000:.1f} ms")
            _say("alone: " + ", ".join(solo))
            probe = Probe(asyncio.get_running_loop(), emit)
            gcs = GcPauses()
            sampler = StallSampler(probe) if WHERE else None
            where: list[tuple[str, list[tuple[str, int]]]] = []
            rows = []
            tracked = len(gc.get_objects())
            probe.start()
            if sampler is not None:
                sampler.start()
            try:
                await _real_sleep(BASELINE_SECONDS)
                rows.append(_row("no job (baseline)", BASELINE_SECONDS, probe.take(), clock.take()) | gcs.take())
                if sampler is not None:
                    where.append(("no job (baseline)", sampler.take()))
                for name, step in steps:
                    _say(name)
                    t0 = time.perf_counter()
                    await step()
                    rows.append(_row(name, time.perf_counter() - t0, probe.take(), clock.take()) | gcs.take())
                    if sampler is not None:
                        where.append((name, sampler.take()))
                probe.take()
                clock.take()
                gcs.take()
                await _real_sleep(1.0)
                rows.append(_row("no job (after)", 1.0, probe.take(), clock.take()) | gcs.take())
            finally:
                if sampler is not None:
                    sampler.stop()
                probe.stop()
            await w.env.settle()
            posts = [m for m in w.checkins.history() if m.author.bot]
            weekly = [m for m in w.general.history() if m.author.bot and m.embeds]
    print(
        f"event-loop stalls with {MEMBERS} members (seeded in {seeded:.1f} s); 1 ms ticker, an interaction every "
        f"{EVERY * 1000:.0f} ms; cpus={os.cpu_count()}, load={' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print("each interaction alone (median of 5): " + ", ".join(solo))
    columns = ["step", "seconds", "ticks", "max_stall_ms", "p99_stall_ms", "answered", "p99_ms", "max_ms"]
    print(table(rows, [*columns, "gc_max_ms", "gc2"]))
    print(f"targets: max_stall < {STALL_TARGET_MS} ms and interaction p99 < {P99_TARGET_MS} ms during every step")
    print(f"interactions not sent because {IN_FLIGHT} were unanswered: {skipped[0]}")
    print(
        f"heap: {tracked} objects in the collector's passes when measuring started, "
        f"{gc.get_freeze_count()} frozen ({'frozen after seeding' if FREEZE else '--no-freeze'})"
    )
    for name, stacks in where:
        print(f"loop thread while stalled > 10 ms, {name}:")
        for stack, n in stacks:
            print(f"  {n:>4} samples: {stack}")
    print(f"check: {len(posts)} check-in post(s), {len(weekly)} embed(s) in #general (weekly post)")


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


async def _real_sleep(seconds: float) -> None:
    """Wait in wall time (the virtual clock does not move): let the ticker and stream run."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:  # noqa: ASYNC110 - a wall-clock wait, polled on purpose
        await asyncio.sleep(0.005)


def _row(step: str, seconds: float, stalls: list[float], samples: list[float]) -> dict[str, Any]:
    ordered = sorted(stalls) or [0.0]
    row: dict[str, Any] = {
        "step": step,
        "seconds": seconds,
        "ticks": len(stalls),
        "max_stall_ms": ordered[-1] * 1000,
        "p99_stall_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "answered": len(samples),
    }
    if samples:
        row.update(p99_ms=summary(samples)["p99_ms"], max_ms=max(samples) * 1000)
    return row


def compare() -> None:
    """``--compare``: the whole run twice, one after the other, frozen after seeding (as the bot
    after READY) and ``--no-freeze``; both tables printed."""
    import subprocess

    args = [a for a in sys.argv[1:] if a != "--compare"]
    for extra in ([], ["--no-freeze"]):
        out = subprocess.run([sys.executable, __file__, *args, *extra], check=True, capture_output=True, text=True)
        print(f"=== {'--no-freeze' if extra else 'frozen after seeding'} ===")
        print(out.stdout, flush=True)


if __name__ == "__main__":
    if "--compare" in sys.argv:
        compare()
    else:
        run(main)
