"""Weekly check-ins: schedule, posts, answers, reminders and buddies (issue #4)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models.base import BigIntPK, Personal, id_pk, snowflake, utc_field
from bot.models.privacy import Retention


class CheckinSchedule(SQLModel, table=True):
    """A guild's check-in schedule. Without a row the defaults apply (Monday 10:00, on)."""

    __tablename__ = "checkin_schedule"
    __personal__: Personal = {}

    guild_id: int = snowflake(primary_key=True)
    enabled: bool = Field(default=True)
    weekday: int = Field(default=0)  # 0 = Monday … 6 = Sunday
    hour: int = Field(default=10)
    minute: int = Field(default=0)
    grace_hours: int = Field(default=12)
    reminder_hour: int = Field(default=18)
    buddy_weeks: int = Field(default=1)
    buddy_dm: bool = Field(default=False)
    #: Remind members whose DMs are closed with a mention in the week's (public) thread. Off: they
    #: get no reminder at all — a public ping is not what a support group expects.
    thread_reminders: bool = Field(default=False)
    updated_at: datetime = utc_field()


class CheckinPost(SQLModel, table=True):
    """The weekly post of one guild: exactly one row per (guild, ISO week), claimed before sending."""

    __tablename__ = "checkin_post"
    __table_args__ = (UniqueConstraint("guild_id", "week", name="uq_checkin_post_week"),)
    __personal__: Personal = {}

    id: int | None = id_pk()
    guild_id: int = snowflake(index=True)
    week: str = Field(max_length=8)  # "2026-W49"
    scheduled_at: datetime = utc_field()
    state: str = Field(default="pending", max_length=16)  # pending | posted | skipped
    reason: str = Field(default="", max_length=32)
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = utc_field(nullable=True)
    claimed_until: datetime | None = utc_field(nullable=True)
    channel_id: int | None = snowflake(nullable=True)
    message_id: int | None = snowflake(nullable=True)
    thread_id: int | None = snowflake(nullable=True)
    posted_at: datetime | None = utc_field(nullable=True)


class CheckinAnswer(SQLModel, table=True):
    """A member's answer for one week: a check-in (mood, optional note) or "not this week"."""

    __tablename__ = "checkin_answer"
    __table_args__ = (UniqueConstraint("guild_id", "member_id", "week", name="uq_checkin_answer_week"),)
    __personal__: Personal = {"member_id": "delete"}
    #: ``/setup retention notes_days``: old notes are emptied; the mood keeps counting for the trend.
    __retention__: ClassVar[Retention] = Retention("notes", "answered_at", ("note",))

    id: int | None = id_pk()
    guild_id: int = snowflake(index=True)
    member_id: int = snowflake(index=True)
    week: str = Field(max_length=8)
    skipped: bool = Field(default=False)
    mood: int | None = Field(default=None)
    note: str | None = Field(default=None, sa_type=Text)
    shared: bool = Field(default=False)
    answered_at: datetime = utc_field()


class CheckinMember(SQLModel, table=True):
    """A member's opt-ins (reminders, buddies) and whether their DMs were found closed."""

    __tablename__ = "checkin_member"
    __table_args__ = (UniqueConstraint("guild_id", "member_id", name="uq_checkin_member"),)
    __personal__: Personal = {"member_id": "delete"}

    id: int | None = id_pk()
    guild_id: int = snowflake(index=True)
    member_id: int = snowflake(index=True)
    reminders: bool = Field(default=False)
    buddies: bool = Field(default=False)
    dm_closed: bool = Field(default=False)
    updated_at: datetime = utc_field()


class CheckinReminder(SQLModel, table=True):
    """One reminder per member per week (the unique key is the guarantee)."""

    __tablename__ = "checkin_reminder"
    __table_args__ = (UniqueConstraint("guild_id", "member_id", "week", name="uq_checkin_reminder_week"),)
    __personal__: Personal = {"member_id": "delete"}

    id: int | None = id_pk()
    guild_id: int = snowflake(index=True)
    member_id: int = snowflake(index=True)
    week: str = Field(max_length=8)
    via: str = Field(default="dm", max_length=8)  # dm | thread
    state: str = Field(default="sending", max_length=16)  # sending | sent | failed | dm_closed (not reminded)
    created_at: datetime = utc_field()


class BuddyRound(SQLModel, table=True):
    """One pairing per guild and period (the ISO week it was made in)."""

    __tablename__ = "buddy_round"
    __table_args__ = (UniqueConstraint("guild_id", "period", name="uq_buddy_round_period"),)
    __personal__: Personal = {}

    id: int | None = id_pk()
    guild_id: int = snowflake(index=True)
    period: str = Field(max_length=8)
    created_at: datetime = utc_field()


class BuddyGroup(SQLModel, table=True):
    """A pair or trio of one round, and how its introduction went."""

    __tablename__ = "buddy_group"
    __personal__: Personal = {}

    id: int | None = id_pk()
    round_id: int = Field(foreign_key="buddy_round.id", index=True, sa_type=BigIntPK)
    guild_id: int = snowflake(index=True)
    dm: bool = Field(default=False)
    state: str = Field(default="pending", max_length=16)  # pending | introduced | failed
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = utc_field(nullable=True)
    thread_id: int | None = snowflake(nullable=True)


class BuddyMember(SQLModel, table=True):
    """Who is in a buddy group (and, for DM introductions, whether they were told)."""

    __tablename__ = "buddy_member"
    __table_args__ = (UniqueConstraint("group_id", "member_id", name="uq_buddy_member"),)
    __personal__: Personal = {"member_id": "delete"}

    id: int | None = id_pk()
    group_id: int = Field(foreign_key="buddy_group.id", index=True, sa_type=BigIntPK)
    guild_id: int = snowflake(index=True)
    member_id: int = snowflake(index=True)
    notified: bool = Field(default=False)
