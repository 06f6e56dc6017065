"""SurveyService on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.errors import InvalidInput
from bot.models.surveys import Survey, SurveyResponse
from bot.services import Services
from bot.services.surveys import parse_questions
from bot.sharding import GuildScope

G, MOD = 1_456_074_443_980_800_001, 1_456_074_443_980_800_009
MEMBERS = [1_456_074_443_980_800_100 + i for i in range(8)]
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
QUESTIONS = "scale: How supported do you feel?\nchoice: Which day? | Mon | Tue\ntext: Anything else?"


async def _survey(services: Services, *, anonymous: bool = True, hours: int = 24) -> int:
    s = await services.surveys.create(
        G, MOD, title="Autumn check", anonymous=anonymous, closes_in_hours=hours, questions_text=QUESTIONS, now=NOW
    )
    return s.id


def test_question_scheme_is_parsed_and_validated() -> None:
    qs = parse_questions(QUESTIONS)
    assert [(q.kind, q.text, q.options) for q in qs] == [
        ("scale", "How supported do you feel?", ()),
        ("choice", "Which day?", ("Mon", "Tue")),
        ("text", "Anything else?", ()),
    ]
    for bad in ("", "rate: x", "choice: Only one | A", "\n".join(["text: q"] * 6), "scale:   "):
        with pytest.raises(InvalidInput):
            parse_questions(bad)


async def test_answers_are_validated_and_replaced(services: Services) -> None:
    sid = await _survey(services, anonymous=False)
    with pytest.raises(InvalidInput) as err:
        await services.surveys.answer(G, sid, MEMBERS[0], ["7", "Mon", ""], NOW)
    assert err.value.key == "surveys.errors.bad_scale"
    with pytest.raises(InvalidInput) as err:
        await services.surveys.answer(G, sid, MEMBERS[0], ["3", "Sun", ""], NOW)
    assert err.value.key == "surveys.errors.bad_choice"
    assert not await services.surveys.answer(G, sid, MEMBERS[0], ["3", "mon", "all good"], NOW)
    assert await services.surveys.answer(G, sid, MEMBERS[0], ["5", "2", ""], NOW)  # replaces; "2" = Tue
    results = await services.surveys.results(G, sid)
    assert results.respondents == 1 and not results.hidden  # named: shown even for one answer
    scale, choice, text = results.questions
    assert scale.mean == 5 and dict(scale.distribution)["5"] == 1
    assert dict(choice.distribution) == {"Mon": 0, "Tue": 1}
    assert text.texts == ()  # the replacing answer left it empty


async def test_named_text_answers_show_who_wrote_them(services: Services) -> None:
    sid = await _survey(services, anonymous=False)
    await services.surveys.answer(G, sid, MEMBERS[0], ["4", "Mon", "More evening groups"], NOW)
    (_, _, text) = (await services.surveys.results(G, sid)).questions
    assert text.texts == (f"<@{MEMBERS[0]}>: More evening groups",)


async def test_anonymous_results_hide_small_groups_and_store_no_member(services: Services, db) -> None:
    sid = await _survey(services)
    for i, m in enumerate(MEMBERS[:4]):
        await services.surveys.answer(G, sid, m, [str(1 + i % 5), "Tue", f"note {i}"], NOW)
    small = await services.surveys.results(G, sid)
    assert small.hidden and small.respondents == 4 and small.questions == ()
    await services.surveys.answer(G, sid, MEMBERS[4], ["5", "Mon", "zzz last"], NOW)
    big = await services.surveys.results(G, sid)
    assert not big.hidden and big.respondents == 5
    scale, choice, text = big.questions
    assert scale.mean == 3.0 and dict(choice.distribution) == {"Mon": 1, "Tue": 4}
    assert text.texts == ("note 0", "note 1", "note 2", "note 3", "zzz last")  # sorted, unnamed
    async with db.session() as s:
        rows = (await s.exec(select(SurveyResponse))).all()
    assert all(r.member_id is None for r in rows)
    assert all(str(m) not in (r.respondent_key or "") for r in rows for m in MEMBERS)


async def test_closing_time_is_enforced_and_keys_are_wiped_after(services: Services, db) -> None:
    sid = await _survey(services, hours=2)
    await services.surveys.answer(G, sid, MEMBERS[0], ["3", "Mon", ""], NOW)
    later = NOW + timedelta(hours=2)
    with pytest.raises(InvalidInput) as err:
        await services.surveys.answer(G, sid, MEMBERS[1], ["3", "Mon", ""], later)
    assert err.value.key == "surveys.errors.closed"
    with pytest.raises(InvalidInput):
        await services.surveys.open_survey(G, sid, later)
    assert await services.surveys.wipe_closed(NOW + timedelta(hours=1)) == 0
    assert await services.surveys.wipe_closed(later) == 1
    assert await services.surveys.wipe_closed(later) == 0  # idempotent
    async with db.session() as s:
        survey = await s.get(Survey, sid)
        rows = (await s.exec(select(SurveyResponse))).all()
    assert survey.salt is None and all(r.respondent_key is None for r in rows)
    assert (await services.surveys.results(G, sid)).respondents == 1


async def test_pulse_once_per_guild_and_month_and_summary(services: Services) -> None:
    assert await services.surveys.claim_pulses(NOW) == []  # nobody opted in
    await services.surveys.set_pulse(G, True, 555, NOW)
    claimed = await services.surveys.claim_pulses(NOW)
    assert [(s.kind, s.pulse_month, ch) for s, ch in claimed] == [("pulse", "2026-11", 555)]
    assert await services.surveys.claim_pulses(NOW) == []  # claimed: a second process gets nothing
    pulse = claimed[0][0]
    await services.surveys.release_claim(pulse.id)  # posting failed
    again = await services.surveys.claim_pulses(NOW + timedelta(hours=1))
    assert [s.id for s, _ in again] == [pulse.id]
    await services.surveys.set_message(pulse.id, 555, 777)
    assert await services.surveys.claim_pulses(NOW + timedelta(days=3)) == []
    for i, m in enumerate(MEMBERS[:6]):
        await services.surveys.answer(G, pulse.id, m, [str(2 + i % 3)], NOW)
    # December: a new pulse, but only 2 answers (not enough to average).
    dec = NOW + timedelta(days=10)
    ((dec_pulse, _),) = await services.surveys.claim_pulses(dec)
    assert dec_pulse.pulse_month == "2026-12"
    for m in MEMBERS[:2]:
        await services.surveys.answer(G, dec_pulse.id, m, ["1"], dec)
    summary = await services.surveys.pulse_summary(G, NOW - timedelta(days=1))
    assert summary.responses == 8 and summary.mean == 3.0
    assert [(m.month, m.responses, m.mean) for m in summary.months] == [("2026-11", 6, 3.0), ("2026-12", 2, None)]
    await services.surveys.set_pulse(G, False, None, dec)
    assert await services.surveys.claim_pulses(dec + timedelta(days=30)) == []


async def test_a_shard_process_creates_and_claims_only_its_guilds_pulses(services: Services, db) -> None:
    shard0, shard1 = GuildScope(2, frozenset({0})), GuildScope(2, frozenset({1}))
    ours, theirs = (1_000_000 << 22) | 1, (1_000_001 << 22) | 1
    assert shard0.owns(ours) and shard1.owns(theirs)
    for guild_id in (ours, theirs):
        await services.surveys.set_pulse(guild_id, True, 555, NOW)
    claimed = await services.surveys.claim_pulses(NOW, scope=shard0)
    assert [s.guild_id for s, _ in claimed] == [ours]
    assert await services.surveys.claim_pulses(NOW + timedelta(minutes=5), scope=shard0) == []
    async with db.session() as s:
        assert (await s.exec(select(Survey).where(Survey.guild_id == theirs))).all() == [], "not even created"
    ((pulse, channel_id),) = await services.surveys.claim_pulses(NOW + timedelta(hours=2), scope=shard1)
    assert (pulse.guild_id, pulse.pulse_month, channel_id) == (theirs, "2026-11", 555)
    assert pulse.closes_at == NOW + timedelta(hours=2, days=7), "open a full week from when its process posts it"
