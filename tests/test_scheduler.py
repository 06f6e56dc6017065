"""The scheduler is only a clock: jobs get `now`, errors never escape, leadership gates runs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from bot.scheduler import Scheduler

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class Follower:
    """Another process leads."""

    async def is_leader(self) -> bool:
        return False

    async def release(self) -> None:
        return None


async def test_jobs_receive_the_injected_now() -> None:
    seen: list[datetime] = []

    async def job(now: datetime) -> None:
        seen.append(now)

    sched = Scheduler(now=lambda: T0, ticking=False)
    sched.every("x", 60, job)
    assert await sched.run("x")
    await sched.run_all(T0.replace(hour=10))
    assert seen == [T0, T0.replace(hour=10)]


async def test_a_failing_job_is_logged_with_an_id_and_does_not_raise(caplog: pytest.LogCaptureFixture) -> None:
    async def boom(now: datetime) -> None:
        raise RuntimeError("nope")

    sched = Scheduler(now=lambda: T0, ticking=False)
    sched.every("boom", 60, boom)
    with caplog.at_level(logging.ERROR):
        assert await sched.run("boom") is False
    assert "scheduled job boom failed (error id" in caplog.text


async def test_followers_do_not_run_jobs() -> None:
    ran: list[datetime] = []

    async def job(now: datetime) -> None:
        ran.append(now)

    sched = Scheduler(now=lambda: T0, leadership=Follower(), ticking=False)
    sched.every("x", 60, job)
    assert await sched.run("x") is False and ran == []


async def test_per_guild_jobs_run_in_every_shard_process_and_only_in_the_leader_otherwise() -> None:
    ran: list[str] = []

    def job(name: str):
        async def run(now: datetime) -> None:
            ran.append(name)

        return run

    sched = Scheduler(now=lambda: T0, leadership=Follower(), ticking=False)
    sched.every("guilds", 60, job("guilds"), per_guild=True)
    sched.every("global", 60, job("global"))
    sched.every("local", 60, job("local"), leader_only=False)
    await sched.run_all()
    assert ran == ["local"], "a follower holding every shard leaves guild work to the leader"
    sched.shard_local = True  # started with SHARD_IDS: only this process can reach its guilds
    await sched.run_all()
    assert ran == ["local", "guilds", "local"], "guild work runs here; global work still only in the leader"


async def test_guild_jobs_wait_until_the_guilds_are_loaded() -> None:
    ran: list[str] = []

    async def job(now: datetime) -> None:
        ran.append("x")

    sched = Scheduler(now=lambda: T0, ticking=False)
    sched.every("guilds", 60, job, per_guild=True)
    sched.every("db", 60, job)
    sched.guilds_ready = lambda: False  # before READY, or a shard's guilds still arriving
    assert await sched.run("guilds") is False and await sched.run("db") is True
    sched.guilds_ready = lambda: True
    assert await sched.run("guilds") is True and ran == ["x", "x"]


async def test_start_registers_interval_jobs_in_memory_and_shutdown_stops_them() -> None:
    async def job(now: datetime) -> None:
        return None

    sched = Scheduler(now=lambda: T0)
    sched.every("a", 30, job)
    sched.start()
    try:
        aps = sched._aps
        assert aps is not None and aps.running
        assert [j.id for j in aps.get_jobs()] == ["a"]
        sched.every("b", 60, job)
        assert {j.id for j in aps.get_jobs()} == {"a", "b"}
        sched.remove("a")
        assert [j.id for j in aps.get_jobs()] == ["b"]
    finally:
        await sched.shutdown()
    assert sched._aps is None


async def test_shutdown_lets_a_running_job_finish_instead_of_cancelling_it() -> None:
    import asyncio

    started, release, finished = asyncio.Event(), asyncio.Event(), []

    async def slow(now: datetime) -> None:
        started.set()
        await release.wait()  # e.g. in the middle of a database call
        finished.append(now)

    sched = Scheduler(now=lambda: T0)
    sched.every("slow", 3600, slow)
    sched.start()
    running = asyncio.create_task(sched.run("slow"))
    await started.wait()
    stopping = asyncio.create_task(sched.shutdown(grace=5))
    await asyncio.sleep(0)
    release.set()
    await stopping
    assert await running is True and finished == [T0]


async def test_per_process_jobs_run_on_followers_too() -> None:
    ran: list[str] = []

    async def flush(now: datetime) -> None:
        ran.append("flush")

    async def post(now: datetime) -> None:
        ran.append("post")

    sched = Scheduler(now=lambda: T0, leadership=Follower(), ticking=False)
    sched.every("activity.flush", 30, flush, leader_only=False)
    sched.every("checkins.post", 60, post)
    await sched.run_all()
    assert ran == ["flush"]
