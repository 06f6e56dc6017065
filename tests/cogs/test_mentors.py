"""/mentor through Discord-shaped interactions: matching, both sides accepting, thread, ending, check-ins."""

from __future__ import annotations

from tests.harness.world import World


async def _setup(world: World, capacity: int = 1) -> None:
    await world.configure(help_channel_id=world.help.id)
    r = await world.bob.slash(world.general, "mentor offer", topics="Sleep, anxiety", capacity=capacity)
    assert r.ephemeral and "Thank you for offering" in r.response.content


async def _request(world: World, mentee, topic: str = "sleep"):
    r = await mentee.slash(world.general, "mentor find", topic=topic)
    assert r.ephemeral and r.response.embeds, r.response.content
    return r


def _dm(world: World, member):
    return member.user.dm_channel.history()


async def test_both_accept_and_are_introduced_in_a_private_thread(world: World) -> None:
    await _setup(world)
    proposal = await _request(world, world.alice)
    assert f"<@{world.bob.id}>" in proposal.response.embeds[0].description
    assert _dm(world, world.bob) == []  # the mentor is only asked once the mentee accepts

    r = await world.alice.click(proposal.response, label="Accept")
    assert r.ephemeral and "I've asked" in r.response.content
    ask = _dm(world, world.bob)[-1]
    assert "would like a mentor for **sleep**" in ask.content
    assert not world.help.threads

    r = await world.bob.user.click(ask, label="Accept")
    assert "private thread" in r.response.content
    (thread,) = world.help.threads
    intro = thread.history()[0]
    assert f"<@{world.alice.id}>" in intro.content and f"<@{world.bob.id}>" in intro.content
    body = world.requests("POST", f"/channels/{thread.id}/messages")[-1].json
    assert sorted(map(int, body["allowed_mentions"]["users"])) == sorted([world.alice.id, world.bob.id])
    assert body["allowed_mentions"]["parse"] == []
    created = world.requests("POST", f"/channels/{world.help.id}/threads")[-1].json
    assert created["type"] == 12  # private thread
    pairings = await world.services.mentors.pairings(world.guild.id, world.bob.id)
    assert [(p.mentee_id, p.thread_id) for p in pairings] == [(world.alice.id, thread.id)]


async def test_capacity_is_respected(world: World) -> None:
    await _setup(world, capacity=1)
    proposal = await _request(world, world.alice)
    await world.alice.click(proposal.response, label="Accept")
    await world.bob.user.click(_dm(world, world.bob)[-1], label="Accept")
    r = await world.carol.slash(world.general, "mentor find", topic="sleep")
    assert r.ephemeral and "couldn't find a free mentor" in r.response.content
    # A second mentor with room gets the next request.
    await world.mod.slash(world.general, "mentor offer", topics="sleep", capacity=2)
    r = await _request(world, world.carol)
    assert f"<@{world.mod.id}>" in r.response.embeds[0].description


async def test_mentor_declines_kindly(world: World) -> None:
    await _setup(world)
    proposal = await _request(world, world.alice)
    await world.alice.click(proposal.response, label="Accept")
    r = await world.bob.user.click(_dm(world, world.bob)[-1], label="Decline")
    assert "thank you for letting me know" in r.response.content
    assert "can't take this on right now" in _dm(world, world.alice)[-1].content
    assert not world.help.threads
    # Bob is not proposed to Alice again.
    r = await world.alice.slash(world.general, "mentor find", topic="sleep")
    assert "couldn't find a free mentor" in r.response.content


async def test_mentee_declines_and_mentor_is_never_asked(world: World) -> None:
    await _setup(world)
    proposal = await _request(world, world.alice)
    r = await world.alice.click(proposal.response, label="Decline")
    assert r.ephemeral
    assert _dm(world, world.bob) == []
    r = await world.alice.click(proposal.response, label="Accept")
    assert "already answered" in r.response.content


