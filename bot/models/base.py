"""Column helpers shared by every table.

* Discord ids are 64-bit: use :func:`snowflake` (``BIGINT``), never a plain ``int`` field.
* Surrogate keys use :func:`id_pk`, which is ``BIGINT`` on PostgreSQL and ``INTEGER PRIMARY KEY``
  (rowid, auto-increment) on SQLite.
* Datetimes are aware UTC in Python and ``TIMESTAMP WITH TIME ZONE`` where the database has it:
  use :func:`utc_field`. Naive datetimes are refused at bind time.
* Every table declares ``__personal__`` (a ``ClassVar``): which columns hold a member id and what
  ``/privacy delete`` does with the row — ``"delete"`` it, or ``"anonymize"`` (set the column to
  ``NULL``/0 and keep the row, for what moderators must keep for safety). An empty dict says the
  table holds no personal data. ``tests/test_structure.py`` enforces the declaration.
* A table may also declare ``__confidential__`` (a tuple of personal columns): ``/privacy export``
  shows such a column only to the member it names. A report's ``reporter_id`` is one — a moderator
  exporting the cases they handled must not learn who filed them (revealing needs two moderators).
  With ``__export_for_others__`` (column names), a row that names the member only outside its
  confidential columns is exported with just those columns: a moderator's export says which cases
  they claimed or closed, not what the reporter wrote.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from sqlalchemy import BigInteger, DateTime, Integer
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field

PersonalAction = Literal["delete", "anonymize"]
Personal = ClassVar[dict[str, PersonalAction]]

BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (stored naive UTC) and PostgreSQL (timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def snowflake(*, index: bool = False, nullable: bool = False, primary_key: bool = False, **kw: Any) -> Any:
    """A Discord id column (64-bit)."""
    default = None if nullable else ...
    if "default" in kw:
        default = kw.pop("default")
    return Field(
        default=default,
        sa_type=BigInteger,
        index=index,
        nullable=nullable,
        primary_key=primary_key,
        **kw,
    )


def id_pk() -> Any:
    """An auto-incrementing surrogate primary key."""
    return Field(default=None, primary_key=True, sa_type=BigIntPK)


def utc_field(*, nullable: bool = False, index: bool = False, **kw: Any) -> Any:
    """An aware-UTC datetime column."""
    default = None if nullable else kw.pop("default", ...)
    return Field(default=default, sa_type=UTCDateTime, nullable=nullable, index=index, **kw)


def utcnow() -> datetime:
    """Now, aware UTC. Services take ``now`` as a parameter; this is for the edges only."""
    return datetime.now(UTC)
