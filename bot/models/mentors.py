"""Mentor programme: mentors, blocks, pairings (matches) and their monthly check-ins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models.base import BigIntPK, Personal, id_pk, snowflake, utc_field


class Mentor(SQLModel, table=True):
    """A member offering mentoring on some topics, for at most ``capacity`` mentees at a time."""

    __tablename__ = "mentor"
    __table_args__ = (UniqueConstraint("guild_id", "member_id", name="uq_mentor_member"),)
    __personal__: Personal = {"member_id": "delete"}

    id: int | None = id_pk()
    guild_id: int = snowflake(index=True)
    member_id: int = snowflake()
    topics: str = Field(max_length=300)  # normalised, comma-separated
    capacity: int = Field(default=1)
    status: str = Field(default="active", max_length=16)  # active | paused
    timezone: str | None = Field(default=None, max_length=64)
    created_at: datetime = utc_field()
    updated_at: datetime = utc_field()


class MentorBlock(SQLModel, table=True):
    """``member_id`` never wants to be matched with ``blocked_id`` (either way round)."""

    __tablename__ = "mentor_block"
    __table_args__ = (UniqueConstraint("guild_id", "member_id", "blocked_id", name="uq_mentor_block"),)
    # Only the blocker's data: a member deleting their data must not lift blocks others placed on them.
    __personal__: Personal = {"member_id": "delete"}

    id: int | None = id_pk()
    guild_id: int = snowflake(index=True)
    member_id: int = snowflake()
    blocked_id: int = snowflake()
    created_at: datetime = utc_field()


class MentorMatch(SQLModel, table=True):
    """A proposed or running pairing. ``status``: proposed, active, declined, cancelled, ended."""

    __tablename__ = "mentor_match"
    __personal__: Personal = {"mentor_id": "delete", "mentee_id": "delete"}

    id: int | None = id_pk()
    guild_id: int = snowflake(index=True)
    mentor_id: int = snowflake(index=True)
    mentee_id: int = snowflake(index=True)
    topic: str = Field(max_length=40)
    status: str = Field(default="proposed", max_length=16)
    mentee_accepted: bool = Field(default=False)
    mentor_accepted: bool = Field(default=False)
    # The monthly "is this still working for you?" DM, chosen by each side for themselves.
    mentor_checkin: bool = Field(default=False)
    mentee_checkin: bool = Field(default=False)
    created_at: datetime = utc_field()
    started_at: datetime | None = utc_field(nullable=True)
    ended_at: datetime | None = utc_field(nullable=True)
    thread_id: int | None = snowflake(nullable=True)


class MentorCheckin(SQLModel, table=True):
    """The monthly "is this still working for you?" was sent for ``match_id`` in ``month``."""

    __tablename__ = "mentor_checkin"
    __table_args__ = (UniqueConstraint("match_id", "month", name="uq_mentor_checkin_month"),)
    __personal__: Personal = {}

    id: int | None = id_pk()
    match_id: int = Field(
        sa_column=Column(BigIntPK, ForeignKey("mentor_match.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    month: str = Field(max_length=7)
    sent_at: datetime = utc_field()
