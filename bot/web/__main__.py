"""``python -m bot.web``: the dashboard as its own process, against the bot's database.

For set-ups where the bot runs in several processes (PostgreSQL): the dashboard reads Discord
over REST with the bot token (no gateway), and what a web action must do in Discord (edit the
moderators' message, DMs, mediation threads) is queued in the database for the bot process that
holds the guild. Exit codes as ``python -m bot``: 0 after a clean stop, 2 for a missing or bad
setting (or a rejected token, or a port that cannot be used), 1 for anything else (logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

import discord

from bot.config import Settings, SettingsError, configure_logging
from bot.db import Database
from bot.heap import freeze_long_lived
from bot.models.base import utcnow
from bot.services import Services
from bot.services.context import ServiceContext
from bot.web.app import DashboardPortError, serve
from bot.web.directory import RestDirectory
from bot.web.state import Dashboard

log = logging.getLogger("bot.web")


async def run(settings: Settings) -> int:
    """Serve until SIGINT/SIGTERM; always close the database and the REST client."""
    assert settings.dashboard is not None
    db = Database.from_url(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        statement_cache=settings.db_statement_cache,
    )
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    runner = None
    services = Services.build(ServiceContext(db=db))
    try:
        await db.migrate()
        me = await http.static_login(settings.discord_token)
        bot_id = int(me["id"])
        dashboard = Dashboard(
            settings=settings.dashboard,
            services=services,
            directory=RestDirectory(http, lambda: bot_id),
            now=utcnow,
        )
        runner = await serve(dashboard)
        freeze_long_lived("starting the dashboard")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, lambda s=sig: (log.info("received %s, shutting down", s.name), stop.set()))
        await stop.wait()
    except discord.LoginFailure:
        print(
            "DISCORD_TOKEN was rejected by Discord. Reset the token in the developer portal "
            "(Applications → your app → Bot) and put the new one in .env.",
            file=sys.stderr,
        )
        return 2
    except DashboardPortError as error:
        print(f"Kinship's dashboard cannot start: {error}", file=sys.stderr)
        return 2
    except Exception:
        log.exception("the dashboard stopped because of an unexpected error")
        return 1
    finally:
        if runner is not None:
            await runner.cleanup()
        services.charts.close()
        await http.close()
        await db.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"Kinship's dashboard cannot start: {error}", file=sys.stderr)
        return 2
    if settings.dashboard is None:
        print(
            "Kinship's dashboard cannot start: DASHBOARD_PORT is not set. Set DASHBOARD_PORT, DASHBOARD_URL, "
            "DISCORD_CLIENT_ID, DISCORD_CLIENT_SECRET and DASHBOARD_SECRET in .env (see .env.example).",
            file=sys.stderr,
        )
        return 2
    configure_logging(settings.log_level)
    try:
        return asyncio.run(run(settings))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
