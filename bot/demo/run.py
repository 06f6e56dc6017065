"""Start the real bot on SimCord with a throw-away database, play the story, write what was seen."""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import textwrap
from datetime import datetime
from pathlib import Path
from typing import Any

import simcord

from bot.db import Database
from bot.demo.pictures import Camera
from bot.demo.story import STEPS, Cast, Story, channels_of, what_it_shows
from bot.demo.transcript import DemoStepError, Transcript
from bot.demo.world import Names, build_bot, build_community, unexpected_errors

log = logging.getLogger(__name__)

NAMES = Names(guild="Harbour Circle", owner="sam", mod="jordan", alice="alice", bob="bob", carol="carol")


def _write(line: str) -> None:
    sys.stdout.write(line + "\n")


async def run(out: Path, *, pictures: bool = True, browser: str | None = None) -> int:
    """Play the demo; the transcript goes to stdout and ``out`` (an existing folder). Returns the exit code."""
    with tempfile.TemporaryDirectory(prefix="kinship-demo-db-") as scratch:
        db = Database.from_url(f"sqlite+aiosqlite:///{Path(scratch) / 'kinship.db'}")
        try:
            await db.migrate()
            return await _play(db, out, pictures=pictures, browser=browser)
        finally:
            await db.close()


async def _play(db: Database, out: Path, *, pictures: bool, browser: str | None) -> int:
    holder: dict[str, Any] = {}

    def now() -> datetime:
        return holder["env"].now()

    bot = build_bot(db, now)
    env = simcord.Env(bot, shard_count=1, check_errors=False)  # expected errors: the bot renders them
    env.backend.bot_user.name = "Kinship"
    holder["env"] = env
    await env.start()
    camera = Camera(env, out, browser)
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        _write(line)

    try:
        c = build_community(env, bot, names=NAMES)
        cast = Cast(c, c.guild.add_member(env.create_user("max")))
        names: dict[int, str] = {p.id: p.name for p in cast.people}
        names |= {bot.user.id: "Kinship", c.mod_role.id: c.mod_role.name, c.guild.id: "everyone"}
        names |= {ch.id: ch.name for ch in (c.general, c.help, c.mods, c.checkins)}
        transcript = Transcript(env, names, channels_of(env, cast, names), out=say)
        intro = (
            f"Kinship demo: the real bot on SimCord (an offline Discord), in the made-up server “{NAMES.guild}” "
            f"with {c.owner.name} (the owner), {c.mod.name} (a moderator) and the members {c.alice.name}, "
            f"{c.bob.name}, {c.carol.name} and {cast.max.name}. No token, no network, a throw-away database."
        )
        legend = (
            "▶ marks what someone did; indented below it is what people saw, and who could see it. A reply "
            "marked “only alice can see this” is ephemeral: Discord shows it to alice alone, as “Only you can "
            "see this”."
        )
        for paragraph in (intro, legend):
            for line in textwrap.wrap(paragraph, width=96):
                say(line)
        why_not = (await camera.start()) if pictures else "pictures were turned off (--no-pictures)"
        with env.time_context():
            await env.settle()
            story = Story(env, bot, cast, transcript, camera.shoot)
            try:
                await story.play()
            except DemoStepError as error:
                say("")
                say(f"The demo stopped in step {transcript.step_no} ({STEPS[transcript.step_no - 1]}): {error}")
                return 1
        return _finish(env, cast, transcript, camera, out, why_not=why_not, say=say)
    finally:
        (out / "transcript.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        await camera.close()
        await bot.close()
        await env.shutdown()


def _finish(
    env: Any, cast: Cast, transcript: Transcript, camera: Camera, out: Path, *, why_not: str | None, say: Any
) -> int:
    people = {p.name: p.id for p in cast.people}
    data = {"people": people, "entries": transcript.as_data()}
    (out / "transcript.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    errors = unexpected_errors(env)
    if errors:
        say(f"The bot ran into {len(errors)} unexpected error(s): {errors!r}")
        return 1
    say("")
    say("What this shows")
    say("═══════════════")
    for line in what_it_shows(transcript, cast):
        say(line)
    say("")
    say(f"All {len(STEPS)} steps happened.")
    if camera.taken:
        say(f"The transcript and {len(camera.taken)} pictures are in {out}")
    else:
        say(f"The transcript is in {out}")
    if why_not:
        say(f"No pictures: {why_not}.")
    for failure in camera.failed:
        say(f"Picture not taken: {failure}")
    return 0
