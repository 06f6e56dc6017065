"""The web dashboard (issue #15): login sessions and the effects outbox.

* ``dashboard_session`` — one row per browser login. The cookie carries a random token; only its
  SHA-256 is stored, so a copy of the database cannot be used to log in. Logout and expiry delete
  the row. ``/privacy delete`` deletes a member's sessions (the table has no guild: a member's
  sessions are theirs everywhere), which logs them out.
* ``dashboard_effect`` — what a moderator's action on the web still has to do in Discord (edit the
  moderators' message of a case, DM the reporter who asked to be told, open or end a mediation
  thread). The web process writes the row; the bot process that holds the guild's shard claims it
  with a lease, does it and deletes it. ``key`` is unique, so a retried form cannot queue twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

from bot.models.base import Personal, id_pk, snowflake, utc_field


class DashboardSession(SQLModel, table=True):
    """A logged-in browser."""

    __tablename__ = "dashboard_session"
    __personal__: Personal = {"user_id": "delete"}

    id: str = Field(primary_key=True, max_length=64)  # sha256 hex of the cookie's token
    user_id: int = snowflake(index=True)
    user_name: str = Field(default="", max_length=100)
    #: The guilds Discord said the user is in at login (comma-separated ids); access is still
    #: checked against the guild on every request.
    guild_ids: str = Field(default="", max_length=20000)
    created_at: datetime = utc_field()
    expires_at: datetime = utc_field(index=True)


class DashboardEffect(SQLModel, table=True):
    """Work for the bot after a web action (see the module docstring)."""

    __tablename__ = "dashboard_effect"
    __personal__: Personal = {"actor_id": "anonymize", "member_id": "delete"}

    id: int | None = id_pk()
    key: str = Field(max_length=64, unique=True)
    guild_id: int = snowflake(index=True)
    kind: str = Field(max_length=32)  # one of bot.services.dashboard.EFFECT_KINDS
    ref_id: int = Field(sa_type=BigInteger)  # report.id or resource.id (no foreign key: its own migration branch)
    actor_id: int | None = snowflake(nullable=True)
    member_id: int | None = snowflake(nullable=True)
    state: str = Field(default="pending", max_length=16)  # pending | sending
    attempts: int = Field(default=0)
    lease_until: datetime | None = utc_field(nullable=True)
    next_attempt_at: datetime = utc_field()
    created_at: datetime = utc_field()
