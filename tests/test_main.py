"""End-to-end: ``python -m bot`` as a subprocess against a fake Discord on loopback.

The fake (:class:`FakeDiscord`) is a small aiohttp server on ``127.0.0.1``: the REST routes
``python -m bot`` touches while starting, and a gateway websocket that says HELLO, takes the
IDENTIFY and answers READY. ``DISCORD_API_BASE`` points the bot's REST at it; ``/gateway/bot``
points its websocket at it. Nothing leaves the machine, and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web

REPO_ROOT = Path(__file__).resolve().parents[1]
FAKE_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GabcdE.abcdefghijklmnopqrstuvwxyz0123456789AB"
BOT_USER_ID = "1100000000000000001"
APP_ID = "1100000000000000002"
OWNER_ID = "1100000000000000003"
DEV_GUILD_ID = 123

MESSAGE_CONTENT = 1 << 15
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8

START_TIMEOUT = 30.0  # until the bot has identified and logged "connected as"
EXIT_TIMEOUT = 20.0  # from a signal (or a fatal error) to the process being gone

# Settings the bot reads that must not leak in from the developer's shell.
_SETTING_NAMES = {"LOG_LEVEL", "SYNC_COMMANDS", "DEV_GUILD_ID", "SHARD_COUNT", "SHARD_IDS", "PYTHONPATH"}
_SETTING_PREFIXES = ("DISCORD_", "DATABASE_", "KINSHIP_", "DB_")


def _user(user_id: str, name: str, *, bot: bool) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": name,
        "discriminator": "0",
        "global_name": None,
        "avatar": None,
        "bot": bot,
        "flags": 0,
        "verified": True,
        "mfa_enabled": False,
    }


BOT_USER = _user(BOT_USER_ID, "Kinship", bot=True)
APPLICATION = {
    "id": APP_ID,
    "name": "Kinship",
    "icon": None,
    "description": "",
    "bot_public": True,
    "bot_require_code_grant": False,
    "verify_key": "0" * 64,
    "flags": 0,
    "owner": _user(OWNER_ID, "owner", bot=False),
    "team": None,
}


def _json(data: Any, status: int = 200) -> web.Response:
    """A JSON response typed exactly ``application/json`` (discord.py only parses that, no charset)."""
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


@dataclass
class Recorded:
    """One REST request the fake received."""

    method: str
    path: str
    body: Any


@dataclass
class FakeDiscord:
    """A loopback Discord: REST under ``/api/v10`` and a gateway at ``/gw``. Records what arrives."""

    overrides: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    identifies: list[dict[str, Any]] = field(default_factory=list)
    gateway_closed: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0
    _runner: web.AppRunner | None = field(default=None, init=False, repr=False)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    def respond(self, method: str, path: str, status: int, body: Any) -> None:
        """Answer ``method path`` (relative to ``/api/v10``) with ``status`` and JSON ``body`` from now on."""
        self.overrides[(method, path)] = (status, body)

    def requests_to(self, method: str, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path == path]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gw", self._gateway)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        path = "/" + request.match_info["tail"]
        self.requests.append(Recorded(request.method, path, body))
        route = (request.method, path)
        if route in self.overrides:
            status, data = self.overrides[route]
            return _json(data, status=status)
        if route == ("GET", "/users/@me"):
            return _json(BOT_USER)
        if route == ("GET", "/oauth2/applications/@me"):
            return _json(APPLICATION)
        if route == ("GET", "/gateway/bot"):
            return _json(
                {
                    "url": f"ws://127.0.0.1:{self.port}/gw",
                    "shards": 1,
                    "session_start_limit": {"total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1},
                }
            )
        if request.method == "PUT" and path.startswith(f"/applications/{APP_ID}/") and path.endswith("/commands"):
            return _json([self._registered(i, c, path) for i, c in enumerate(body or [])])
        return _json({"message": "404: Not Found", "code": 0}, status=404)

    @staticmethod
    def _registered(index: int, command: dict[str, Any], path: str) -> dict[str, Any]:
        """What Discord answers for one command of a bulk overwrite: the command plus ids and defaults
        (context-menu commands are sent without a description; Discord answers ``""``)."""
        parts = path.strip("/").split("/")
        guild_id = parts[3] if len(parts) > 3 and parts[2] == "guilds" else None
        return {
            "description": "",
            "type": 1,
            **command,
            "id": str(1200000000000000000 + index),
            "application_id": APP_ID,
            "guild_id": guild_id,
            "version": "1",
        }

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 45000}, "s": None, "t": None})
        seq = 0
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                op = payload.get("op")
                if op == 1:
                    await ws.send_json({"op": 11, "d": None, "s": None, "t": None})
                elif op == 2:
                    self.identifies.append(payload["d"])
                    seq += 1
                    await ws.send_json({"op": 0, "t": "READY", "s": seq, "d": self._ready(payload["d"])})
        finally:
            self.gateway_closed.set()
        return ws

    def _ready(self, identify: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "v": 10,
            "user": BOT_USER,
            "guilds": [],
            "session_id": "fake-session",
            "resume_gateway_url": f"ws://127.0.0.1:{self.port}/gw",
            "application": {"id": APP_ID, "flags": 0},
            "shard": identify.get("shard", [0, 1]),
        }


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


class BotProcess:
    """``python -m bot`` in a subprocess, with stderr collected line by line as it arrives."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.stderr_lines: list[str] = []
        self.stdout = b""
        self._readers = [asyncio.create_task(self._read_stderr()), asyncio.create_task(self._read_stdout())]

    @classmethod
    async def start(cls, cwd: Path, env: Mapping[str, str]) -> BotProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            cwd=cwd,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.stderr_lines.append(line.decode(errors="replace"))

    async def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        self.stdout = await self.proc.stdout.read()

    async def wait_until(self, condition: Callable[[], bool], within: float, what: str) -> None:
        """Wait until ``condition()`` holds (polled every 50 ms)."""
        try:
            async with asyncio.timeout(within):
                while not condition():
                    if self.proc.returncode is not None:
                        pytest.fail(f"bot exited ({self.proc.returncode}) before {what}:\n{self.stderr}")
                    await asyncio.sleep(0.05)
        except TimeoutError:
            pytest.fail(f"timed out after {within:.0f} s waiting for {what}:\n{self.stderr}")

    async def wait(self, within: float = EXIT_TIMEOUT) -> int:
        """The exit code, after both pipes are drained; fails the test if it takes longer than ``within``."""
        try:
            async with asyncio.timeout(within):
                code = await self.proc.wait()
                await asyncio.gather(*self._readers)
        except TimeoutError:
            pytest.fail(f"bot still running after {within:.0f} s:\n{self.stderr}")
        return code

    async def kill(self) -> None:
        """Make sure the process is gone (teardown after a failure)."""
        if self.proc.returncode is None:
            self.proc.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 5)
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)


