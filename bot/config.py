"""Settings: read once from the environment (and ``.env``), typed, frozen, and failing fast.

A missing or malformed setting raises :class:`SettingsError`, which names the setting and says
how to fix it; ``python -m bot`` turns that into one readable line and exit code 2.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import load_dotenv

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/kinship.db"
DEFAULT_OAUTH_BASE = "https://discord.com/api/v10"
#: The dashboard's signing key must be long enough not to be guessed.
DASHBOARD_SECRET_MIN = 32
_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class SettingsError(Exception):
    """A setting is missing or malformed; the message says which one and how to fix it."""

    def __init__(self, name: str, problem: str, hint: str) -> None:
        super().__init__(f"{name} {problem}. {hint}")
        self.name = name


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the bot reads from its environment."""

    discord_token: str = field(repr=False)
    database_url: str = DEFAULT_DATABASE_URL
    dev_guild_id: int | None = None
    log_level: str = "INFO"
    sync_commands: bool = True
    db_pool_size: int = 10
    db_max_overflow: int = 0
    db_statement_cache: bool = True
    shard_count: int | None = None
    shard_ids: tuple[int, ...] | None = None
    discord_api_base: str | None = None
    dashboard: DashboardSettings | None = None

    @property
    def is_sqlite(self) -> bool:
        """Whether the configured database is the embedded SQLite file."""
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, dotenv: bool = True) -> Settings:
        """Build settings from ``env`` (default: the process environment after loading ``.env``)."""
        if env is None:
            if dotenv:
                load_dotenv(Path.cwd() / ".env", override=False)
            env = os.environ
        token = env.get("DISCORD_TOKEN", "").strip()
        if not token:
            raise SettingsError(
                "DISCORD_TOKEN",
                "is not set",
                "Copy .env.example to .env and paste your bot token from the Discord developer portal "
                "(Applications → your app → Bot → Reset Token).",
            )
        if len(token) < 50 or any(c.isspace() for c in token) or token.count(".") != 2:
            raise SettingsError(
                "DISCORD_TOKEN",
                "does not look like a bot token",
                "A bot token has three parts separated by dots; copy it again from the developer portal.",
            )
        database_url = env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL
        if not database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise SettingsError(
                "DATABASE_URL",
                f"uses an unsupported driver ({database_url.split('://', 1)[0]!r})",
                "Use sqlite+aiosqlite:///data/kinship.db or postgresql+asyncpg://user:pass@host/db.",
            )
        log_level = (env.get("LOG_LEVEL", "").strip() or "INFO").upper()
        if log_level not in _LOG_LEVELS:
            raise SettingsError("LOG_LEVEL", f"is {log_level!r}", f"Use one of {', '.join(_LOG_LEVELS)}.")
        shard_count = _optional_int(env, "SHARD_COUNT", minimum=1)
        shard_ids = _shard_ids(env.get("SHARD_IDS", ""), shard_count)
        if shard_ids is not None and database_url.startswith("sqlite"):
            raise SettingsError(
                "SHARD_IDS",
                "needs PostgreSQL",
                "Several processes must share one PostgreSQL database: set DATABASE_URL to postgresql+asyncpg://…",
            )
        api_base = env.get("DISCORD_API_BASE", "").strip() or None
        if api_base and not api_base.startswith(("http://", "https://")):
            raise SettingsError("DISCORD_API_BASE", "is not a URL", "Use e.g. http://nirn-proxy:8080/api/v10.")
        pool_size = _default(_optional_int(env, "DB_POOL_SIZE", minimum=1), 10)
        max_overflow = _default(_optional_int(env, "DB_MAX_OVERFLOW", minimum=0), 0)
        if not database_url.startswith("sqlite") and pool_size + max_overflow < 2:
            raise SettingsError(
                "DB_POOL_SIZE",
                f"allows {pool_size + max_overflow} connection",
                "Allow at least 2 (DB_POOL_SIZE + DB_MAX_OVERFLOW): one holds the scheduler's leadership.",
            )
        return cls(
            discord_token=token,
            database_url=database_url,
            dev_guild_id=_optional_int(env, "DEV_GUILD_ID", minimum=1),
            log_level=log_level,
            sync_commands=_bool(env, "SYNC_COMMANDS", default=True),
            db_pool_size=pool_size,
            db_max_overflow=max_overflow,
            db_statement_cache=_bool(env, "DB_STATEMENT_CACHE", default=True),
            shard_count=shard_count,
            shard_ids=shard_ids,
            discord_api_base=api_base,
            dashboard=_dashboard(env),
        )


