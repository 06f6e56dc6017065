"""Quiet members with several shard processes (issue #10), through Discord-shaped interactions.

The bot here holds shard 0 of 2 and the standard guild ("Kinship Test") is on shard 1: it is not in
this process's cache. Its prompts are another process's to send; but the buttons of a prompt DM
arrive on shard 0 whatever the guild's shard, so this process answers them.
"""

from __future__ import annotations

from typing import Any

import discord

from bot import delivery
from bot.models.nudges import Nudge
from cogs.nudges_views import prompt_text, prompt_view
from tests.harness.world import TestDatabase, World, running_world


async def _nudge(world: World, guild_id: int, member_id: int, state: str) -> int:
    now = world.now()
    async with world.db.session() as s:
        row = Nudge(
            guild_id=guild_id, member_id=member_id, period=now.date().isoformat(), state=state,
            quiet_since=now, planned_at=now, due_at=now,
        )  # fmt: skip
        s.add(row)
        await s.flush()
        assert row.id is not None
        return row.id


async def _prompt_from_the_owning_process(world: World, member: Any) -> discord.Message:
    """A prompt about the remote guild, as the process holding its shard sent it."""
    nudge_id = await _nudge(world, world.guild.id, member.id, "sent")
    text = prompt_text("en", member.user.name, world.guild.name)
    outcome, message = await delivery.send_dm(
        world.bot, member.id, text, view=prompt_view("en", world.guild.id, nudge_id)
    )
    assert outcome == "sent" and message is not None
    await world.env.settle()
    return member.user.dm_channel.last_message


def _help_and_mod_posts(world: World) -> list[Any]:
    return [
        r
        for r in world.env.http_requests
        if r.method == "POST" and (str(world.help.id) in r.path or str(world.mods.id) in r.path)
    ]


async def test_only_this_process_s_guilds_are_prompted(test_db: TestDatabase) -> None:
    async with running_world(test_db, shards=(2, (0,)), guild_shard=1) as w:
        with w.env.time_context():
            here = w.env.create_guild("Here", shard_id=0)
            dora = here.add_member(w.env.create_user("dora"))
            await w.env.settle()
            for guild_id, member_id in ((here.id, dora.id), (w.guild.id, w.alice.id)):
                await w.services.nudges.opt_in(guild_id, member_id, w.now())
                await _nudge(w, guild_id, member_id, "planned")
            for _ in range(3):
                await w.tick("nudges.deliver")
                await w.advance(2)
            [dm] = [m for m in dora.user.dm_channel.history() if m.author.bot]
            assert "**Here**" in dm.content and dm.components
            assert w.alice.user.dm_channel.last_message is None, "the other shard's process sends that one"
            [row] = await w.services.nudges.history(w.guild.id, w.alice.id)
            assert (row.state, row.attempts) == ("planned", 0), "left untouched for its process"
            assert await w.services.health.list(w.guild.id) == []


async def test_a_prompt_about_a_guild_on_another_shard_is_answered_with_its_name(test_db: TestDatabase) -> None:
    async with running_world(test_db, shards=(2, (0,)), guild_shard=1) as w:
        with w.env.time_context():
            assert w.bot.get_guild(w.guild.id) is None
            dm = await _prompt_from_the_owning_process(w, w.alice)
            r = await w.alice.user.click(dm, label="I'm okay")
            assert "good to hear" in r.followups[0].content and "**Kinship Test**" in r.followups[0].content
            [row] = await w.services.nudges.history(w.guild.id, w.alice.id)
            assert row.outcome == "okay"
            assert w.alice.user.dm_channel.last_message.components == []


async def test_id_like_to_talk_about_a_guild_on_another_shard_stores_the_private_request(
    test_db: TestDatabase,
) -> None:
    async with running_world(test_db, shards=(2, (0,)), guild_shard=1) as w:
        with w.env.time_context():
            await w.configure(mod_channel_id=w.mods.id, help_channel_id=w.help.id)
            dm = await _prompt_from_the_owning_process(w, w.alice)
            r = await w.alice.user.click(dm, label="I'd like to talk")
            reply = r.followups[0].content
            assert "asked the people in **Kinship Test**" in reply, "not 'no help channel': it is just elsewhere"
            [request] = await w.services.help.open_requests(w.guild.id, w.alice.id)
            assert request.private and request.wants == "listening" and request.thread_id is None
            assert _help_and_mod_posts(w) == [], "the owning process's help.deliver opens the thread"
            assert w.mods.history() == [], "the moderators are not told instead"
            assert await w.services.health.list(w.guild.id) == [], "nothing is 'missing'"


async def test_id_like_to_talk_with_a_forum_help_channel_on_another_shard_tells_the_moderators(
    test_db: TestDatabase,
) -> None:
    async with running_world(test_db, shards=(2, (0,)), guild_shard=1) as w:
        with w.env.time_context():
            forum = w.guild.create_forum_channel("help-forum")
            await w.configure(mod_channel_id=w.mods.id, help_channel_id=forum.id)
            dm = await _prompt_from_the_owning_process(w, w.alice)
            r = await w.alice.user.click(dm, label="I'd like to talk")
            assert "let the moderators of **Kinship Test** know" in r.followups[0].content
            assert await w.services.help.open_requests(w.guild.id, w.alice.id) == [], "forum posts are public"
            note = w.mods.last_message
            assert "would like to talk" in note.content
            assert await w.services.health.list(w.guild.id) == []
