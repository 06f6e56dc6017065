"""Resource library (issue #11): members suggest, moderators approve, everyone searches.

Only approved resources are ever shown. Full-text search runs in the database:

* SQLite: the FTS5 table ``resource_fts`` (rowid = ``resource.id``) holds approved resources
  only; this service inserts a row on approval and deletes it on removal, in the same transaction.
* PostgreSQL: ``to_tsvector('simple', title || ' ' || content || ' ' || topic)`` with the GIN
  expression index ``ix_resource_fts``.

Both match every word of the query as a prefix ("medit" finds "meditation").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import InvalidInput, NotFound
from bot.models.library import Resource
from bot.services.context import ServiceContext

SUGGESTED, APPROVED, REJECTED = "suggested", "approved", "rejected"
#: A member may have this many suggestions waiting for moderators at once.
MAX_PENDING_PER_MEMBER = 5
_LINK = re.compile(r"^https?://\S+$", re.IGNORECASE)
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z]{2})?$")
_WORD = re.compile(r"[^\W_]+")

_PG_DOCUMENT = "to_tsvector('simple', title || ' ' || content || ' ' || topic)"


@dataclass(frozen=True, slots=True)
class ResourceItem:
    """A resource as plain data."""

    id: int
    guild_id: int
    title: str
    content: str
    topic: str
    language: str
    status: str
    suggested_by: int | None
    decided_by: int | None
    queue_channel_id: int | None
    queue_message_id: int | None

    @property
    def is_link(self) -> bool:
        """Whether the content is a single web link."""
        return bool(_LINK.match(self.content))


def normalize_topic(topic: str) -> str:
    """Topics compare case-insensitively and without surrounding spaces or ``#``."""
    return " ".join(topic.strip().lstrip("#").lower().split())[:40]


def search_words(query: str, limit: int = 8) -> list[str]:
    """The words of a search query (letters and digits only, lower case)."""
    return [w.lower() for w in _WORD.findall(query)][:limit]


