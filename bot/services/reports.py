"""Conflict reports, the moderators' queue, mediation (issue #6).

The rules that keep reporters safe and reports from being lost:

* A report is committed (with its per-guild case number, taken under a lock on the guild's
  :class:`ReportGuild` row) before the reporter's receipt is sent.
* :class:`ReportView` — everything the moderators' embed, ``/case view`` and every other render is
  built from — has **no reporter field**. The reporter's id leaves this service only through
  :meth:`ReportService.approve_reveal` (two different moderators) and as the address of a DM to the
  reporter themself (:attr:`CaseUpdate.notify_member_id`, :attr:`Invitation.member_id`).
* The report is delivered to the moderators' channel through an outbox on the row: a sender claims
  it with a lease token (``sending``), records the message id when Discord accepted it
  (``delivered``) or puts it back to ``pending`` with a retry time. A crashed sender's lease runs
  out and the row is retried; the Discord layer sends with a nonce derived from the report id, so
  a retry after an ambiguous failure does not post a second message.
* Audit entries are only ever inserted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import bindparam, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import InvalidInput, NotAllowed, NotFound, TryLater
from bot.models.reports import Report, ReportAudit, ReportGuild, ReportInvite, ReportRevealApproval
from bot.services.context import ServiceContext
from bot.services.events import ConflictClosed
from bot.services.rows import dialect_insert
from bot.sharding import GuildScope, in_scope
from bot.statements import Prepared, Statements

Action = Literal["claim", "resolve", "dismiss", "note"]
Outcome = Literal["agreement", "no_agreement", "escalated"]
OUTCOMES: tuple[str, ...] = ("agreement", "no_agreement", "escalated")
CLOSED_STATES = ("resolved", "dismissed")
STATES = ("open", "claimed", "mediating", "resolved", "dismissed")
#: How long a sender owns a report it is delivering; shorter than Discord's nonce window.
LEASE = timedelta(seconds=90)
DAY = timedelta(days=1)
HISTORY_LIMIT = 50

#: Bounds for ``/setup reports limits``.
LIMIT_BOUNDS = {"burst": (1, 20), "minutes": (1, 1440), "daily": (1, 100)}


@dataclass(frozen=True, slots=True)
class Evidence:
    """A snapshot of a reported message, taken when the report was made."""

    message_id: int
    channel_id: int
    author_id: int
    author_name: str
    jump_url: str
    content: str
    attachments: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ReportView:
    """A case as moderators see it. Deliberately carries nothing about the reporter."""

    id: int
    guild_id: int
    case_no: int
    kind: str
    state: str
    reported_id: int
    reason: str
    details: str
    rule_ref: str
    evidence: Evidence | None
    claimed_by: int | None
    claimed_at: datetime | None
    closed_by: int | None
    closed_at: datetime | None
    mediation_thread_id: int | None
    mediation_outcome: str | None
    created_at: datetime
    delivery: str
    mod_channel_id: int | None
    mod_message_id: int | None
    thread_id: int | None

    @property
    def closed(self) -> bool:
        """Resolved or dismissed."""
        return self.state in CLOSED_STATES


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of a case's history (``actor_id`` is a moderator, or ``None`` for the system)."""

    actor_id: int | None
    action: str
    detail: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Case:
    """A case with its history, oldest entry first."""

    report: ReportView
    history: tuple[AuditEntry, ...]


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the reporter is told: the case number."""

    report_id: int
    case_no: int


@dataclass(frozen=True, slots=True)
class Limits:
    """Reports per reporter: ``burst`` per ``minutes`` and ``daily`` per 24 hours."""

    burst: int = 3
    minutes: int = 10
    daily: int = 10


@dataclass(frozen=True, slots=True)
class DeliveryClaim:
    """A report this sender now owns for delivery; pass ``token`` back with the outcome."""

    case: Case
    token: str
    attempts: int


@dataclass(frozen=True, slots=True)
class CaseUpdate:
    """The case after a moderator's action. ``notify_member_id`` is the reporter, set only when
    they asked for a DM and the case was just closed (the DM carries no detail)."""

    case: Case
    notify_member_id: int | None = None


@dataclass(frozen=True, slots=True)
class Invitation:
    """A mediation invitation to DM to ``member_id`` (``party`` is ``reported`` or ``reporter``)."""

    invite_id: int
    member_id: int
    party: str


@dataclass(frozen=True, slots=True)
class MediationStart:
    """The case after **Mediate**, and whom to invite (each separately, by DM)."""

    case: Case
    invitations: tuple[Invitation, ...]


@dataclass(frozen=True, slots=True)
class Joined:
    """Where an invited member is to be added."""

    report_id: int
    guild_id: int
    thread_id: int
    case_no: int
    party: str


@dataclass(frozen=True, slots=True)
class Reveal:
    """The state of a reveal request. ``reporter_id`` is set only when ``complete``; it is ``None``
    with ``complete`` when the reporter's data was erased."""

    case_no: int
    complete: bool
    approvals: int
    reporter_id: int | None = None


