"""ConductService on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import InvalidInput, NotAllowed, NotConfigured
from bot.services import Services
from bot.services.conduct import parse_rules

G, ALICE, BOB = 1_456_074_443_980_800_001, 1_456_074_443_980_800_002, 1_456_074_443_980_800_003
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


async def test_text_versions_grow_only_when_the_text_changes(services: Services) -> None:
    c = await services.conduct.set_text(G, "1. Be kind", "", NOW)
    assert c.version == 1 and c.text_for("de") == ("1. Be kind", "en")
    assert (await services.conduct.set_text(G, "1. Be kind", "", NOW)).version == 1
    c = await services.conduct.set_text(G, "1. Be kind", "1. Sei freundlich", NOW + timedelta(hours=1))
    assert c.version == 2 and c.text_for("de") == ("1. Sei freundlich", "de")


async def test_empty_and_too_long_texts_are_refused(services: Services) -> None:
    with pytest.raises(InvalidInput):
        await services.conduct.set_text(G, "  ", "", NOW)
    with pytest.raises(InvalidInput):
        await services.conduct.set_text(G, "x" * 4001, "", NOW)
    with pytest.raises(NotConfigured):
        await services.conduct.set_required(G, True, NOW)


async def test_gate_raises_until_the_current_version_is_acknowledged(services: Services) -> None:
    await services.conduct.require_acknowledged(G, ALICE)  # no rules: open
    await services.conduct.set_text(G, "1. Be kind", "", NOW)
    await services.conduct.require_acknowledged(G, ALICE)  # not required: open
    await services.conduct.set_required(G, True, NOW)
    with pytest.raises(NotAllowed) as err:
        await services.conduct.require_acknowledged(G, ALICE)
    assert err.value.key == "conduct.errors.ack_required"

    assert (await services.conduct.acknowledge(G, ALICE, 1, NOW)).new
    assert not (await services.conduct.acknowledge(G, ALICE, 1, NOW)).new  # once per version
    await services.conduct.require_acknowledged(G, ALICE)
    assert await services.conduct.acknowledged_count(G) == 1

    await services.conduct.set_text(G, "1. Be kind\n2. Keep it private", "", NOW)  # version 2
    with pytest.raises(NotAllowed):
        await services.conduct.require_acknowledged(G, ALICE)
    with pytest.raises(InvalidInput):  # pressing the button on the old text
        await services.conduct.acknowledge(G, ALICE, 1, NOW)
    await services.conduct.acknowledge(G, ALICE, 2, NOW)
    await services.conduct.require_acknowledged(G, ALICE)
    with pytest.raises(NotAllowed):
        await services.conduct.require_acknowledged(G, BOB)
    await services.conduct.set_required(G, False, NOW)
    await services.conduct.require_acknowledged(G, BOB)


async def test_rules_summary_numbers_rules_for_reports(services: Services) -> None:
    assert await services.conduct.rules_summary(G) == []
    await services.conduct.set_text(G, "Our rules:\n1. Be kind\n2) **No advice on meds**\n§3 Privacy", "", NOW)
    rules = await services.conduct.rules_summary(G, "de")
    assert [(r.number, r.text) for r in rules] == [(1, "Be kind"), (2, "No advice on meds"), (3, "Privacy")]
    assert parse_rules("no numbers here") == []
