"""Care: the shipped contacts, the locale default and the guild's own contacts."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bot import i18n
from bot.errors import InvalidInput, NotFound
from bot.services import Services
from bot.services.care import (
    DATA_FILE,
    MAX_GUILD_ENTRIES,
    REGIONS,
    CareService,
    region_for_locale,
    resources_hint,
    shipped,
)

GUILD = 1_400_000_000_000_000_001
ADMIN = 1_400_000_000_000_000_100
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def care(services: Services) -> CareService:
    return CareService(services.ctx)


def test_every_region_ships_sourced_contacts_and_an_emergency_number() -> None:
    regions = shipped()
    assert tuple(regions) == REGIONS == ("de", "at", "ch", "uk", "us", "intl")
    for region in regions.values():
        assert region.emergency and region.contacts, region.code
        for contact in region.contacts:
            assert contact.source and contact.source.startswith("https://"), contact.name
            assert contact.url and contact.url.startswith("https://"), contact.name
            assert set(contact.note) == {"en", "de"}, contact.name


def test_the_safety_critical_numbers_are_the_ones_we_checked() -> None:
    # If one of these changes, change it on purpose (and its source) — never by accident.
    def contacts(code: str) -> str:
        return " | ".join(f"{c.name}: {c.contact}" for c in shipped()[code].contacts)

    assert "TelefonSeelsorge: 0800 111 0 111 · 0800 111 0 222 · 116 123" in contacts("de")
    assert "TelefonSeelsorge Österreich: 142" in contacts("at")
    assert "Die Dargebotene Hand: 143" in contacts("ch")
    assert "Samaritans: 116 123" in contacts("uk") and "Text SHOUT to 85258" in contacts("uk")
    assert "988 Suicide & Crisis Lifeline: Call or text 988" in contacts("us")
    assert "findahelpline.com" in contacts("intl")
    assert {shipped()[c].emergency for c in REGIONS} == {"112", "112 · 144", "999 · 112", "911"}


def test_data_file_is_valid_json_with_a_source_on_every_entry() -> None:
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    assert all(e["source"] for r in data["regions"].values() for e in r["entries"])


@pytest.mark.parametrize(
    ("locale", "region"),
    [("de", "de"), ("en-GB", "uk"), ("en-US", "us"), ("fr", "intl"), ("es-419", "intl"), (None, "intl")],
)
def test_region_follows_the_discord_locale(locale: str | None, region: str) -> None:
    assert region_for_locale(locale) == region


def test_hint_points_to_resources_in_both_languages() -> None:
    assert "/resources" in resources_hint("en")
    assert "/hilfsangebote" in resources_hint("de")
    assert resources_hint("de") == i18n.t("care.hint", "de")


async def test_guild_contacts_are_added_listed_shown_and_removed(care: CareService) -> None:
    added = await care.add(
        GUILD,
        "de",
        name="Krisendienst  Oberbayern",
        contact="0800 655 3000",
        url="https://www.krisendienste.bayern/",
        added_by=ADMIN,
        now=NOW,
    )
    assert added.name == "Krisendienst Oberbayern"  # whitespace tidied
    await care.add(GUILD, "all", name="Our mods", contact="#moderators", url=None, added_by=ADMIN, now=NOW)

    de = await care.card(GUILD, "de")
    assert [c.name for c in de.guild_contacts] == ["Krisendienst Oberbayern", "Our mods"]
    uk = await care.card(GUILD, "uk")
    assert [c.name for c in uk.guild_contacts] == ["Our mods"]
    assert (await care.card(None, "de")).guild_contacts == ()
    assert (await care.card(GUILD + 1, "de")).guild_contacts == ()

    gone = await care.remove(GUILD, str(added.id))
    assert gone.name == "Krisendienst Oberbayern"
    await care.remove(GUILD, "our mods")  # by name, case-insensitively
    assert await care.list(GUILD) == []
    with pytest.raises(NotFound):
        await care.remove(GUILD, "Our mods")


async def test_guild_contacts_are_validated(care: CareService) -> None:
    ok = {"contact": "123", "added_by": ADMIN, "now": NOW}
    with pytest.raises(InvalidInput):
        await care.add(GUILD, "mars", name="X", url=None, **ok)
    with pytest.raises(InvalidInput):
        await care.add(GUILD, "de", name="X", url="javascript:alert(1)", **ok)
    with pytest.raises(InvalidInput):
        await care.add(GUILD, "de", name="X", url="https://exa mple.org", **ok)
    with pytest.raises(InvalidInput):
        await care.add(GUILD, "de", name="   ", url=None, **ok)
    await care.add(GUILD, "de", name="Same", url=None, **ok)
    with pytest.raises(InvalidInput):
        await care.add(GUILD, "de", name="same", url=None, **ok)
    await care.add(GUILD, "at", name="Same", url=None, **ok)  # another region is fine
    for n in range(MAX_GUILD_ENTRIES - 2):
        await care.add(GUILD, "us", name=f"n{n}", url=None, **ok)
    with pytest.raises(InvalidInput):
        await care.add(GUILD, "us", name="one too many", url=None, **ok)
    with pytest.raises(InvalidInput):
        await care.card(GUILD, "all")  # "all" is for guild entries, not a region to show
