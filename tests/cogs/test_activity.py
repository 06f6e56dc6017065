"""Activity tracking through Discord events: messages, reactions and commands count; content never."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.models.activity import MemberActivity
from tests.harness.world import World


async def _stored(world: World) -> dict[int, object]:
    async with world.db.session() as s:
        rows = (await s.exec(select(MemberActivity.member_id, MemberActivity.last_active_at))).all()
    return dict(rows)  # type: ignore[arg-type]


async def _count(world: World) -> int:
    async with world.db.session() as s:
        return (await s.exec(select(func.count()).select_from(MemberActivity))).scalar_one()


async def test_messages_reactions_and_commands_count_after_a_batched_flush(world: World) -> None:
    assert not world.bot.intents.message_content, "activity needs no MESSAGE_CONTENT"
    message = await world.alice.send(world.general, "hello")
    await world.advance(60)
    await world.bob.react(message, "👍")
    await world.advance(60)
    await world.carol.slash(world.general, "nudges status")
    assert await _count(world) == 0, "no database write per message"

    await world.tick("activity.flush")
    stored = await _stored(world)
    assert set(stored) == {world.alice.id, world.bob.id, world.carol.id}
    assert stored[world.bob.id] > stored[world.alice.id]
    alice = await world.services.activity.get(world.guild.id, world.alice.id)
    assert alice is not None and alice.joined_at is not None


async def test_later_activity_moves_the_time_forward(world: World) -> None:
    await world.alice.send(world.general, "one")
    await world.tick("activity.flush")
    first = (await _stored(world))[world.alice.id]
    await world.advance(3600)
    await world.alice.send(world.general, "two")
    await world.tick("activity.flush")
    assert (await _stored(world))[world.alice.id] > first  # type: ignore[operator]


async def test_buffer_is_flushed_on_shutdown(world: World) -> None:
    await world.alice.send(world.general, "bye for now")
    assert await _count(world) == 0
    await world.restart(clean=True)
    assert world.alice.id in await _stored(world)


async def test_a_crash_loses_at_most_the_unflushed_buffer(world: World) -> None:
    await world.alice.send(world.general, "saved")
    await world.tick("activity.flush")
    await world.bob.send(world.general, "lost in the crash")
    await world.restart(clean=False)
    assert set(await _stored(world)) == {world.alice.id}


async def test_a_message_counts_at_the_time_its_id_says(world: World) -> None:
    await world.advance(0.123)  # a time with milliseconds, as message ids carry them
    message = await world.alice.send(world.general, "hello")
    assert message.created_at.microsecond == 123_000
    assert world.services.activity.buffered(world.guild.id, world.alice.id) == message.created_at
    await world.tick("activity.flush")
    assert (await _stored(world))[world.alice.id] == message.created_at
