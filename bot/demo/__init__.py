"""``python -m bot demo``: try Kinship without a Discord account.

Runs the real, unmodified bot against SimCord (an offline Discord with a virtual clock) in a
made-up server, plays a short story (see :mod:`bot.demo.story`) and writes what members and
moderators saw: a transcript in the terminal, and ``transcript.txt``, ``transcript.json`` and
pictures of the messages in a folder it names at the end. No token, no network.

SimCord is not a dependency of the bot itself: ``pip install -e ".[demo]"`` brings it (with its
screenshot extra). Without it the demo says so in one line and exits with code 2.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from bot.config import configure_logging

MISSING_SIMCORD = 'The demo needs SimCord, an offline Discord: pip install -e ".[demo]"'


def main(argv: list[str]) -> int:
    """``python -m bot demo [--out DIR] [--no-pictures] [--browser PATH]``."""
    parser = argparse.ArgumentParser(
        prog="python -m bot demo", description="Try Kinship offline: a short story in a made-up server."
    )
    parser.add_argument("--out", type=Path, help="folder for the transcript and pictures (default: a new temp folder)")
    parser.add_argument("--no-pictures", action="store_true", help="only the transcript (fastest)")
    parser.add_argument("--browser", help="Chromium or Chrome to take the pictures with (default: found on PATH)")
    args = parser.parse_args(argv)
    try:
        import simcord  # noqa: F401 - only to learn whether it is installed
    except ImportError:
        sys.stderr.write(MISSING_SIMCORD + "\n")
        return 2
    from bot.demo.run import run

    configure_logging("WARNING")
    out = (args.out or Path(tempfile.mkdtemp(prefix="kinship-demo-"))).resolve()
    out.mkdir(parents=True, exist_ok=True)
    return asyncio.run(run(out, pictures=not args.no_pictures, browser=args.browser))
