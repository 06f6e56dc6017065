"""Code of conduct and acknowledgements (issue #11).

A guild has at most one code of conduct, in English and/or German. Every change of the text
raises its ``version``; when the guild requires acknowledgement, a member must have acknowledged
the *current* version before the help (``/ask``) and report (``/report``) flows open for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, exists
from sqlalchemy.exc import IntegrityError
from sqlmodel import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.errors import InvalidInput, NotAllowed, NotConfigured
from bot.models.conduct import CodeOfConduct, ConductAck
from bot.services.context import ServiceContext
from bot.statements import Prepared

#: Longest text per language (a modal paragraph field holds 4000; an embed description 4096).
MAX_TEXT = 4000

_RULE = re.compile(r"^\s*(?:§\s*(\d{1,2})[.):]?|(\d{1,2})[.):])\s+(.+)$")


@dataclass(frozen=True, slots=True)
class Conduct:
    """A guild's code of conduct as plain data."""

    guild_id: int
    text_en: str
    text_de: str
    version: int
    require_ack: bool
    updated_at: datetime

    def text_for(self, lang: str) -> tuple[str, str]:
        """The text in ``lang`` (falling back to the other language) and the language used."""
        preferred, other = ("de", "en") if lang == "de" else ("en", "de")
        texts = {"en": self.text_en, "de": self.text_de}
        return (texts[preferred], preferred) if texts[preferred].strip() else (texts[other], other)


@dataclass(frozen=True, slots=True)
class Rule:
    """One numbered rule, for citing it in a report (``"3. Be kind"`` → number 3)."""

    number: int
    text: str


@dataclass(frozen=True, slots=True)
class AckResult:
    """The outcome of pressing "I've read and accept"; ``new`` is False when already recorded."""

    version: int
    new: bool


def parse_rules(text: str) -> list[Rule]:
    """Numbered lines (``1. …``, ``2) …``, ``§3 …``) of a code of conduct, in order, without repeats."""
    rules: list[Rule] = []
    seen: set[int] = set()
    for line in text.splitlines():
        m = _RULE.match(line)
        if m is None:
            continue
        number = int(m.group(1) or m.group(2))
        if number not in seen:
            seen.add(number)
            rules.append(Rule(number, m.group(3).strip().strip("*_ ")[:100]))
    return rules


