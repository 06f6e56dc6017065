"""Features working together, as a member lives through them (each feature is tested alone in
its own files; here the seams between them are)."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.cogs.test_help import _ask, _ready
from tests.harness.world import World


async def test_resolving_a_request_thanks_the_helper_with_one_tap_and_rewards_the_quiet_work(world: World) -> None:
    await _ready(world)
    await _ask(world)
    thread = world.help.threads[0]
    starter = thread.history()[0]
    await world.bob.click(starter, label="I can help")
    await world.bob.send(thread, "I'm here. Want to talk it through?")
    resolved = await world.alice.click(starter, label="Resolved")
    offer = resolved.followups[-1] if resolved.followups else resolved.response

    thanked = await world.alice.click(offer, label="Thank bob")
    # bob sees a public thanks that pings only him; alice gets a private confirmation.
    assert not thanked.response.ephemeral and f"<@{world.bob.id}>" in thanked.response.content
    assert thanked.followups[-1].ephemeral
    points = await world.services.recognition.points(world.guild.id, world.bob.id, world.now())
    # The one-tap thanks (10) and the quiet work of helping resolve a request (5).
    assert sorted((e.source, e.amount) for e in points.recent) == [("help", 10), ("help_resolved", 5)]


async def test_answering_the_weekly_check_in_counts_as_activity_and_quiet_work(world: World) -> None:
    await world.configure(checkin_channel_id=world.checkins.id)
    monday = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    world.env.backend.clock.advance((monday - world.now()).total_seconds())
    await world.env.settle()
    await world.tick("checkins.post")
    post = next(m for m in world.checkins.history() if m.components)
    shown = await world.alice.click(post, label="Check in")
    await world.alice.submit_modal(shown, {"mood": "3", "note": ""})

    points = await world.services.recognition.points(world.guild.id, world.alice.id, world.now())
    assert points.total > 0 and any(e.source == "checkin" for e in points.recent)
    await world.tick("activity.flush")
    seen = await world.services.activity.get(world.guild.id, world.alice.id)
    assert seen is not None and seen.last_active_at >= monday


async def test_code_of_conduct_gate_opens_help_and_reports_only_after_acknowledging(world: World) -> None:
    await _ready(world)
    await world.services.conduct.set_text(world.guild.id, "1. Be kind.", "1. Sei freundlich.", world.now())
    await world.services.conduct.set_required(world.guild.id, True, world.now())

    refused = await world.alice.slash(world.general, "ask new", topic="Anxiety")
    assert refused.modal is None and refused.ephemeral and "/rules" in refused.response.content
    refused = await world.alice.slash(world.general, "report", member=world.bob, reason="rude")
    assert refused.modal is None and "/rules" in refused.response.content

    rules = await world.alice.slash(world.general, "rules")
    await world.alice.click(rules.response, label="I've read and accept")
    assert (await world.alice.slash(world.general, "ask new", topic="Anxiety")).modal is not None
    assert (await world.alice.slash(world.general, "report", member=world.bob, reason="rude")).modal is not None
