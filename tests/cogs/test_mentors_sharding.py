"""Mentoring in a process holding only some shards (issue #10). A mentor's Accept is a DM button,
which Discord delivers on shard 0 whichever shard the guild lives on: the pairing's private thread
is then opened by channel id over REST, not reported as a missing channel. The monthly check-in job
claims only this process's guilds' pairings."""

from __future__ import annotations

from datetime import timedelta

from bot.delivery import send_dm
from bot.sharding import GuildScope
from cogs.mentors import decision_view
from tests.harness.world import World, running_world


async def _proposal(w: World, guild_id: int, mentor_id: int, mentee_id: int) -> int:
    """A proposal the mentee accepted (in their guild's process); the mentor is asked next."""
    await w.services.mentors.offer(guild_id, mentor_id, topics="sleep", capacity=2, timezone=None, now=w.now())
    match = await w.services.mentors.find(guild_id, mentee_id, "sleep", w.now())
    assert (await w.services.mentors.accept(match.id, mentee_id, w.now())).waiting_for == "mentor"
    return match.id


async def test_a_mentor_accepting_by_dm_for_a_guild_on_another_shard_gets_the_thread(test_db) -> None:
    async with running_world(test_db, shards=(2, (0,)), guild_shard=1) as w:
        with w.env.time_context():
            assert not w.bot.owns_guild(w.guild.id) and w.bot.get_guild(w.guild.id) is None
            await w.configure(help_channel_id=w.help.id)
            match_id = await _proposal(w, w.guild.id, w.bob.id, w.alice.id)
            _, ask = await send_dm(w.bot, w.bob.id, "Would you mentor alice?", view=decision_view(match_id, "en"))
            assert ask is not None

            r = await w.bob.user.click(w.bob.user.dm_channel.history()[-1], label="Accept")
            assert "private thread" in r.response.content, r.response.content
            (thread,) = w.help.threads
            assert f"<@{w.alice.id}>" in thread.history()[0].content
            assert len(w.requests("GET", f"/channels/{w.help.id}")) == 1, "the help channel, fetched by id"
            assert await w.services.health.list(w.guild.id) == []
            pairing = await w.services.mentors.pairings(w.guild.id, w.bob.id)
            assert [(p.status, p.thread_id) for p in pairing] == [("active", thread.id)]


async def test_the_checkin_job_dms_only_this_process_guilds_pairings(test_db) -> None:
    async with running_world(test_db, shards=(2, (0,)), guild_shard=1) as w:
        with w.env.time_context():
            here = w.env.create_guild("Here", shard_id=0)
            mentor, mentee = here.add_member(w.env.create_user("meg")), here.add_member(w.env.create_user("tim"))
            await w.env.settle()
            pairs = {}
            for guild_id, m, e in ((here.id, mentor, mentee), (w.guild.id, w.bob, w.alice)):
                match_id = await _proposal(w, guild_id, m.id, e.id)
                await w.services.mentors.accept(match_id, m.id, w.now())
                await w.services.mentors.set_checkin(match_id, e.id)
                pairs[guild_id] = match_id
            w.env.backend.clock.advance(40 * 86400)
            await w.env.settle()
            for _ in range(3):
                await w.tick("mentors.checkin")
                w.env.backend.clock.advance(120)
                await w.env.settle()

            assert ["still working for you" in m.content for m in mentee.user.dm_channel.history()] == [True]
            assert w.alice.user.dm_channel is None or w.alice.user.dm_channel.history() == []
            later = w.now() + timedelta(seconds=1)
            claimed = await w.services.mentors.claim_checkins(later, scope=GuildScope(2, frozenset({1})))
            assert [m.id for m in claimed] == [pairs[w.guild.id]], "left for the process holding shard 1"