class LibraryService:
    """Suggestions, the approval queue, search and lists of approved resources."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db
        self.events = ctx.events

    async def suggest_resource(
        self, guild_id: int, member_id: int, *, title: str, content: str, topic: str, language: str, now: datetime
    ) -> ResourceItem:
        """Store a member's suggestion as ``suggested`` (moderators decide)."""
        title, content, language = " ".join(title.split()), content.strip(), language.strip().lower() or "en"
        topic = normalize_topic(topic)
        if not title or not content or not topic:
            raise InvalidInput("library.errors.missing")
        if len(title) > 100 or len(content) > 1000:
            raise InvalidInput("library.errors.too_long")
        if not _LANGUAGE.match(language):
            raise InvalidInput("library.errors.bad_language", value=language[:16])
        async with self.db.session() as s:
            pending = (
                await s.exec(
                    select(func.count()).where(
                        Resource.guild_id == guild_id,
                        Resource.suggested_by == member_id,
                        Resource.status == SUGGESTED,
                    )
                )
            ).one()
            if pending >= MAX_PENDING_PER_MEMBER:
                raise InvalidInput("library.errors.too_many_pending", limit=MAX_PENDING_PER_MEMBER)
            row = Resource(
                guild_id=guild_id,
                title=title,
                content=content,
                topic=topic,
                language=language,
                status=SUGGESTED,
                suggested_by=member_id,
                suggested_at=now,
            )
            s.add(row)
            await s.flush()
            return _item(row)

    async def set_queue_message(self, resource_id: int, channel_id: int, message_id: int) -> None:
        """Remember the approval-queue message of a suggestion (to update it after the decision)."""
        async with self.db.session() as s:
            row = await s.get(Resource, resource_id)
            if row is not None:
                row.queue_channel_id, row.queue_message_id = channel_id, message_id

    async def approve(self, guild_id: int, resource_id: int, moderator_id: int, now: datetime) -> ResourceItem:
        """Approve a suggestion: from now on it is listed and found by search."""
        return await self._decide(guild_id, resource_id, moderator_id, now, APPROVED)

    async def reject(self, guild_id: int, resource_id: int, moderator_id: int, now: datetime) -> ResourceItem:
        """Reject a suggestion: it is never shown."""
        return await self._decide(guild_id, resource_id, moderator_id, now, REJECTED)

    async def _decide(
        self, guild_id: int, resource_id: int, moderator_id: int, now: datetime, status: str
    ) -> ResourceItem:
        async with self.db.session() as s:
            row = await s.get(Resource, resource_id, with_for_update=True)
            if row is None or row.guild_id != guild_id:
                raise NotFound("library.errors.not_found")
            if row.status != SUGGESTED:
                raise InvalidInput("library.errors.already_decided", status=row.status)
            row.status, row.decided_by, row.decided_at = status, moderator_id, now
            await s.flush()
            if status == APPROVED:
                await self._index(s, row)
            return _item(row)

    async def remove(self, guild_id: int, resource_id: int) -> ResourceItem:
        """Delete a resource (moderators), and its search entry."""
        async with self.db.session() as s:
            row = await s.get(Resource, resource_id, with_for_update=True)
            if row is None or row.guild_id != guild_id:
                raise NotFound("library.errors.not_found")
            item = _item(row)
            await self._unindex(s, resource_id)
            await s.delete(row)
        return item

    async def get(self, guild_id: int, resource_id: int) -> ResourceItem:
        """One resource of the guild (any status), or :class:`NotFound`."""
        async with self.db.session() as s:
            row = await s.get(Resource, resource_id)
        if row is None or row.guild_id != guild_id:
            raise NotFound("library.errors.not_found")
        return _item(row)

    async def search(self, guild_id: int, query: str, limit: int = 10) -> list[ResourceItem]:
        """Approved resources matching every word of ``query`` (as prefixes), best first."""
        words = search_words(query)
        if not words:
            raise InvalidInput("library.errors.empty_query")
        async with self.db.session() as s:
            if self.db.dialect == "sqlite":
                match = " ".join('"' + w.replace('"', "") + '"*' for w in words)
                stmt = text(
                    "SELECT r.id FROM resource_fts JOIN resource r ON r.id = resource_fts.rowid "
                    "WHERE resource_fts MATCH :match AND r.guild_id = :guild AND r.status = 'approved' "
                    "ORDER BY bm25(resource_fts), r.id LIMIT :limit"
                ).bindparams(match=match, guild=guild_id, limit=limit)
            else:
                tsquery = " & ".join(f"{w}:*" for w in words)
                stmt = text(
                    f"SELECT id FROM resource WHERE guild_id = :guild AND status = 'approved' "  # noqa: S608
                    f"AND {_PG_DOCUMENT} @@ to_tsquery('simple', :q) "
                    f"ORDER BY ts_rank({_PG_DOCUMENT}, to_tsquery('simple', :q)) DESC, id LIMIT :limit"
                ).bindparams(guild=guild_id, q=tsquery, limit=limit)
            ids = [r[0] for r in (await (await s.connection()).execute(stmt)).all()]
            if not ids:
                return []
            rows = (
                await s.exec(
                    select(Resource).where(
                        col(Resource.id).in_(ids), Resource.guild_id == guild_id, Resource.status == APPROVED
                    )
                )
            ).all()
        by_id = {r.id: r for r in rows}
        return [_item(by_id[i]) for i in ids if i in by_id][:limit]

    async def titles(self, guild_id: int, typed: str, limit: int = 25) -> list[str]:
        """Approved titles containing ``typed`` (for autocomplete), those starting with it first."""
        needle = typed.strip().lower()
        async with self.db.session() as s:
            stmt = select(Resource.title).where(Resource.guild_id == guild_id, Resource.status == APPROVED)
            if needle:
                stmt = stmt.where(func.lower(Resource.title).contains(needle, autoescape=True))
            rows = list((await s.exec(stmt.order_by(Resource.title).limit(200))).all())
        rows.sort(key=lambda t: (not t.lower().startswith(needle), t.lower()))
        return rows[:limit]

    async def topics(self, guild_id: int, typed: str = "", limit: int = 25) -> list[str]:
        """Topics that have approved resources (for autocomplete)."""
        needle = normalize_topic(typed)
        async with self.db.session() as s:
            stmt = select(Resource.topic).where(Resource.guild_id == guild_id, Resource.status == APPROVED)
            if needle:
                stmt = stmt.where(col(Resource.topic).contains(needle, autoescape=True))
            rows = (await s.exec(stmt.distinct().order_by(Resource.topic).limit(limit))).all()
        return list(rows)

    async def list(self, guild_id: int, topic: str | None = None, limit: int = 25) -> list[ResourceItem]:
        """Approved resources, of one topic or all, newest first."""
        async with self.db.session() as s:
            stmt = select(Resource).where(Resource.guild_id == guild_id, Resource.status == APPROVED)
            if topic:
                stmt = stmt.where(Resource.topic == normalize_topic(topic))
            rows = (
                await s.exec(stmt.order_by(col(Resource.decided_at).desc(), col(Resource.id).desc()).limit(limit))
            ).all()
        return [_item(r) for r in rows]

    async def suggest(self, guild_id: int, topic: str, language: str, limit: int = 3) -> list[ResourceItem]:
        """Approved resources for a topic, in ``language`` first — for help requests and check-ins
        that want to point at something useful."""
        topic = normalize_topic(topic)
        if not topic:
            return []
        async with self.db.session() as s:
            stmt = (
                select(Resource)
                .where(Resource.guild_id == guild_id, Resource.status == APPROVED, Resource.topic == topic)
                .order_by(col(Resource.id).desc())
                .limit(50)
            )
            rows = list((await s.exec(stmt)).all())
        rows.sort(key=lambda r: r.language != language.lower())  # stable: newest first within a language
        return [_item(r) for r in rows[:limit]]

    async def pending(self, guild_id: int, limit: int = 25) -> list[ResourceItem]:
        """Suggestions waiting for a decision, oldest first."""
        async with self.db.session() as s:
            stmt = (
                select(Resource)
                .where(Resource.guild_id == guild_id, Resource.status == SUGGESTED)
                .order_by(col(Resource.id))
                .limit(limit)
            )
            rows = (await s.exec(stmt)).all()
        return [_item(r) for r in rows]

    async def _index(self, s: AsyncSession, row: Resource) -> None:
        if self.db.dialect != "sqlite":
            return  # PostgreSQL indexes the expression itself
        await (await s.connection()).execute(
            text("INSERT INTO resource_fts(rowid, title, content, topic) VALUES (:id, :title, :content, :topic)"),
            {"id": row.id, "title": row.title, "content": row.content, "topic": row.topic},
        )

    async def _unindex(self, s: AsyncSession, resource_id: int) -> None:
        if self.db.dialect == "sqlite":
            await (await s.connection()).execute(
                text("DELETE FROM resource_fts WHERE rowid = :id"), {"id": resource_id}
            )


def _item(row: Resource) -> ResourceItem:
    assert row.id is not None
    return ResourceItem(
        id=row.id,
        guild_id=row.guild_id,
        title=row.title,
        content=row.content,
        topic=row.topic,
        language=row.language,
        status=row.status,
        suggested_by=row.suggested_by,
        decided_by=row.decided_by,
        queue_channel_id=row.queue_channel_id,
        queue_message_id=row.queue_message_id,
    )
