"""/survey, the Answer button and the monthly pulse through Discord-shaped interactions."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.harness.world import World

QUESTIONS = (
    "scale: How supported do you feel in our evening groups these days?\n"
    "choice: Which day? | Mon | Tue\n"
    "text: Anything else?"
)


async def _create(world: World, *, anonymous: bool = True, hours: int = 24):
    await world.configure(mod_role_id=world.mod_role.id)
    shown = await world.mod.slash(
        world.general, "survey create", title="Evening groups", anonymous=anonymous, closes_in=hours
    )
    assert shown.modal is not None
    done = await world.mod.submit_modal(shown, {"questions": QUESTIONS})
    assert done.ephemeral and "Posted survey" in done.response.content
    post = world.general.last_message
    assert post.embeds[0].title == "Evening groups"
    return post


async def _answer(world: World, member, post, values: dict[str, str]):
    shown = await member.click(post, label="Answer")
    assert shown.modal is not None
    return await member.submit_modal(shown, values)


async def test_members_answer_through_the_modal_and_can_replace(world: World) -> None:
    post = await _create(world, anonymous=False)
    shown = await world.alice.click(post, label="Answer")
    rows = [row["components"][0] for row in shown.modal["components"]]
    assert len(rows) == 3
    assert rows[0]["label"] == "How supported do you feel in our evening gro…" and len(rows[0]["label"]) <= 45
    assert "How supported do you feel in our evening groups these days?" in rows[0]["placeholder"]
    assert rows[1]["placeholder"] == "Mon / Tue"
    r = await world.alice.submit_modal(shown, {"q0": "4", "q1": "tue", "q2": "More of these!"})
    assert r.ephemeral and "Thank you for answering" in r.response.content
    r = await _answer(world, world.alice, post, {"q0": "5", "q1": "Mon", "q2": ""})
    assert "replace" in r.response.content

    res = await world.mod.slash(world.general, "survey results", survey=1)
    assert res.ephemeral
    embed = res.response.embeds[0]
    assert "1 answered" in embed.description
    assert "Average: **5.00** of 5" in embed.fields[0].value
    assert "Mon: █ 1" in embed.fields[1].value


async def test_invalid_answers_get_a_kind_message(world: World) -> None:
    post = await _create(world)
    r = await _answer(world, world.alice, post, {"q0": "9", "q1": "Mon"})
    assert r.ephemeral and "number from 1 to 5" in r.response.content
    r = await _answer(world, world.alice, post, {"q0": "3", "q1": "Sunday"})
    assert "Mon / Tue" in r.response.content
    assert (await world.services.surveys.results(world.guild.id, 1)).respondents == 0


async def test_anonymous_results_stay_hidden_for_small_groups(world: World) -> None:
    post = await _create(world)
    members = [world.alice, world.bob, world.carol, world.member("dave")]
    for i, m in enumerate(members):
        await _answer(world, m, post, {"q0": str(i + 1), "q1": "Mon", "q2": f"thought {i}"})
    res = await world.mod.slash(world.general, "survey results", survey=1)
    embed = res.response.embeds[0]
    assert "4 answered" in embed.description and "at least 5" in embed.description and not embed.fields
    await _answer(world, world.member("erin"), post, {"q0": "5", "q1": "Tue", "q2": "thought 4"})
    embed = (await world.mod.slash(world.general, "survey results", survey=1)).response.embeds[0]
    assert len(embed.fields) == 3 and "Average: **3.00** of 5" in embed.fields[0].value
    assert "• thought 0" in embed.fields[2].value and "<@" not in embed.fields[2].value


async def test_closed_survey_refuses_answers(world: World) -> None:
    post = await _create(world, hours=1)
    await world.advance(3601)
    r = await world.alice.click(post, label="Answer")
    assert r.modal is None and r.ephemeral and "has closed" in r.response.content
    await world.tick("surveys.close")


async def test_only_moderators_create_and_see_results(world: World) -> None:
    assert not any(c.startswith("survey") for c in world.alice.available_commands(world.general))
    world.allow_command_for("survey", world.alice)
    r = await world.alice.slash(world.general, "survey create", title="x", anonymous=True, closes_in=1)
    assert r.modal is None and "Only moderators" in r.response.content
    r = await world.alice.slash(world.general, "survey results", survey=1)
    assert "Only moderators" in r.response.content


async def test_bad_question_lines_are_explained(world: World) -> None:
    await world.configure(mod_role_id=world.mod_role.id)
    shown = await world.mod.slash(world.general, "survey create", title="Oops", anonymous=True, closes_in=5)
    r = await world.mod.submit_modal(shown, {"questions": "rate: 1 to 10?"})
    assert r.ephemeral and "`scale:`" in r.response.content


async def test_monthly_pulse_is_opt_in_posted_once_and_feeds_stats(world: World) -> None:
    await world.configure(checkin_channel_id=world.checkins.id)
    await world.tick("surveys.pulse")
    assert world.checkins.last_message is None  # not opted in
    r = await world.owner.slash(world.general, "setup pulse", enabled=True)
    assert "pulse is on" in r.response.content
    await world.tick("surveys.pulse")
    await world.tick("surveys.pulse")  # idempotent
    posts = [m for m in world.checkins.history() if m.embeds]
    assert len(posts) == 1 and posts[0].embeds[0].title == "Monthly pulse"
    members = [world.alice, world.bob, world.carol, world.member("dave"), world.member("erin")]
    for i, m in enumerate(members):
        await _answer(world, m, posts[0], {"q0": str(3 + i % 3)})
    summary = await world.services.surveys.pulse_summary(world.guild.id, datetime(2000, 1, 1, tzinfo=UTC))
    assert summary.responses == 5 and summary.mean == 3.8  # 3, 4, 5, 3, 4


async def test_pulse_post_failure_is_reported_and_retried(world: World) -> None:
    await world.configure(checkin_channel_id=world.checkins.id)
    await world.owner.slash(world.general, "setup pulse", enabled=True)
    world.env.inject_error("POST", f"/channels/{world.checkins.id}/messages", status=403, code=50013, times=1)
    await world.tick("surveys.pulse")
    assert [p.key for p in await world.services.health.list(world.guild.id)] == ["surveys.pulse"]
    await world.tick("surveys.pulse")
    assert len([m for m in world.checkins.history() if m.embeds]) == 1
    assert await world.services.health.list(world.guild.id) == []


async def test_answer_button_survives_a_restart(world: World) -> None:
    post = await _create(world)
    await world.restart(clean=False)
    r = await _answer(world, world.alice, post, {"q0": "2", "q1": "Mon"})
    assert "Thank you for answering" in r.response.content
