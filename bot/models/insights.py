"""Insights (issue #8): which days each member was active, for the weekly series of ``/stats``.

:class:`bot.models.activity.MemberActivity` keeps only the *latest* activity per member, which
answers "how many were active in the last 30 days" but not "how many were active in week 3", nor
"did a prompted member come back within 7 days". This table keeps one row per member and UTC day
they did anything (never what): written in batches by :class:`bot.services.insights.InsightService`.
Old rows are deleted by the privacy retention job (``activity`` kind).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import Index
from sqlmodel import SQLModel

from bot.models.base import Personal, snowflake, utc_field


class InsightActivityDay(SQLModel, table=True):
    """A member was active in a guild on ``day`` (midnight UTC of that day)."""

    __tablename__ = "insight_activity_day"
    __table_args__ = (Index("ix_insight_activity_day_member", "guild_id", "member_id", "day"),)
    __personal__: Personal = {"member_id": "delete"}
    __retention__: ClassVar[tuple[str, str]] = ("activity", "day")

    guild_id: int = snowflake(primary_key=True)
    day: datetime = utc_field(primary_key=True)
    member_id: int = snowflake(primary_key=True)
