"""Settings fail fast with one readable message (python-discord's test_constants, in spirit)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import DEFAULT_DATABASE_URL, Settings, SettingsError
from tests.harness.world import FAKE_TOKEN

ROOT = Path(__file__).resolve().parents[1]


def test_defaults_with_only_a_token() -> None:
    s = Settings.from_env({"DISCORD_TOKEN": FAKE_TOKEN})
    assert s.database_url == DEFAULT_DATABASE_URL == "sqlite+aiosqlite:///data/kinship.db"
    assert s.dev_guild_id is None and s.log_level == "INFO" and s.sync_commands
    assert s.is_sqlite and FAKE_TOKEN not in repr(s)


def test_all_settings_parse() -> None:
    s = Settings.from_env(
        {
            "DISCORD_TOKEN": FAKE_TOKEN,
            "DATABASE_URL": "postgresql+asyncpg://u:p@db/kinship",
            "DEV_GUILD_ID": "123456789012345678",
            "LOG_LEVEL": "debug",
            "SYNC_COMMANDS": "false",
            "DB_POOL_SIZE": "20",
            "DB_MAX_OVERFLOW": "0",
            "DB_STATEMENT_CACHE": "off",
            "SHARD_COUNT": "4",
            "SHARD_IDS": "0-1,3",
            "DISCORD_API_BASE": "http://proxy:8080/api/v10",
        }
    )
    assert s.dev_guild_id == 123456789012345678 and s.log_level == "DEBUG" and not s.sync_commands
    assert s.db_pool_size == 20 and not s.db_statement_cache and not s.is_sqlite
    assert s.db_max_overflow == 0  # 0 is a value, not "unset"
    defaults = Settings.from_env({"DISCORD_TOKEN": FAKE_TOKEN})
    assert (defaults.db_pool_size, defaults.db_max_overflow) == (10, 0)
    assert s.shard_count == 4 and s.shard_ids == (0, 1, 3)


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({}, "DISCORD_TOKEN"),
        ({"DISCORD_TOKEN": "   "}, "DISCORD_TOKEN"),
        ({"DISCORD_TOKEN": "not-a-token"}, "DISCORD_TOKEN"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"DEV_GUILD_ID": "abc"}, "DEV_GUILD_ID"),
        ({"DEV_GUILD_ID": "-5"}, "DEV_GUILD_ID"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"SYNC_COMMANDS": "maybe"}, "SYNC_COMMANDS"),
        ({"SHARD_IDS": "0"}, "SHARD_IDS"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "2"}, "SHARD_IDS"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "x"}, "SHARD_IDS"),
        ({"SHARD_COUNT": "2", "SHARD_IDS": "1"}, "SHARD_IDS"),  # several processes need PostgreSQL
        ({"DISCORD_API_BASE": "proxy:8080"}, "DISCORD_API_BASE"),
        # On PostgreSQL the scheduler's leadership holds one connection for good.
        ({"DATABASE_URL": "postgresql+asyncpg://u@db/k", "DB_POOL_SIZE": "1"}, "DB_POOL_SIZE"),
    ],
)
def test_bad_settings_name_the_setting_and_the_fix(env: dict[str, str], name: str) -> None:
    full = {"DISCORD_TOKEN": FAKE_TOKEN, **env} if name != "DISCORD_TOKEN" else env
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(full)
    assert caught.value.name == name
    assert str(caught.value).startswith(name)
    assert len(str(caught.value)) > len(name) + 20  # says how to fix it


def _run_bot(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_", "KINSHIP_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,  # no .env here
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_python_m_bot_without_token_exits_2_with_one_readable_line(tmp_path: Path) -> None:
    result = _run_bot(tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "Kinship cannot start: DISCORD_TOKEN is not set. Copy .env.example to .env and paste your bot token "
        "from the Discord developer portal (Applications → your app → Bot → Reset Token)."
    ]


def test_python_m_bot_reads_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DISCORD_TOKEN=abc\n")
    result = _run_bot(tmp_path)
    assert result.returncode == 2
    assert "DISCORD_TOKEN does not look like a bot token" in result.stderr