def bot_env(tmp_path: Path, fake: FakeDiscord, **settings: str) -> dict[str, str]:
    """The inherited environment minus every Kinship setting, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if k not in _SETTING_NAMES and not k.startswith(_SETTING_PREFIXES)}
    env.update(
        DISCORD_TOKEN=FAKE_TOKEN,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'kinship.db'}",
        DISCORD_API_BASE=fake.api_base,
        PYTHONPATH=str(REPO_ROOT),
        PYTHONUNBUFFERED="1",
    )
    env.update(settings)
    return env


@contextlib.asynccontextmanager
async def running_bot(tmp_path: Path, env: Mapping[str, str]) -> AsyncIterator[BotProcess]:
    assert not (tmp_path / ".env").exists()
    bot = await BotProcess.start(tmp_path, env)
    try:
        yield bot
    finally:
        await bot.kill()


def tables(db_path: Path) -> set[str]:
    with contextlib.closing(sqlite3.connect(db_path)) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


async def connect_then_signal(bot: BotProcess, fake: FakeDiscord, sig: signal.Signals = signal.SIGTERM) -> int:
    """Wait for IDENTIFY and "connected as", send ``sig``, return the exit code."""
    await bot.wait_until(lambda: bool(fake.identifies) and "connected as" in bot.stderr, START_TIMEOUT, "READY")
    bot.proc.send_signal(sig)
    return await bot.wait()


def assert_db_closed(db_path: Path) -> None:
    """SQLite deletes the WAL file when the last connection closes cleanly (it exists while the bot runs)."""
    assert db_path.exists()
    assert not Path(f"{db_path}-wal").exists(), "kinship.db-wal left behind: the database was not closed"


def assert_clean(stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert "shutting down" in stderr, stderr


async def test_rejected_token_exits_2_with_a_readable_message(tmp_path: Path, fake_discord: FakeDiscord) -> None:
    fake_discord.respond("GET", "/users/@me", 401, {"message": "401: Unauthorized", "code": 0})
    async with running_bot(tmp_path, bot_env(tmp_path, fake_discord)) as bot:
        code = await bot.wait()
    assert code == 2, bot.stderr
    assert "DISCORD_TOKEN was rejected by Discord" in bot.stderr
    assert "Traceback" not in bot.stderr, bot.stderr
    assert fake_discord.requests_to("GET", "/users/@me")
    assert not fake_discord.identifies


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_connects_identifies_without_privileged_intents_and_stops_on_signal(
    tmp_path: Path, fake_discord: FakeDiscord, sig: signal.Signals
) -> None:
    env = bot_env(tmp_path, fake_discord, SYNC_COMMANDS="false", LOG_LEVEL="INFO")
    async with running_bot(tmp_path, env) as bot:
        await bot.wait_until(lambda: "garbage collector" in bot.stderr, START_TIMEOUT, "the heap frozen after READY")
        code = await connect_then_signal(bot, fake_discord, sig)
    assert code == 0, bot.stderr
    assert_clean(bot.stderr)
    assert f"received {sig.name}" in bot.stderr
    # After READY the long-lived start-up objects leave the collector's passes (bot/heap.py).
    assert "long-lived objects out of the garbage collector's passes after the gateway's READY" in bot.stderr

    assert len(fake_discord.identifies) == 1
    identify = fake_discord.identifies[0]
    assert identify["token"] == FAKE_TOKEN
    intents = identify["intents"]
    assert intents & (1 << 0), "GUILDS intent missing"
    assert not intents & MESSAGE_CONTENT
    assert not intents & GUILD_MEMBERS
    assert not intents & GUILD_PRESENCES
    # The bot closed the gateway itself (close frame), the server saw the socket end.
    await asyncio.wait_for(fake_discord.gateway_closed.wait(), 5)
    assert not [r for r in fake_discord.requests if r.path.endswith("/commands")], "SYNC_COMMANDS=false still synced"

    db_path = tmp_path / "kinship.db"
    assert {"guild_config", "alembic_version"} <= tables(db_path)
    assert_db_closed(db_path)


async def test_unexpected_startup_error_exits_1_and_closes_the_database(
    tmp_path: Path, fake_discord: FakeDiscord
) -> None:
    fake_discord.respond("GET", "/gateway/bot", 404, {"message": "404: Not Found", "code": 0})
    async with running_bot(tmp_path, bot_env(tmp_path, fake_discord, SYNC_COMMANDS="false")) as bot:
        code = await bot.wait()
    assert code == 1, bot.stderr
    assert "GatewayNotFound" in bot.stderr
    assert not fake_discord.identifies
    assert_db_closed(tmp_path / "kinship.db")


async def test_syncs_localized_commands_to_the_dev_guild(tmp_path: Path, fake_discord: FakeDiscord) -> None:
    env = bot_env(tmp_path, fake_discord, SYNC_COMMANDS="true", DEV_GUILD_ID=str(DEV_GUILD_ID), LOG_LEVEL="INFO")
    async with running_bot(tmp_path, env) as bot:
        code = await connect_then_signal(bot, fake_discord)
    assert code == 0, bot.stderr
    assert_clean(bot.stderr)

    puts = fake_discord.requests_to("PUT", f"/applications/{APP_ID}/guilds/{DEV_GUILD_ID}/commands")
    assert len(puts) == 1, fake_discord.requests
    commands = {c["name"]: c for c in puts[0].body}
    assert "setup" in commands, sorted(commands)
    assert commands["setup"]["name_localizations"]["de"] == "einrichtung"
    assert not fake_discord.requests_to("PUT", f"/applications/{APP_ID}/commands"), "synced globally as well"
    assert "synced" in bot.stderr
