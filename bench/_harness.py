"""Shared plumbing for the benchmarks: the real bot in SimCord, timed at discord.py's seams.

A figure is always printed next to a baseline measured in the same run (a no-op command, or
tracking switched off), so a noisy machine changes both sides alike and not the verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_CALLBACK = re.compile(r"/interactions/([0-9]+)/[^/]+/callback")
sys.path.insert(0, str(ROOT))

import discord  # noqa: E402
from discord import app_commands  # noqa: E402
from sqlalchemy import event  # noqa: E402

from bot.db import Database  # noqa: E402
from bot.models.guild import GuildConfig  # noqa: E402
from tests.harness.world import TestDatabase, World, running_world  # noqa: E402


@contextlib.asynccontextmanager
async def bench_world(backend: str = "sqlite", extensions: list[str] | None = None) -> AsyncIterator[World]:
    """A running world on a fresh database (``backend`` "sqlite" or "postgresql")."""
    with tempfile.TemporaryDirectory() as tmp:
        async with TestDatabase.create(backend, Path(tmp)) as tdb, running_world(tdb, extensions=extensions) as w:
            yield w


@contextlib.asynccontextmanager
async def fresh_database(backend: str, tmp: Path) -> AsyncIterator[Database]:
    """An empty database migrated here for real: a SQLite file in ``tmp``, or a PostgreSQL schema
    (``KINSHIP_TEST_DATABASE_URL``) dropped afterwards."""
    async with TestDatabase.create(backend, tmp, migrated=False) as tdb:
        db = tdb.open()
        try:
            await db.migrate()
            yield db
        finally:
            await db.close()


async def add_noop(world: World) -> None:
    """``/noop``, a command that does nothing but answer: the baseline every command is compared
    with; and ``/noop-db``, which also reads the guild's settings row once (one database
    transaction, the least a real command does — bypassing the per-process settings cache, which
    would otherwise answer it without the database)."""

    @app_commands.command(name="noop", description="Answers and does nothing else")
    async def noop(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("ok", ephemeral=True)

    @app_commands.command(name="noop-db", description="Reads the guild's settings once and answers")
    async def noop_db(interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        async with world.db.session() as s:
            await s.get(GuildConfig, interaction.guild_id)
        await interaction.response.send_message("ok", ephemeral=True)

    world.bot.tree.add_command(noop)
    world.bot.tree.add_command(noop_db)
    await world.bot.tree.sync()


_LOOP_HOOKS = ("create_task", "call_soon", "call_later", "call_at")


@contextlib.contextmanager
def native_loop() -> Any:
    """Run a block on the plain asyncio loop, without SimCord's per-task and per-callback
    bookkeeping (which costs more than a listener). Only for code that touches no virtual
    time and whose tasks are all finished before the block ends."""
    loop = asyncio.get_running_loop()
    saved = {name: loop.__dict__.pop(name) for name in _LOOP_HOOKS if name in loop.__dict__}
    try:
        yield
    finally:
        loop.__dict__.update(saved)


class TransactionCounter:
    """Database transactions begun (one per ``db.session()``), to explain a figure."""

    def __init__(self, world: World) -> None:
        self.count = 0

        def on_begin(_conn: Any) -> None:
            self.count += 1

        event.listen(world.db.engine.sync_engine, "begin", on_begin)

    def take(self) -> int:
        """Transactions since the last call."""
        out, self.count = self.count, 0
        return out


class ResponseClock:
    """Time from INTERACTION_CREATE reaching discord.py's parser to the first callback request.

    With ``quiet=True`` SimCord's settle loop (which an actor starts right after emitting the
    interaction, and which inspects every task of the bot on each of its loop turns) waits until
    the sampled interaction was answered: the window then holds the bot's work and discord.py's,
    not the harness polling beside it. (SimCord's per-task bookkeeping still runs.)"""

    def __init__(self, world: World, *, quiet: bool = False) -> None:
        self.started: dict[str, float] = {}
        self._answered = asyncio.Event()
        self.samples: list[float] = []
        self._ignoring = False
        #: Called when a sampled interaction arrives and when its answer leaves (e.g. to mark
        #: which database work happened in between).
        self.on_start: Callable[[], None] | None = None
        self.on_answer: Callable[[], None] | None = None
        state = world.bot._connection
        parse = state.parsers["INTERACTION_CREATE"]

        def timed_parse(data: dict[str, Any]) -> Any:
            if not self._ignoring:
                if self.on_start is not None:
                    self.on_start()
                self._answered.clear()
                self.started[str(data["id"])] = time.perf_counter()
            return parse(data)

        state.parsers["INTERACTION_CREATE"] = timed_parse
        # Interaction callbacks go through discord.py's webhook adapter (SimCord's fake one).
        adapter = world.env._webhook_adapter
        request = adapter.request

        async def timed_request(route: Any, *args: Any, **kwargs: Any) -> Any:
            found = _CALLBACK.search(str(getattr(route, "url", "")))
            if found:
                t0 = self.started.pop(found.group(1), None)
                if t0 is not None:
                    self.samples.append(time.perf_counter() - t0)
                    self._answered.set()
                    if self.on_answer is not None:
                        self.on_answer()
            return await request(route, *args, **kwargs)

        adapter.request = timed_request
        if quiet:
            env = world.env
            settle = env._settle_internal

            async def settle_after_answer(*args: Any, **kwargs: Any) -> Any:
                if self.started:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._answered.wait(), timeout=10)
                return await settle(*args, **kwargs)

            env._settle_internal = settle_after_answer

    @contextlib.contextmanager
    def ignoring(self) -> Any:
        """Steps inside this block are not sampled (e.g. the slash command that opens a modal
        when the modal's submit is what is measured)."""
        self._ignoring = True
        try:
            yield
        finally:
            self._ignoring = False
            self.started.clear()

    def take(self) -> list[float]:
        """The samples since the last call."""
        out, self.samples = self.samples, []
        return out


def summary(samples: list[float]) -> dict[str, float]:
    """Median, p99 and count, in milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {"median_ms": statistics.median(ordered) * 1000, "p99_ms": p99 * 1000, "n": len(ordered)}


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A plain-text table."""
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns}
    head = "  ".join(c.ljust(widths[c]) for c in columns)
    lines = [head, "  ".join("-" * widths[c] for c in columns)]
    lines += ["  ".join(_fmt(r.get(c)).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return "" if value is None else str(value)


def run(main: Callable[[], Any]) -> None:
    """Run an async benchmark's main()."""
    os.environ.setdefault("PYTHONHASHSEED", "0")
    asyncio.run(main())
