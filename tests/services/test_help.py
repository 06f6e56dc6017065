"""HelpService on a real database: topics, helpers' boundaries, matching, claims, timers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.services import Services
from bot.services.events import HelpResolved, MemberActive
from bot.services.help import in_quiet_hours, parse_quiet_hours

G = 1_456_074_443_980_800_001
ASKER, H1, H2, H3, H4 = (1_456_074_443_980_800_010 + i for i in range(5))
THREAD, CHANNEL = 1_456_074_443_980_800_900, 1_456_074_443_980_800_901
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # 13:00 in Berlin, 04:00 in Los Angeles


async def _ask(services: Services, topic: str | None = "Anxiety", now: datetime = NOW, asker: int = ASKER):
    return await services.help.open_request(
        G, asker, topic=topic, title="Can't sleep", body="Exam tomorrow", wants="listening", content_note=None, now=now
    )


async def _posted(services: Services, topic: str | None = "Anxiety", now: datetime = NOW, thread: int = THREAD):
    request = await _ask(services, topic, now)
    return await services.help.thread_posted(request.id, thread, CHANNEL, now)


@pytest.fixture
async def topics(services: Services) -> Services:
    for name in ("Anxiety", "Grief", "Study"):
        await services.help.add_topic(G, name, NOW)
    return services


async def test_topics_are_unique_case_insensitively_and_removable(services: Services) -> None:
    await services.help.add_topic(G, "Anxiety", NOW)
    with pytest.raises(InvalidInput):
        await services.help.add_topic(G, "  anxiety ", NOW)
    with pytest.raises(InvalidInput):
        await services.help.add_topic(G, "a,b", NOW)
    assert [t.name for t in await services.help.suggest_topics(G, "anx")] == ["Anxiety"]
    await services.help.remove_topic(G, "ANXIETY")
    assert await services.help.topics(G) == []
    with pytest.raises(NotFound):
        await services.help.remove_topic(G, "Anxiety")


async def test_open_request_is_stored_pending_before_any_thread(topics: Services) -> None:
    seen: list[MemberActive] = []

    async def on_active(event: MemberActive) -> None:
        seen.append(event)

    topics.ctx.events.subscribe(MemberActive, on_active)
    request = await _ask(topics)
    assert request.thread_state == "pending" and request.thread_id is None and request.topic_name == "Anxiety"
    assert [r.id for r in await topics.help.pending_threads(NOW)] == [request.id]
    assert seen and seen[0].member_id == ASKER
    with pytest.raises(InvalidInput):
        await _ask(topics, topic="Astrology")


async def test_failed_thread_backs_off_and_posting_happens_once(topics: Services) -> None:
    request = await _ask(topics)
    retry_at = await topics.help.thread_failed(request.id, "missing", NOW)
    assert retry_at >= NOW + timedelta(minutes=15)
    assert await topics.help.pending_threads(NOW + timedelta(minutes=1)) == []
    assert await topics.help.pending_threads(retry_at)
    await topics.help.join(G, H1, "Anxiety", NOW)
    first = await topics.help.thread_posted(request.id, THREAD, CHANNEL, retry_at)
    again = await topics.help.thread_posted(request.id, THREAD, CHANNEL, retry_at)
    assert first.ping_ids == (H1,) and again.ping_ids == ()
    assert first.request.body == ""  # the text lives in the thread only
    items = await topics.help.due_outbox(retry_at)
    assert [(i.kind, i.user_ids) for i in items] == [("pings", (H1,))]


async def test_matching_respects_topics_exclusions_status_and_limit(topics: Services) -> None:
    await topics.help.join(G, H1, "Anxiety, Grief", NOW)
    await topics.help.join(G, H2, None, NOW)  # every topic …
    await topics.help.set_limits(G, H2, NOW, exclude_topics="anxiety")  # … except this one
    await topics.help.join(G, H3, "Study", NOW)
    await topics.help.join(G, H4, "Anxiety", NOW)
    await topics.help.set_status(G, H4, "away", NOW + timedelta(hours=2), NOW)
    assert (await _posted(topics)).ping_ids == (H1,)
    # H4's away time is over: pinged again.
    later = NOW + timedelta(hours=3)
    assert (await _posted(topics, now=later, thread=THREAD + 1)).ping_ids == (H4, H1)  # never pinged first


async def test_rotation_pings_least_recently_pinged_first(topics: Services) -> None:
    await topics.help.update_settings(G, NOW, pings_per_round=1)
    for h in (H1, H2, H3):
        await topics.help.join(G, h, "Anxiety", NOW)
    pinged = [(await _posted(topics, now=NOW + timedelta(minutes=i), thread=THREAD + i)).ping_ids[0] for i in range(4)]
    assert pinged == [H1, H2, H3, H1]


def test_quiet_hours_in_the_helpers_own_time_zone() -> None:
    start, end = parse_quiet_hours("22:00-07:00")
    night_in_berlin = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # 00:30 Berlin, 15:30 Los Angeles
    assert in_quiet_hours(start, end, "Europe/Berlin", night_in_berlin)
    assert not in_quiet_hours(start, end, "America/Los_Angeles", night_in_berlin)
    assert in_quiet_hours(start, end, "America/Los_Angeles", NOW)  # 04:00 there
    assert not in_quiet_hours(*parse_quiet_hours("09:00-17:00"), "UTC", NOW.replace(hour=17))
    with pytest.raises(InvalidInput):
        parse_quiet_hours("late")


async def test_quiet_helpers_are_not_pinged(topics: Services) -> None:
    await topics.help.join(G, H1, "Anxiety", NOW)
    await topics.help.set_limits(G, H1, NOW, quiet_hours="22:00-07:00", timezone="America/Los_Angeles")
    await topics.help.join(G, H2, "Anxiety", NOW)
    await topics.help.set_limits(G, H2, NOW, quiet_hours="22:00-07:00", timezone="Europe/Berlin")
    assert (await _posted(topics)).ping_ids == (H2,)  # 04:00 in LA, 13:00 in Berlin


async def test_claims_lead_limit_and_own_request(topics: Services) -> None:
    await topics.help.join(G, H1, None, NOW)
    await topics.help.set_limits(G, H1, NOW, max_open=1)
    first = await _posted(topics)
    second = await _posted(topics, thread=THREAD + 1)
    claim = await topics.help.claim(first.request.id, H1, NOW)
    assert claim.lead and claim.request.helper_ids == (H1,)
    assert (await topics.help.claim(first.request.id, H1, NOW)).already
    with pytest.raises(NotAllowed) as err:
        await topics.help.claim(second.request.id, H1, NOW)
    assert err.value.key == "help.errors.at_limit" and err.value.params == {"limit": 1}
    with pytest.raises(NotAllowed):
        await topics.help.claim(first.request.id, ASKER, NOW)
    joined = await topics.help.claim(first.request.id, H2, NOW + timedelta(minutes=1))  # not a helper: default limit
    assert not joined.lead and joined.request.helper_ids == (H1, H2)
    # A helper at their limit is not pinged either.
    assert H1 not in (await _posted(topics, thread=THREAD + 2)).ping_ids


async def test_follow_up_rounds_escalation_idle_and_archive_fire_once(topics: Services) -> None:
    await topics.help.update_settings(G, NOW, pings_per_round=1)
    for h in (H1, H2):
        await topics.help.join(G, h, "Anxiety", NOW)
    posted = await _posted(topics)
    rid = posted.request.id
    assert await topics.help.follow_up(NOW + timedelta(minutes=14)) == 0
    assert await topics.help.follow_up(NOW + timedelta(minutes=15)) == 1
    assert await topics.help.follow_up(NOW + timedelta(minutes=16)) == 0
    kinds = [(i.kind, i.round, i.user_ids) for i in await topics.help.due_outbox(NOW + timedelta(minutes=16))]
    assert kinds == [("pings", 1, (H1,)), ("pings", 2, (H2,))]
    assert await topics.help.follow_up(NOW + timedelta(minutes=60)) == 2
    assert await topics.help.follow_up(NOW + timedelta(minutes=61)) == 0
    assert [i.kind for i in await topics.help.due_outbox(NOW + timedelta(hours=1))][2:] == ["wait", "mods"]
    assert await topics.help.follow_up(NOW + timedelta(hours=48)) == 1  # idle question
    assert await topics.help.follow_up(NOW + timedelta(hours=71)) == 0
    assert await topics.help.follow_up(NOW + timedelta(hours=72)) == 1  # archived
    assert (await topics.help.get(rid)).state == "archived"


async def test_an_answer_stops_the_escalation(topics: Services) -> None:
    posted = await _posted(topics)
    await topics.help.record_message(THREAD, ASKER, NOW + timedelta(minutes=1))  # the asker does not count
    assert (await topics.help.get(posted.request.id)).first_response_at is None
    await topics.help.record_message(THREAD, H1, NOW + timedelta(minutes=5))
    assert (await topics.help.get(posted.request.id)).first_response_at == NOW + timedelta(minutes=5)
    assert await topics.help.follow_up(NOW + timedelta(minutes=90)) == 0
    assert await topics.help.record_message(THREAD + 99, H1, NOW) is None
    times = await topics.help.response_times(G, NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert times[0].first_response_seconds == 300 and times[0].resolution_seconds is None


async def test_helper_leaving_releases_claims_so_follow_up_resumes(topics: Services) -> None:
    await topics.help.join(G, H1, "Anxiety", NOW)
    posted = await _posted(topics)
    await topics.help.claim(posted.request.id, H1, NOW + timedelta(minutes=2))
    assert await topics.help.follow_up(NOW + timedelta(minutes=20)) == 0
    assert await topics.help.leave(G, H1, NOW + timedelta(minutes=21)) == [posted.request.id]
    assert (await topics.help.get(posted.request.id)).helper_ids == ()
    assert await topics.help.helper(G, H1) is None
    assert await topics.help.follow_up(NOW + timedelta(minutes=22)) == 1
    with pytest.raises(NotFound):
        await topics.help.leave(G, H1, NOW)


async def test_resolve_publishes_event_with_everyone_who_helped(topics: Services) -> None:
    events: list[HelpResolved] = []

    async def on_resolved(event: HelpResolved) -> None:
        events.append(event)

    topics.ctx.events.subscribe(HelpResolved, on_resolved)
    posted = await _posted(topics)
    await topics.help.record_message(THREAD, H2, NOW + timedelta(minutes=3))
    await topics.help.claim(posted.request.id, H1, NOW + timedelta(minutes=4))
    with pytest.raises(NotAllowed):
        await topics.help.resolve(posted.request.id, H1, NOW)
    done = await topics.help.resolve(posted.request.id, ASKER, NOW + timedelta(minutes=30))
    assert done.helper_ids == (H1, H2)
    assert events == [HelpResolved(G, posted.request.id, ASKER, (H1, H2), NOW + timedelta(minutes=30))]
    with pytest.raises(InvalidInput):
        await topics.help.resolve(posted.request.id, ASKER, NOW)
    assert await topics.help.open_requests(G, ASKER) == []


async def test_helper_settings_validation(topics: Services) -> None:
    with pytest.raises(NotFound):
        await topics.help.set_status(G, H1, "away", None, NOW)
    with pytest.raises(InvalidInput):
        await topics.help.join(G, H1, "Anxiety, Knitting", NOW)
    profile = await topics.help.join(G, H1, "anxiety, GRIEF, anxiety", NOW)
    assert profile.topics == ("anxiety", "grief")
    with pytest.raises(InvalidInput):
        await topics.help.set_limits(G, H1, NOW, timezone="Mars/Olympus")
    with pytest.raises(InvalidInput):
        await topics.help.set_status(G, H1, "away", NOW - timedelta(hours=1), NOW)
    p = await topics.help.set_limits(G, H1, NOW, max_open=2, quiet_hours="23:00-06:30", timezone="Asia/Tokyo")
    assert (p.max_open, p.quiet_hours, p.timezone) == (2, "23:00-06:30", "Asia/Tokyo")
    assert (await topics.help.set_limits(G, H1, NOW, quiet_hours="off")).quiet_hours is None


async def test_thread_and_outbox_leases_stop_two_senders(topics: Services) -> None:
    await topics.help.join(G, H1, None, NOW)
    request = await _ask(topics)
    assert await topics.help.lease_thread(request.id, NOW)
    assert not await topics.help.lease_thread(request.id, NOW)  # the job skips what the form is posting
    assert await topics.help.pending_threads(NOW) == []
    assert await topics.help.lease_thread(request.id, NOW + timedelta(minutes=2))  # the lease ran out
    await topics.help.thread_posted(request.id, THREAD, CHANNEL, NOW)
    assert [i.kind for i in await topics.help.due_outbox(NOW)] == ["pings"]
    assert await topics.help.due_outbox(NOW) == []  # leased by the first caller
    item = (await topics.help.due_outbox(NOW + timedelta(minutes=2)))[0]
    await topics.help.outbox_done(item.id)
    assert await topics.help.due_outbox(NOW + timedelta(hours=1)) == []
