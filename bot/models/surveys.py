"""Surveys, their answers, and the per-guild pulse setting.

Anonymity: answers of an anonymous survey carry no member id. The one-answer rule uses
``respondent_key`` = SHA-256 of the survey's random ``salt`` and the member id; when the survey
has closed, the ``surveys.close`` job wipes the salt and every key, so answers cannot be linked to
members afterwards (not even by someone with the database and the member list).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models.base import BigIntPK, Personal, id_pk, snowflake, utc_field


class Survey(SQLModel, table=True):
    """A survey (``kind`` ``survey``) or a monthly pulse (``kind`` ``pulse``, one per ``pulse_month``)."""

    __tablename__ = "survey"
    __table_args__ = (UniqueConstraint("guild_id", "pulse_month", name="uq_survey_pulse_month"),)
    __personal__: Personal = {"created_by": "anonymize"}

    id: int | None = id_pk()
    guild_id: int = snowflake(index=True)
    kind: str = Field(default="survey", max_length=8)
    title: str = Field(max_length=100)
    anonymous: bool = Field(default=True)
    questions: str = Field(sa_type=Text)  # JSON: [{"kind": "scale|choice|text", "text": ..., "options": [...]}]
    salt: str | None = Field(default=None, max_length=64)
    created_by: int | None = snowflake(nullable=True)
    created_at: datetime = utc_field()
    closes_at: datetime = utc_field(index=True)
    keys_wiped: bool = Field(default=False)
    pulse_month: str | None = Field(default=None, max_length=7)
    channel_id: int | None = snowflake(nullable=True)
    message_id: int | None = snowflake(nullable=True)
    post_claimed_at: datetime | None = utc_field(nullable=True)


class SurveyResponse(SQLModel, table=True):
    """One member's answers (JSON list, one entry per question). ``member_id`` only on named surveys."""

    __tablename__ = "survey_response"
    __table_args__ = (UniqueConstraint("survey_id", "respondent_key", name="uq_survey_response_respondent"),)
    __personal__: Personal = {"member_id": "delete"}

    id: int | None = id_pk()
    survey_id: int = Field(
        sa_column=Column(BigIntPK, ForeignKey("survey.id", ondelete="CASCADE"), nullable=False, index=True)
    )
    respondent_key: str | None = Field(default=None, max_length=64)
    member_id: int | None = snowflake(nullable=True)
    answers: str = Field(sa_type=Text)
    answered_at: datetime = utc_field()


class SurveySettings(SQLModel, table=True):
    """Per-guild survey settings: the opt-in monthly pulse and where it is posted."""

    __tablename__ = "survey_settings"
    __personal__: Personal = {}

    guild_id: int = snowflake(primary_key=True)
    pulse_enabled: bool = Field(default=False)
    pulse_channel_id: int | None = snowflake(nullable=True)
    updated_at: datetime = utc_field()