def _evidence(row: Report) -> Evidence | None:
    if row.evidence_message_id is None:
        return None
    assert row.evidence_channel_id is not None and row.evidence_created_at is not None
    return Evidence(
        message_id=row.evidence_message_id,
        channel_id=row.evidence_channel_id,
        author_id=row.evidence_author_id or row.reported_id,
        author_name=row.evidence_author_name,
        jump_url=row.evidence_jump_url,
        content=row.evidence_content,
        attachments=tuple(a for a in row.evidence_attachments.split("\n") if a),
        created_at=row.evidence_created_at,
    )


def _view(row: Report) -> ReportView:
    assert row.id is not None
    return ReportView(
        id=row.id,
        guild_id=row.guild_id,
        case_no=row.case_no,
        kind=row.kind,
        state=row.state,
        reported_id=row.reported_id,
        reason=row.reason,
        details=row.details,
        rule_ref=row.rule_ref,
        evidence=_evidence(row),
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        closed_by=row.closed_by,
        closed_at=row.closed_at,
        mediation_thread_id=row.mediation_thread_id,
        mediation_outcome=row.mediation_outcome,
        created_at=row.created_at,
        delivery=row.delivery,
        mod_channel_id=row.mod_channel_id,
        mod_message_id=row.mod_message_id,
        thread_id=row.thread_id,
    )


def _clean(text: str | None, limit: int) -> str:
    return (text or "").strip()[:limit]


