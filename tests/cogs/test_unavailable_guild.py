"""A guild Discord marks unavailable (issue #17): its guild jobs wait for it, the others' do not.

Two guilds in one process; during an outage of one, the other's weekly check-in and reports go out
at once, and the unavailable one gets no REST call, no claim and no problem for ``/setup show``.
When its GUILD_CREATE arrives, its work is done as usual.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import discord

from tests.harness.contract import check_requests, format_violations, load_spec
from tests.harness.world import World, running_world, unexpected_errors

MONDAY_10 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)  # week 2026-W02


async def _jump(w: World, when: datetime) -> None:
    w.env.backend.clock.advance((when - w.now()).total_seconds())
    await w.env.settle()


def _posts(channel: Any) -> list[discord.Message]:
    return [m for m in channel.history() if m.components and m.embeds]


def _cases(channel: Any) -> list[discord.Message]:
    return [m for m in channel.history() if m.embeds and (m.embeds[0].title or "").startswith("Case #")]


async def test_an_unavailable_guild_waits_while_the_other_guild_is_served_at_once(test_db) -> None:
    async with running_world(test_db) as w:
        with w.env.time_context():
            here = w.env.create_guild("Here", owner=w.env.create_user("hana"))
            dora, erin = here.add_member(w.env.create_user("dora")), here.add_member(w.env.create_user("erin"))
            here_checkins, here_mods = here.create_text_channel("check-ins"), here.create_text_channel("mods")
            await w.env.settle()
            await w.configure_all()
            await w.services.guilds.update(
                here.id, w.now(), checkin_channel_id=here_checkins.id, mod_channel_id=here_mods.id
            )
            for guild_id, who, whom in ((here.id, dora, erin), (w.guild.id, w.alice, w.bob)):
                await w.services.reports.file_report(
                    guild_id, who.id, whom.id, reported_is_bot=False, reason="rude", now=w.now()
                )
            await w.guild_unavailable(w.guild)
            before = len(w.env.http_requests)

            await _jump(w, MONDAY_10)
            await w.tick("checkins.post")
            await w.tick("reports.deliver")
            assert len(_posts(here_checkins)) == 1, "the available guild's check-in is posted at once"
            assert len(_cases(here_mods)) == 1, "and its report delivered"
            assert await w.services.checkins.post_of(w.guild.id, "2026-W02") is None, "nothing claimed for it"
            assert (await w.services.reports.case(w.guild.id, 1)).report.delivery == "pending"
            ids = {str(c.id) for c in (w.checkins, w.mods, w.help, w.general)} | {str(w.guild.id)}
            assert [r for r in w.env.http_requests[before:] if any(i in r.path for i in ids)] == []
            await w.advance(11 * 60)  # longer than the old 10-minute wait: still nothing for it
            await w.tick()
            assert await w.services.checkins.post_of(w.guild.id, "2026-W02") is None
            assert [r for r in w.env.http_requests[before:] if any(i in r.path for i in ids)] == []
            assert await w.services.health.list(w.guild.id) == [], "no problem recorded during the outage"

            await w.guild_available(w.guild)
            await w.tick("checkins.post")
            await w.tick("reports.deliver")
            assert len(_posts(w.checkins)) == 1, "back: its check-in is posted"
            assert len(_cases(w.mods)) == 1, "and its report delivered, once"
            assert len(_posts(here_checkins)) == 1 and len(_cases(here_mods)) == 1, "the other's not twice"
            assert await w.services.health.list(w.guild.id) == []
            violations = check_requests(w.env.http_requests, load_spec())
            assert not violations, format_violations(violations)
            assert unexpected_errors(w) == []