@dataclass(frozen=True, slots=True)
class DashboardSettings:
    """The web dashboard (``DASHBOARD_PORT`` set); ``None`` on :class:`Settings` when it is off."""

    port: int
    url: str  # the public base URL, e.g. https://kinship.example.org (no trailing slash)
    client_id: str
    client_secret: str = field(repr=False)
    secret: str = field(repr=False)
    host: str = "127.0.0.1"
    oauth_base: str = DEFAULT_OAUTH_BASE

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry ``Secure`` when the dashboard is served over https."""
        return self.url.startswith("https://")

    @property
    def redirect_uri(self) -> str:
        """Where Discord sends the browser back after login (register it in the developer portal)."""
        return f"{self.url}/callback"


def _dashboard(env: Mapping[str, str]) -> DashboardSettings | None:
    """The dashboard's settings; ``None`` when ``DASHBOARD_PORT`` is not set (nothing listens)."""
    raw_port = env.get("DASHBOARD_PORT", "").strip()
    if not raw_port:
        return None
    port = _optional_int(env, "DASHBOARD_PORT", minimum=1)
    assert port is not None
    if port > 65535:
        raise SettingsError("DASHBOARD_PORT", f"is {port}", "Use a port between 1 and 65535, e.g. 8080.")
    url = env.get("DASHBOARD_URL", "").strip().rstrip("/")
    if not url:
        raise SettingsError(
            "DASHBOARD_URL",
            "is not set (DASHBOARD_PORT is)",
            "Set it to the address moderators open in their browser, e.g. https://kinship.example.org.",
        )
    scheme, _, rest = url.partition("://")
    if scheme not in ("http", "https") or not rest or any(c in rest for c in "?#") or any(c.isspace() for c in url):
        raise SettingsError(
            "DASHBOARD_URL", f"is {url!r}, not an http(s) address", "Use e.g. https://kinship.example.org."
        )
    client_id = env.get("DISCORD_CLIENT_ID", "").strip()
    if not client_id.isdigit():
        raise SettingsError(
            "DISCORD_CLIENT_ID",
            "is not set" if not client_id else f"is {client_id!r}, not an application id",
            "Copy the Application ID from the developer portal (your app → OAuth2 → Client ID).",
        )
    client_secret = env.get("DISCORD_CLIENT_SECRET", "").strip()
    if not client_secret or any(c.isspace() for c in client_secret):
        raise SettingsError(
            "DISCORD_CLIENT_SECRET",
            "is not set" if not client_secret else "contains spaces",
            "Copy it from the developer portal (your app → OAuth2 → Client Secret → Reset Secret).",
        )
    secret = env.get("DASHBOARD_SECRET", "").strip()
    if len(secret) < DASHBOARD_SECRET_MIN:
        raise SettingsError(
            "DASHBOARD_SECRET",
            "is not set" if not secret else f"is too short ({len(secret)} characters)",
            f"Use at least {DASHBOARD_SECRET_MIN} random characters: "
            'python3 -c "import secrets; print(secrets.token_urlsafe(48))"',
        )
    host = env.get("DASHBOARD_HOST", "").strip() or "127.0.0.1"
    oauth_base = env.get("DISCORD_OAUTH_BASE", "").strip().rstrip("/") or DEFAULT_OAUTH_BASE
    if not oauth_base.startswith(("http://", "https://")):
        raise SettingsError("DISCORD_OAUTH_BASE", "is not a URL", f"Leave it empty for {DEFAULT_OAUTH_BASE}.")
    return DashboardSettings(
        port=port,
        url=url,
        client_id=client_id,
        client_secret=client_secret,
        secret=secret,
        host=host,
        oauth_base=oauth_base,
    )


def _default(value: int | None, default: int) -> int:
    """``value`` unless it was not set (``0`` is a value, not "unset")."""
    return default if value is None else value


def _optional_int(env: Mapping[str, str], name: str, *, minimum: int) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(
            name, f"is {raw!r}, not a whole number", f"Set {name} to a number or leave it empty."
        ) from None
    if value < minimum:
        raise SettingsError(name, f"is {value}", f"{name} must be at least {minimum}.")
    return value


def _bool(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(name, f"is {raw!r}", f"Set {name} to true or false.")


def _shard_ids(raw: str, shard_count: int | None) -> tuple[int, ...] | None:
    raw = raw.strip()
    if not raw:
        return None
    if shard_count is None:
        raise SettingsError("SHARD_IDS", "is set without SHARD_COUNT", "Set SHARD_COUNT to the total shards.")
    ids: list[int] = []
    for part in raw.split(","):
        part = part.strip()  # noqa: PLW2901
        try:
            if "-" in part:
                low, high = (int(x) for x in part.split("-", 1))
                ids.extend(range(low, high + 1))
            else:
                ids.append(int(part))
        except ValueError:
            raise SettingsError("SHARD_IDS", f"has {part!r}", "Use a list like 0,1,2 or a range like 0-3.") from None
    if not ids or any(i < 0 or i >= shard_count for i in ids):
        raise SettingsError("SHARD_IDS", f"is {raw!r}", f"Each shard id must be between 0 and {shard_count - 1}.")
    return tuple(sorted(set(ids)))


def configure_logging(level: str) -> None:
    """Set up the root logger once; every module logs through ``logging.getLogger(__name__)``."""
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)-8s %(name)s: %(message)s",
    )
    logging.getLogger("discord.http").setLevel(max(logging.INFO, getattr(logging, level)))
