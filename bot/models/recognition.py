"""Recognition points: an append-only ledger, member preferences, milestones and weekly posts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models.base import Personal, id_pk, snowflake, utc_field


class RecognitionEntry(SQLModel, table=True):
    """One award of points. Rows are never deleted or changed, except that a moderator's revocation
    is recorded on the row (``revoked_*``); totals are ``SUM(amount)`` over unrevoked rows.

    ``giver_id`` is ``NULL`` for system awards (check-in answered, request resolved, conflict
    closed). ``award_key`` makes once-only awards idempotent: unique per guild and receiver
    (``NULL`` for plain ``/thanks``, which the cooldown limits instead).
    """

    __tablename__ = "recognition_entry"
    __table_args__ = (
        UniqueConstraint("guild_id", "receiver_id", "award_key", name="uq_recognition_entry_award"),
        Index("ix_recognition_entry_receiver", "guild_id", "receiver_id", "created_at"),
        Index("ix_recognition_entry_giver", "guild_id", "giver_id", "created_at"),
        Index("ix_recognition_entry_time", "guild_id", "created_at"),
    )
    __personal__: Personal = {"receiver_id": "delete", "giver_id": "anonymize", "revoked_by": "anonymize"}

    id: int | None = id_pk()
    guild_id: int = snowflake()
    giver_id: int | None = snowflake(nullable=True)
    receiver_id: int = snowflake()
    amount: int
    reason: str = Field(default="", max_length=300)
    source: str = Field(max_length=16)
    ref: int | None = snowflake(nullable=True)
    award_key: str | None = Field(default=None, max_length=80, nullable=True)
    channel_id: int | None = snowflake(nullable=True)
    message_id: int | None = snowflake(nullable=True)
    created_at: datetime = utc_field()
    revoked_at: datetime | None = utc_field(nullable=True)
    revoked_by: int | None = snowflake(nullable=True)
    revoke_reason: str | None = Field(default=None, max_length=300, nullable=True)


class RecognitionConfig(SQLModel, table=True):
    """Per-guild amounts and limits (defaults apply while the row is missing)."""

    __tablename__ = "recognition_config"
    __personal__: Personal = {}

    guild_id: int = snowflake(primary_key=True)
    thanks_points: int = 10
    checkin_points: int = 2
    help_points: int = 5
    conflict_points: int = 5
    cooldown_hours: int = 12
    daily_cap: int = 5
    weekly_enabled: bool = False
    weekly_channel_id: int | None = snowflake(nullable=True)
    weekly_since: datetime | None = utc_field(nullable=True)
    updated_at: datetime = utc_field()


class RecognitionMember(SQLModel, table=True):
    """A member's choices: hidden from leaderboards and weekly posts; private recognition."""

    __tablename__ = "recognition_member"
    __personal__: Personal = {"member_id": "delete"}

    guild_id: int = snowflake(primary_key=True)
    member_id: int = snowflake(primary_key=True)
    hidden: bool = False
    private: bool = False
    updated_at: datetime = utc_field()


class RecognitionMilestone(SQLModel, table=True):
    """A point threshold mapped to a role."""

    __tablename__ = "recognition_milestone"
    __table_args__ = (UniqueConstraint("guild_id", "threshold", name="uq_recognition_milestone"),)
    __personal__: Personal = {}

    id: int | None = id_pk()
    guild_id: int = snowflake(index=True)
    threshold: int
    role_id: int = snowflake()
    created_at: datetime = utc_field()


class RecognitionGrant(SQLModel, table=True):
    """A milestone role given (or being given) to a member: written before the role call, once.

    ``status``: ``pending`` → ``granting`` (claimed by one process) → ``granted`` or ``failed``.
    """

    __tablename__ = "recognition_grant"
    __table_args__ = (UniqueConstraint("guild_id", "member_id", "threshold", name="uq_recognition_grant"),)
    __personal__: Personal = {"member_id": "delete"}

    id: int | None = id_pk()
    guild_id: int = snowflake()
    member_id: int = snowflake()
    threshold: int
    role_id: int = snowflake()
    status: str = Field(default="pending", max_length=16, index=True)
    created_at: datetime = utc_field()
    attempted_at: datetime | None = utc_field(nullable=True)


class RecognitionWeeklyPost(SQLModel, table=True):
    """One weekly recognition post per guild and ISO week (``2026-W05``): the idempotency key."""

    __tablename__ = "recognition_weekly_post"
    __table_args__ = (UniqueConstraint("guild_id", "week", name="uq_recognition_weekly_post"),)
    __personal__: Personal = {}

    id: int | None = id_pk()
    guild_id: int = snowflake()
    week: str = Field(max_length=10)
    status: str = Field(default="sending", max_length=16)
    channel_id: int | None = snowflake(nullable=True)
    message_id: int | None = snowflake(nullable=True)
    created_at: datetime = utc_field()
    updated_at: datetime = utc_field()