class ReportService:
    """Files reports, runs the moderators' queue and its outbox, reveals, and mediation."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db
        self.events = ctx.events

    # ------------------------------------------------------------------ limits

    async def limits(self, guild_id: int) -> Limits:
        """The guild's report limits (defaults when never set)."""
        async with self.db.direct(read=True) as q:
            return await _limits(q, guild_id)

    async def set_limits(
        self, guild_id: int, *, burst: int | None = None, minutes: int | None = None, daily: int | None = None
    ) -> Limits:
        """Change some of the limits; values outside :data:`LIMIT_BOUNDS` are refused."""
        for name, value in (("burst", burst), ("minutes", minutes), ("daily", daily)):
            low, high = LIMIT_BOUNDS[name]
            if value is not None and not low <= value <= high:
                raise InvalidInput("reports.errors.bad_limit", name=name, low=low, high=high)
        async with self.db.session() as s:
            row = await self._guild_row(s, guild_id)
            if burst is not None:
                row.burst_limit = burst
            if minutes is not None:
                row.burst_minutes = minutes
            if daily is not None:
                row.daily_limit = daily
            return Limits(row.burst_limit, row.burst_minutes, row.daily_limit)

    async def _guild_row(self, s: AsyncSession, guild_id: int) -> ReportGuild:
        """The guild's row, created if needed and locked for this transaction."""
        await s.exec(dialect_insert(self.db.dialect, ReportGuild).values(guild_id=guild_id).on_conflict_do_nothing())  # type: ignore[call-overload]
        row = await s.get(ReportGuild, guild_id, with_for_update=True, populate_existing=True)
        assert row is not None
        return row

    async def _check(
        self,
        q: Statements,
        limits: Limits,
        *,
        guild_id: int,
        reporter_id: int,
        reported_id: int,
        reported_is_bot: bool,
        now: datetime,
    ) -> None:
        if reported_id == reporter_id:
            raise InvalidInput("reports.errors.self")
        if reported_is_bot:
            raise InvalidInput("reports.errors.bot")
        recent = [at for (at,) in await q.rows(_REPORTED_SINCE, guild=guild_id, reporter=reporter_id, since=now - DAY)]
        if len(recent) >= limits.daily:
            raise TryLater("reports.errors.daily_limit", retry_at=recent[len(recent) - limits.daily] + DAY)
        window = timedelta(minutes=limits.minutes)
        burst = [t for t in recent if t > now - window]
        if len(burst) >= limits.burst:
            raise TryLater("reports.errors.burst_limit", retry_at=burst[len(burst) - limits.burst] + window)

    async def check_can_report(
        self, guild_id: int, reporter_id: int, reported_id: int, *, reported_is_bot: bool, now: datetime
    ) -> None:
        """Raise what :meth:`file_report` would raise, before the member types their details."""
        async with self.db.direct(read=True) as q:  # one snapshot: the limits, then the reporter's reports
            await self._check(
                q,
                await _limits(q, guild_id),
                guild_id=guild_id,
                reporter_id=reporter_id,
                reported_id=reported_id,
                reported_is_bot=reported_is_bot,
                now=now,
            )

    # ------------------------------------------------------------------ filing

    async def file_report(
        self,
        guild_id: int,
        reporter_id: int,
        reported_id: int,
        *,
        reported_is_bot: bool,
        reason: str,
        now: datetime,
        details: str = "",
        rule_ref: str = "",
        evidence: Evidence | None = None,
    ) -> Receipt:
        """Store a report (committed when this returns) and give it the guild's next case number."""
        reason = _clean(reason, 200)
        if not reason:
            raise InvalidInput("reports.errors.no_reason")
        async with self.db.direct() as q:  # statements straight to the driver: the hot path
            # One statement takes the guild's next case number (its row created if needed, and
            # locked until the transaction ends) and reads its limits; a refusal below rolls it back.
            case_no, burst, minutes, daily = await q.first(_NEXT_CASE, guild_id=guild_id)  # type: ignore[misc]
            await self._check(
                q,
                Limits(burst, minutes, daily),
                guild_id=guild_id,
                reporter_id=reporter_id,
                reported_id=reported_id,
                reported_is_bot=reported_is_bot,
                now=now,
            )
            kind = "message" if evidence else "member"
            row = {
                "guild_id": guild_id,
                "case_no": case_no,
                "reporter_id": reporter_id,
                "reported_id": reported_id,
                "kind": kind,
                "reason": reason,
                "details": _clean(details, 1000),
                "rule_ref": _clean(rule_ref, 100),
                "created_at": now,
                "next_attempt_at": now,
                **_NO_EVIDENCE,
            }
            if evidence is not None:
                row.update(
                    evidence_message_id=evidence.message_id,
                    evidence_channel_id=evidence.channel_id,
                    evidence_author_id=evidence.author_id,
                    evidence_author_name=evidence.author_name[:100],
                    evidence_jump_url=evidence.jump_url[:200],
                    evidence_content=evidence.content[:4000],
                    evidence_attachments="\n".join(a[:200] for a in evidence.attachments)[:1000],
                    evidence_created_at=evidence.created_at,
                )
            report_id = await q.scalar(_INSERT_REPORT, **row)
            await q.run(_INSERT_AUDIT, report_id=report_id, actor_id=None, action="filed", detail=kind, at=now)
            return Receipt(report_id=report_id, case_no=case_no)

    async def opt_in_notify(self, report_id: int, member_id: int) -> int:
        """The reporter asks for a DM when their case is closed; returns the case number."""
        async with self.db.session() as s:
            row = await s.get(Report, report_id, with_for_update=True)
            if row is None or row.reporter_id != member_id:
                raise NotFound("reports.errors.unknown_case")
            row.notify_reporter = True
            return row.case_no

    # ------------------------------------------------------------------ outbox

    async def due_deliveries(self, now: datetime, *, scope: GuildScope | None = None, limit: int = 25) -> list[int]:
        """Reports waiting for delivery (or whose sender's lease ran out), oldest first — of the
        guilds in ``scope`` only (this process's shards; ``None``: every guild)."""
        async with self.db.session() as s:
            pending = (Report.delivery == "pending") & (Report.next_attempt_at <= now)
            stale = (Report.delivery == "sending") & (col(Report.lease_until) <= now)
            rows = await s.exec(
                select(Report.id)
                .where(pending | stale, in_scope(scope, col(Report.guild_id)))
                .order_by(col(Report.id))
                .limit(limit)
            )
            return [r for r in rows.all() if r is not None]

    async def claim_delivery(
        self, report_id: int, now: datetime, *, scope: GuildScope | None = None
    ) -> DeliveryClaim | None:
        """Take a report for delivery, or ``None`` when it is delivered, another sender owns it, or
        its guild is not in ``scope`` (another process's shard: it is left untouched for that one)."""
        async with self.db.session() as s:
            row = (
                await s.exec(
                    select(Report)
                    .where(Report.id == report_id, in_scope(scope, col(Report.guild_id)))
                    .with_for_update()
                )
            ).first()
            if row is None or row.delivery == "delivered":
                return None
            if row.delivery == "sending" and row.lease_until is not None and row.lease_until > now:
                return None
            row.delivery = "sending"
            row.lease_token = uuid.uuid4().hex
            row.lease_until = now + LEASE
            row.attempts += 1
            await s.flush()
            case = Case(_view(row), await self._history(s, report_id))
            return DeliveryClaim(case=case, token=row.lease_token, attempts=row.attempts)

    async def mark_delivered(self, report_id: int, channel_id: int, message_id: int, now: datetime) -> int | None:
        """Record the moderators' message and return the message id on record: ``message_id`` itself,
        or the earlier message when the report was already recorded (the caller deletes its duplicate)."""
        async with self.db.session() as s:
            row = await s.get(Report, report_id, with_for_update=True)
            if row is None:
                return None
            if row.delivery == "delivered":
                return row.mod_message_id
            row.delivery = "delivered"
            row.mod_channel_id, row.mod_message_id, row.delivered_at = channel_id, message_id, now
            row.lease_token, row.lease_until, row.last_error = None, None, ""
            return message_id

    async def mark_failed(self, report_id: int, token: str, error: str, retry_at: datetime) -> None:
        """Put a claimed report back to ``pending`` until ``retry_at``."""
        async with self.db.session() as s:
            row = await s.get(Report, report_id, with_for_update=True)
            if row is None or row.delivery != "sending" or row.lease_token != token:
                return
            row.delivery, row.next_attempt_at, row.last_error = "pending", retry_at, error[:300]
            row.lease_token, row.lease_until = None, None

    async def set_thread(self, report_id: int, thread_id: int) -> None:
        """Remember the moderators' discussion thread under the report."""
        async with self.db.session() as s:
            row = await s.get(Report, report_id, with_for_update=True)
            if row is not None:
                row.thread_id = thread_id

    async def undelivered(self, guild_id: int) -> int:
        """How many of the guild's reports have not reached the moderators' channel yet."""
        async with self.db.session() as s:
            count = await s.exec(
                select(func.count()).where(Report.guild_id == guild_id, Report.delivery != "delivered")
            )
            return int(count.one())

    # ------------------------------------------------------------------ reading

    async def _history(self, s: AsyncSession, report_id: int) -> tuple[AuditEntry, ...]:
        rows = await s.exec(
            select(ReportAudit)
            .where(ReportAudit.report_id == report_id)
            .order_by(col(ReportAudit.id).desc())
            .limit(HISTORY_LIMIT)
        )
        return tuple(reversed([AuditEntry(r.actor_id, r.action, r.detail, r.at) for r in rows.all()]))

    async def _locked(self, s: AsyncSession, report_id: int, guild_id: int) -> Report:
        row = await s.get(Report, report_id, with_for_update=True)
        if row is None or row.guild_id != guild_id:
            raise NotFound("reports.errors.unknown_case")
        return row

    async def _by_case_no(self, s: AsyncSession, guild_id: int, case_no: int) -> Report:
        row = (
            await s.exec(select(Report).where(Report.guild_id == guild_id, Report.case_no == case_no).with_for_update())
        ).first()
        if row is None:
            raise NotFound("reports.errors.unknown_case")
        return row

    async def case(self, guild_id: int, case_no: int) -> Case:
        """A case by its number in the guild."""
        async with self.db.session() as s:
            row = await self._by_case_no(s, guild_id, case_no)
            assert row.id is not None
            return Case(_view(row), await self._history(s, row.id))

    async def case_by_id(self, guild_id: int, report_id: int) -> Case:
        """A case by its report id (from a button's custom_id)."""
        async with self.db.session() as s:
            row = await s.get(Report, report_id)
            if row is None or row.guild_id != guild_id:
                raise NotFound("reports.errors.unknown_case")
            return Case(_view(row), await self._history(s, report_id))

    async def cases_about(self, guild_id: int, member_id: int, limit: int = 20) -> list[ReportView]:
        """The cases about a member, newest first."""
        async with self.db.session() as s:
            rows = await s.exec(
                select(Report)
                .where(Report.guild_id == guild_id, Report.reported_id == member_id)
                .order_by(col(Report.case_no).desc())
                .limit(limit)
            )
            return [_view(r) for r in rows.all()]

    async def state_counts(self, guild_id: int) -> dict[str, int]:
        """How many of the guild's cases are in each state (every state present, 0 when none)."""
        async with self.db.session() as s:
            rows = await s.exec(
                select(Report.state, func.count()).where(Report.guild_id == guild_id).group_by(col(Report.state))
            )
            found = {state: int(n) for state, n in rows.all()}
        return {state: found.get(state, 0) for state in STATES}

    async def cases_in(
        self, guild_id: int, states: tuple[str, ...], *, limit: int = 50, offset: int = 0
    ) -> list[ReportView]:
        """The guild's cases in ``states``: open ones oldest first (the queue's order), closed ones
        newest first. One indexed query; ``offset`` pages through."""
        closed = all(state in CLOSED_STATES for state in states)
        order = col(Report.case_no).desc() if closed else col(Report.case_no)
        async with self.db.session() as s:
            rows = await s.exec(
                select(Report)
                .where(Report.guild_id == guild_id, col(Report.state).in_(states))
                .order_by(order)
                .offset(max(0, offset))
                .limit(limit)
            )
            return [_view(r) for r in rows.all()]

    async def open_cases(self, guild_id: int, limit: int = 25) -> list[ReportView]:
        """Cases not yet resolved or dismissed, oldest first."""
        async with self.db.session() as s:
            rows = await s.exec(
                select(Report)
                .where(Report.guild_id == guild_id, col(Report.state).not_in(CLOSED_STATES))
                .order_by(col(Report.case_no))
                .limit(limit)
            )
            return [_view(r) for r in rows.all()]

    # ------------------------------------------------------------------ moderators' actions

    async def act(
        self, report_id: int, guild_id: int, actor_id: int, action: Action, *, now: datetime, note: str = ""
    ) -> CaseUpdate:
        """Claim, resolve, dismiss or add a note; only valid transitions, each audited."""
        notify: int | None = None
        detail = ""
        async with self.db.session() as s:
            row = await self._locked(s, report_id, guild_id)
            if action == "note":
                detail = _clean(note, 1000)
                if not detail:
                    raise InvalidInput("reports.errors.empty_note")
            elif row.state in CLOSED_STATES:
                raise InvalidInput("reports.errors.closed", case_no=row.case_no)
            elif row.state == "mediating":
                raise InvalidInput("reports.errors.mediating", case_no=row.case_no)
            elif action == "claim":
                if row.claimed_by == actor_id:
                    raise InvalidInput("reports.errors.already_yours", case_no=row.case_no)
                detail = "took_over" if row.claimed_by else ""
                row.state, row.claimed_by, row.claimed_at = "claimed", actor_id, now
            elif action in ("resolve", "dismiss"):
                row.state = "resolved" if action == "resolve" else "dismissed"
                row.closed_by, row.closed_at = actor_id, now
                if row.notify_reporter and row.notified_at is None and row.reporter_id is not None:
                    notify, row.notified_at = row.reporter_id, now
            else:
                raise ValueError(f"unknown action {action!r}")
            s.add(ReportAudit(report_id=report_id, actor_id=actor_id, action=action, detail=detail, at=now))
            await s.flush()
            return CaseUpdate(Case(_view(row), await self._history(s, report_id)), notify_member_id=notify)

    async def approve_reveal(self, guild_id: int, case_no: int, moderator_id: int, now: datetime) -> Reveal:
        """Record this moderator's approval; with two different moderators the reporter is revealed
        (to the approving moderators only). Both steps are audited."""
        async with self.db.session() as s:
            row = await self._by_case_no(s, guild_id, case_no)
            assert row.id is not None
            approvers = set(
                (
                    await s.exec(
                        select(ReportRevealApproval.moderator_id).where(ReportRevealApproval.report_id == row.id)
                    )
                ).all()
            )
            if moderator_id not in approvers:
                s.add(ReportRevealApproval(report_id=row.id, moderator_id=moderator_id, at=now))
                s.add(ReportAudit(report_id=row.id, actor_id=moderator_id, action="reveal_approved", at=now))
                approvers.add(moderator_id)
            if len(approvers) < 2:
                return Reveal(case_no=row.case_no, complete=False, approvals=len(approvers))
            s.add(ReportAudit(report_id=row.id, actor_id=moderator_id, action="revealed", at=now))
            return Reveal(case_no=row.case_no, complete=True, approvals=len(approvers), reporter_id=row.reporter_id)

    # ------------------------------------------------------------------ mediation

    async def start_mediation(
        self, report_id: int, guild_id: int, actor_id: int, thread_id: int, now: datetime
    ) -> MediationStart:
        """Open mediation in ``thread_id`` (already created, nobody but the moderator in it) and
        create one invitation per party. The reporter is a party only if they still exist here."""
        async with self.db.session() as s:
            row = await self._locked(s, report_id, guild_id)
            if row.state in CLOSED_STATES:
                raise InvalidInput("reports.errors.closed", case_no=row.case_no)
            if row.state == "mediating":
                raise InvalidInput("reports.errors.mediating", case_no=row.case_no)
            row.state, row.mediation_thread_id, row.mediation_outcome = "mediating", thread_id, None
            if row.claimed_by is None:
                row.claimed_by, row.claimed_at = actor_id, now
            parties = [("reported", row.reported_id)]
            if row.reporter_id is not None:
                parties.append(("reporter", row.reporter_id))
            invites: list[ReportInvite] = []
            for party, member_id in parties:
                invite = (
                    await s.exec(
                        select(ReportInvite).where(
                            ReportInvite.report_id == report_id, ReportInvite.member_id == member_id
                        )
                    )
                ).first()
                if invite is None:
                    invite = ReportInvite(report_id=report_id, member_id=member_id, party=party, created_at=now)
                    s.add(invite)
                invite.state, invite.created_at, invite.answered_at = "invited", now, None
                invites.append(invite)
            s.add(ReportAudit(report_id=report_id, actor_id=actor_id, action="mediation_started", at=now))
            await s.flush()
            case = Case(_view(row), await self._history(s, report_id))
            return MediationStart(
                case=case,
                invitations=tuple(Invitation(i.id, i.member_id, i.party) for i in invites if i.id is not None),
            )

    async def invite_undeliverable(self, invite_id: int, now: datetime) -> None:
        """The invitation DM could not be sent (closed DMs): tell the moderators via the history."""
        async with self.db.session() as s:
            invite = await s.get(ReportInvite, invite_id, with_for_update=True)
            if invite is None:
                return
            invite.state, invite.answered_at = "undeliverable", now
            s.add(ReportAudit(report_id=invite.report_id, action="invite_undeliverable", detail=invite.party, at=now))

    async def answer_invite(self, invite_id: int, member_id: int, join: bool, now: datetime) -> Joined:
        """The invited member pressed **Join** (or **No thanks**). Only they can answer their invitation."""
        async with self.db.session() as s:
            invite = await s.get(ReportInvite, invite_id, with_for_update=True)
            if invite is None or invite.member_id != member_id:
                raise NotFound("reports.errors.invite_gone")
            row = await s.get(Report, invite.report_id)
            assert row is not None
            if row.state != "mediating" or row.mediation_thread_id is None or invite.state == "expired":
                raise NotAllowed("reports.errors.mediation_over")
            state = "joined" if join else "declined"
            if invite.state != state:
                invite.state, invite.answered_at = state, now
                action = "invite_joined" if join else "invite_declined"
                s.add(ReportAudit(report_id=row.id, action=action, detail=invite.party, at=now))
            assert row.id is not None
            return Joined(row.id, row.guild_id, row.mediation_thread_id, row.case_no, invite.party)

    async def close_mediation(
        self, report_id: int, guild_id: int, actor_id: int, outcome: str, now: datetime
    ) -> CaseUpdate:
        """Close mediation with an outcome (recorded in the case; the case stays open for a decision),
        expire unanswered invitations and publish :class:`ConflictClosed` after the commit."""
        if outcome not in OUTCOMES:
            raise InvalidInput("reports.errors.bad_outcome")
        async with self.db.session() as s:
            row = await self._locked(s, report_id, guild_id)
            if row.state != "mediating":
                raise InvalidInput("reports.errors.not_mediating", case_no=row.case_no)
            row.state, row.mediation_outcome = "claimed", outcome
            invites = await s.exec(
                select(ReportInvite).where(ReportInvite.report_id == report_id, ReportInvite.state == "invited")
            )
            for invite in invites.all():
                invite.state = "expired"
            s.add(
                ReportAudit(report_id=report_id, actor_id=actor_id, action="mediation_closed", detail=outcome, at=now)
            )
            await s.flush()
            update = CaseUpdate(Case(_view(row), await self._history(s, report_id)))
        await self.events.publish(
            ConflictClosed(guild_id=guild_id, case_id=report_id, moderator_id=actor_id, outcome=outcome, at=now)
        )
        return update


