"""ReportService on a real database: case numbers, limits, the outbox, transitions, reveal, mediation."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from bot.errors import InvalidInput, NotAllowed, NotFound, TryLater
from bot.models.reports import Report
from bot.services import Services
from bot.services.events import ConflictClosed
from bot.services.reports import LEASE, Evidence, ReportView

G, G2 = 1_000_000_000_000_000_001, 1_000_000_000_000_000_002
ALICE, BOB, CAROL, MOD, MOD2 = 11, 12, 13, 21, 22
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def _file(
    services: Services, reporter: int = ALICE, reported: int = BOB, *, at: datetime = T0, guild: int = G, **kw
):
    return await services.reports.file_report(
        guild, reporter, reported, reported_is_bot=False, reason=kw.pop("reason", "rude"), now=at, **kw
    )


def test_the_view_rendered_for_moderators_has_no_reporter() -> None:
    assert not any("reporter" in f for f in (f.name for f in dataclasses.fields(ReportView)))


async def test_case_numbers_are_sequential_per_guild(services: Services) -> None:
    assert [(await _file(services)).case_no for _ in range(3)] == [1, 2, 3]
    assert (await _file(services, guild=G2)).case_no == 1
    assert (await _file(services, reporter=CAROL)).case_no == 4


async def test_concurrent_reports_get_unique_case_numbers(services: Services) -> None:
    await services.reports.set_limits(G, burst=20, daily=100)
    receipts = await asyncio.gather(*(_file(services, reporter=100 + i) for i in range(8)))
    assert sorted(r.case_no for r in receipts) == list(range(1, 9))


async def test_burst_and_daily_limits(services: Services) -> None:
    for minute in range(3):
        await _file(services, at=T0 + timedelta(minutes=minute))
    with pytest.raises(TryLater) as burst:
        await services.reports.check_can_report(G, ALICE, BOB, reported_is_bot=False, now=T0 + timedelta(minutes=5))
    assert burst.value.key == "reports.errors.burst_limit"
    assert burst.value.retry_at == T0 + timedelta(minutes=10)
    with pytest.raises(TryLater):
        await _file(services, at=T0 + timedelta(minutes=5))
    await services.reports.check_can_report(G, CAROL, BOB, reported_is_bot=False, now=T0)  # per reporter
    for hour in range(1, 8):
        await _file(services, at=T0 + timedelta(hours=hour))
    with pytest.raises(TryLater) as daily:
        await _file(services, at=T0 + timedelta(hours=9))
    assert daily.value.key == "reports.errors.daily_limit"
    assert daily.value.retry_at == T0 + timedelta(days=1)
    await _file(services, at=T0 + timedelta(days=1, minutes=1))


async def test_limits_are_configurable_within_bounds(services: Services) -> None:
    assert (await services.reports.limits(G)).burst == 3
    limits = await services.reports.set_limits(G, burst=1, minutes=60, daily=2)
    assert (limits.burst, limits.minutes, limits.daily) == (1, 60, 2)
    await _file(services)
    with pytest.raises(TryLater) as e:
        await _file(services, at=T0 + timedelta(minutes=30))
    assert e.value.retry_at == T0 + timedelta(minutes=60)
    with pytest.raises(InvalidInput):
        await services.reports.set_limits(G, daily=0)


async def test_no_self_or_bot_reports_and_a_reason_is_needed(services: Services) -> None:
    with pytest.raises(InvalidInput, match=r"reports\.errors\.self"):
        await _file(services, reported=ALICE)
    with pytest.raises(InvalidInput, match=r"reports\.errors\.bot"):
        await services.reports.file_report(G, ALICE, 99, reported_is_bot=True, reason="x", now=T0)
    with pytest.raises(InvalidInput, match=r"reports\.errors\.no_reason"):
        await _file(services, reason="   ")


async def test_evidence_snapshot_round_trips(services: Services) -> None:
    evidence = Evidence(
        message_id=5, channel_id=6, author_id=BOB, author_name="Bob", jump_url="https://discord.com/channels/1/6/5",
        content="mean words", attachments=("a.png", "b.txt"), created_at=T0 - timedelta(minutes=3),
    )  # fmt: skip
    receipt = await _file(services, evidence=evidence)
    case = await services.reports.case(G, receipt.case_no)
    assert case.report.kind == "message" and case.report.evidence == evidence
    assert [e.action for e in case.history] == ["filed"] and case.history[0].actor_id is None


async def test_outbox_claims_are_exclusive_and_leases_expire(services: Services) -> None:
    receipt = await _file(services)
    assert await services.reports.due_deliveries(T0) == [receipt.report_id]
    first = await services.reports.claim_delivery(receipt.report_id, T0)
    assert first is not None and first.attempts == 1
    assert await services.reports.claim_delivery(receipt.report_id, T0 + timedelta(seconds=5)) is None
    assert await services.reports.due_deliveries(T0 + timedelta(seconds=5)) == []
    # The sender crashed: after the lease another sender may take it (and sends with the same nonce).
    later = T0 + LEASE + timedelta(seconds=1)
    assert await services.reports.due_deliveries(later) == [receipt.report_id]
    second = await services.reports.claim_delivery(receipt.report_id, later)
    assert second is not None and second.attempts == 2
    await services.reports.mark_failed(receipt.report_id, first.token, "stale", later)  # not the owner: ignored
    assert await services.reports.claim_delivery(receipt.report_id, later) is None
    await services.reports.mark_failed(receipt.report_id, second.token, "503", later + timedelta(minutes=1))
    assert await services.reports.due_deliveries(later) == []
    assert await services.reports.undelivered(G) == 1
    third = await services.reports.claim_delivery(receipt.report_id, later + timedelta(minutes=1))
    assert third is not None
    assert await services.reports.mark_delivered(receipt.report_id, 77, 88, later) == 88
    assert await services.reports.mark_delivered(receipt.report_id, 77, 99, later) == 88  # recorded once
    assert await services.reports.claim_delivery(receipt.report_id, later + timedelta(hours=1)) is None
    assert await services.reports.undelivered(G) == 0
    case = await services.reports.case(G, receipt.case_no)
    assert (case.report.delivery, case.report.mod_message_id) == ("delivered", 88)


async def test_only_valid_transitions_and_an_append_only_audit(services: Services) -> None:
    receipt = await _file(services)
    rid = receipt.report_id
    await services.reports.act(rid, G, MOD, "claim", now=T0)
    with pytest.raises(InvalidInput, match="already_yours"):
        await services.reports.act(rid, G, MOD, "claim", now=T0)
    took = await services.reports.act(rid, G, MOD2, "claim", now=T0)
    assert took.case.report.claimed_by == MOD2 and took.case.history[-1].detail == "took_over"
    with pytest.raises(NotFound):
        await services.reports.act(rid, G2, MOD, "resolve", now=T0)  # a button from another guild
    with pytest.raises(InvalidInput, match="empty_note"):
        await services.reports.act(rid, G, MOD, "note", now=T0, note="  ")
    done = await services.reports.act(rid, G, MOD, "resolve", now=T0)
    assert done.case.report.state == "resolved" and done.notify_member_id is None  # alice did not opt in
    for action in ("claim", "resolve", "dismiss"):
        with pytest.raises(InvalidInput, match="closed"):
            await services.reports.act(rid, G, MOD, action, now=T0)
    note = await services.reports.act(rid, G, MOD, "note", now=T0, note="follow-up")
    assert [e.action for e in note.case.history] == ["filed", "claim", "claim", "resolve", "note"]


async def test_reporter_is_notified_once_only_when_they_asked(services: Services) -> None:
    receipt = await _file(services)
    with pytest.raises(NotFound):
        await services.reports.opt_in_notify(receipt.report_id, BOB)  # only the reporter
    assert await services.reports.opt_in_notify(receipt.report_id, ALICE) == receipt.case_no
    update_ = await services.reports.act(receipt.report_id, G, MOD, "dismiss", now=T0)
    assert update_.notify_member_id == ALICE


async def test_reveal_needs_two_different_moderators(services: Services) -> None:
    receipt = await _file(services)
    first = await services.reports.approve_reveal(G, receipt.case_no, MOD, T0)
    assert not first.complete and first.reporter_id is None and first.approvals == 1
    again = await services.reports.approve_reveal(G, receipt.case_no, MOD, T0)
    assert not again.complete and again.approvals == 1
    second = await services.reports.approve_reveal(G, receipt.case_no, MOD2, T0)
    assert second.complete and second.reporter_id == ALICE
    actions = [(e.action, e.actor_id) for e in (await services.reports.case(G, receipt.case_no)).history]
    assert actions == [("filed", None), ("reveal_approved", MOD), ("reveal_approved", MOD2), ("revealed", MOD2)]
    with pytest.raises(NotFound):
        await services.reports.approve_reveal(G2, receipt.case_no, MOD, T0)


async def test_an_erased_reporter_cannot_be_revealed(services: Services) -> None:
    receipt = await _file(services)
    # What /privacy delete does to the "anonymize" column.
    async with services.ctx.db.session() as s:
        await s.exec(update(Report).where(Report.id == receipt.report_id).values(reporter_id=None))  # type: ignore[call-overload]
    await services.reports.approve_reveal(G, receipt.case_no, MOD, T0)
    reveal = await services.reports.approve_reveal(G, receipt.case_no, MOD2, T0)
    assert reveal.complete and reveal.reporter_id is None
    start = await services.reports.start_mediation(receipt.report_id, G, MOD, 555, T0)
    assert [i.party for i in start.invitations] == ["reported"]  # nobody left to invite as reporter
    assert Report.__personal__["reporter_id"] == "anonymize" and "reporter_id" in Report.__confidential__


async def test_mediation_invites_consent_and_outcome(services: Services) -> None:
    events: list[ConflictClosed] = []

    async def on_closed(event: ConflictClosed) -> None:
        events.append(event)

    services.ctx.events.subscribe(ConflictClosed, on_closed)
    receipt = await _file(services)
    rid = receipt.report_id
    start = await services.reports.start_mediation(rid, G, MOD, 555, T0)
    assert start.case.report.state == "mediating" and start.case.report.claimed_by == MOD
    invites = {i.party: i for i in start.invitations}
    assert (invites["reported"].member_id, invites["reporter"].member_id) == (BOB, ALICE)
    with pytest.raises(InvalidInput, match="mediating"):
        await services.reports.act(rid, G, MOD, "resolve", now=T0)
    with pytest.raises(InvalidInput, match="mediating"):
        await services.reports.start_mediation(rid, G, MOD, 556, T0)
    with pytest.raises(NotFound):
        await services.reports.answer_invite(invites["reported"].invite_id, CAROL, True, T0)  # not hers
    joined = await services.reports.answer_invite(invites["reported"].invite_id, BOB, True, T0)
    assert (joined.thread_id, joined.guild_id, joined.party) == (555, G, "reported")
    with pytest.raises(InvalidInput, match="bad_outcome"):
        await services.reports.close_mediation(rid, G, MOD, "sort of", T0)
    closed = await services.reports.close_mediation(rid, G, MOD, "escalated", T0)
    assert closed.case.report.state == "claimed" and closed.case.report.mediation_outcome == "escalated"
    assert events == [ConflictClosed(G, rid, MOD, "escalated", T0)]
    with pytest.raises(NotAllowed):
        await services.reports.answer_invite(invites["reporter"].invite_id, ALICE, True, T0)
    with pytest.raises(InvalidInput, match="not_mediating"):
        await services.reports.close_mediation(rid, G, MOD, "agreement", T0)
    # A second mediation re-invites the same people.
    again = await services.reports.start_mediation(rid, G, MOD, 557, T0)
    assert {i.member_id for i in again.invitations} == {ALICE, BOB}
    await services.reports.act(rid, G, MOD, "note", now=T0, note="ok")
    actions = [e.action for e in (await services.reports.case(G, receipt.case_no)).history]
    assert actions == ["filed", "mediation_started", "invite_joined", "mediation_closed", "mediation_started", "note"]


async def test_lists(services: Services) -> None:
    a = await _file(services)
    await _file(services, reporter=CAROL, reported=ALICE)
    await services.reports.act(a.report_id, G, MOD, "dismiss", now=T0)
    assert [r.case_no for r in await services.reports.cases_about(G, BOB)] == [1]
    assert [r.case_no for r in await services.reports.open_cases(G)] == [2]
    with pytest.raises(NotFound):
        await services.reports.case(G, 42)
