"""/resource and the approval queue through Discord-shaped interactions."""

from __future__ import annotations

import discord

from tests.harness.world import World


async def _configure(world: World) -> None:
    await world.configure(mod_channel_id=world.mods.id, mod_role_id=world.mod_role.id)


async def _suggest(world: World, member, title: str, content: str, topic: str, language: str = "en"):
    shown = await member.slash(world.general, "resource add")
    assert shown.modal is not None and len(shown.modal["components"]) == 4
    return await member.submit_modal(shown, {"title": title, "content": content, "topic": topic, "language": language})


async def test_suggestion_goes_to_the_queue_and_approval_makes_it_searchable(world: World) -> None:
    await _configure(world)
    done = await _suggest(world, world.alice, "Sleep hygiene", "https://example.org/sleep", "sleep")
    assert done.ephemeral and "Thank you for suggesting" in done.response.content

    queue = world.mods.last_message
    assert queue is not None and "Sleep hygiene" in queue.content
    assert "<https://example.org/sleep>" in queue.content  # no preview before approval
    assert queue.flags.suppress_embeds
    post = world.requests("POST", f"/channels/{world.mods.id}/messages")[-1]
    assert post.json["allowed_mentions"]["parse"] == []

    # Not shown before approval.
    r = await world.bob.slash(world.general, "resource search", query="sleep")
    assert "found nothing" in r.response.content

    clicked = await world.mod.click(queue, label="Approve")
    assert clicked.response is None or not clicked.ephemeral
    queue = world.mods.last_message
    assert "Approved by" in queue.content and not queue.components

    r = await world.bob.slash(world.general, "resource search", query="hygiene")
    assert r.ephemeral
    embed = r.response.embeds[0]
    assert embed.fields[0].name == "Sleep hygiene" and "https://example.org/sleep" in embed.fields[0].value


async def test_reject_keeps_it_hidden(world: World) -> None:
    await _configure(world)
    await _suggest(world, world.alice, "Miracle cure", "https://spam.example/cure", "meds")
    await world.mod.click(world.mods.last_message, label="Reject")
    assert "Rejected by" in world.mods.last_message.content
    r = await world.bob.slash(world.general, "resource list")
    assert "no resources here yet" in r.response.content
    r = await world.bob.slash(world.general, "resource search", query="miracle")
    assert "found nothing" in r.response.content


async def test_only_moderators_can_approve(world: World) -> None:
    await _configure(world)
    # Even if a member could see the queue (a misconfigured channel), the button refuses them.
    await world.configure(mod_channel_id=world.general.id)
    await _suggest(world, world.alice, "My own link", "https://example.org/me", "misc")
    queue = world.general.last_message
    r = await world.alice.click(queue, label="Approve")
    assert r.ephemeral and "Only moderators" in r.response.content
    assert await world.services.library.search(world.guild.id, "own link") == []
    assert world.general.last_message.components  # still waiting


async def test_autocomplete_list_and_topics(world: World) -> None:
    await _configure(world)
    for title, topic in [("Box breathing", "anxiety"), ("Breathe with me", "anxiety"), ("Exam planner", "exams")]:
        await _suggest(world, world.alice, title, f"Text about {title}.", topic)
        await world.mod.click(world.mods.last_message, label="Approve")
    choices = await world.bob.autocomplete(world.general, "resource search", "query", "bre")
    assert [c["value"] for c in choices] == ["Breathe with me", "Box breathing"]
    topics = await world.bob.autocomplete(world.general, "resource list", "topic", "")
    assert [c["value"] for c in topics] == ["anxiety", "exams"]
    r = await world.bob.slash(world.general, "resource list", topic="anxiety")
    assert {f.name for f in r.response.embeds[0].fields} == {"Box breathing", "Breathe with me"}


async def test_pending_list_lets_moderators_decide_later(world: World) -> None:
    await _configure(world)
    world.env.inject_error("POST", f"/channels/{world.mods.id}/messages", status=403, code=50013, times=1)
    done = await _suggest(world, world.alice, "Journal prompts", "Write three good things a day.", "journaling")
    assert "couldn't reach the moderators' channel" in done.response.content
    problems = await world.services.health.list(world.guild.id)
    assert [p.code for p in problems] == ["missing_permission"]

    r = await world.mod.slash(world.general, "resource pending")
    assert r.ephemeral and "Journal prompts" in r.response.content
    item_id = (await world.services.library.pending(world.guild.id))[0].id
    decided = await world.mod.click(r.response, label=f"Approve #{item_id}")
    assert "is now in the library" in decided.response.content
    assert [x.title for x in await world.services.library.search(world.guild.id, "journal")] == ["Journal prompts"]


async def test_members_cannot_see_pending_or_remove(world: World) -> None:
    await _configure(world)
    r = await world.alice.slash(world.general, "resource pending")
    assert r.ephemeral and "Only moderators" in r.response.content
    r = await world.alice.slash(world.general, "resource remove", id=1)
    assert "Only moderators" in r.response.content


async def test_moderator_removes_a_resource(world: World) -> None:
    await _configure(world)
    await _suggest(world, world.alice, "Old link", "https://old.example", "misc")
    await world.mod.click(world.mods.last_message, label="Approve")
    rid = (await world.services.library.list(world.guild.id))[0].id
    r = await world.mod.slash(world.general, "resource remove", id=rid)
    assert "Removed “Old link”" in r.response.content
    assert await world.services.library.search(world.guild.id, "old") == []


async def test_add_without_a_moderators_channel_is_explained(world: World) -> None:
    r = await world.alice.slash(world.general, "resource add")
    assert r.modal is None and r.ephemeral and "/setup mod-channel" in r.response.content


async def test_german_member_gets_german_texts(world: World) -> None:
    await _configure(world)
    world.set_locale(world.alice, "de")
    shown = await world.alice.slash(world.general, "resource add")
    assert shown.modal["title"] == "Ressource vorschlagen"
    done = await world.alice.submit_modal(
        shown, {"title": "Atemübung", "content": "Vier Sekunden ein…", "topic": "Angst", "language": "de"}
    )
    assert "Danke" in done.response.content
    assert isinstance(world.mods.last_message, discord.Message)


async def test_queue_buttons_survive_a_restart(world: World) -> None:
    await _configure(world)
    await _suggest(world, world.alice, "Crisis lines", "https://example.org/lines", "crisis")
    queue = world.mods.last_message
    await world.restart(clean=False)
    await world.mod.click(queue, label="Approve")
    assert "Approved by" in world.mods.last_message.content
    assert [r.title for r in await world.services.library.search(world.guild.id, "crisis")] == ["Crisis lines"]
