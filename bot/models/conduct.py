"""Code of conduct: one text per guild (English and German) and who acknowledged which version."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models.base import Personal, id_pk, snowflake, utc_field


class CodeOfConduct(SQLModel, table=True):
    """A guild's rules. ``version`` grows whenever the text changes, so members acknowledge again."""

    __tablename__ = "conduct_code"
    __personal__: Personal = {}

    guild_id: int = snowflake(primary_key=True)
    text_en: str = Field(default="", sa_type=Text)
    text_de: str = Field(default="", sa_type=Text)
    version: int = Field(default=1)
    require_ack: bool = Field(default=False)
    updated_at: datetime = utc_field()


class ConductAck(SQLModel, table=True):
    """A member acknowledged version ``version`` of the guild's code of conduct (once)."""

    __tablename__ = "conduct_ack"
    __table_args__ = (UniqueConstraint("guild_id", "member_id", "version", name="uq_conduct_ack_member_version"),)
    __personal__: Personal = {"member_id": "delete"}

    id: int | None = id_pk()
    guild_id: int = snowflake(index=True)
    member_id: int = snowflake()
    version: int
    acknowledged_at: datetime = utc_field()
