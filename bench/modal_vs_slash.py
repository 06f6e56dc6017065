"""The same service call answered from a modal's submit and from a slash command, in one run.

``/checkin submit`` is timed next to ``/ck``, a bench-only slash command whose callback makes the
very call the check-in modal's ``on_submit`` makes (``CheckinService.answer``) and then answers.
The difference is what the modal path costs beyond our code (SimCord's and discord.py's modal
handling). Also prints ``answer()`` itself, timed inside each path and called directly.

    .venv/bin/python bench/modal_vs_slash.py [iterations]     # default 200
"""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any

import discord
from _harness import ResponseClock, add_noop, bench_world, run, summary, table
from command_overhead import EXPIRE, feature_actions, prepare
from discord import app_commands

ITERATIONS = int(sys.argv[1]) if __name__ == "__main__" and len(sys.argv) > 1 else 200


async def main() -> None:
    async with bench_world() as w:
        with w.env.time_context():
            await add_noop(w)
            await w.configure(help_channel_id=w.help.id, mod_channel_id=w.mods.id, checkin_channel_id=w.checkins.id)
            checkins = w.bot.services.checkins

            @app_commands.command(name="ck", description="Records a check-in and answers")
            async def ck(interaction: discord.Interaction) -> None:
                assert interaction.guild_id is not None
                await checkins.answer(interaction.guild_id, interaction.user.id, w.bot.now(), mood=3, note="ok")
                await interaction.response.send_message("ok", ephemeral=True)

            w.bot.tree.add_command(ck)
            await w.bot.tree.sync()
            clock = ResponseClock(w)
            await prepare(w)
            answer = checkins.answer
            inner: list[float] = []

            async def timed_answer(*args: Any, **kwargs: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return await answer(*args, **kwargs)
                finally:
                    inner.append(time.perf_counter() - t0)

            checkins.answer = timed_answer  # type: ignore[method-assign]
            guild_id = w.general.guild.id

            async def direct(i: int) -> None:
                await checkins.answer(guild_id, w.bob.id, w.bot.now(), mood=3, note="ok")

            actions = {
                "/noop (baseline)": lambda i: w.bob.slash(w.general, "noop"),
                "/checkin submit (modal)": feature_actions(w, clock)["/checkin submit"],
                "/ck (slash, same call)": lambda i: w.bob.slash(w.general, "ck"),
                "answer() called directly": direct,
            }
            rows = []
            for name, action in actions.items():
                for i in range(20):
                    await action(-1 - i)
                    await w.env.advance_time(EXPIRE)
                clock.take()
                inner.clear()
                for i in range(ITERATIONS):
                    await action(i)
                    await w.env.advance_time(EXPIRE)
                samples = clock.take()
                response = summary(samples) if samples else {}
                rows.append(
                    {
                        "path": name,
                        "response_median_ms": response.get("median_ms"),
                        "answer_median_ms": statistics.median(inner) * 1000 if inner else None,
                    }
                )
    print(f"one check-in answer per sample, {ITERATIONS} samples per path (after 20 warm-up), SQLite")
    print(table(rows, ["path", "response_median_ms", "answer_median_ms"]))


if __name__ == "__main__":
    run(main)
