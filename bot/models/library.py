"""Resource library: member suggestions that moderators approve.

Full-text search is not a model: the migration creates ``resource_fts`` (SQLite FTS5, kept in
sync by :class:`bot.services.library.LibraryService`) or a GIN expression index
``ix_resource_fts`` (PostgreSQL).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from bot.models.base import Personal, id_pk, snowflake, utc_field


class Resource(SQLModel, table=True):
    """A link or a short text; ``status`` is ``suggested``, ``approved`` or ``rejected``."""

    __tablename__ = "resource"
    __personal__: Personal = {"suggested_by": "anonymize", "decided_by": "anonymize"}

    id: int | None = id_pk()
    guild_id: int = snowflake(index=True)
    title: str = Field(max_length=100)
    content: str = Field(max_length=1000)
    topic: str = Field(max_length=40, index=True)
    language: str = Field(default="en", max_length=8)
    status: str = Field(default="suggested", max_length=16)
    suggested_by: int | None = snowflake(nullable=True)
    suggested_at: datetime = utc_field()
    decided_by: int | None = snowflake(nullable=True)
    decided_at: datetime | None = utc_field(nullable=True)
    queue_channel_id: int | None = snowflake(nullable=True)
    queue_message_id: int | None = snowflake(nullable=True)
