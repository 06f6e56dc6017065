"""The read functions the dashboard's pages use, on a real database: the help overview (open,
overdue, time to first response), recent surveys, milestone counts — per guild, and without the
members who deleted their data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import InvalidInput
from bot.services import Services
from bot.services.recognition import validate_milestone_role

G, OTHER_G = 1_456_074_443_980_800_001, 1_456_074_443_980_800_099
ASKER, ASKER2, H1, H2 = (1_456_074_443_980_800_010 + i for i in range(4))
CHANNEL = 1_456_074_443_980_800_901
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


async def _request(services: Services, at: datetime, *, asker: int = ASKER, guild: int = G, thread: int = 0) -> int:
    request = await services.help.open_request(
        guild, asker, topic=None, title=f"Need help {thread}", body="…", wants="listening", content_note=None, now=at
    )
    if thread:
        await services.help.thread_posted(request.id, thread, CHANNEL, at)
    return request.id


async def test_help_overview_lists_open_requests_overdue_first_with_response_times(services: Services) -> None:
    await services.help.update_settings(G, NOW, escalate_minutes=60)
    # Answered after 10 and 30 minutes; one unanswered for 2 hours (overdue), one for 20 minutes.
    answered_fast = await _request(services, NOW - timedelta(hours=5), thread=901)
    await services.help.record_message(901, H1, NOW - timedelta(hours=5) + timedelta(minutes=10))
    await _request(services, NOW - timedelta(hours=4), thread=902)
    await services.help.record_message(902, H2, NOW - timedelta(hours=4) + timedelta(minutes=30))
    overdue = await _request(services, NOW - timedelta(hours=2), thread=903, asker=ASKER2)
    fresh = await _request(services, NOW - timedelta(minutes=20), thread=904)
    await services.help.claim(fresh, H1, NOW - timedelta(minutes=5))
    await services.help.resolve(answered_fast, ASKER, NOW - timedelta(hours=1))
    old = await _request(services, NOW - timedelta(days=40), thread=905)  # outside the 30 days
    await services.help.record_message(905, H1, NOW - timedelta(days=40) + timedelta(hours=9))
    await _request(services, NOW - timedelta(hours=3), guild=OTHER_G, thread=906)  # another guild

    view = await services.help.overview(G, NOW)
    assert (view.open_total, view.unanswered_total, view.overdue_total) == (4, 2, 1)
    assert [r.id for r in view.requests][:2] == [overdue, old]  # overdue first, then oldest first
    first = view.requests[0]
    assert first.overdue and first.asker_id == ASKER2 and first.waiting_minutes == 120
    by_id = {r.id: r for r in view.requests}
    assert not by_id[fresh].overdue and by_id[fresh].helper_ids == (H1,)
    assert answered_fast not in by_id  # resolved
    assert (view.opened, view.answered) == (4, 2)
    assert view.median_first_response_minutes == 10.0  # nearest rank of [10, 30]
    assert view.p90_first_response_minutes == 30.0
    assert view.escalate_minutes == 60

    empty = await services.help.overview(1, NOW)
    assert (empty.open_total, empty.requests, empty.median_first_response_minutes) == (0, (), None)


async def test_help_overview_forgets_a_member_who_deleted_their_data(services: Services) -> None:
    await _request(services, NOW - timedelta(hours=2), thread=901)
    kept = await _request(services, NOW - timedelta(hours=1), thread=902, asker=ASKER2)
    await services.privacy.delete(G, ASKER, NOW)
    view = await services.help.overview(G, NOW)
    assert [r.id for r in view.requests] == [kept]
    assert all(r.asker_id != ASKER for r in view.requests)


async def test_recent_surveys_count_answers_per_guild(services: Services) -> None:
    first = await services.surveys.create(
        G, H1, title="Events", questions_text="scale: How were the events?", anonymous=True, closes_in_hours=48, now=NOW
    )
    second = await services.surveys.create(
        G,
        H1,
        title="Times",
        questions_text="choice: Best time? | morning | evening",
        anonymous=False,
        closes_in_hours=48,
        now=NOW,
    )
    await services.surveys.create(
        OTHER_G, H1, title="Elsewhere", questions_text="text: Anything?", anonymous=True, closes_in_hours=48, now=NOW
    )
    for member in (ASKER, ASKER2):
        await services.surveys.answer(G, first.id, member, ["4"], NOW)
    recent = await services.surveys.recent(G)
    assert [(s.id, n) for s, n in recent] == [(second.id, 0), (first.id, 2)]


async def test_milestone_overview_counts_members_per_threshold(services: Services) -> None:
    role = 1_456_074_443_980_800_500
    await services.recognition.add_milestone(G, 10, role, NOW)
    await services.recognition.add_milestone(G, 50, role + 1, NOW)
    await services.recognition.configure(G, NOW, thanks_points=10)
    await services.recognition.thank(G, H1, ASKER, reason="thank you", source="thanks", now=NOW)
    rows = await services.recognition.milestone_overview(G)
    assert [(m.threshold, m.role_id) for m in rows] == [(10, role), (50, role + 1)]
    assert rows[0].granted + rows[0].pending == 1 and rows[1].granted + rows[1].pending == 0
    assert await services.recognition.milestone_overview(OTHER_G) == []


def test_milestone_roles_must_be_assignable() -> None:
    validate_milestone_role("Helper", is_default=False, managed=False, assignable=True)
    for kwargs, key in (
        ({"is_default": True, "managed": False, "assignable": True}, "recognition.errors.role_unusable"),
        ({"is_default": False, "managed": True, "assignable": True}, "recognition.errors.role_unusable"),
        ({"is_default": False, "managed": False, "assignable": False}, "recognition.errors.role_too_high"),
    ):
        with pytest.raises(InvalidInput) as bad:
            validate_milestone_role("X", **kwargs)
        assert bad.value.key == key
