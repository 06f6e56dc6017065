"""Survey results on the web: the same aggregates as /survey results, nothing for small anonymous groups."""

from __future__ import annotations

from datetime import timedelta

from tests.web.conftest import Dash


async def _survey(dash: Dash, *, anonymous: bool, title: str = "Events <b>night</b>"):
    world = dash.world
    return await world.services.surveys.create(
        world.guild.id,
        world.mod.id,
        title=title,
        anonymous=anonymous,
        closes_in_hours=48,
        questions_text="scale: How were the events?\ntext: What would you change?",
        now=world.now(),
    )


async def test_results_are_aggregate_and_member_text_is_escaped(dash: Dash) -> None:
    world = dash.world
    g = world.guild.id
    survey = await _survey(dash, anonymous=False)
    await world.services.surveys.answer(
        g, survey.id, world.alice.id, ["5", "<img src=x onerror=alert(1)>"], world.now()
    )
    await world.services.surveys.answer(g, survey.id, world.bob.id, ["3", ""], world.now())
    await dash.login(world.mod)
    status, html = await dash.page(f"/g/{g}/surveys")
    assert status == 200 and f'data-testid="survey-{survey.id}"' in html
    assert "Events &lt;b&gt;night&lt;/b&gt;" in html and "<b>night</b>" not in html
    status, html = await dash.page(f"/g/{g}/surveys/{survey.id}")
    assert status == 200
    assert f"Survey #{survey.id} · 2 answered" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    assert "4.00" in html  # the mean of 5 and 3
    # A named survey says who wrote a text (as /survey results does), without Discord markup.
    assert "alice</span>:</strong> &lt;img src=x" in html and "&lt;@" not in html


async def test_small_anonymous_survey_shows_no_results_and_other_guilds_are_not_found(dash: Dash) -> None:
    world = dash.world
    g = world.guild.id
    survey = await _survey(dash, anonymous=True)
    for member in (world.alice, world.bob):
        await world.services.surveys.answer(g, survey.id, member.id, ["1", "sad"], world.now())
    await world.advance(timedelta(hours=49).total_seconds())
    await dash.login(world.mod)
    status, html = await dash.page(f"/g/{g}/surveys/{survey.id}")
    assert status == 200 and 'data-testid="results-hidden"' in html and "sad" not in html
    assert str(world.alice.id) not in html
    foreign = await world.services.surveys.create(
        dash.other.id,
        dash.foreign_mod.id,
        title="Theirs",
        anonymous=False,
        closes_in_hours=48,
        questions_text="text: Anything?",
        now=world.now(),
    )
    status, html = await dash.page(f"/g/{g}/surveys/{foreign.id}")
    assert status == 404 and "Theirs" not in html
    status, _ = await dash.page(f"/g/{g}/surveys/abc")
    assert status == 404
