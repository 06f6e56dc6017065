"""Per-guild configuration and the problems the bot found while serving a guild."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models.base import Personal, id_pk, snowflake, utc_field


class GuildConfig(SQLModel, table=True):
    """One row per guild: the channels and role Kinship works with, and the guild's locale."""

    __tablename__ = "guild_config"
    __personal__: Personal = {}

    guild_id: int = snowflake(primary_key=True)
    help_channel_id: int | None = snowflake(nullable=True)
    mod_channel_id: int | None = snowflake(nullable=True)
    checkin_channel_id: int | None = snowflake(nullable=True)
    mod_role_id: int | None = snowflake(nullable=True)
    timezone: str = Field(default="UTC", max_length=64)
    language: str = Field(default="en", max_length=8)
    updated_at: datetime = utc_field()


class GuildProblem(SQLModel, table=True):
    """Something that stops Kinship from working fully in a guild, shown by ``/setup show``.

    Features record a problem when Discord refuses them (a missing permission, a deleted channel,
    undelivered reports…) and clear it when the thing works again. ``key`` is unique per guild,
    so recording the same problem twice only refreshes it.
    """

    __tablename__ = "guild_problem"
    __table_args__ = (UniqueConstraint("guild_id", "key", name="uq_guild_problem_key"),)
    __personal__: Personal = {}

    id: int | None = id_pk()
    guild_id: int = snowflake(index=True)
    key: str = Field(max_length=100)
    code: str = Field(max_length=64)
    detail: str = Field(default="", max_length=500)
    since: datetime = utc_field()
    last_seen: datetime = utc_field()
