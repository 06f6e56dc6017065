"""When each member was last active in a guild (issue #7). Never any content."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import Index
from sqlmodel import SQLModel

from bot.models.base import Personal, snowflake, utc_field
from bot.models.privacy import Retention


class MemberActivity(SQLModel, table=True):
    """One row per guild member we have seen do something (message, reaction, command, check-in).

    Members we never saw active have no row: they are *unknown*, not quiet (without the privileged
    GUILD_MEMBERS intent Kinship cannot list a guild's members). ``joined_at`` is the latest join
    time Discord told us about, so a member who left and came back counts as new again.
    The index ``(guild_id, last_active_at, …)`` lets the daily sweep read only the quiet members.
    """

    __tablename__ = "member_activity"
    __table_args__ = (
        # Covering (member_id, joined_at included), so the sweep never touches the table itself.
        Index("ix_member_activity_guild_last_active", "guild_id", "last_active_at", "member_id", "joined_at"),
    )
    __personal__: Personal = {"member_id": "delete"}
    #: ``/setup retention activity_days``: members not seen for longer are forgotten.
    __retention__: ClassVar[Retention] = Retention("activity", "last_active_at")

    guild_id: int = snowflake(primary_key=True)
    member_id: int = snowflake(primary_key=True)
    last_active_at: datetime = utc_field()
    joined_at: datetime | None = utc_field(nullable=True)


class InsightActivityDay(SQLModel, table=True):
    """A member was active in a guild on ``day`` (midnight UTC): one row per member and day, never
    what they did. ``member_activity`` keeps only the latest time, which cannot answer "how many
    were active in week 3" or "did a prompted member come back within 7 days" (``/stats``)."""

    __tablename__ = "insight_activity_day"
    __table_args__ = (Index("ix_insight_activity_day_member", "guild_id", "member_id", "day"),)
    __personal__: Personal = {"member_id": "delete"}
    __retention__: ClassVar[tuple[str, str]] = ("activity", "day")

    guild_id: int = snowflake(primary_key=True)
    day: datetime = utc_field(primary_key=True)
    member_id: int = snowflake(primary_key=True)
