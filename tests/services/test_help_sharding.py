"""HelpService's job queries limited to a process's shards (issue #10): each process finds, leases
and queues only its own guilds' help work, and leaves the other guilds' rows untouched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.services import Services
from bot.sharding import GuildScope

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
SHARD0, SHARD1 = GuildScope(2, frozenset({0})), GuildScope(2, frozenset({1}))
#: One guild on each of two shards (Discord: shard = (guild_id >> 22) % shard_count).
G0, G1 = (1_000_000 << 22) | 7, (1_000_001 << 22) | 7
ASKER, HELPER = 1_456_074_443_980_800_010, 1_456_074_443_980_800_011


async def _ask(services: Services, guild_id: int) -> int:
    await services.help.join(guild_id, HELPER, None, NOW)
    request = await services.help.open_request(
        guild_id, ASKER, topic=None, title="Can't sleep", body="Exam", wants="listening", content_note=None, now=NOW
    )
    return request.id


async def test_pending_threads_and_the_outbox_are_claimed_per_shard(services: Services) -> None:
    assert SHARD0.owns(G0) and SHARD1.owns(G1)
    r0, r1 = await _ask(services, G0), await _ask(services, G1)
    assert [r.id for r in await services.help.pending_threads(NOW, scope=SHARD0)] == [r0]
    assert [r.id for r in await services.help.pending_threads(NOW, scope=SHARD1)] == [r1]
    assert sorted(r.id for r in await services.help.pending_threads(NOW)) == sorted([r0, r1])

    for n, request_id in enumerate((r0, r1)):
        posted = await services.help.thread_posted(request_id, 900 + n, 800 + n, NOW)
        assert posted.ping_ids == (HELPER,)
    mine = await services.help.due_outbox(NOW, scope=SHARD0)
    assert [(i.request.id, i.kind) for i in mine] == [(r0, "pings")]
    assert await services.help.due_outbox(NOW, scope=SHARD0) == [], "leased by the first call"
    theirs = await services.help.due_outbox(NOW, scope=SHARD1)
    assert [(i.request.id, i.kind, i.user_ids) for i in theirs] == [(r1, "pings", (HELPER,))], "left untouched"


async def test_follow_up_queues_only_the_scopes_guilds(services: Services) -> None:
    r0, r1 = await _ask(services, G0), await _ask(services, G1)
    for n, request_id in enumerate((r0, r1)):
        await services.help.thread_posted(request_id, 900 + n, 800 + n, NOW)
    for item in await services.help.due_outbox(NOW):
        await services.help.outbox_done(item.id)  # the first pings were sent
    later = NOW + timedelta(minutes=61)
    assert await services.help.follow_up(later, scope=SHARD0) > 0
    assert {(i.request.id, i.kind) for i in await services.help.due_outbox(later)} == {(r0, "wait"), (r0, "mods")}, (
        "another process's request is not touched"
    )
    assert await services.help.follow_up(later, scope=SHARD1) > 0
    assert {(i.request.id, i.kind) for i in await services.help.due_outbox(later)} == {(r1, "wait"), (r1, "mods")}
