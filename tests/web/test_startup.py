"""Start-up: ``python -m bot`` serves the dashboard when ``DASHBOARD_PORT`` is set (and nothing
listens otherwise), ``python -m bot.web`` runs it on its own, and a missing or bad setting stops
start-up with one clear line. Subprocesses against the loopback Discord of ``tests/test_main.py``."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.test_main import START_TIMEOUT, BotProcess, FakeDiscord, bot_env

SECRET = "s" * 40


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dashboard_env(tmp_path: Path, fake: FakeDiscord, port: int, **extra: str) -> dict[str, str]:
    env = bot_env(
        tmp_path,
        fake,
        SYNC_COMMANDS="false",
        LOG_LEVEL="INFO",
        DASHBOARD_PORT=str(port),
        DASHBOARD_URL=f"http://127.0.0.1:{port}",
        DISCORD_CLIENT_ID="1100000000000000002",
        DISCORD_CLIENT_SECRET="client-secret",
        DASHBOARD_SECRET=SECRET,
    )
    env.update(extra)
    return env


async def start(module: str, tmp_path: Path, env: dict[str, str]) -> BotProcess:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        cwd=tmp_path,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return BotProcess(proc)


async def login_page(port: int) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/login") as r:
        return r.status, await r.text(), r.headers.get("Content-Security-Policy", "")


async def refused(port: int) -> bool:
    try:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return True
    writer.close()
    return False


async def test_python_m_bot_serves_the_dashboard_next_to_the_bot(tmp_path: Path, fake_discord: FakeDiscord) -> None:
    port = free_port()
    bot = await start("bot", tmp_path, dashboard_env(tmp_path, fake_discord, port))
    try:
        await bot.wait_until(lambda: "dashboard listening" in bot.stderr, START_TIMEOUT, "the dashboard")
        await bot.wait_until(lambda: "connected as" in bot.stderr, START_TIMEOUT, "READY")
        status, html, csp = await login_page(port)
        assert status == 200 and "Log in with Discord" in html
        assert "default-src 'self'" in csp
        bot.proc.send_signal(signal.SIGTERM)
        assert await bot.wait() == 0, bot.stderr
    finally:
        await bot.kill()
    assert "Traceback" not in bot.stderr, bot.stderr
    assert await refused(port), "the dashboard still listens after the bot stopped"


async def test_without_dashboard_port_nothing_listens(tmp_path: Path, fake_discord: FakeDiscord) -> None:
    port = free_port()
    env = dashboard_env(tmp_path, fake_discord, port)
    del env["DASHBOARD_PORT"]
    bot = await start("bot", tmp_path, env)
    try:
        await bot.wait_until(lambda: "connected as" in bot.stderr, START_TIMEOUT, "READY")
        assert await refused(port)
        bot.proc.send_signal(signal.SIGTERM)
        assert await bot.wait() == 0, bot.stderr
    finally:
        await bot.kill()
    assert "dashboard listening" not in bot.stderr


async def test_python_m_bot_web_runs_on_its_own(tmp_path: Path, fake_discord: FakeDiscord) -> None:
    port = free_port()
    web = await start("bot.web", tmp_path, dashboard_env(tmp_path, fake_discord, port))
    try:
        await web.wait_until(lambda: "dashboard listening" in web.stderr, START_TIMEOUT, "the dashboard")
        status, html, _ = await login_page(port)
        assert status == 200 and "Log in with Discord" in html
        assert not fake_discord.identifies, "the dashboard must not open a gateway connection"
        assert fake_discord.requests_to("GET", "/users/@me"), "the bot token is checked at start-up"
        web.proc.send_signal(signal.SIGINT)
        assert await web.wait() == 0, web.stderr
    finally:
        await web.kill()
    assert "Traceback" not in web.stderr, web.stderr
    assert (tmp_path / "kinship.db").exists()


@pytest.mark.parametrize(
    ("module", "change", "named"),
    [
        ("bot", {"DASHBOARD_URL": ""}, "DASHBOARD_URL"),
        ("bot", {"DASHBOARD_SECRET": "short"}, "DASHBOARD_SECRET"),
        ("bot", {"DISCORD_CLIENT_ID": "abc"}, "DISCORD_CLIENT_ID"),
        ("bot", {"DASHBOARD_PORT": "70000"}, "DASHBOARD_PORT"),
        ("bot.web", {"DISCORD_CLIENT_SECRET": ""}, "DISCORD_CLIENT_SECRET"),
        ("bot.web", {"DASHBOARD_PORT": ""}, "DASHBOARD_PORT"),
        ("bot.web", {"DASHBOARD_URL": "ftp://x"}, "DASHBOARD_URL"),
    ],
)
async def test_a_missing_or_bad_setting_stops_start_up_with_one_line(
    tmp_path: Path, fake_discord: FakeDiscord, module: str, change: dict[str, str], named: str
) -> None:
    env = dashboard_env(tmp_path, fake_discord, free_port(), **change)
    proc = await start(module, tmp_path, env)
    try:
        code = await proc.wait(within=90)
    finally:
        await proc.kill()
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1, proc.stderr
    assert named in lines[0] and "cannot start" in lines[0]
    assert not fake_discord.requests, "nothing may be asked of Discord with a bad setting"


async def test_a_port_in_use_stops_start_up_with_one_line(tmp_path: Path, fake_discord: FakeDiscord) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        proc = await start("bot.web", tmp_path, dashboard_env(tmp_path, fake_discord, port))
        try:
            code = await proc.wait(within=90)
        finally:
            await proc.kill()
    assert code == 2, proc.stderr
    assert f"DASHBOARD_PORT {port}" in proc.stderr and "Traceback" not in proc.stderr
