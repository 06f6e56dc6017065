"""Recognition in a process holding shard 0 of 2 (issue #10): its jobs serve the guilds on shard 0
and leave the standard guild — on shard 1, not in this process's cache — to the process holding it:
no role call, no post, no problem recorded, and its work still pending."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from sqlmodel import select

from bot.models.recognition import RecognitionGrant, RecognitionWeeklyPost
from bot.services.events import CheckinAnswered
from bot.sharding import GuildScope
from tests.harness.contract import check_requests, format_violations, load_spec
from tests.harness.world import TestDatabase, World, running_world, unexpected_errors

SHARD1 = GuildScope(2, frozenset({1}))


@contextlib.asynccontextmanager
async def shard0_world(test_db: TestDatabase) -> AsyncIterator[tuple[World, Any]]:
    """The bot holds shard 0 of 2; ``w.guild`` is on shard 1. Yields the world and a guild of ours."""
    async with running_world(test_db, shards=(2, (0,)), guild_shard=1) as w:
        with w.env.time_context():
            here = w.env.create_guild("Here", owner=w.env.create_user("hana"), shard_id=0)
            await w.env.settle()
            assert w.bot.get_guild(here.id) is not None and w.bot.get_guild(w.guild.id) is None
            yield w, here
            assert not (violations := check_requests(w.env.http_requests, load_spec())), format_violations(violations)
            assert unexpected_errors(w) == []


def role_ids(w: World, guild: Any, member: Any) -> list[int]:
    return w.env.backend.get_guild(guild.id).members[member.id].role_ids


def touching(w: World, *ids: int) -> list[Any]:
    return [r for r in w.env.http_requests if any(str(i) in r.path for i in ids)]


async def test_milestone_roles_are_given_in_our_guilds_only(test_db: TestDatabase) -> None:
    async with shard0_world(test_db) as (w, here):
        dora, erin = here.add_member(w.env.create_user("dora")), here.add_member(w.env.create_user("erin"))
        general = here.create_text_channel("general")
        helper, thanked, theirs = here.create_role("Helper"), here.create_role("Thanked"), w.guild.create_role("Helper")
        await w.env.settle()
        rec, now = w.services.recognition, w.now()
        await rec.add_milestone(here.id, 2, helper.id, now)
        await rec.add_milestone(w.guild.id, 2, theirs.id, now)
        for guild_id, member in ((here.id, dora), (w.guild.id, w.alice)):
            await w.services.ctx.events.publish(CheckinAnswered(guild_id, member.id, "2026-W01", skipped=False, at=now))
        await w.tick("recognition.milestones")
        assert helper.id in role_ids(w, here, dora), "our guild's quiet work is rewarded"
        assert theirs.id not in role_ids(w, w.guild, w.alice)
        assert touching(w, w.guild.id) == [], "no role call in a guild this process cannot see"
        assert await w.services.health.list(w.guild.id) == [], "and no problem made up for it"
        async with w.db.session() as s:
            grant = (await s.exec(select(RecognitionGrant).where(RecognitionGrant.guild_id == w.guild.id))).one()
        assert grant.status == "pending"
        # A thanks in our guild (an interaction: claimed=False) still gives its role at once.
        await rec.add_milestone(here.id, 12, thanked.id, now)
        r = await erin.slash(general, "thanks", member=dora, reason="for the tea")
        assert thanked.id in role_ids(w, here, dora) and "reached 12 points" in r.followups[-1].content
        (mine,) = await rec.claim_grants(w.now(), scope=SHARD1)
        assert (mine.guild_id, mine.member_id) == (w.guild.id, w.alice.id), "left for shard 1's process"


async def test_weekly_post_goes_to_our_guilds_only(test_db: TestDatabase) -> None:
    async with shard0_world(test_db) as (w, here):
        dora, erin = here.add_member(w.env.create_user("dora")), here.add_member(w.env.create_user("erin"))
        board = here.create_text_channel("board")
        await w.env.settle()
        rec, now = w.services.recognition, w.now()
        for guild_id, channel_id, giver, receiver in (
            (here.id, board.id, erin, dora),
            (w.guild.id, w.checkins.id, w.alice, w.bob),
        ):
            await rec.configure(guild_id, now, weekly_enabled=True, weekly_channel_id=channel_id)
            await rec.thank(guild_id, giver.id, receiver.id, reason="", source="thanks", now=now)
        monday = (now + timedelta(days=7 - now.weekday())).replace(hour=9, minute=0, second=0, microsecond=0)
        w.env.backend.clock.advance((monday - now).total_seconds())
        await w.env.settle()
        await w.tick("recognition.weekly")
        (post,) = board.history()
        assert "dora: 10 points" in post.embeds[0].description
        assert w.checkins.history() == [] and touching(w, w.guild.id, w.checkins.id) == []
        assert await w.services.health.list(w.guild.id) == []
        async with w.db.session() as s:
            rows = (await s.exec(select(RecognitionWeeklyPost))).all()
        assert [(r.guild_id, r.status) for r in rows] == [(here.id, "sent")], "theirs not even claimed"
        (theirs,) = await rec.due_weekly_posts(w.now(), scope=SHARD1)
        assert (theirs.guild_id, theirs.channel_id) == (w.guild.id, w.checkins.id), "still due for its process"
