"""Which guilds this process serves (issue #10).

Discord puts guild ``g`` on shard ``(g >> 22) % shard_count``. A process started with ``SHARD_IDS``
holds only those shards, so only their guilds are in its cache, and only it can act on them in
Discord (post in their channels, read their members and roles). Scheduled work about a guild
therefore runs in the process that holds the guild's shard; :class:`GuildScope` is how a job tells
a service "only my guilds", in Python (:meth:`serves`) and in SQL (:meth:`where`). Plain data: the
services import it, never discord.

A scope also leaves out the guilds Discord currently marks unavailable (an outage of that guild, or
a shard whose guilds are still arriving after it re-identified): their channels, roles and members
are missing from the cache, so their work waits, unclaimed, until they are back, while every other
guild is served at once (issue #17).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, literal, true


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord delivers ``guild_id``'s events on."""
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True, slots=True)
class GuildScope:
    """The guilds on ``shard_ids`` out of ``shard_count`` shards, minus the ``unavailable`` ones."""

    shard_count: int
    shard_ids: frozenset[int]
    #: Guilds on these shards that Discord marks unavailable right now: no work is claimed for them.
    unavailable: frozenset[int] = frozenset()

    @classmethod
    def of(cls, shard_count: int | None, shard_ids: Iterable[int] | None) -> GuildScope | None:
        """The scope of a process, or ``None`` when it holds every shard (no filter needed)."""
        if not shard_count or shard_ids is None:
            return None
        ids = frozenset(shard_ids)
        return None if ids >= set(range(shard_count)) else cls(shard_count, ids)

    @classmethod
    def narrowed(cls, scope: GuildScope | None, unavailable: Iterable[int]) -> GuildScope | None:
        """``scope`` (``None`` = every shard) without the guilds in ``unavailable``."""
        out = frozenset(unavailable)
        if not out:
            return scope
        base = scope or cls(1, frozenset({0}))  # one shard holding every guild
        return cls(base.shard_count, base.shard_ids, base.unavailable | out)

    @property
    def every_shard(self) -> bool:
        """Whether the shard filter lets every guild through (only ``unavailable`` is left out)."""
        return self.shard_ids >= set(range(self.shard_count))

    def owns(self, guild_id: int) -> bool:
        """Whether ``guild_id`` is on one of this scope's shards (available or not)."""
        return shard_of(guild_id, self.shard_count) in self.shard_ids

    def serves(self, guild_id: int) -> bool:
        """Whether work for ``guild_id`` may run now: it is ours and available. :meth:`where` in Python."""
        return self.owns(guild_id) and guild_id not in self.unavailable

    def where(self, guild_id_column: Any) -> ColumnElement[bool]:
        """SQL for :meth:`serves` on a guild id column (the same on SQLite and PostgreSQL: both
        shift and take the remainder of 64-bit integers). The unavailable ids are written into the
        statement as integer literals, so a large outage cannot exceed a driver's bound-parameter limit."""
        terms: list[ColumnElement[bool]] = []
        if not self.every_shard:
            shard = guild_id_column.op(">>")(literal(22)) % self.shard_count
            terms.append(shard.in_(sorted(self.shard_ids)))
        if self.unavailable:
            ids = bindparam("unavailable", sorted(self.unavailable), unique=True, expanding=True, literal_execute=True)
            terms.append(guild_id_column.not_in(ids))
        return and_(*terms) if terms else true()


def in_scope(scope: GuildScope | None, guild_id_column: Any) -> ColumnElement[bool]:
    """``where`` for a possibly absent scope: no filter when the process holds every shard."""
    return true() if scope is None else scope.where(guild_id_column)
