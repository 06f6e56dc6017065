"""Help requests (issue #3): topics, helpers and their boundaries, requests, claims, pings, outbox.

Every timer lives here: a request's escalations are derived from its timestamps, and everything
the bot must send is an :class:`HelpOutbox` row with a unique key, so a restart or a second run
never sends twice. Message content of help threads is never stored — only who wrote and when.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models.base import BigIntPK, Personal, id_pk, snowflake, utc_field


def _request_fk() -> object:
    return Field(sa_column=Column(BigIntPK, ForeignKey("help_request.id", ondelete="CASCADE"), nullable=False))


class HelpConfig(SQLModel, table=True):
    """Per-guild knobs of the help flow (defaults apply when a guild has no row)."""

    __tablename__ = "help_config"
    __personal__: Personal = {}

    guild_id: int = snowflake(primary_key=True)
    first_round_minutes: int = Field(default=15)
    escalate_minutes: int = Field(default=60)
    idle_hours: int = Field(default=48)
    archive_hours: int = Field(default=24)
    pings_per_round: int = Field(default=3)
    thread_mode: str = Field(default="public", max_length=16)
    updated_at: datetime = utc_field()


class HelpTopic(SQLModel, table=True):
    """A topic members can ask about and helpers can choose (``key`` is the lower-case name)."""

    __tablename__ = "help_topic"
    __table_args__ = (UniqueConstraint("guild_id", "key", name="uq_help_topic_key"),)
    __personal__: Personal = {}

    id: int | None = id_pk()
    guild_id: int = snowflake(index=True)
    key: str = Field(max_length=40)
    name: str = Field(max_length=40)
    created_at: datetime = utc_field()


class HelpHelper(SQLModel, table=True):
    """A member who chose to help, with their boundaries. ``topics`` empty means every topic."""

    __tablename__ = "help_helper"
    __table_args__ = (UniqueConstraint("guild_id", "member_id", name="uq_help_helper_member"),)
    __personal__: Personal = {"member_id": "delete"}

    id: int | None = id_pk()
    guild_id: int = snowflake(index=True)
    member_id: int = snowflake()
    topics: str = Field(default="", max_length=1000)  # comma-separated topic keys
    excluded_topics: str = Field(default="", max_length=1000)
    status: str = Field(default="available", max_length=16)
    away_until: datetime | None = utc_field(nullable=True)
    max_open: int = Field(default=3)
    quiet_start: int | None = Field(default=None)  # minutes after local midnight
    quiet_end: int | None = Field(default=None)
    timezone: str = Field(default="UTC", max_length=64)
    last_pinged_at: datetime | None = utc_field(nullable=True)
    joined_at: datetime = utc_field()


class HelpRequest(SQLModel, table=True):
    """One request for help and its thread.

    ``thread_state`` is ``pending`` until the thread exists (the ``help.deliver`` job retries),
    then ``posted``. ``body`` is kept only until the thread is posted.
    """

    __tablename__ = "help_request"
    __table_args__ = (
        Index("ix_help_request_state", "state", "thread_state"),
        Index("ix_help_request_asker", "guild_id", "asker_id"),
    )
    __personal__: Personal = {"asker_id": "delete"}

    id: int | None = id_pk()
    guild_id: int = snowflake()
    asker_id: int = snowflake()
    topic_key: str | None = Field(default=None, max_length=40)
    topic_name: str | None = Field(default=None, max_length=40)
    title: str = Field(max_length=100)
    body: str = Field(default="", max_length=4000)
    wants: str = Field(default="listening", max_length=16)
    content_note: str | None = Field(default=None, max_length=200)
    #: Always a private thread (e.g. a quiet member who asked to talk after a prompt DM).
    private: bool = Field(default=False)
    state: str = Field(default="open", max_length=16)  # open | resolved | archived
    thread_state: str = Field(default="pending", max_length=16)  # pending | posted
    thread_id: int | None = snowflake(nullable=True, index=True)
    channel_id: int | None = snowflake(nullable=True)
    attempts: int = Field(default=0)
    next_attempt_at: datetime | None = utc_field(nullable=True)
    ping_round: int = Field(default=0)
    created_at: datetime = utc_field()
    posted_at: datetime | None = utc_field(nullable=True)
    first_response_at: datetime | None = utc_field(nullable=True)
    escalated_at: datetime | None = utc_field(nullable=True)
    last_activity_at: datetime = utc_field()
    idle_asked_at: datetime | None = utc_field(nullable=True)
    idle_count: int = Field(default=0)
    resolved_at: datetime | None = utc_field(nullable=True)
    archived_at: datetime | None = utc_field(nullable=True)


class HelpParticipant(SQLModel, table=True):
    """Someone other than the asker who claimed the request or wrote in its thread."""

    __tablename__ = "help_participant"
    __table_args__ = (UniqueConstraint("request_id", "member_id", name="uq_help_participant"),)
    __personal__: Personal = {"member_id": "delete"}

    id: int | None = id_pk()
    request_id: int = _request_fk()  # type: ignore[assignment]
    member_id: int = snowflake(index=True)
    claimed: bool = Field(default=False)
    claimed_at: datetime | None = utc_field(nullable=True)
    responded_at: datetime | None = utc_field(nullable=True)


class HelpPing(SQLModel, table=True):
    """A helper pinged for a request in a given round (never pinged twice for one request)."""

    __tablename__ = "help_ping"
    __table_args__ = (UniqueConstraint("request_id", "member_id", name="uq_help_ping"),)
    __personal__: Personal = {"member_id": "delete"}

    id: int | None = id_pk()
    request_id: int = _request_fk()  # type: ignore[assignment]
    member_id: int = snowflake(index=True)
    round: int = Field()
    at: datetime = utc_field()


class HelpOutbox(SQLModel, table=True):
    """Something the bot must send for a request, once (``kind`` + ``round`` unique per request)."""

    __tablename__ = "help_outbox"
    __table_args__ = (UniqueConstraint("request_id", "kind", "round", name="uq_help_outbox"),)
    __personal__: Personal = {}

    id: int | None = id_pk()
    request_id: int = _request_fk()  # type: ignore[assignment]
    kind: str = Field(max_length=16)  # pings | wait | mods | idle | archive
    round: int = Field(default=0)
    state: str = Field(default="pending", max_length=16, index=True)  # pending | done | dropped
    attempts: int = Field(default=0)
    next_attempt_at: datetime = utc_field()
    created_at: datetime = utc_field()
