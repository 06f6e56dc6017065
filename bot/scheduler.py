"""The clock. Schedules live in tables; this only wakes services up.

Every job is a coroutine ``job(now)`` registered by a cog at load time. APScheduler (3.x, memory
job store — two schedulers must never share a store) calls :meth:`Scheduler.run` on an interval;
the job asks the database what is due at ``now`` and does it idempotently (unique keys), so a
restart, a missed run or a second process never sends twice. Tests skip APScheduler and call
:meth:`Scheduler.run` with a controlled clock.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

Job = Callable[[datetime], Awaitable[object]]


class Leadership(Protocol):
    """Decides whether this process runs the scheduled jobs (see issue #10)."""

    async def is_leader(self) -> bool:
        """Whether jobs should run in this process now."""
        ...

    async def release(self) -> None:
        """Give up leadership (on shutdown)."""
        ...


class AlwaysLeader:
    """The single-process default."""

    async def is_leader(self) -> bool:
        """Always lead."""
        return True

    async def release(self) -> None:
        """Nothing to release."""


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    seconds: float
    job: Job
    leader_only: bool = True
    per_guild: bool = False


class Scheduler:
    """Registers periodic jobs and runs them with the injected clock."""

    def __init__(
        self, now: Callable[[], datetime], leadership: Leadership | None = None, *, ticking: bool = True
    ) -> None:
        self.now = now
        self.ticking = ticking  # tests turn the wall clock off and call run() themselves
        self.leadership: Leadership = leadership or AlwaysLeader()
        #: Set by the bot when it holds only some shards (``SHARD_IDS``): then ``per_guild`` jobs run
        #: here for this process's guilds, whoever leads (only this process can reach them).
        self.shard_local = False
        #: Set by the bot: whether its guilds are loaded (False until every shard is READY, when a
        #: guild in the cache has no channels or roles yet). A single unavailable guild does not hold
        #: the jobs: ``bot.guild_scope`` leaves it out of every guild job's claims instead.
        self.guilds_ready: Callable[[], bool] = lambda: True
        self._jobs: dict[str, _Entry] = {}
        self._aps: AsyncIOScheduler | None = None
        self._running: set[asyncio.Task[object]] = set()

    @property
    def jobs(self) -> list[str]:
        """Names of the registered jobs."""
        return list(self._jobs)

    def every(self, name: str, seconds: float, job: Job, *, leader_only: bool = True, per_guild: bool = False) -> None:
        """Run ``job(now)`` every ``seconds`` (replacing a job of the same name).

        - default: only in the leader (work on the database alone, e.g. retention);
        - ``leader_only=False``: in every process (each flushes its own buffers);
        - ``per_guild=True``: work that acts on guilds in Discord. The job must limit itself to
          ``bot.guild_scope`` (the available guilds on this process's shards). A process holding
          every shard runs it when it leads; one started with ``SHARD_IDS`` runs it for its own guilds.
        """
        self._jobs[name] = _Entry(name, seconds, job, leader_only, per_guild)
        if self._aps is not None:
            self._add(self._jobs[name])

    def remove(self, name: str) -> None:
        """Stop running ``name``."""
        self._jobs.pop(name, None)
        if self._aps is not None and self._aps.get_job(name):
            self._aps.remove_job(name)

    async def run(self, name: str, now: datetime | None = None) -> bool:
        """Run one job now (if this process leads). Errors are logged with an id, never raised."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)  # shutdown() lets these finish instead of cancelling them
        try:
            return await self._run(name, now)
        finally:
            if task is not None:
                self._running.discard(task)

    async def _run(self, name: str, now: datetime | None) -> bool:
        entry = self._jobs[name]
        if entry.per_guild and not self.guilds_ready():
            return False  # the guilds would look empty or gone: wait for them instead
        local = entry.per_guild and self.shard_local
        if entry.leader_only and not local and not await self.leadership.is_leader():
            return False
        try:
            await entry.job(now or self.now())
        except Exception:
            error_id = uuid.uuid4().hex[:8]
            log.exception("scheduled job %s failed (error id %s)", name, error_id)
            return False
        return True

    async def run_all(self, now: datetime | None = None) -> None:
        """Run every job once, in registration order (tests, and start-up catch-up)."""
        for name in list(self._jobs):
            await self.run(name, now)

    def start(self) -> None:
        """Start ticking (idempotent)."""
        if self._aps is not None or not self.ticking:
            return
        self._aps = AsyncIOScheduler(job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60})
        for entry in self._jobs.values():
            self._add(entry)
        self._aps.start()

    def _add(self, entry: _Entry) -> None:
        assert self._aps is not None
        self._aps.add_job(
            self.run, "interval", seconds=entry.seconds, args=[entry.name], id=entry.name, replace_existing=True
        )

    async def shutdown(self, grace: float = 10.0) -> None:
        """Stop ticking, let running jobs finish (at most ``grace`` seconds), release leadership.

        ``AsyncIOScheduler.shutdown`` cancels jobs still running; a job cancelled inside a database
        call leaves its connection half-closed, and closing the engine after that can hang.
        """
        if self._aps is not None:
            self._aps.pause()
            running = self._running - {asyncio.current_task()}
            if running:
                await asyncio.wait(running, timeout=grace)
            self._aps.shutdown(wait=False)
            self._aps = None
        await self.leadership.release()
