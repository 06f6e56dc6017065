"""LibraryService on a real database (full-text search on SQLite FTS5 and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.errors import InvalidInput, NotFound
from bot.services import Services

G, OTHER_G = 1_456_074_443_980_800_001, 1_456_074_443_980_800_099
ALICE, MOD = 1_456_074_443_980_800_002, 1_456_074_443_980_800_009
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


async def _add(
    services: Services, title: str, content: str, topic: str, *, lang: str = "en", guild: int = G, approve: bool = True
) -> int:
    item = await services.library.suggest_resource(
        guild, ALICE, title=title, content=content, topic=topic, language=lang, now=NOW
    )
    if approve:
        await services.library.approve(guild, item.id, MOD, NOW)
    return item.id


async def test_only_approved_resources_are_found(services: Services) -> None:
    waiting = await _add(services, "Sleep hygiene basics", "https://example.org/sleep", "Sleep", approve=False)
    assert await services.library.search(G, "sleep") == []
    assert await services.library.list(G) == []
    assert await services.library.titles(G, "") == []
    await services.library.approve(G, waiting, MOD, NOW)
    found = await services.library.search(G, "sleep")
    assert [r.title for r in found] == ["Sleep hygiene basics"]
    assert found[0].is_link and found[0].topic == "sleep"
    with pytest.raises(InvalidInput):
        await services.library.reject(G, waiting, MOD, NOW)  # already decided


async def test_full_text_search_matches_words_and_prefixes_and_ranks(services: Services) -> None:
    await _add(services, "Breathing for panic", "Box breathing: in 4, hold 4, out 4, hold 4.", "anxiety")
    await _add(services, "Exam nerves", "A short guide to calm before exams, with breathing.", "exams")
    await _add(services, "Meditation timer", "https://example.org/timer", "mindfulness")
    assert {r.title for r in await services.library.search(G, "breathing")} == {"Breathing for panic", "Exam nerves"}
    assert [r.title for r in await services.library.search(G, "medit")] == ["Meditation timer"]  # prefix
    assert [r.title for r in await services.library.search(G, "breathing exams")] == ["Exam nerves"]  # every word
    assert [r.title for r in await services.library.search(G, "ANXIETY")] == ["Breathing for panic"]  # topic too
    assert await services.library.search(G, "nothing-like-this") == []
    with pytest.raises(InvalidInput):
        await services.library.search(G, "  !!! ")
    # Quotes and FTS operators are just words, not syntax.
    assert await services.library.search(G, 'breathing" OR "x') == []


async def test_search_is_per_guild_and_forgets_removed_resources(services: Services) -> None:
    rid = await _add(services, "Grief circle notes", "Notes from our grief circle.", "grief")
    await _add(services, "Grief elsewhere", "Another guild's grief text.", "grief", guild=OTHER_G)
    assert [r.id for r in await services.library.search(G, "grief")] == [rid]
    await services.library.remove(G, rid)
    assert await services.library.search(G, "grief") == []
    with pytest.raises(NotFound):
        await services.library.remove(G, rid)


async def test_rejected_suggestions_are_never_shown(services: Services) -> None:
    rid = await _add(services, "Dubious pills", "https://spam.example", "meds", approve=False)
    item = await services.library.reject(G, rid, MOD, NOW)
    assert item.status == "rejected" and item.decided_by == MOD
    assert await services.library.search(G, "pills") == [] and await services.library.list(G, "meds") == []
    assert await services.library.pending(G) == []


async def test_list_titles_topics_and_suggest_by_topic(services: Services) -> None:
    await _add(services, "Einschlafen leichter", "Ein Text über Schlaf.", "sleep", lang="de")
    await _add(services, "Sleep diary", "https://example.org/diary", "sleep")
    await _add(services, "Study plan", "Plan your week.", "exams")
    assert [r.title for r in await services.library.list(G, " Sleep ")] == ["Sleep diary", "Einschlafen leichter"]
    assert await services.library.topics(G) == ["exams", "sleep"]
    assert await services.library.titles(G, "sl") == ["Sleep diary"]
    assert await services.library.titles(G, "plan") == ["Study plan"]
    de_first = await services.library.suggest(G, "sleep", "de", limit=3)
    assert [r.title for r in de_first] == ["Einschlafen leichter", "Sleep diary"]
    assert [r.title for r in await services.library.suggest(G, "sleep", "en", limit=1)] == ["Sleep diary"]
    assert await services.library.suggest(G, "unknown", "en") == []


async def test_suggestions_are_validated_and_limited(services: Services) -> None:
    with pytest.raises(InvalidInput):
        await services.library.suggest_resource(G, ALICE, title=" ", content="x", topic="t", language="en", now=NOW)
    with pytest.raises(InvalidInput):
        await services.library.suggest_resource(
            G, ALICE, title="t", content="x", topic="t", language="english!", now=NOW
        )
    for i in range(5):
        await _add(services, f"Idea {i}", "text", "ideas", approve=False)
    with pytest.raises(InvalidInput) as err:
        await _add(services, "Idea 6", "text", "ideas", approve=False)
    assert err.value.key == "library.errors.too_many_pending"
    assert len(await services.library.pending(G)) == 5
