"""/privacy export, /privacy delete and /setup retention through Discord-shaped interactions."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.models.privacy import CareResource
from bot.services.privacy import personal_tables, retention_rules
from tests.harness.world import World
from tests.services.test_privacy import rows_of, synthesize


async def _read(attachment) -> bytes:
    return await attachment.read()


async def test_export_sends_every_table_as_an_ephemeral_json_file(world: World) -> None:
    earlier = world.now() - timedelta(hours=1)  # (the synthesised export log must not block this export)
    await synthesize(world.db, world.guild.id, world.alice.id, when=earlier)
    await synthesize(world.db, world.guild.id, world.bob.id, when=earlier)

    r = await world.alice.slash(world.general, "privacy export")

    assert r.ephemeral
    message = r.followups[-1] if r.followups else r.response
    assert "entries" in message.content
    [attachment] = message.attachments
    assert attachment.filename.endswith(".json")
    document = json.loads(await _read(attachment))
    assert document["member_id"] == str(world.alice.id)
    assert set(document["tables"]) == {t.name for t, _ in personal_tables()}
    for table, personal in personal_tables():
        for row in document["tables"][table.name]:
            assert str(world.alice.id) in {row[name] for name in personal}, table.name
            assert str(world.bob.id) not in {row[name] for name in personal}, table.name


async def test_second_export_right_away_is_refused_kindly(world: World) -> None:
    await world.alice.slash(world.general, "privacy export")
    r = await world.alice.slash(world.general, "privacy export")
    message = r.followups[-1] if r.followups else r.response
    assert r.ephemeral and "again" in message.content and not message.attachments


async def test_delete_states_the_policy_and_deletes_after_confirmation(world: World) -> None:
    await synthesize(world.db, world.guild.id, world.alice.id, when=world.now())
    await synthesize(world.db, world.guild.id, world.bob.id, when=world.now())
    bob_before = {t.name: await rows_of(world.db, t, world.bob.id) for t, _ in personal_tables()}

    r = await world.alice.slash(world.general, "privacy delete")

    assert r.ephemeral
    policy = r.response.embeds[0].description
    assert "reports you filed stay with the moderators" in policy and "Reports about you stay" in policy
    for t, _ in personal_tables():  # nothing happens before the confirmation
        assert await rows_of(world.db, t, world.alice.id) >= 1

    done = await world.alice.click(r.response, label="Delete my data")

    text = done.response.content
    assert text.startswith("Done. I deleted"), text
    assert not done.response.components  # the buttons are gone
    for table, _ in personal_tables():  # scan every table's personal columns
        assert await rows_of(world.db, table, world.alice.id) == 0, table.name
        assert await rows_of(world.db, table, world.bob.id) == bob_before[table.name], table.name


async def test_anonymised_rows_stay_without_the_member(world: World) -> None:
    r = await world.owner.slash(world.general, "setup resources add", region="de", name="Local line", contact="123")
    assert r.ephemeral
    prompt = await world.owner.slash(world.general, "privacy delete")
    done = await world.owner.click(prompt.response, label="Delete my data")
    assert "removed you from 1 entries" in done.response.content
    async with world.db.session() as s:
        row = (await s.exec(CareResource.__table__.select())).first()  # type: ignore[attr-defined]
    assert row is not None and row.added_by is None and row.name == "Local line"


async def test_cancel_deletes_nothing(world: World) -> None:
    await synthesize(world.db, world.guild.id, world.alice.id, when=world.now())
    r = await world.alice.slash(world.general, "privacy delete")
    done = await world.alice.click(r.response, label="Cancel")
    assert done.response.content == "Okay, nothing was deleted."
    assert not done.response.components
    for table, _ in personal_tables():
        assert await rows_of(world.db, table, world.alice.id) == 1, table.name


async def test_german_member_gets_german_policy(world: World) -> None:
    world.set_locale(world.alice, "de")
    r = await world.alice.slash(world.general, "privacy delete")
    assert r.response.embeds[0].title == "Deine Daten auf diesem Server löschen?"
    labels = [c["label"] for row in r.response.components for c in row["components"]]
    assert labels == ["Meine Daten löschen", "Abbrechen"]


async def test_admin_sets_retention_and_the_daily_job_deletes_old_rows_only(world: World) -> None:
    r = await world.owner.slash(world.general, "setup retention", notes_days=30, activity_days=30)
    assert r.ephemeral and "kept for 30 days" in r.response.content
    tables = [t for t, _ in retention_rules()]
    await synthesize(world.db, world.guild.id, world.alice.id, when=world.now() - timedelta(days=45), only=tables)
    await synthesize(world.db, world.guild.id, world.bob.id, when=world.now() - timedelta(days=10), only=tables)

    await world.tick("privacy.retention")

    for table, rule in retention_rules():
        if rule.clear:
            continue
        assert await rows_of(world.db, table, world.alice.id) == 0, table.name
        assert await rows_of(world.db, table, world.bob.id) == 1, table.name
    shown = await world.owner.slash(world.general, "setup retention")
    assert "Check-in notes are kept for 30 days; activity is kept for 30 days" in shown.response.content


async def test_retention_zero_means_forever(world: World) -> None:
    await world.owner.slash(world.general, "setup retention", notes_days=0, activity_days=0)
    tables = [t for t, _ in retention_rules()]
    await synthesize(world.db, world.guild.id, world.alice.id, when=world.now() - timedelta(days=900), only=tables)
    await world.tick("privacy.retention")
    for table in tables:
        assert await rows_of(world.db, table, world.alice.id) == 1


async def test_non_admin_cannot_set_retention(world: World) -> None:
    world.allow_command_for("setup", world.alice, world.mod)
    r = await world.mod.slash(world.general, "setup retention", notes_days=1)
    assert r.ephemeral and "permissions" in r.response.content.lower()
    assert (await world.services.privacy.retention(world.guild.id)).notes_days == 0
