"""The monthly pulse in a process holding shard 0 of 2 (issue #10): posted in our guilds; the
standard guild (on shard 1, not in this process's cache) gets no post, no problem recorded, and
its pulse is left for the process holding it."""

from __future__ import annotations

from sqlmodel import select

from bot.models.surveys import Survey
from bot.sharding import GuildScope
from tests.harness.contract import check_requests, format_violations, load_spec
from tests.harness.world import TestDatabase, running_world, unexpected_errors


async def test_pulse_is_posted_in_our_guilds_only(test_db: TestDatabase) -> None:
    async with running_world(test_db, shards=(2, (0,)), guild_shard=1) as w:
        with w.env.time_context():
            here = w.env.create_guild("Here", owner=w.env.create_user("hana"), shard_id=0)
            lounge = here.create_text_channel("lounge")
            await w.env.settle()
            now = w.now()
            await w.services.surveys.set_pulse(here.id, True, lounge.id, now)
            await w.services.surveys.set_pulse(w.guild.id, True, w.checkins.id, now)
            await w.tick("surveys.pulse")
            (post,) = lounge.history()
            assert post.embeds[0].title == "Monthly pulse" and post.components
            assert w.checkins.history() == []
            assert [r for r in w.env.http_requests if str(w.checkins.id) in r.path or str(w.guild.id) in r.path] == []
            assert await w.services.health.list(w.guild.id) == [], "its channel is not 'missing'"
            async with w.db.session() as s:
                assert (await s.exec(select(Survey).where(Survey.guild_id == w.guild.id))).all() == []
            ((pulse, channel_id),) = await w.services.surveys.claim_pulses(w.now(), scope=GuildScope(2, frozenset({1})))
            assert (pulse.guild_id, channel_id) == (w.guild.id, w.checkins.id), "left for shard 1's process"
            assert not (violations := check_requests(w.env.http_requests, load_spec())), format_violations(violations)
            assert unexpected_errors(w) == []
