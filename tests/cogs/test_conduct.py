"""/rules and /setup rules through Discord-shaped interactions."""

from __future__ import annotations

import pytest

from bot.errors import NotAllowed
from tests.harness.world import World

RULES_EN = "1. Be kind.\n2. What is shared here stays here."
RULES_DE = "1. Sei freundlich.\n2. Was hier geteilt wird, bleibt hier."


async def _write_rules(world: World, en: str = RULES_EN, de: str = RULES_DE) -> None:
    shown = await world.owner.slash(world.general, "setup rules")
    assert shown.modal is not None and len(shown.modal["components"]) == 2
    done = await world.owner.submit_modal(shown, {"text_en": en, "text_de": de})
    assert done.ephemeral and "Saved the code of conduct" in done.response.content


async def test_admin_writes_rules_and_member_reads_them_in_their_language(world: World) -> None:
    await _write_rules(world)
    r = await world.alice.slash(world.general, "rules")
    assert r.ephemeral
    assert r.response.embeds[0].description == RULES_EN
    world.set_locale(world.bob, "de")
    r = await world.bob.slash(world.general, "rules")
    assert r.response.embeds[0].description == RULES_DE
    assert r.response.embeds[0].title == "Verhaltenskodex"


async def test_rules_fall_back_to_the_other_language(world: World) -> None:
    await _write_rules(world, en="", de=RULES_DE)
    r = await world.alice.slash(world.general, "rules")
    assert r.response.embeds[0].description == RULES_DE
    assert "other language" in r.response.embeds[0].footer.text


async def test_modal_is_prefilled_with_the_current_text(world: World) -> None:
    await _write_rules(world)
    shown = await world.owner.slash(world.general, "setup rules")
    values = [row["components"][0].get("value") for row in shown.modal["components"]]
    assert values == [RULES_EN, RULES_DE]


async def test_acknowledgement_opens_the_gate(world: World) -> None:
    await _write_rules(world)
    r = await world.owner.slash(world.general, "setup rules-required", enabled=True)
    assert "accept the code of conduct" in r.response.content
    with pytest.raises(NotAllowed):
        await world.services.conduct.require_acknowledged(world.guild.id, world.alice.id)

    shown = await world.alice.slash(world.general, "rules")
    clicked = await world.alice.click(shown.response, label="I've read and accept")
    assert clicked.ephemeral and "Thank you" in clicked.response.content
    await world.services.conduct.require_acknowledged(world.guild.id, world.alice.id)
    again = await world.alice.click(shown.response, label="I've read and accept")
    assert "already accepted" in again.response.content
    assert await world.services.conduct.acknowledged_count(world.guild.id) == 1

    # Once accepted, /rules shows no button any more.
    r = await world.alice.slash(world.general, "rules")
    assert not r.response.components and "you have accepted it" in r.response.embeds[0].footer.text


async def test_changed_rules_need_a_new_acknowledgement(world: World) -> None:
    await _write_rules(world)
    await world.owner.slash(world.general, "setup rules-required", enabled=True)
    old = await world.alice.slash(world.general, "rules")
    await _write_rules(world, en=RULES_EN + "\n3. No advice on medication.")
    r = await world.alice.click(old.response, label="I've read and accept")
    assert "changed since you opened it" in r.response.content
    with pytest.raises(NotAllowed):
        await world.services.conduct.require_acknowledged(world.guild.id, world.alice.id)


async def test_gate_message_tells_members_what_to_do(world: World) -> None:
    from bot import i18n

    assert "/rules" in i18n.t("conduct.errors.ack_required", "en")
    assert "/regeln" in i18n.t("conduct.errors.ack_required", "de")


async def test_rules_without_a_code_of_conduct_is_a_kind_message(world: World) -> None:
    r = await world.alice.slash(world.general, "rules")
    assert r.ephemeral and "hasn't written a code of conduct" in r.response.content
    r = await world.owner.slash(world.general, "setup rules-required", enabled=True)
    assert "/setup rules" in r.response.content


async def test_members_cannot_write_the_rules(world: World) -> None:
    assert "setup rules" not in world.alice.available_commands(world.general)
    world.allow_command_for("setup", world.alice)
    r = await world.alice.slash(world.general, "setup rules")
    assert r.modal is None and r.ephemeral and "permissions" in r.response.content.lower()
    assert await world.services.conduct.get(world.guild.id) is None
