"""Care: crisis and support contacts for ``/resources`` (issue #8).

The project ships ``bot/data/resources.json`` (Germany, Austria, Switzerland, the UK, the US and an
international directory; every entry names its source page). Admins add their own contacts per
guild with ``/setup resources``; they are shown below the shipped ones, for one region or for
``all``. Other features point members here with :func:`resources_hint` in their DMs.

Not part of the ``Services`` container: the cog builds a :class:`CareService` from the shared
:class:`ServiceContext`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from sqlmodel import col, select

from bot import i18n
from bot.errors import InvalidInput, NotFound
from bot.models.privacy import CareResource
from bot.services.context import ServiceContext

DATA_FILE = Path(__file__).resolve().parents[1] / "data" / "resources.json"
#: Shipped regions, in the order ``/resources`` offers them.
REGIONS = ("de", "at", "ch", "uk", "us", "intl")
#: Guild entries may name a region or ``all`` (shown in every region).
GUILD_REGIONS = (*REGIONS, "all")
#: Guild entries per guild (keeps the card within Discord's embed limits).
MAX_GUILD_ENTRIES = 15
MAX_NAME, MAX_CONTACT, MAX_URL = 100, 200, 300


@dataclass(frozen=True, slots=True)
class Contact:
    """One support contact: who, how to reach them, a short note per language, a link."""

    name: str
    contact: str
    note: dict[str, str]
    url: str | None = None
    source: str | None = None

    def note_for(self, lang: str) -> str:
        """The note in ``lang`` (English when missing)."""
        return self.note.get(lang) or self.note.get(i18n.DEFAULT, "")


@dataclass(frozen=True, slots=True)
class Region:
    """The shipped contacts of one region and its emergency number(s)."""

    code: str
    emergency: str
    contacts: tuple[Contact, ...]


@dataclass(frozen=True, slots=True)
class GuildContact:
    """A contact an admin added for their guild."""

    id: int
    region: str
    name: str
    contact: str
    url: str | None


@dataclass(frozen=True, slots=True)
class Card:
    """Everything ``/resources`` shows for one region."""

    region: Region
    guild_contacts: tuple[GuildContact, ...]


@cache
def shipped() -> dict[str, Region]:
    """The contacts the project ships, by region (read once)."""
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    regions: dict[str, Region] = {}
    for code in REGIONS:
        raw = data["regions"][code]
        contacts = tuple(
            Contact(
                name=e["name"],
                contact=e["contact"],
                note=dict(e.get("note", {})),
                url=e.get("url"),
                source=e.get("source"),
            )
            for e in raw["entries"]
        )
        regions[code] = Region(code=code, emergency=raw["emergency"], contacts=contacts)
    return regions


def region_for_locale(locale: str | None) -> str:
    """The default region for a Discord locale: ``de`` → Germany, ``en-GB`` → UK, ``en-US`` → US,
    anything else → the international directory."""
    return {"de": "de", "en-GB": "uk", "en-US": "us"}.get(str(locale or ""), "intl")


def resources_hint(lang: str) -> str:
    """One line other features put in prompts and check-in DMs, pointing at ``/resources``."""
    return i18n.t("care.hint", lang)


def _clean_url(url: str | None) -> str | None:
    if url is None or not url.strip():
        return None
    url = url.strip()
    if not url.lower().startswith(("https://", "http://")) or len(url) > MAX_URL or any(c.isspace() for c in url):
        raise InvalidInput("care.errors.bad_url")
    return url


def _clean_text(value: str, limit: int) -> str:
    value = " ".join(value.split())
    if not value or len(value) > limit:
        raise InvalidInput("care.errors.bad_text", limit=limit)
    return value


class CareService:
    """Guild-added support contacts, and the ``/resources`` card."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db

    async def card(self, guild_id: int | None, region: str) -> Card:
        """The shipped contacts of ``region`` and the guild's own ones for it (or for ``all``)."""
        if region not in REGIONS:
            raise InvalidInput("care.errors.bad_region")
        extra: tuple[GuildContact, ...] = ()
        if guild_id is not None:
            mine = [c for c in await self.list(guild_id) if c.region in (region, "all")]
            extra = tuple(sorted(mine, key=lambda c: (c.region == "all", c.name.lower())))  # region first
        return Card(region=shipped()[region], guild_contacts=extra)

    async def list(self, guild_id: int) -> list[GuildContact]:
        """The guild's own contacts, by region then name."""
        async with self.db.session() as s:
            rows = (
                await s.exec(
                    select(CareResource)
                    .where(CareResource.guild_id == guild_id)
                    .order_by(col(CareResource.region), col(CareResource.name))
                )
            ).all()
        return [_to_contact(r) for r in rows]

    async def add(
        self,
        guild_id: int,
        region: str,
        *,
        name: str,
        contact: str,
        url: str | None,
        added_by: int,
        now: datetime,
    ) -> GuildContact:
        """Add a contact for the guild (a second one with the same region and name is refused)."""
        if region not in GUILD_REGIONS:
            raise InvalidInput("care.errors.bad_region")
        name, contact, url = _clean_text(name, MAX_NAME), _clean_text(contact, MAX_CONTACT), _clean_url(url)
        async with self.db.session() as s:
            existing = (await s.exec(select(CareResource).where(CareResource.guild_id == guild_id))).all()
            if len(existing) >= MAX_GUILD_ENTRIES:
                raise InvalidInput("care.errors.too_many", limit=MAX_GUILD_ENTRIES)
            if any(r.region == region and r.name.lower() == name.lower() for r in existing):
                raise InvalidInput("care.errors.duplicate", name=name)
            row = CareResource(
                guild_id=guild_id, region=region, name=name, contact=contact, url=url, added_by=added_by, created_at=now
            )
            s.add(row)
            await s.flush()
            return _to_contact(row)

    async def remove(self, guild_id: int, key: str) -> GuildContact:
        """Remove a guild contact by id (what autocomplete offers) or by exact name."""
        async with self.db.session() as s:
            rows = (await s.exec(select(CareResource).where(CareResource.guild_id == guild_id))).all()
            key = key.strip()
            match = [r for r in rows if str(r.id) == key] or [r for r in rows if r.name.lower() == key.lower()]
            if len(match) != 1:
                raise NotFound("care.errors.not_found", name=key[:100])
            gone = _to_contact(match[0])
            await s.delete(match[0])
        return gone


def _to_contact(row: CareResource) -> GuildContact:
    assert row.id is not None
    return GuildContact(id=row.id, region=row.region, name=row.name, contact=row.contact, url=row.url)
