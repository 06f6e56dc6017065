"""Which guilds this process serves (issue #10).

Discord puts guild ``g`` on shard ``(g >> 22) % shard_count``. A process started with ``SHARD_IDS``
holds only those shards, so only their guilds are in its cache, and only it can act on them in
Discord (post in their channels, read their members and roles). Scheduled work about a guild
therefore runs in the process that holds the guild's shard; :class:`GuildScope` is how a job tells
a service "only my guilds", in Python (:meth:`owns`) and in SQL (:meth:`where`). Plain data: the
services import it, never discord.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, literal, true


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord delivers ``guild_id``'s events on."""
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True, slots=True)
class GuildScope:
    """The guilds on ``shard_ids`` out of ``shard_count`` shards."""

    shard_count: int
    shard_ids: frozenset[int]

    @classmethod
    def of(cls, shard_count: int | None, shard_ids: Iterable[int] | None) -> GuildScope | None:
        """The scope of a process, or ``None`` when it holds every shard (no filter needed)."""
        if not shard_count or shard_ids is None:
            return None
        ids = frozenset(shard_ids)
        return None if ids >= set(range(shard_count)) else cls(shard_count, ids)

    def owns(self, guild_id: int) -> bool:
        """Whether ``guild_id`` is on one of this scope's shards."""
        return shard_of(guild_id, self.shard_count) in self.shard_ids

    def where(self, guild_id_column: Any) -> ColumnElement[bool]:
        """SQL for :meth:`owns` on a guild id column (the same on SQLite and PostgreSQL: both
        shift and take the remainder of 64-bit integers)."""
        shard = guild_id_column.op(">>")(literal(22)) % self.shard_count
        return shard.in_(sorted(self.shard_ids))


def in_scope(scope: GuildScope | None, guild_id_column: Any) -> ColumnElement[bool]:
    """``where`` for a possibly absent scope: no filter when the process holds every shard."""
    return true() if scope is None else scope.where(guild_id_column)
