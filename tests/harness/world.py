"""Kinship's test world, built on SimCord (offline Discord, virtual clock).

SimCord is young, so tests talk to it only through this module: :class:`World` builds a guild
with the roles, channels and members every feature needs, builds the real bot exactly as
``python -m bot`` does (real services, a real database), and exposes what tests assert on.
Replacing SimCord means reimplementing this file, not the tests.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import simcord

from bot.app import KinshipBot
from bot.config import Settings
from bot.db import Database
from bot.demo.world import FAKE_TOKEN, Community, build_bot, build_community, default_settings
from bot.demo.world import unexpected_errors as _unexpected_errors
from bot.services import Services
from tests.harness import template

__all__ = [
    "FAKE_TOKEN",
    "PG_ENV",
    "TestDatabase",
    "World",
    "build_bot",
    "default_settings",
    "running_world",
    "unexpected_errors",
]

PG_ENV = "KINSHIP_TEST_DATABASE_URL"


class TestDatabase:
    """A fresh database per test: a SQLite file, or a throw-away schema on PostgreSQL."""

    __test__ = False  # not a pytest test class

    def __init__(self, url: str, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema

    @classmethod
    @contextlib.asynccontextmanager
    async def create(cls, backend: str, tmp_path: Path, *, migrated: bool = True) -> AsyncIterator[TestDatabase]:
        """``backend`` is ``"sqlite"`` or ``"postgresql"``.

        ``migrated`` (the default) hands out a database already at the latest revision, made from
        this process's one real migration run (see :mod:`tests.harness.template`) instead of
        running Alembic again per test; ``migrated=False`` gives an empty one."""
        if backend == "sqlite":
            path = tmp_path / "kinship.db"
            if migrated:
                await template.copy_sqlite(path)
            yield cls(f"sqlite+aiosqlite:///{path}")
            return
        url = os.environ[PG_ENV]
        if migrated:
            schema = await template.take_postgres_schema(url)
            try:
                yield cls(url, schema)
            finally:
                await template.give_back_postgres_schema(url, schema)
            return
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = Database.from_url(url)
        async with admin.engine.begin() as conn:
            await conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        try:
            yield cls(url, schema)
        finally:
            async with admin.engine.begin() as conn:
                await conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            await admin.close()

    def open(self) -> Database:
        """A new engine on this database (each bot process gets its own)."""
        return Database.from_url(self.url, schema=self.schema)


@dataclass
class World(Community):
    """A running bot in a guild with everything a support group has (the guild's handles are
    :class:`~bot.demo.world.Community`'s: ``guild``, ``owner``, ``mod``, ``alice`` … ``checkins``)."""

    env: simcord.Env
    bot: KinshipBot
    db: Database
    locales: dict[int, str] = field(default_factory=dict)

    @property
    def services(self) -> Services:
        """The live bot's services."""
        return self.bot.services

    def now(self) -> datetime:
        """The virtual clock's aware UTC now."""
        return self.env.now()

    async def advance(self, seconds: float) -> None:
        """Move the virtual clock forward (fires view timeouts; scheduled jobs run via ``tick``)."""
        await self.env.advance_time(seconds)

    async def tick(self, job: str | None = None) -> None:
        """Run one scheduled job (or all) at the current virtual time, as the clock would."""
        if job is None:
            await self.bot.scheduler.run_all(self.now())
        else:
            assert await self.bot.scheduler.run(job, self.now()), f"job {job} did not run"
        await self.env.settle()

    def set_locale(self, member: Any, locale: str) -> None:
        """Make ``member``'s interactions arrive with Discord locale ``locale`` (e.g. ``"de"``)."""
        self.locales[member.id] = locale

    def requests(self, method: str | None = None, path_contains: str = "") -> list[Any]:
        """REST requests the bot sent, optionally filtered."""
        return [r for r in self.env.http_requests if (method is None or r.method == method) and path_contains in r.path]

    def member(self, name: str, *roles: Any) -> Any:
        """Add another member."""
        return self.guild.add_member(self.env.create_user(name), roles=list(roles))

    async def owner_deletes(self, channel: Any) -> None:
        """The channel is deleted (by a human, outside the bot)."""
        self.env.backend.delete_channel(channel.id)
        await self.env.settle()

    async def guild_unavailable(self, guild: Any) -> None:
        """Discord marks ``guild`` unavailable (an outage of that guild): GUILD_DELETE with
        ``unavailable: true``. discord.py keeps it in the cache with ``unavailable`` set."""
        self.env.backend.emit("GUILD_DELETE", {"id": str(guild.id), "unavailable": True})
        await self.env.settle()

    async def guild_available(self, guild: Any) -> None:
        """The outage is over: Discord sends the guild's GUILD_CREATE again."""
        from simcord.backend import serializers

        backend = self.env.backend
        backend.emit("GUILD_CREATE", serializers.guild_create_payload(backend, backend.guilds[guild.id]))
        await self.env.settle()

    def allow_command_for(self, name: str, *members: Any) -> None:
        """An admin overrides a command's integration permissions so these members see it."""
        command = next(c for c in self.bot.synced_commands if c.name == name)
        self.guild.set_command_permissions(command.id, {m: True for m in members})

    async def configure(self, **changes: Any) -> None:
        """Write guild settings directly (tests of other features start configured)."""
        await self.services.guilds.update(self.guild.id, self.now(), **changes)

    async def configure_all(self) -> None:
        """Every channel and the moderator role set, as a guild that finished ``/setup``."""
        await self.configure(
            help_channel_id=self.help.id,
            mod_channel_id=self.mods.id,
            mod_role_id=self.mod_role.id,
            checkin_channel_id=self.checkins.id,
        )

    async def restart(self, *, clean: bool = True) -> KinshipBot:
        """Start a new bot on the same database and virtual Discord. ``clean=False`` is a crash:
        the old process gets no chance to flush anything."""
        if clean:
            await self.bot.close()
        new_db = Database.from_url(self.db.engine.url.render_as_string(hide_password=False), schema=self._schema)
        bot = build_bot(new_db, self.env.now, settings=self.bot.settings, extensions=self.bot.extension_names)
        old_db = self.db
        await self.env.restart_bot(bot)
        await old_db.close()
        self.bot, self.db = bot, new_db
        return bot

    _schema: str | None = None


def _install_locale_hook(world: World) -> None:
    backend = world.env.backend
    original = backend.emit

    def emit(event: str, payload: Any, *args: Any, **kwargs: Any) -> Any:
        if event == "INTERACTION_CREATE" and isinstance(payload, dict):
            user = (payload.get("member") or {}).get("user") or payload.get("user") or {}
            locale = world.locales.get(int(user.get("id", 0)))
            if locale:
                payload["locale"] = locale
        return original(event, payload, *args, **kwargs)

    backend.emit = emit


@contextlib.asynccontextmanager
async def running_world(
    test_db: TestDatabase,
    *,
    extensions: list[str] | None = None,
    settings: Settings | None = None,
    leadership: Any = None,
    shards: tuple[int, tuple[int, ...]] | None = None,
    guild_shard: int | None = None,
) -> AsyncIterator[World]:
    """Start SimCord with a freshly migrated database and the standard guild.

    ``shards=(count, ids)`` runs the bot as a process holding only those shards (``SHARD_COUNT`` /
    ``SHARD_IDS``); ``guild_shard`` puts the standard guild on that shard (SimCord's ids are
    deterministic, so two worlds built alike have the same ids, like two processes of one bot)."""
    db = test_db.open()
    await db.migrate()
    env_holder: dict[str, simcord.Env] = {}

    def now() -> datetime:
        return env_holder["env"].now()

    if shards is not None:
        settings = dataclasses.replace(
            settings or default_settings(db), shard_count=shards[0], shard_ids=tuple(shards[1])
        )
    if callable(leadership):  # a factory taking the engine, e.g. PostgresLeadership
        leadership = leadership(db.engine)
    bot = build_bot(db, now, extensions=extensions, settings=settings, leadership=leadership)
    # Expected errors (a refused check, a KinshipError) reach our own handler and are rendered;
    # unexpected ones are caught by ``unexpected_errors`` below instead of SimCord's blanket check.
    env = simcord.Env(bot, shard_count=bot.shard_count or 1, check_errors=False)
    env_holder["env"] = env
    await env.start()
    world: World | None = None
    try:
        c = build_community(env, bot, shard_id=guild_shard)
        world = World(env=env, bot=bot, db=db, **{f.name: getattr(c, f.name) for f in dataclasses.fields(c)})
        world._schema = test_db.schema
        _install_locale_hook(world)
        await env.settle()
        yield world
        await world.bot.close()
    finally:
        await env.shutdown()
        await (world.db if world is not None else db).close()


def unexpected_errors(world: World) -> list[BaseException]:
    """Errors the bot raised that were not rendered as a kind, expected message."""
    return _unexpected_errors(world.env)
