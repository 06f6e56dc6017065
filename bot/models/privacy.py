"""Privacy and care (issue #8): per-guild retention settings and guild-added support contacts.

Besides its own tables this module defines :class:`Retention`, the optional second table
convention next to ``__personal__`` (see :mod:`bot.services.privacy` for the rules)::

    class CheckinAnswer(SQLModel, table=True):
        __personal__: Personal = {"member_id": "delete"}
        __retention__: ClassVar[Retention] = Retention("notes", "answered_at", clear=("note",))

A plain tuple ``("activity", "day")`` works as well, so a model need not import this module.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal, NamedTuple

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models.base import Personal, id_pk, snowflake, utc_field

RetentionKind = Literal["notes", "activity"]


class Retention(NamedTuple):
    """What the daily retention job does with a table's rows.

    ``kind`` picks the guild setting (``notes_days`` or ``activity_days``), ``age_column`` is the
    aware datetime column that ages a row. With ``clear`` empty, rows older than the setting are
    deleted; otherwise only those columns are emptied (``NULL``, or ``""`` for a non-nullable
    text column) and the row stays — e.g. the note of a check-in answer, while its mood counts on.
    """

    kind: RetentionKind
    age_column: str
    clear: tuple[str, ...] = ()


class PrivacySettings(SQLModel, table=True):
    """How long a guild keeps check-in notes and activity (``0`` = keep forever)."""

    __tablename__ = "privacy_settings"
    __personal__: Personal = {}

    guild_id: int = snowflake(primary_key=True)
    notes_days: int = Field(default=0)
    activity_days: int = Field(default=0)
    last_run_at: datetime | None = utc_field(nullable=True)
    updated_at: datetime = utc_field()


class CareResource(SQLModel, table=True):
    """A support contact an admin added for their guild; shown by ``/resources`` below the shipped ones.

    ``region`` is one of the shipped regions or ``all`` (shown everywhere). ``added_by`` is kept
    for accountability and anonymised when that admin deletes their data.
    """

    __tablename__ = "care_resource"
    __table_args__ = (UniqueConstraint("guild_id", "region", "name", name="uq_care_resource_name"),)
    __personal__: Personal = {"added_by": "anonymize"}

    id: int | None = id_pk()
    guild_id: int = snowflake(index=True)
    region: str = Field(max_length=8)
    name: str = Field(max_length=100)
    contact: str = Field(max_length=200)
    url: str | None = Field(default=None, max_length=300)
    added_by: int | None = snowflake(nullable=True)
    created_at: datetime = utc_field()


class PrivacyExport(SQLModel, table=True):
    """When a member last asked for an export (exports are rate-limited; aged out as activity)."""

    __tablename__ = "privacy_export"
    __table_args__ = (UniqueConstraint("guild_id", "member_id", name="uq_privacy_export_member"),)
    __personal__: Personal = {"member_id": "delete"}
    __retention__: ClassVar[Retention] = Retention("activity", "requested_at")

    id: int | None = id_pk()
    guild_id: int = snowflake(index=True)
    member_id: int = snowflake()
    requested_at: datetime = utc_field()
