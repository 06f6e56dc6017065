"""InsightService on a real database: numbers for a seeded scenario, the minimum group size, the chart."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import InvalidInput
from bot.services import Services, charts
from bot.services.insights import week_starts

G = 1
NOW = datetime(2026, 3, 19, 20, 0, tzinfo=UTC)  # a Thursday evening
PNG = b"\x89PNG\r\n\x1a\n"


async def active(services: Services, at: datetime, *members: int) -> None:
    """Members did something at ``at`` (as the activity listeners would record it)."""
    for m in members:
        services.activity.record(G, m, at)
        services.activity.record(G, m, at)
    await services.activity.flush(at)
    await services.activity.flush(at)


async def flush(services: Services) -> None:
    await services.activity.flush(NOW)
    await services.activity.flush(NOW)


async def help_request(
    services: Services, asker: int, at: datetime, helper: int | None, after: timedelta | None, *, resolve: bool
) -> None:
    req = await services.help.open_request(
        G, asker, topic=None, title="Need someone", body="", wants="listening", content_note=None, now=at
    )
    thread_id = 900_000 + req.id
    await services.help.thread_posted(req.id, thread_id, 5, at)
    if helper is not None and after is not None:
        await services.help.record_message(thread_id, helper, at + after)
    if resolve:
        await services.help.resolve(req.id, asker, at + timedelta(hours=5))


async def moods(services: Services, at: datetime, values: dict[int, int | None]) -> None:
    for member, mood in values.items():
        await services.checkins.answer(G, member, at, mood=mood, skipped=mood is None)


async def seed(services: Services) -> None:
    """Thirty days of a small support group (see the expectations in the test)."""
    old = NOW - timedelta(days=40)
    # outside the period: an old request, an old open report, two members who then went quiet
    await help_request(services, 100, old, 110, timedelta(minutes=5), resolve=True)
    await services.reports.file_report(G, 134, 140, reported_is_bot=False, reason="old", now=old)
    await active(services, NOW - timedelta(days=35), 201, 202)
    await services.nudges.opt_in(G, 201, NOW - timedelta(days=35))
    await services.nudges.opt_in(G, 202, NOW - timedelta(days=35))
    await flush(services)
    # prompts 10 days ago; 201 comes back 2 days later, 202 does not
    swept = NOW - timedelta(days=10)
    assert (await services.nudges.sweep(G, swept)).planned == 2
    for _ in range(2):
        prompt = await services.nudges.claim(swept)
        assert prompt is not None
        await services.nudges.mark_sent(prompt.nudge_id, 1, swept)
    await active(services, NOW - timedelta(days=8), 201)
    # this week: four help requests answered after 10, 30, 60 minutes and never; two resolved
    monday = NOW - timedelta(days=3)
    await help_request(services, 101, monday, 111, timedelta(minutes=10), resolve=True)
    await help_request(services, 102, monday, 112, timedelta(minutes=30), resolve=True)
    await help_request(services, 103, monday, 113, timedelta(minutes=60), resolve=False)
    await help_request(services, 104, monday, None, None, resolve=False)
    # check-ins: five moods, one "not this week"
    await moods(services, NOW - timedelta(hours=1), {121: 2, 122: 3, 123: 4, 124: 4, 125: 5, 126: None})
    # thanks
    await services.recognition.thank(G, 101, 102, reason="thanks", source="command", now=NOW - timedelta(days=1))
    await services.recognition.thank(G, 103, 104, reason="thanks", source="command", now=NOW - timedelta(days=1))
    # reports: three filed, one resolved after 2 h, one dismissed after 4 h
    filed = NOW - timedelta(days=2)
    receipts = [
        await services.reports.file_report(G, reporter, 140, reported_is_bot=False, reason="rude", now=filed)
        for reporter in (131, 132, 133)
    ]
    await services.reports.act(receipts[0].report_id, G, 150, "resolve", now=filed + timedelta(hours=2))
    await services.reports.act(receipts[1].report_id, G, 150, "dismiss", now=filed + timedelta(hours=4))
    await active(services, filed, 131, 132, 133, 150)
    await flush(services)


async def test_report_numbers_for_a_seeded_month(services: Services) -> None:
    await seed(services)
    r = await services.insights.report(G, now=NOW, days=30)

    # 101-104 askers, 111-113 helpers, 121-126 check-ins, 131-133 reporters, 150 the moderator, 201 came back
    assert r.active_members == 18
    assert (r.help_opened, r.help_answered, r.help_resolved) == (4, 3, 2)
    assert r.help_median_response_minutes == 30.0
    assert r.help_resolution_rate == 0.5
    assert r.help_unanswered_share == 0.25
    assert r.checkin_members == 5
    assert r.checkin_participation == pytest.approx(5 / 18)
    assert r.mood_average == 3.6 and r.mood_members == 5 and not r.mood_hidden
    assert r.recognition_thanks == 2
    ledger_points = sum([(await services.recognition.points(G, m, NOW)).total for m in (102, 104, 111, 112)])
    ledger_points += sum([(await services.recognition.points(G, m, NOW)).total for m in range(121, 127)])
    assert r.recognition_points == ledger_points >= 20
    assert (r.reports_opened, r.reports_median_resolution_hours, r.reports_open_now) == (3, 3.0, 2)
    assert (r.prompts_sent, r.prompts_came_back) == (2, 1)
    assert r.pulse_responses == 0 and r.pulse_mean is None

    assert [w.start.isoformat() for w in r.weeks] == [
        "2026-02-16",
        "2026-02-23",
        "2026-03-02",
        "2026-03-09",
        "2026-03-16",
    ]
    assert [w.active_members for w in r.weeks] == [0, 0, 0, 1, 17]
    this_week = r.weeks[-1]
    assert this_week.week == "2026-W12"
    assert this_week.help_opened == 4 and this_week.help_median_response_minutes == 30.0
    assert this_week.participation == pytest.approx(5 / 17)
    assert this_week.mood == 3.6
    assert r.weeks[0].participation is None and r.weeks[0].mood is None


async def test_seven_days_excludes_older_activity(services: Services) -> None:
    await seed(services)
    r = await services.insights.report(G, now=NOW, days=7)
    assert r.active_members == 17  # 201 came back 8 days ago
    assert r.prompts_sent == 0
    assert len(r.weeks) == 2


async def test_mood_hidden_below_five_members_shown_from_five(services: Services) -> None:
    await moods(services, NOW - timedelta(minutes=1), {1: 5, 2: 4, 3: 1, 4: 2})
    await flush(services)
    r = await services.insights.report(G, now=NOW, days=7)
    assert r.mood_average is None and r.mood_members == 4 and r.mood_hidden
    assert r.weeks[-1].mood is None and r.weeks[-1].mood_members == 4
    assert r.checkin_members == 4  # participation is not a feeling: it is shown

    await moods(services, NOW - timedelta(minutes=1), {5: 3})
    r = await services.insights.report(G, now=NOW, days=7)
    assert r.mood_average == 3.0 and r.weeks[-1].mood == 3.0


async def test_skipped_weeks_do_not_count_as_mood_answers(services: Services) -> None:
    await moods(services, NOW - timedelta(minutes=1), {1: 5, 2: 4, 3: 4, 4: 2, 5: None, 6: None})
    r = await services.insights.report(G, now=NOW, days=7)
    assert r.mood_members == 4 and r.mood_average is None
    assert r.checkin_members == 4


async def test_pulse_shown_only_from_five_answers(services: Services) -> None:
    at = NOW - timedelta(days=2)
    await services.surveys.set_pulse(G, True, 77, at)
    ((pulse, _channel),) = await services.surveys.claim_pulses(at)
    for member, value in zip(range(1, 5), "4534", strict=True):
        await services.surveys.answer(G, pulse.id, member, [value], at)
    r = await services.insights.report(G, now=NOW, days=7)
    assert r.pulse_responses == 4 and r.pulse_mean is None
    await services.surveys.answer(G, pulse.id, 5, ["4"], at)
    r = await services.insights.report(G, now=NOW, days=7)
    assert r.pulse_responses == 5 and r.pulse_mean == 4.0


async def test_empty_guild_has_no_rates(services: Services) -> None:
    r = await services.insights.report(G, now=NOW, days=90)
    assert r.active_members == 0 and r.help_opened == 0
    assert r.help_resolution_rate is None and r.help_median_response_minutes is None
    assert r.checkin_participation is None and not r.mood_hidden
    assert r.reports_median_resolution_hours is None and r.prompts_sent == 0
    assert len(r.weeks) == 14
    png = charts.render(r, "en")
    assert png.startswith(PNG)


async def test_unknown_period_is_refused(services: Services) -> None:
    with pytest.raises(InvalidInput) as e:
        await services.insights.report(G, now=NOW, days=12)
    assert e.value.key == "stats.errors.bad_period"


async def test_activity_days_are_written_once_and_kept_per_day(services: Services) -> None:
    for hours in (0, 1, 2):
        services.activity.record(G, 7, NOW - timedelta(days=1, hours=hours))
    services.activity.record(G, 7, NOW)
    assert services.activity.pending_days == 2  # two days
    assert await services.activity.flush(NOW) == 1  # one member row, two day rows
    assert services.activity.pending_days == 0
    services.activity.record(G, 7, NOW + timedelta(minutes=5))
    assert services.activity.pending_days == 0  # already written today
    r = await services.insights.report(G, now=NOW + timedelta(hours=1), days=7)
    assert r.weeks[-1].active_members == 1


def test_week_starts_cover_partial_weeks() -> None:
    assert [d.isoformat() for d in week_starts(NOW - timedelta(days=7), NOW)] == ["2026-03-09", "2026-03-16"]


async def test_chart_is_a_large_readable_png_in_the_guild_language(services: Services) -> None:
    await seed(services)
    r = await services.insights.report(G, now=NOW, days=30)
    png = charts.render(r, "en")
    assert png.startswith(PNG)
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert (width, height) == (800, 600)
    assert len(png) > 20_000  # three panels of bars and text, not a blank canvas

    def texts(lang: str) -> list[str]:
        fig = charts.figure(r, lang)
        return [fig.get_suptitle()] + [ax.get_title(loc="left") for ax in fig.axes]

    assert texts("de") == [
        "Die letzten 30 Tage, Woche für Woche",
        "Aktive Mitglieder",
        "Hilfe: Minuten bis zur ersten Antwort (Median)",
        "Teilnahme am Check-in",
    ]
    assert texts("en")[1] == "Active members"
    assert charts.figure(r, "de").axes[2].get_xticklabels()[-1].get_text() == "16.03."


async def test_privacy_delete_drops_buffered_activity_days(services: Services) -> None:
    services.activity.record(G, 7, NOW)
    services.activity.record(G, 8, NOW)
    await services.activity.flush(NOW)
    services.activity.record(G, 7, NOW - timedelta(days=1))
    await services.privacy.delete(G, 7, NOW)
    services.activity.record(G, 8, NOW - timedelta(days=1))
    assert services.activity.pending_days == 1  # only member 8's
    await services.activity.flush(NOW)
    r = await services.insights.report(G, now=NOW + timedelta(hours=1), days=7)
    assert r.weeks[-1].active_members == 1


async def test_charts_are_rendered_in_a_worker_process_that_is_replaced_when_it_dies(services: Services) -> None:
    """The renderer's worker process draws the same PNG as :func:`charts.render`; a worker that
    died is replaced, and a closed renderer starts a new one."""
    await seed(services)
    r = await services.insights.report(G, now=NOW, days=30)
    renderer = charts.ChartRenderer()
    try:
        assert await renderer.render(r, "de") == charts.render(r, "de")
        pool = renderer._pool
        assert pool is not None
        for process in list(pool._processes.values()):  # the worker dies (killed, out of memory…)
            process.kill()
            process.join()
        assert await renderer.render(r, "en") == charts.render(r, "en")
        assert renderer._pool is not pool
        renderer.close()
        assert renderer._pool is None
        assert await renderer.render(r, "en") == charts.render(r, "en")
    finally:
        renderer.close()