# Filing's statements, built once (building them per report cost more than running them:
# ``bench/command_overhead.py``); Core inserts on the tables, not the ORM's flush.
_GUILDS = ReportGuild.__table__  # type: ignore[attr-defined]
_REPORTS = Report.__table__  # type: ignore[attr-defined]
#: A report without a message as evidence.
_NO_EVIDENCE: dict[str, Any] = {
    "evidence_message_id": None,
    "evidence_channel_id": None,
    "evidence_author_id": None,
    "evidence_author_name": "",
    "evidence_jump_url": "",
    "evidence_content": "",
    "evidence_attachments": "",
    "evidence_created_at": None,
}
_FILED = [
    "guild_id",
    "case_no",
    "reporter_id",
    "reported_id",
    "kind",
    "reason",
    "details",
    "rule_ref",
    "created_at",
    "next_attempt_at",
    *_NO_EVIDENCE,
]
_INSERT_REPORT = Prepared(_REPORTS.insert().returning(_REPORTS.c.id), columns=_FILED)
_INSERT_AUDIT = Prepared(
    ReportAudit.__table__.insert(),  # type: ignore[attr-defined]
    columns=["report_id", "actor_id", "action", "detail", "at"],
)
_LIMITS = Prepared(
    select(_GUILDS.c.burst_limit, _GUILDS.c.burst_minutes, _GUILDS.c.daily_limit).where(
        _GUILDS.c.guild_id == bindparam("guild")
    )
)
#: The reporter's reports since ``since``, oldest first (the daily and burst limits).
_REPORTED_SINCE = Prepared(
    select(col(Report.created_at))
    .where(
        col(Report.guild_id) == bindparam("guild"),
        col(Report.reporter_id) == bindparam("reporter"),
        col(Report.created_at) > bindparam("since"),
    )
    .order_by(col(Report.created_at))
)


def _next_case(dialect: str) -> Any:
    """The guild's next case number and its limits: ``(case_no, burst, minutes, daily)``."""
    stmt = dialect_insert(dialect, _GUILDS).values(guild_id=bindparam("guild_id"), last_case=1)
    return stmt.on_conflict_do_update(
        index_elements=["guild_id"], set_={"last_case": _GUILDS.c.last_case + 1}
    ).returning(_GUILDS.c.last_case, _GUILDS.c.burst_limit, _GUILDS.c.burst_minutes, _GUILDS.c.daily_limit)


_NEXT_CASE = Prepared(_next_case)


async def _limits(q: Statements, guild_id: int) -> Limits:
    """The guild's report limits (defaults when never set)."""
    row = await q.first(_LIMITS, guild=guild_id)
    return Limits(*row) if row else Limits()