class ConductService:
    """Stores the code of conduct, records acknowledgements and gates help and reports."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db
        self.events = ctx.events

    async def get(self, guild_id: int) -> Conduct | None:
        """The guild's code of conduct, or ``None`` when it has none."""
        async with self.db.session() as s:
            row = await s.get(CodeOfConduct, guild_id)
        return _to_conduct(row) if row else None

    async def require(self, guild_id: int) -> Conduct:
        """The code of conduct, or :class:`NotConfigured` (``/rules`` without rules)."""
        conduct = await self.get(guild_id)
        if conduct is None:
            raise NotConfigured("conduct.errors.no_rules")
        return conduct

    async def for_member(self, guild_id: int, member_id: int) -> tuple[Conduct, bool]:
        """The code of conduct (or :class:`NotConfigured`) and whether the member accepted this version."""
        async with self.db.session() as s:
            row = await s.get(CodeOfConduct, guild_id)
            if row is None:
                raise NotConfigured("conduct.errors.no_rules")
            acked = await _ack(s, guild_id, member_id, row.version) is not None
            return _to_conduct(row), acked

    async def set_text(self, guild_id: int, text_en: str, text_de: str, now: datetime) -> Conduct:
        """Save the texts. A changed text gets a new version (members acknowledge again)."""
        text_en, text_de = text_en.strip(), text_de.strip()
        if not text_en and not text_de:
            raise InvalidInput("conduct.errors.empty")
        if len(text_en) > MAX_TEXT or len(text_de) > MAX_TEXT:
            raise InvalidInput("conduct.errors.too_long", limit=MAX_TEXT)
        async with self.db.session() as s:
            row = await s.get(CodeOfConduct, guild_id, with_for_update=True)
            if row is None:
                row = CodeOfConduct(guild_id=guild_id, text_en=text_en, text_de=text_de, version=1, updated_at=now)
                s.add(row)
            elif (row.text_en, row.text_de) != (text_en, text_de):
                row.text_en, row.text_de = text_en, text_de
                row.version += 1
                row.updated_at = now
            await s.flush()
            return _to_conduct(row)

    async def set_required(self, guild_id: int, required: bool, now: datetime) -> Conduct:
        """Turn "acknowledge before help and reports" on or off (needs a code of conduct)."""
        async with self.db.session() as s:
            row = await s.get(CodeOfConduct, guild_id, with_for_update=True)
            if row is None:
                raise NotConfigured("conduct.errors.no_rules_admin")
            row.require_ack = required
            row.updated_at = now
            await s.flush()
            return _to_conduct(row)

    async def acknowledge(self, guild_id: int, member_id: int, version: int, now: datetime) -> AckResult:
        """Record that ``member_id`` read and accepted ``version`` (the one they were shown)."""
        async with self.db.session() as s:
            row = await s.get(CodeOfConduct, guild_id)
            if row is None:
                raise NotConfigured("conduct.errors.no_rules")
            if row.version != version:
                raise InvalidInput("conduct.errors.outdated")
            if await _ack(s, guild_id, member_id, version) is not None:
                return AckResult(version, new=False)
            try:
                async with s.begin_nested():
                    s.add(ConductAck(guild_id=guild_id, member_id=member_id, version=version, acknowledged_at=now))
            except IntegrityError:  # a double click raced us: it is recorded either way
                return AckResult(version, new=False)
        return AckResult(version, new=True)

    async def has_acknowledged(self, guild_id: int, member_id: int) -> bool:
        """Whether the member acknowledged the current version (True when there are no rules)."""
        async with self.db.session() as s:
            row = await s.get(CodeOfConduct, guild_id)
            if row is None:
                return True
            return await _ack(s, guild_id, member_id, row.version) is not None

    async def require_acknowledged(self, guild_id: int, member_id: int) -> None:
        """Raise :class:`bot.errors.NotAllowed` when the guild asks new members to acknowledge its
        code of conduct first and this member has not. Help (``/ask``) and report (``/report``)
        flows call this before anything else."""
        async with self.db.direct(read=True) as q:  # on every /ask and /report: one statement
            row = await q.first(_GATE, guild=guild_id, member=member_id)
        if row is None or not row[0] or row[1]:  # no rules, no acknowledgement asked, or given
            return
        raise NotAllowed("conduct.errors.ack_required")

    async def rules_summary(self, guild_id: int, lang: str = "en") -> list[Rule]:
        """The numbered rules (in ``lang``, falling back to the other language), for citing one in
        a report. Empty when there is no code of conduct or it is not numbered."""
        conduct = await self.get(guild_id)
        if conduct is None:
            return []
        return parse_rules(conduct.text_for(lang)[0])

    async def acknowledged_count(self, guild_id: int) -> int:
        """How many members acknowledged the current version."""
        async with self.db.session() as s:
            row = await s.get(CodeOfConduct, guild_id)
            if row is None:
                return 0
            stmt = select(func.count()).where(ConductAck.guild_id == guild_id, ConductAck.version == row.version)
            return (await s.exec(stmt)).one()


_CODES = CodeOfConduct.__table__  # type: ignore[attr-defined]
_ACKS = ConductAck.__table__  # type: ignore[attr-defined]
#: ``(require_ack, acknowledged)`` of the guild's code of conduct and a member (no row: no code).
_GATE = Prepared(
    select(
        _CODES.c.require_ack,
        exists().where(
            _ACKS.c.guild_id == _CODES.c.guild_id,
            _ACKS.c.member_id == bindparam("member"),
            _ACKS.c.version == _CODES.c.version,
        ),
    ).where(_CODES.c.guild_id == bindparam("guild"))
)


async def _ack(s: AsyncSession, guild_id: int, member_id: int, version: int) -> ConductAck | None:
    stmt = select(ConductAck).where(
        ConductAck.guild_id == guild_id, ConductAck.member_id == member_id, ConductAck.version == version
    )
    return (await s.exec(stmt)).first()


def _to_conduct(row: CodeOfConduct) -> Conduct:
    return Conduct(
        guild_id=row.guild_id,
        text_en=row.text_en,
        text_de=row.text_de,
        version=row.version,
        require_ack=row.require_ack,
        updated_at=row.updated_at,
    )
