"""Conflict reports (issue #6): reports with their evidence and outbox state, an append-only audit
log, two-moderator reveal approvals and mediation invitations.

Personal data:

* ``report.reporter_id`` is the only place that links a member to a report they filed. It is
  ``"anonymize"``: when a reporter asks to be forgotten the report stays (moderators must keep
  it for everyone's safety) but nobody, not even two moderators, can reveal who filed it.
* ``report.reported_id`` and the evidence snapshot (``evidence_author_id``, name, content) are
  about the *reported* member. They are kept on purpose, like any moderation record: a member
  cannot erase the reports about them. ``evidence_author_id`` always equals ``reported_id``.
* ``report_audit.actor_id`` is a moderator (never the reporter: filing is audited without an
  actor) and is anonymised on request; the entry itself stays.
* Reveal approvals and mediation invitations are deleted with the member they name.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import Column, ForeignKey, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models.base import BigIntPK, Personal, id_pk, snowflake, utc_field


def _report_fk() -> object:
    return Field(sa_column=Column(BigIntPK, ForeignKey("report.id", ondelete="CASCADE"), nullable=False, index=True))


class ReportGuild(SQLModel, table=True):
    """Per guild: the last case number handed out (locked while filing) and the rate limits."""

    __tablename__ = "report_guild"
    __personal__: Personal = {}

    guild_id: int = snowflake(primary_key=True)
    last_case: int = Field(default=0)
    burst_limit: int = Field(default=3)
    burst_minutes: int = Field(default=10)
    daily_limit: int = Field(default=10)


class Report(SQLModel, table=True):
    """One report: what it is about, its state in the moderators' queue and its outbox state.

    ``delivery`` is ``pending`` → ``sending`` (claimed with ``lease_token`` until ``lease_until``)
    → ``delivered`` (``mod_message_id`` set), back to ``pending`` after a failure.
    """

    __tablename__ = "report"
    __table_args__ = (
        UniqueConstraint("guild_id", "case_no", name="uq_report_case_no"),
        Index("ix_report_reporter", "guild_id", "reporter_id", "created_at"),
        Index("ix_report_reported", "guild_id", "reported_id"),
        Index("ix_report_delivery", "delivery", "next_attempt_at"),
    )
    # The moderators who claimed and closed a case are personal too: their /privacy delete keeps
    # the case and forgets them (the case then reads "claimed by nobody"; anyone may claim it).
    __personal__: Personal = {"reporter_id": "anonymize", "claimed_by": "anonymize", "closed_by": "anonymize"}
    __confidential__: ClassVar[tuple[str, ...]] = ("reporter_id",)
    # What a moderator's export holds of a case they claimed or closed: that they did, not the case.
    __export_for_others__: ClassVar[tuple[str, ...]] = (
        "id",
        "guild_id",
        "case_no",
        "state",
        "claimed_by",
        "claimed_at",
        "closed_by",
        "closed_at",
        "created_at",
    )

    id: int | None = id_pk()
    guild_id: int = snowflake()
    case_no: int = Field()
    reporter_id: int | None = snowflake(nullable=True)
    reported_id: int = snowflake()
    kind: str = Field(default="member", max_length=16)  # member | message
    reason: str = Field(max_length=200)
    details: str = Field(default="", max_length=1000)
    rule_ref: str = Field(default="", max_length=100)
    # evidence snapshot (message reports), taken when the report was made
    evidence_message_id: int | None = snowflake(nullable=True)
    evidence_channel_id: int | None = snowflake(nullable=True)
    evidence_author_id: int | None = snowflake(nullable=True)
    evidence_author_name: str = Field(default="", max_length=100)
    evidence_jump_url: str = Field(default="", max_length=200)
    evidence_content: str = Field(default="", max_length=4000)
    evidence_attachments: str = Field(default="", max_length=1000)  # file names, one per line
    evidence_created_at: datetime | None = utc_field(nullable=True)
    # the case
    state: str = Field(default="open", max_length=16)  # open | claimed | mediating | resolved | dismissed
    claimed_by: int | None = snowflake(nullable=True)
    claimed_at: datetime | None = utc_field(nullable=True)
    closed_by: int | None = snowflake(nullable=True)
    closed_at: datetime | None = utc_field(nullable=True)
    notify_reporter: bool = Field(default=False)
    notified_at: datetime | None = utc_field(nullable=True)
    mediation_thread_id: int | None = snowflake(nullable=True)
    mediation_outcome: str | None = Field(default=None, max_length=16)
    created_at: datetime = utc_field()
    # the outbox
    delivery: str = Field(default="pending", max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = utc_field()
    lease_token: str | None = Field(default=None, max_length=32)
    lease_until: datetime | None = utc_field(nullable=True)
    last_error: str = Field(default="", max_length=300)
    mod_channel_id: int | None = snowflake(nullable=True)
    mod_message_id: int | None = snowflake(nullable=True)
    thread_id: int | None = snowflake(nullable=True)
    delivered_at: datetime | None = utc_field(nullable=True)


class ReportAudit(SQLModel, table=True):
    """Append-only: every action on a case. Rows are inserted, never updated or deleted
    (except ``actor_id`` set to ``NULL`` when that moderator asks to be forgotten)."""

    __tablename__ = "report_audit"
    __personal__: Personal = {"actor_id": "anonymize"}

    id: int | None = id_pk()
    report_id: int = _report_fk()
    actor_id: int | None = snowflake(nullable=True)
    action: str = Field(max_length=32)
    detail: str = Field(default="", max_length=1000)
    at: datetime = utc_field()


class ReportRevealApproval(SQLModel, table=True):
    """A moderator's approval to reveal a case's reporter; two different moderators are needed."""

    __tablename__ = "report_reveal_approval"
    __table_args__ = (UniqueConstraint("report_id", "moderator_id", name="uq_report_reveal_moderator"),)
    __personal__: Personal = {"moderator_id": "delete"}

    id: int | None = id_pk()
    report_id: int = _report_fk()
    moderator_id: int = snowflake()
    at: datetime = utc_field()


class ReportInvite(SQLModel, table=True):
    """An invitation to a mediation thread, sent by DM; the member is added only after **Join**.

    ``party`` is ``reported`` or ``reporter``; ``state`` is ``invited`` | ``joined`` | ``declined`` |
    ``undeliverable`` | ``expired``.
    """

    __tablename__ = "report_invite"
    __table_args__ = (UniqueConstraint("report_id", "member_id", name="uq_report_invite_member"),)
    __personal__: Personal = {"member_id": "delete"}

    id: int | None = id_pk()
    report_id: int = _report_fk()
    member_id: int = snowflake()
    party: str = Field(max_length=16)
    state: str = Field(default="invited", max_length=16)
    created_at: datetime = utc_field()
    answered_at: datetime | None = utc_field(nullable=True)
