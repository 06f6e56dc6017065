"""/stats through Discord-shaped interactions: who may see it, what it shows, the chart it attaches."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import discord

from bot.services import charts
from tests.harness.world import World

EXTENSIONS = ["cogs.setup", "cogs.activity", "cogs.stats"]
PNG = b"\x89PNG\r\n\x1a\n"


def _field(embed: discord.Embed, name: str) -> str:
    return next(f.value for f in embed.fields if f.name == name)


def _answer(r: Any) -> Any:
    """The message that answered a deferred interaction (the edited original or the first follow-up)."""
    if r.response is not None and (r.response.embeds or r.response.attachments):
        return r.response
    return r.followups[0]


def _png(world: World, message: Any) -> bytes:
    (attachment,) = message.attachments
    assert attachment.filename == "stats.png"
    data = world.env.backend.cdn.get(attachment.url)
    assert data is not None
    return data


async def _moods(world: World, members: list[Any], start: int = 1) -> None:
    for i, member in enumerate(members, start):
        await world.services.checkins.answer(world.guild.id, member.id, world.now(), mood=1 + i % 5)


async def _flush(world: World) -> None:
    await world.advance(60)
    await world.tick("activity.flush")
    await world.tick("activity.flush")


async def test_members_do_not_see_stats_and_are_refused_when_it_is_made_visible(world: World) -> None:
    await world.configure(mod_role_id=world.mod_role.id)
    assert "stats" not in world.alice.available_commands(world.general)
    assert "stats" in world.mod.available_commands(world.general)

    world.allow_command_for("stats", world.alice)
    r = await world.alice.slash(world.general, "stats", period="30d")
    assert r.ephemeral
    assert "Only moderators can do this." in r.response.content
    assert not r.response.attachments and not r.followups


async def test_moderator_gets_numbers_and_a_png_chart(world: World) -> None:
    await world.configure(mod_role_id=world.mod_role.id)
    s, g = world.services, world.guild.id
    # a help request answered after 20 minutes and resolved, one nobody answered
    req = await s.help.open_request(
        g, world.alice.id, topic=None, title="Rough day", body="", wants="listening", content_note=None, now=world.now()
    )
    await s.help.thread_posted(req.id, 4242, world.help.id, world.now())
    await world.advance(20 * 60)
    await s.help.record_message(4242, world.bob.id, world.now())
    await s.help.resolve(req.id, world.alice.id, world.now())
    await s.help.open_request(
        g, world.carol.id, topic=None, title="Anyone?", body="", wants="advice", content_note=None, now=world.now()
    )
    await s.recognition.thank(g, world.alice.id, world.bob.id, reason="listening", source="command", now=world.now())
    await s.reports.file_report(g, world.carol.id, world.bob.id, reported_is_bot=False, reason="rude", now=world.now())
    await _flush(world)

    r = await world.mod.slash(world.general, "stats", period="7d")
    assert r.ephemeral
    (callback,) = world.requests("POST", "/callback")
    assert callback.json["type"] == 5  # deferred ("thinking…") before the work
    message = _answer(r)
    assert message.ephemeral
    embed = message.embeds[0]
    assert embed.title == "Community insights · last 7 days"
    assert "**3** members were active" in _field(embed, "Active members")
    help_text = _field(embed, "Help requests")
    assert "Opened: **2** · answered: **1**" in help_text
    assert "Median time to first response: **20 min**" in help_text
    assert "Resolved: **50 %** · still unanswered: **50 %**" in help_text
    assert "Opened: **1** · open now: **1**" in _field(embed, "Reports")
    assert "(1 thanks from members)" in _field(embed, "Recognition")
    assert _field(embed, "Member satisfaction (monthly pulse)") == "—"
    assert embed.image.url == "attachment://stats.png"

    png = _png(world, message)
    assert png.startswith(PNG) and len(png) > 10_000


async def test_mood_is_hidden_below_five_members_and_shown_from_five(world: World) -> None:
    await world.configure(mod_role_id=world.mod_role.id)
    four = [world.alice, world.bob, world.carol, world.member("dave")]
    await _moods(world, four)
    await world.advance(60)

    r = await world.mod.slash(world.general, "stats", period="7d")
    checkins = _field(_answer(r).embeds[0], "Check-ins")
    assert "Members who checked in: **4**" in checkins
    assert "Average mood: **not enough answers to show (fewer than 5)**" in checkins
    assert "fewer than 5" in checkins.split("Mood by week:")[1]

    await _moods(world, [world.member("erin")], start=5)
    await world.advance(60)
    r = await world.mod.slash(world.general, "stats", period="7d")
    checkins = _field(_answer(r).embeds[0], "Check-ins")
    assert "Average mood: **3.0 / 5 (5 members)**" in checkins
    assert "not enough answers" not in checkins


async def test_german_guild_gets_german_embed_and_chart(world: World) -> None:
    await world.configure(mod_role_id=world.mod_role.id, language="de")
    await world.services.help.open_request(
        world.guild.id,
        world.alice.id,
        topic=None,
        title="Hallo",
        body="",
        wants="listening",
        content_note=None,
        now=world.now(),
    )
    await _flush(world)

    r = await world.mod.slash(world.general, "stats", period="30d")
    message = _answer(r)
    embed = message.embeds[0]
    assert embed.title == "Einblicke in die Community · letzte 30 Tage"
    assert "Gestellt: **1** · beantwortet: **0**" in _field(embed, "Hilfe-Anfragen")
    png = _png(world, message)
    report = await world.services.insights.report(world.guild.id, now=world.now(), days=30)
    assert png == charts.render(report, "de")  # the German chart (titles and week labels)
    assert png != charts.render(report, "en")


async def test_stats_works_without_any_data(world: World) -> None:
    r = await world.owner.slash(world.general, "stats", period="90d")  # Manage Server counts as moderator
    embed = _answer(r).embeds[0]
    assert "Opened: **0** · answered: **0**" in _field(embed, "Help requests")
    assert "Median time to first response: **—**" in _field(embed, "Help requests")
    assert _png(world, _answer(r)).startswith(PNG)


async def test_activity_days_are_recorded_from_messages(world: World) -> None:
    await world.configure(mod_role_id=world.mod_role.id)
    await world.alice.send(world.general, "hi")
    await world.bob.send(world.general, "hello")
    await world.alice.send(world.general, "again")
    await _flush(world)
    report = await world.services.insights.report(world.guild.id, now=world.now() + timedelta(minutes=1), days=7)
    assert report.weeks[-1].active_members == 2