async def test_closed_dms_cancel_the_request_and_pause_the_mentor(world: World) -> None:
    await _setup(world)
    proposal = await _request(world, world.alice)
    world.env.inject_error("POST", "/channels/*/messages", status=403, code=50007, times=1)
    r = await world.alice.click(proposal.response, label="Accept")
    assert "couldn't reach this mentor" in r.response.content
    assert (await world.services.mentors.get_mentor(world.guild.id, world.bob.id)).status == "paused"


async def test_block_keeps_two_members_apart(world: World) -> None:
    await _setup(world)
    r = await world.alice.slash(world.general, "mentor block", member=world.bob)
    assert "never be matched" in r.response.content
    r = await world.alice.slash(world.general, "mentor find", topic="sleep")
    assert "couldn't find a free mentor" in r.response.content


async def test_end_kindly_notifies_both(world: World) -> None:
    await _setup(world)
    proposal = await _request(world, world.alice)
    await world.alice.click(proposal.response, label="Accept")
    await world.bob.user.click(_dm(world, world.bob)[-1], label="Accept")
    (thread,) = world.help.threads
    r = await world.alice.slash(world.general, "mentor end", member=world.bob)
    assert r.ephemeral and "has ended" in r.response.content
    assert "has ended your mentoring pairing" in _dm(world, world.bob)[-1].content
    assert "This pairing has ended" in thread.history()[-1].content
    r = await world.alice.slash(world.general, "mentor end", member=world.bob)
    assert "no running pairing" in r.response.content


async def test_monthly_checkin_is_opt_in_and_sent_once(world: World) -> None:
    await _setup(world)
    proposal = await _request(world, world.alice)
    await world.alice.click(proposal.response, label="Accept")
    await world.bob.user.click(_dm(world, world.bob)[-1], label="Accept")
    (thread,) = world.help.threads
    before = len(_dm(world, world.alice))
    world.env.backend.clock.advance(40 * 86400)
    await world.env.settle()
    await world.tick("mentors.checkin")
    assert len(_dm(world, world.alice)) == before  # nobody opted in
    r = await world.alice.click(thread.history()[0], label="Monthly check-in on/off")
    assert "check-in is on" in r.response.content
    bob_before = len(_dm(world, world.bob))
    await world.tick("mentors.checkin")
    await world.tick("mentors.checkin")  # once per month
    assert "still working for you" in _dm(world, world.alice)[-1].content
    assert len(_dm(world, world.alice)) == before + 1
    assert len(_dm(world, world.bob)) == bob_before, "bob never chose the check-in DM"


async def test_pause_and_leave(world: World) -> None:
    await _setup(world)
    r = await world.bob.slash(world.general, "mentor pause")
    assert "on a break" in r.response.content
    r = await world.alice.slash(world.general, "mentor find", topic="sleep")
    assert "couldn't find a free mentor" in r.response.content
    r = await world.bob.slash(world.general, "mentor leave")
    assert "no longer a mentor" in r.response.content
    r = await world.bob.slash(world.general, "mentor pause")
    assert "aren't offering mentoring" in r.response.content


async def test_find_needs_a_help_channel(world: World) -> None:
    r = await world.alice.slash(world.general, "mentor find", topic="sleep")
    assert r.ephemeral and "/setup help-channel" in r.response.content


async def test_timezone_autocomplete(world: World) -> None:
    choices = await world.alice.autocomplete(world.general, "mentor find", "timezone", "berl", topic="sleep")
    assert choices[0]["value"] == "Europe/Berlin"


async def test_a_thread_that_could_not_be_set_up_is_not_left_behind(world: World) -> None:
    await _setup(world)
    proposal = await _request(world, world.alice)
    await world.alice.click(proposal.response, label="Accept")
    world.env.inject_error("PUT", "/channels/*/thread-members/*", status=503, times=1)
    r = await world.bob.user.click(_dm(world, world.bob)[-1], label="Accept")
    assert "couldn't open a private thread" in r.response.content.replace("’", "'")
    created = world.requests("POST", f"/channels/{world.help.id}/threads")
    assert len(created) == 1
    assert world.requests("DELETE", "/channels/"), "the half-made thread is removed"
    assert world.help.threads == []
    assert [p.code for p in await world.services.health.list(world.guild.id)] == ["delivery_failed"]
