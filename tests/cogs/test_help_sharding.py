"""Help's jobs in a process holding only some shards (issue #10): its own guild's requests get
their thread, pings and escalation; a guild on another shard (not in this cache) is left to its own
process — nothing of it claimed or leased, no REST call to its channels, no "channel missing"."""

from __future__ import annotations

from bot.sharding import GuildScope
from tests.harness.world import running_world

THEIRS = GuildScope(2, frozenset({1}))
THEIR_THREAD = 1_456_074_443_980_800_999  # a thread the other process opened


async def test_help_jobs_serve_this_process_guilds_and_leave_the_others_pending(test_db) -> None:
    async with running_world(test_db, shards=(2, (0,)), guild_shard=1) as w:
        with w.env.time_context():
            here = w.env.create_guild("Here", shard_id=0)
            here_help = here.create_text_channel("help")
            asker, helper = here.add_member(w.env.create_user("ann")), here.add_member(w.env.create_user("hal"))
            await w.env.settle()
            there = w.guild  # on shard 1: another process's
            assert w.bot.owns_guild(here.id) and not w.bot.owns_guild(there.id)
            ids: dict[str, int] = {}
            for key, guild, channel, a, h in (
                ("mine", here, here_help, asker, helper),
                ("their_pending", there, w.help, w.alice, w.bob),
                ("their_posted", there, w.help, w.carol, w.bob),
            ):
                await w.services.guilds.update(guild.id, w.now(), help_channel_id=channel.id)
                await w.services.help.join(guild.id, h.id, None, w.now())
                request = await w.services.help.open_request(
                    guild.id, a.id, topic=None, title="Can't sleep", body="Exam", wants="listening",
                    content_note=None, now=w.now(),
                )  # fmt: skip
                ids[key] = request.id
            await w.services.help.thread_posted(ids["their_posted"], THEIR_THREAD, w.help.id, w.now())

            await w.tick("help.deliver")
            pending = await w.services.help.pending_threads(w.now(), scope=THEIRS)
            assert [r.id for r in pending] == [ids["their_pending"]], "not leased here"
            assert [i.kind for i in await w.services.help.due_outbox(w.now(), scope=THEIRS)] == ["pings"]
            w.env.backend.clock.advance(61 * 60)
            await w.env.settle()
            await w.tick("help.follow_up")

            mine = await w.services.help.get(ids["mine"])
            (thread,) = here_help.threads
            assert mine.thread_state == "posted" and mine.thread_id == thread.id
            assert any(f"<@{helper.id}>" in m.content for m in thread.history()), "the helper was pinged"
            assert any("<@" + str(asker.id) in m.content for m in thread.history()[1:]), "the asker was told"
            assert (await w.services.help.get(ids["their_pending"])).thread_state == "pending"
            assert w.help.threads == []
            theirs = [str(i) for i in (there.id, w.help.id, w.mods.id, THEIR_THREAD)]
            assert [r for r in w.env.http_requests if any(i in r.path for i in theirs)] == []
            assert await w.services.health.list(there.id) == [], "another shard's guild is not reported broken"
            # Everything is still there for the process that holds shard 1.
            assert await w.services.help.follow_up(w.now(), scope=THEIRS) > 0
            left = await w.services.help.due_outbox(w.now(), scope=THEIRS)
            assert sorted(i.kind for i in left) == ["mods", "pings", "wait"]
