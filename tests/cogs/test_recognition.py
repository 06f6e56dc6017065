"""Recognition points through Discord-shaped interactions, with SimCord's virtual clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import discord

from bot.services.events import CheckinAnswered
from cogs._ids import thank_custom_id
from cogs.recognition_views import ThankButton
from tests.harness.world import World

HOUR = 3600


async def jump(world: World, seconds: float) -> None:
    """Move the virtual clock by a big step."""
    world.env.backend.clock.advance(seconds)
    await world.env.settle()


async def total(world: World, member: Any) -> int:
    return (await world.services.recognition.points(world.guild.id, member.id, world.now())).total


def role_ids(world: World, member: Any) -> list[int]:
    return world.env.backend.get_guild(world.guild.id).members[member.id].role_ids


def role_puts(world: World) -> list[Any]:
    return [r for r in world.requests("PUT") if "/roles/" in r.path]


async def post_thank_button(world: World, channel: Any, receiver: Any, ref: int) -> discord.Message:
    """What the help feature does when a request is resolved: offer a one-tap thanks button."""
    view = discord.ui.View(timeout=None)
    view.add_item(ThankButton(receiver.id, "help", ref))
    message = await world.bot.get_channel(channel.id).send("Resolved 🎉", view=view)
    await world.env.settle()
    return message


# ---------------------------------------------------------------------- giving


async def test_thanks_is_public_pings_only_the_receiver_and_confirms_privately(world: World) -> None:
    reason = f"for listening <@{world.carol.id}> @everyone <@&{world.mod_role.id}>"
    r = await world.alice.slash(world.general, "thanks", member=world.bob, reason=reason)
    assert not r.ephemeral
    assert r.response.content.startswith(f"🌟 <@{world.bob.id}>, <@{world.alice.id}> thanks you:")
    assert "for listening" in r.response.content
    callback = next(q for q in world.requests("POST", "/callback") if "🌟" in q.json["data"]["content"])
    assert callback.json["data"]["allowed_mentions"] == {"users": [world.bob.id], "parse": []}
    (receipt,) = r.followups
    assert receipt.ephemeral and "got 10 points" in receipt.content
    assert await total(world, world.bob) == 10


async def test_refusals_are_kind_and_say_when(world: World) -> None:
    r = await world.alice.slash(world.general, "thanks", member=world.alice, reason="me")
    assert r.ephemeral and "Thanking yourself" in r.response.content
    helper_bot = world.guild.add_member(world.env.create_user("helperbot", bot=True))
    r = await world.alice.slash(world.general, "thanks", member=helper_bot, reason="beep")
    assert r.ephemeral and "Bots don't collect points" in r.response.content
    assert world.general.history() == []  # nothing public happened


async def test_pair_cooldown_expires_and_repeats_earn_less(world: World) -> None:
    await world.alice.slash(world.general, "thanks", member=world.bob, reason="first")
    await jump(world, 11 * HOUR)
    r = await world.alice.slash(world.general, "thanks", member=world.bob, reason="again")
    retry_at = int((world.now() + timedelta(hours=1)).timestamp())
    assert r.ephemeral and "in the last 12 hours" in r.response.content
    assert f"<t:{retry_at}:R>" in r.response.content
    r = await world.bob.slash(world.general, "thanks", member=world.alice, reason="back at you")
    assert "1× in the last 30 days" in r.followups[0].content  # diminishing counts both directions
    assert "worth 5 points" in r.followups[0].content
    await jump(world, HOUR)
    r = await world.alice.slash(world.general, "thanks", member=world.bob, reason="again")
    assert not r.ephemeral
    assert "2× in the last 30 days" in r.followups[0].content and "worth 3 points" in r.followups[0].content
    assert await total(world, world.bob) == 13


async def test_daily_cap_then_rolling_expiry(world: World) -> None:
    others = [world.bob, world.carol, world.mod, world.owner, world.member("dave")]
    for member in others:
        r = await world.alice.slash(world.general, "thanks", member=member, reason="you're great")
        assert not r.ephemeral
        await jump(world, HOUR)
    erin = world.member("erin")
    r = await world.alice.slash(world.general, "thanks", member=erin, reason="you too")
    assert r.ephemeral and "5 thanks in the last 24 hours" in r.response.content
    assert await total(world, erin) == 0
    await jump(world, 19 * HOUR)
    r = await world.alice.slash(world.general, "thanks", member=erin, reason="you too")
    assert not r.ephemeral and await total(world, erin) == 10


async def test_admin_sets_amounts_and_limits(world: World) -> None:
    r = await world.owner.slash(world.general, "setup recognition points", thanks=20, daily_cap=1, checkin=4)
    assert r.ephemeral and "Thanks: 20 points" in r.response.content and "24 h: 1" in r.response.content
    r = await world.alice.slash(world.general, "thanks", member=world.bob, reason="big help")
    assert "got 20 points" in r.followups[0].content
    r = await world.alice.slash(world.general, "thanks", member=world.carol, reason="big help")
    assert r.ephemeral and "1 thanks in the last 24 hours" in r.response.content
    world.allow_command_for("setup", world.alice)
    r = await world.alice.slash(world.general, "setup recognition points", thanks=100)
    assert r.ephemeral and "permissions" in r.response.content.lower()
    assert (await world.services.recognition.settings(world.guild.id)).thanks_points == 20


async def test_thank_author_context_menu_and_deleted_message_keeps_points(world: World) -> None:
    message = await world.bob.send(world.general, "Try the 4-7-8 breathing, it helps me")
    shown = await world.alice.context_menu(world.general, "Thank author", message)
    assert shown.modal is not None and shown.modal["title"] == "Thank bob"
    r = await world.alice.submit_modal(shown, {"reason": "this helped me sleep"})
    assert not r.ephemeral and "this helped me sleep" in r.response.content
    assert f"/channels/{world.guild.id}/{world.general.id}/{message.id}" in r.response.content
    (entry,) = (await world.services.recognition.points(world.guild.id, world.bob.id, world.now())).recent
    assert entry.message_id == message.id and entry.source == "message"
    await world.bob.delete(message)
    assert await total(world, world.bob) == 10
    shown = await world.bob.context_menu(world.general, "Thank author", r.response.message)
    r = await world.bob.submit_modal(shown, {"reason": "good bot"})
    assert r.ephemeral and "Bots don't collect points" in r.response.content


async def test_thank_button_from_a_resolved_request(world: World) -> None:
    message = await post_thank_button(world, world.help, world.bob, ref=42)
    r = await world.alice.click(message, custom_id=thank_custom_id(world.bob.id, "help", 42))
    assert not r.ephemeral and f"<@{world.bob.id}>, <@{world.alice.id}> thanks you for your help" in r.response.content
    assert r.followups[0].ephemeral
    (entry,) = (await world.services.recognition.points(world.guild.id, world.bob.id, world.now())).recent
    assert (entry.source, entry.giver_id) == ("help", world.alice.id)
    r = await world.bob.click(message, label="Say thanks")
    assert r.ephemeral and "Thanking yourself" in r.response.content
    await world.restart(clean=False)  # the button survives a restart
    r = await world.carol.click(message, label="Say thanks")
    assert not r.ephemeral
    await jump(world, 13 * HOUR)
    r = await world.alice.click(message, label="Say thanks")
    assert r.ephemeral and "already thanked them for this" in r.response.content
    assert await total(world, world.bob) == 20


# ---------------------------------------------------------------------- seeing


async def test_private_recognition_goes_by_dm(world: World) -> None:
    r = await world.bob.slash(world.general, "recognition private", setting="on")
    assert r.ephemeral and "by DM" in r.response.content
    r = await world.alice.slash(world.general, "thanks", member=world.bob, reason="kind words")
    assert r.ephemeral and "prefers quiet recognition" in r.response.content
    assert [m for m in world.general.history() if not m.flags.ephemeral] == []
    dm = world.bob.user.dm_channel.last_message
    assert "Kinship Test" in dm.content and "kind words" in dm.content
    await world.bob.slash(world.general, "recognition private", setting="off")
    await world.carol.slash(world.general, "thanks", member=world.bob, reason="public now")
    assert "public now" in world.general.last_message.content


async def test_points_and_leaderboard_with_opt_out(world: World) -> None:
    await world.alice.slash(world.general, "thanks", member=world.bob, reason="a")
    await world.carol.slash(world.general, "thanks", member=world.bob, reason="b")
    await world.alice.slash(world.general, "thanks", member=world.carol, reason="c")
    r = await world.bob.slash(world.general, "points")
    assert r.ephemeral
    embed = r.response.embeds[0]
    assert embed.title == "Points of bob"
    assert [f.value for f in embed.fields[:3]] == ["20", "20", "20"]
    assert f"<@{world.alice.id}>" in embed.fields[3].value  # bob sees who thanked him
    r = await world.alice.slash(world.general, "points", member=world.carol)
    assert r.ephemeral and r.response.embeds[0].fields[0].value == "10"
    assert len(r.response.embeds[0].fields) == 3, "others see totals only, not who thanked whom"
    await world.configure(mod_role_id=world.mod_role.id)
    r = await world.mod.slash(world.general, "points", member=world.bob)
    assert f"<@{world.carol.id}>" in r.response.embeds[0].fields[3].value  # moderators see entries to revoke
    r = await world.alice.slash(world.general, "leaderboard", period="week")
    assert r.ephemeral
    lines = r.response.embeds[0].description.splitlines()
    assert lines == [f"1. <@{world.bob.id}> · 20 points", f"2. <@{world.carol.id}> · 10 points"]
    r = await world.bob.slash(world.general, "recognition hide")
    assert "still count for milestones" in r.response.content
    r = await world.alice.slash(world.general, "leaderboard", period="all")
    assert r.response.embeds[0].description == f"1. <@{world.carol.id}> · 10 points"
    await jump(world, 8 * 24 * HOUR)
    r = await world.alice.slash(world.general, "leaderboard", period="week")
    assert "No points in this period" in r.response.embeds[0].description
    r = await world.alice.slash(world.general, "leaderboard", period="month")
    assert r.response.embeds[0].description == f"1. <@{world.carol.id}> · 10 points"
    await world.bob.slash(world.general, "recognition show")
    r = await world.alice.slash(world.general, "leaderboard", period="month")
    assert r.response.embeds[0].description.startswith(f"1. <@{world.bob.id}>")


async def test_moderator_revokes_an_entry_which_stays_recorded(world: World) -> None:
    await world.configure(mod_role_id=world.mod_role.id)
    await world.alice.slash(world.general, "thanks", member=world.bob, reason="sus")
    (entry,) = (await world.services.recognition.points(world.guild.id, world.bob.id, world.now())).recent
    assert "points-revoke" not in world.alice.available_commands(world.general)
    world.allow_command_for("points-revoke", world.alice)
    r = await world.alice.slash(world.general, "points-revoke", entry=entry.id, reason="I want it gone")
    assert r.ephemeral and "Only moderators" in r.response.content
    r = await world.mod.slash(world.general, "points-revoke", entry=entry.id, reason="alt account ring")
    assert r.ephemeral and f"Entry #{entry.id}" in r.response.content
    assert await total(world, world.bob) == 0
    await world.configure(mod_role_id=world.mod_role.id)
    r = await world.mod.slash(world.general, "points", member=world.bob)
    recent = r.response.embeds[0].fields[3].value
    assert f"~~`#{entry.id}`" in recent and "(revoked)" in recent
    r = await world.mod.slash(world.general, "points-revoke", entry=entry.id, reason="twice")
    assert "already revoked" in r.response.content


# ---------------------------------------------------------------------- milestones


async def test_milestone_role_granted_once_with_congratulation(world: World) -> None:
    helper = world.guild.create_role("Helper")
    r = await world.owner.slash(world.general, "setup milestones add", threshold=15, role=helper)
    assert r.ephemeral and "15 points" in r.response.content
    await world.alice.slash(world.general, "thanks", member=world.bob, reason="one")
    assert helper.id not in role_ids(world, world.bob)
    r = await world.carol.slash(world.general, "thanks", member=world.bob, reason="two")
    assert helper.id in role_ids(world, world.bob)
    congrats = r.followups[-1]
    assert not congrats.ephemeral and "reached 15 points" in congrats.content and "Helper" in congrats.content
    await world.configure(mod_role_id=world.mod_role.id)
    (last, *_) = (await world.services.recognition.points(world.guild.id, world.bob.id, world.now())).recent
    await world.mod.slash(world.general, "points-revoke", entry=last.id, reason="test")
    await world.mod.slash(world.general, "thanks", member=world.bob, reason="three")
    await world.tick("recognition.milestones")
    assert len(role_puts(world)) == 1
    r = await world.owner.slash(world.general, "setup milestones list")
    assert f"15 points → <@&{helper.id}>" in r.response.content
    await world.owner.slash(world.general, "setup milestones remove", threshold=15)
    r = await world.owner.slash(world.general, "setup milestones list")
    assert "No milestones yet" in r.response.content


async def test_milestone_role_above_the_bot_is_refused_at_setup(world: World) -> None:
    legend = world.guild.create_role("Legend", position=50)
    r = await world.owner.slash(world.general, "setup milestones add", threshold=10, role=legend)
    assert r.ephemeral and "my role must be above it" in r.response.content
    assert await world.services.recognition.milestones(world.guild.id) == []


async def test_missing_permission_is_reported_not_retried(world: World) -> None:
    helper = world.guild.create_role("Helper")
    await world.owner.slash(world.general, "setup milestones add", threshold=10, role=helper)
    world.env.inject_error("PUT", "/guilds/*/members/*/roles/*", status=403, code=50013, message="Missing Permissions")
    r = await world.alice.slash(world.general, "thanks", member=world.bob, reason="one")
    assert not r.ephemeral and helper.id not in role_ids(world, world.bob)
    await world.carol.slash(world.general, "thanks", member=world.bob, reason="two")
    await jump(world, HOUR)
    await world.tick("recognition.milestones")
    assert len(role_puts(world)) == 1  # tried once, not in a loop
    r = await world.owner.slash(world.general, "setup show")
    problems = next(f.value for f in r.response.embeds[0].fields if f.name == "Problems Kinship ran into")
    assert "Manage Roles" in problems and "Helper" in problems
    # The admin fixes the permission and saves the milestone again: the role is given.
    await world.owner.slash(world.general, "setup milestones add", threshold=10, role=helper)
    await world.tick("recognition.milestones")
    assert helper.id in role_ids(world, world.bob)
    assert await world.services.health.list(world.guild.id) == []


async def test_quiet_work_award_reaches_a_milestone_through_the_job(world: World) -> None:
    helper = world.guild.create_role("Helper")
    await world.owner.slash(world.general, "setup milestones add", threshold=2, role=helper)
    await world.alice.slash(world.general, "recognition private", setting="on")  # consents to DMs
    for member, week in ((world.alice, "2026-W10"), (world.bob, "2026-W10")):
        event = CheckinAnswered(world.guild.id, member.id, week, skipped=False, at=world.now())
        await world.services.ctx.events.publish(event)
        await world.services.ctx.events.publish(event)
    await world.tick("recognition.milestones")
    assert helper.id in role_ids(world, world.alice) and helper.id in role_ids(world, world.bob)
    assert "reached 2 points" in world.alice.user.dm_channel.last_message.content
    assert world.bob.user.dm_channel.history() == [], "no DM without consent: bob never chose DMs"
    await world.tick("recognition.milestones")
    assert len(role_puts(world)) == 2 and await total(world, world.alice) == 2


# ---------------------------------------------------------------------- weekly post


async def test_weekly_post_thanks_supporters_by_name_once(world: World) -> None:
    r = await world.owner.slash(world.general, "setup recognition weekly", enabled=True, channel=world.checkins)
    assert r.ephemeral and world.checkins.mention in r.response.content
    await jump(world, 24 * HOUR)  # the week the guild opted in
    await world.alice.slash(world.general, "thanks", member=world.bob, reason="a")
    await world.alice.slash(world.general, "thanks", member=world.carol, reason="b")
    await world.carol.slash(world.general, "recognition hide")
    now = world.now()
    next_monday = (now + timedelta(days=7 - now.weekday())).replace(hour=9, minute=0, second=0, microsecond=0)
    await jump(world, (next_monday - now).total_seconds() - 60)
    await world.tick("recognition.weekly")
    assert world.checkins.history() == []  # 08:59: not yet
    await jump(world, 60)
    await world.tick("recognition.weekly")
    (post,) = world.checkins.history()
    embed = post.embeds[0]
    assert "supporters of the week" in embed.title
    assert "bob: 10 points" in embed.description and "carol" not in embed.description
    assert "<@" not in embed.description
    send = [q for q in world.requests("POST", f"/channels/{world.checkins.id}/messages")]
    assert send[-1].json["allowed_mentions"] == {"parse": []}
    await world.restart(clean=False)
    await world.tick("recognition.weekly")
    assert len(world.checkins.history()) == 1


async def _weekly_row(world: World) -> Any:
    from sqlmodel import select

    from bot.models.recognition import RecognitionWeeklyPost

    async with world.db.session() as s:
        return (await s.exec(select(RecognitionWeeklyPost))).one()


async def test_a_weekly_post_whose_sender_crashed_is_sent_once_later(world: World) -> None:
    await world.owner.slash(world.general, "setup recognition weekly", enabled=True, channel=world.checkins)
    await jump(world, 24 * HOUR)
    await world.alice.slash(world.general, "thanks", member=world.bob, reason="a")
    now = world.now()
    await jump(world, (now + timedelta(days=7 - now.weekday())).replace(hour=9, minute=0).timestamp() - now.timestamp())
    # Another process claimed the week and died before sending.
    (claimed,) = await world.services.recognition.due_weekly_posts(world.now())
    await world.tick("recognition.weekly")
    assert world.checkins.history() == [], "still someone else's while their claim is fresh"
    await jump(world, 11 * 60)
    await world.tick("recognition.weekly")
    (post,) = world.checkins.history()
    assert claimed.week in post.embeds[0].title
    # This time the process dies after sending, before recording: found in the channel, not re-sent.
    async with world.db.session() as s:
        row = await s.merge(await _weekly_row(world))
        row.status, row.message_id, row.updated_at = "sending", None, world.now() - timedelta(minutes=11)
    await world.tick("recognition.weekly")
    assert len(world.checkins.history()) == 1
    row = await _weekly_row(world)
    assert (row.status, row.message_id) == ("sent", post.id)


async def test_german_member_gets_german_refusal(world: World) -> None:
    world.set_locale(world.alice, "de")
    await world.alice.slash(world.general, "thanks", member=world.bob, reason="danke")
    r = await world.alice.slash(world.general, "thanks", member=world.bob, reason="nochmal")
    assert "Du kannst" in r.response.content and "wieder danken" in r.response.content


async def test_commands_have_german_names(world: World) -> None:
    synced = {c["name"]: c for c in world.requests("PUT", "/commands")[-1].json}
    for name in ("thanks", "points", "points-revoke", "leaderboard", "recognition"):
        assert synced[name]["name_localizations"]["de"], name
        assert synced[name]["description_localizations"]["de"], name
    assert synced["Thank author"]["name_localizations"]["de"] == "Für Nachricht danken"
    assert str(synced["points-revoke"]["default_member_permissions"]) == str(
        discord.Permissions(manage_messages=True).value
    )
    subs = {o["name"]: o for o in synced["setup"]["options"]}
    assert {"recognition", "milestones"} <= set(subs)
    assert subs["milestones"]["name_localizations"]["de"] == "meilensteine"
