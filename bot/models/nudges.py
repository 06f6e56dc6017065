"""Quiet members: consent, policy, the sweeps and every prompt sent (issue #7)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models.base import Personal, id_pk, snowflake, utc_field
from bot.models.privacy import Retention


class NudgePolicy(SQLModel, table=True):
    """A guild's policy for quiet members (defaults apply while there is no row)."""

    __tablename__ = "nudge_policy"
    __personal__: Personal = {}

    guild_id: int = snowflake(primary_key=True)
    enabled: bool = True
    quiet_days: int = 14
    sweep_hour: int = 18  # local hour in the guild's time zone
    cooldown_days: int = 30
    max_per_sweep: int = 50
    digest_weekday: int = 0  # Monday
    digest_weeks: int = 3  # the digest lists members quiet for this many weeks or more
    updated_at: datetime = utc_field()


class NudgePreference(SQLModel, table=True):
    """One member's consent: opted in to personal prompts, paused, or DMs closed."""

    __tablename__ = "nudge_preference"
    __personal__: Personal = {"member_id": "delete"}

    guild_id: int = snowflake(primary_key=True)
    member_id: int = snowflake(primary_key=True)
    opted_in: bool = False
    paused_until: datetime | None = utc_field(nullable=True)
    dm_closed_at: datetime | None = utc_field(nullable=True)  # cleared by activity after this time
    language: str | None = Field(default=None, max_length=8)  # the member's Discord locale, when known
    updated_at: datetime = utc_field()


class NudgeSweep(SQLModel, table=True):
    """One daily sweep or weekly digest per guild and period; the unique key makes it happen once."""

    __tablename__ = "nudge_sweep"
    __table_args__ = (UniqueConstraint("guild_id", "kind", "period", name="uq_nudge_sweep_period"),)
    __personal__: Personal = {}

    id: int | None = id_pk()
    guild_id: int = snowflake()
    kind: str = Field(max_length=16)  # "daily" | "digest"
    period: str = Field(max_length=16)  # local date "2026-01-15" or ISO week "2026-W03"
    state: str = Field(default="done", max_length=16)  # digest: "planned" → "posted" | "skipped"
    created_at: datetime = utc_field()
    done_at: datetime | None = utc_field(nullable=True)
    planned: int = 0


class Nudge(SQLModel, table=True):
    """One personal prompt: planned by the sweep, then sent (or not), then answered.

    ``state``: planned → sending → sent | dm_closed | failed | skipped | unknown. A row is written
    before the DM is sent, so a restart resumes without prompting anyone twice.
    """

    __tablename__ = "nudge"
    #: ``/setup retention activity_days`` (keep it above the prompt cool-down, 30 days by default).
    __retention__: ClassVar[Retention] = Retention("activity", "planned_at")
    __table_args__ = (
        UniqueConstraint("guild_id", "member_id", "period", name="uq_nudge_member_period"),
        Index("ix_nudge_guild_member_planned", "guild_id", "member_id", "planned_at"),
        Index("ix_nudge_state_due", "state", "due_at"),
    )
    __personal__: Personal = {"member_id": "delete"}

    id: int | None = id_pk()
    guild_id: int = snowflake()
    member_id: int = snowflake()
    period: str = Field(max_length=16)
    state: str = Field(default="planned", max_length=16)
    quiet_since: datetime = utc_field()
    planned_at: datetime = utc_field()
    due_at: datetime = utc_field()
    claimed_at: datetime | None = utc_field(nullable=True)
    sent_at: datetime | None = utc_field(nullable=True)
    attempts: int = 0
    message_id: int | None = snowflake(nullable=True)
    outcome: str | None = Field(default=None, max_length=16)  # okay | talk | stop
    outcome_at: datetime | None = utc_field(nullable=True)
    detail: str = Field(default="", max_length=200)


class NudgeThrottle(SQLModel, table=True):
    """A bot-wide pause of all prompt DMs (Discord error 40003), persisted across restarts."""

    __tablename__ = "nudge_throttle"
    __personal__: Personal = {}

    key: str = Field(primary_key=True, max_length=16)
    paused_until: datetime = utc_field()
