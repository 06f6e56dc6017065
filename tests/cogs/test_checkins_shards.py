"""Check-ins in a process holding only some shards (issue #10): it posts, reminds and pairs for the
guilds on its own shards and leaves the others' work pending for their process — no claim, no REST
call to their channels, no problem for ``/setup show``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.delivery import send_dm
from bot.sharding import GuildScope
from cogs.checkins_views import reminder_view
from tests.harness.contract import check_requests, format_violations, load_spec
from tests.harness.world import World, running_world, unexpected_errors

MONDAY_10 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)  # week 2026-W02
EVENING = datetime(2026, 1, 5, 18, 0, tzinfo=UTC)  # the reminder hour
THEIRS = GuildScope(2, frozenset({1}))  # the other process's shard


async def _jump(w: World, when: datetime) -> None:
    w.env.backend.clock.advance((when - w.now()).total_seconds())
    await w.env.settle()


def _dms(member: Any) -> list[Any]:
    channel = member.user.dm_channel
    return [m for m in channel.history() if m.author.bot] if channel else []


def _clean(w: World) -> None:
    violations = check_requests(w.env.http_requests, load_spec())
    assert not violations, format_violations(violations)
    assert unexpected_errors(w) == []


async def test_jobs_serve_this_shards_guild_and_leave_the_other_shards_guild_pending(test_db) -> None:
    async with running_world(test_db, shards=(2, (0,)), guild_shard=1) as w:
        with w.env.time_context():
            here = w.env.create_guild("Here", owner=w.env.create_user("hana"), shard_id=0)
            dora, erin = here.add_member(w.env.create_user("dora")), here.add_member(w.env.create_user("erin"))
            here_checkins = here.create_text_channel("check-ins")
            await w.env.settle()
            remote, now = w.guild, w.now()
            assert w.bot.owns_guild(here.id) and not w.bot.owns_guild(remote.id)
            for guild_id, channel, members in (
                (here.id, here_checkins, (dora, erin)),
                (remote.id, w.checkins, (w.alice, w.bob)),
            ):
                await w.services.guilds.update(guild_id, now, checkin_channel_id=channel.id)
                for m in members:
                    await w.services.checkins.set_reminders(guild_id, m.id, True, now)
                    await w.services.checkins.set_buddies(guild_id, m.id, True, now)

            await _jump(w, MONDAY_10)
            await w.tick("checkins.post")
            assert [m for m in here_checkins.history() if m.components], "this shard's guild gets its post"
            assert await w.services.checkins.post_of(remote.id, "2026-W02") is None, "the other's is not claimed"
            # The other process posts in its guild; everything after that is its work too.
            [theirs] = await w.services.checkins.claim_due_posts(w.now(), scope=THEIRS)
            await w.services.checkins.post_done(
                theirs.post_id, w.now(), channel_id=w.checkins.id, message_id=1, thread_id=None
            )

            await w.tick("checkins.buddies")
            assert [t.name for t in here_checkins.threads if t.name.startswith("Buddies")] == ["Buddies 2026-W02"]
            assert await w.services.checkins.buddy_groups(remote.id, "2026-W02") == []

            await _jump(w, EVENING)
            for _ in range(3):
                await w.tick("checkins.remind")
                await w.advance(2)
            assert [len(_dms(m)) for m in (dora, erin)] == [1, 1]
            assert "Here" in _dms(dora)[0].content
            assert _dms(w.alice) == [] and _dms(w.bob) == [], "the other process reminds its own members"

            assert [r for r in w.env.http_requests if str(w.checkins.id) in r.path] == []
            assert await w.services.health.list(remote.id) == [], "its channel is not reported missing"
            [still] = await w.services.checkins.claim_reminders(w.now(), 1, scope=THEIRS)
            assert still.guild_id == remote.id, "its reminders are still there for its process to claim"
            _clean(w)


async def test_a_reminder_dm_button_works_for_a_guild_on_another_shard(test_db) -> None:
    """DM interactions arrive on shard 0 whichever shard the guild is on."""
    async with running_world(test_db, shards=(2, (0,)), guild_shard=1) as w:
        with w.env.time_context():
            await w.services.checkins.set_reminders(w.guild.id, w.alice.id, True, w.now())
            outcome, _ = await send_dm(w.bot, w.alice.id, "reminder", view=reminder_view(w.guild.id, "en", None))
            assert outcome == "sent"
            r = await w.alice.user.click(_dms(w.alice)[-1], label="Turn off reminders")
            assert "Reminders for that server are off" in r.response.content
            assert not (await w.services.checkins.prefs(w.guild.id, w.alice.id)).reminders
            _clean(w)
