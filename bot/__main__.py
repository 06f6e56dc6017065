"""``python -m bot``: settings → database → migrations → services → bot → connect.

Exit codes: 0 after a clean shutdown, 2 for a missing/malformed setting or a token Discord
rejects, 1 for anything else (logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

import discord

from bot.app import KinshipBot
from bot.config import Settings, SettingsError, configure_logging
from bot.db import Database
from bot.heap import freeze_long_lived
from bot.leadership import PostgresLeadership
from bot.models.base import utcnow
from bot.scheduler import Scheduler
from bot.services import Services
from bot.services.context import ServiceContext
from bot.web.app import DashboardPortError, start_dashboard

log = logging.getLogger("bot")


def build(settings: Settings) -> tuple[KinshipBot, Database]:
    """Construct every dependency in one place and hand it to the bot."""
    db = Database.from_url(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        statement_cache=settings.db_statement_cache,
        held=0 if settings.is_sqlite else 1,  # the leadership's connection
    )
    services = Services.build(ServiceContext(db=db))
    leadership = None if settings.is_sqlite else PostgresLeadership(db.engine)
    scheduler = Scheduler(now=utcnow, leadership=leadership)
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    bot = KinshipBot(settings=settings, db=db, services=services, scheduler=scheduler, now=utcnow)
    bot.add_listener(_long_lived_after_ready, "on_ready")
    return bot, db


async def _long_lived_after_ready() -> None:
    """Cogs, templates and the cache are loaded: keep them out of the collector's passes."""
    freeze_long_lived("the gateway's READY")


async def run(settings: Settings) -> int:
    """Run until a signal or a fatal error; always close the database (and the dashboard)."""
    bot, db = build(settings)
    dashboard = None
    try:
        await db.migrate()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # Windows has no signal handlers
                loop.add_signal_handler(sig, lambda s=sig: _stop(bot, s))
        async with bot:
            dashboard = await start_dashboard(bot)
            await bot.start(settings.discord_token)
    except DashboardPortError as error:
        print(f"Kinship cannot start: {error}", file=sys.stderr)
        return 2
    except discord.LoginFailure:
        print(
            "DISCORD_TOKEN was rejected by Discord. Reset the token in the developer portal "
            "(Applications → your app → Bot) and put the new one in .env.",
            file=sys.stderr,
        )
        return 2
    except discord.PrivilegedIntentsRequired:
        print("Discord refused an intent. Kinship needs no privileged intents; check SHARD settings.", file=sys.stderr)
        return 2
    except Exception:
        log.exception("Kinship stopped because of an unexpected error")
        return 1
    finally:
        if dashboard is not None:
            await dashboard.cleanup()
        await db.close()
    return 0


_closing: set[asyncio.Task[None]] = set()


def _stop(bot: KinshipBot, sig: signal.Signals) -> None:
    log.info("received %s, shutting down", sig.name)
    task = asyncio.get_running_loop().create_task(bot.close())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["demo"]:  # ``python -m bot demo``: the offline try-out, no settings needed
        from bot.demo import main as demo

        return demo(args[1:])
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"Kinship cannot start: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        return asyncio.run(run(settings))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
