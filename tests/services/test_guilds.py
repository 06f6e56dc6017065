"""GuildService and HealthService on a real database, without Discord."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import InvalidInput
from bot.services import Services
from bot.services.context import ServiceContext
from bot.services.guilds import REQUIRED_PERMISSIONS, ChannelObservation, GuildSettings, RoleView, suggest_timezones

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


async def test_unconfigured_guild_has_defaults(services: Services) -> None:
    s = await services.guilds.get(42)
    assert s == GuildSettings(guild_id=42)
    assert s.timezone == "UTC" and s.language == "en"


async def test_update_validates_and_persists(services: Services) -> None:
    await services.guilds.update(42, NOW, timezone="Europe/Berlin", language="de", mod_channel_id=7)
    s = await services.guilds.get(42)
    assert (s.timezone, s.language, s.mod_channel_id) == ("Europe/Berlin", "de", 7)
    assert s.tz.key == "Europe/Berlin"
    with pytest.raises(InvalidInput) as bad:
        await services.guilds.update(42, NOW, timezone="Nowhere/Atlantis")
    assert bad.value.key == "setup.errors.bad_timezone"
    with pytest.raises(InvalidInput):
        await services.guilds.update(42, NOW, language="fr")
    with pytest.raises(TypeError):
        await services.guilds.update(42, NOW, token="x")


async def test_forget_channel_unsets_every_setting_pointing_at_it(services: Services) -> None:
    await services.guilds.update(1, NOW, help_channel_id=5, checkin_channel_id=5, mod_channel_id=6)
    assert await services.guilds.forget_channel(1, 5, NOW) == ["help", "checkin"]
    s = await services.guilds.get(1)
    assert (s.help_channel_id, s.checkin_channel_id, s.mod_channel_id) == (None, None, 6)


async def test_moderators_are_privileged_members_or_holders_of_the_mod_role(services: Services) -> None:
    assert await services.guilds.is_moderator(1, set(), privileged=True)
    assert not await services.guilds.is_moderator(1, {99}, privileged=False)
    await services.guilds.update(1, NOW, mod_role_id=99)
    assert await services.guilds.is_moderator(1, {5, 99}, privileged=False)


def test_timezone_suggestions() -> None:
    assert suggest_timezones("berlin")[0] == "Europe/Berlin"
    assert suggest_timezones("new_y")[0] == "America/New_York"
    assert len(suggest_timezones("")) == 25


def _ok(kind: str, **kw: object) -> ChannelObservation:
    return ChannelObservation(kind=kind, channel_id=1, exists=True, granted=frozenset(REQUIRED_PERMISSIONS[kind]), **kw)


def test_evaluate_findings() -> None:
    s = GuildSettings(guild_id=1, help_channel_id=1, mod_channel_id=1, checkin_channel_id=1, mod_role_id=9)
    mods_ok = (RoleView(1, "@everyone", can_view=False, is_everyone=True), RoleView(9, "Mods", can_view=True))
    findings = services_evaluate(s, [_ok("help"), _ok("mod", roles=mods_ok), _ok("checkin")])
    assert [f.level for f in findings] == ["ok", "ok", "ok"]

    public = (RoleView(1, "@everyone", can_view=True, is_everyone=True),)
    leaky = (
        RoleView(1, "@everyone", False, True),
        RoleView(5, "Helpers", True),
        RoleView(6, "Admins", True, False, True),
    )
    missing = ChannelObservation("checkin", 1, True, frozenset({"view_channel"}))
    findings = services_evaluate(s, [_ok("help"), _ok("mod", roles=public), missing])
    keys = [f.key for f in findings]
    assert "setup.health.mod_channel_public" in keys and "setup.health.missing_permissions" in keys
    findings = services_evaluate(s, [_ok("help"), _ok("mod", roles=leaky)])
    visible = next(f for f in findings if f.key == "setup.health.mod_channel_visible")
    assert visible.params["roles"] == "Helpers"  # admins are moderators by definition
    assert next(f for f in findings if f.params.get("kind") == "checkin").key == "setup.health.channel_missing"


def test_forum_help_channel_needs_no_private_threads() -> None:
    s = GuildSettings(guild_id=1, help_channel_id=1)
    granted = frozenset(p for p in REQUIRED_PERMISSIONS["help"] if p != "create_private_threads")
    findings = services_evaluate(s, [ChannelObservation("help", 1, True, granted, forum=True)])
    assert findings[0].key == "setup.health.channel_ok"


def services_evaluate(settings: GuildSettings, observed: list[ChannelObservation]):
    from bot.services.guilds import GuildService

    return GuildService.evaluate(settings, observed)


async def test_problems_are_recorded_refreshed_and_cleared(services: Services) -> None:
    await services.health.report(1, "checkins.post", "missing_permission", NOW, detail="Send Messages")
    later = NOW + timedelta(hours=1)
    await services.health.report(1, "checkins.post", "missing_permission", later, detail="Send Messages")
    problems = await services.health.list(1)
    assert len(problems) == 1 and problems[0].since == NOW and problems[0].last_seen == later
    await services.health.report(1, "checkins.post", "channel_missing", later, detail="#check-ins")
    assert (await services.health.list(1))[0].since == later
    await services.health.clear(1, "checkins.post")
    assert await services.health.list(1) == []


async def test_settings_are_cached_and_an_update_is_seen_at_once(services: Services, db) -> None:
    await services.guilds.update(9, NOW, language="de")
    assert (await services.guilds.get(9)).language == "de"
    # A second process (its own services on the same database) changes the language:
    other = Services.build(ServiceContext(db=db))
    await other.guilds.update(9, NOW, language="en")
    assert (await other.guilds.get(9)).language == "en"
    assert (await services.guilds.get(9)).language == "de", "cached here for up to CACHE_SECONDS"
    await services.guilds.update(9, NOW, timezone="Europe/Berlin")
    assert (await services.guilds.get(9)).language == "en", "an update here re-reads the row"


async def test_a_read_that_overlaps_an_update_never_caches_the_old_settings(services: Services) -> None:
    """Reads don't wait for writes on SQLite: a read that began before an update may finish after
    it; what it saw must not be cached over the change (a removed moderator role would stay).
    The read is held open at its end (a pause point around the real ``db.direct(read=True)``)
    while the update commits, which is the interleaving that happens by chance under load."""
    import asyncio
    import contextlib

    guild, guilds = 11, services.guilds
    await guilds.update(guild, NOW, mod_role_id=1000)
    real_db, read_done, go_on = guilds.db, asyncio.Event(), asyncio.Event()

    class PausedRead:
        def __getattr__(self, name: str) -> object:
            return getattr(real_db, name)

        @contextlib.asynccontextmanager
        async def direct(self, *, read: bool = False):  # type: ignore[no-untyped-def]
            assert read, "GuildService.get only reads"
            async with real_db.direct(read=True) as q:
                yield q
            read_done.set()
            await go_on.wait()

    guilds.db = PausedRead()  # type: ignore[assignment]
    try:
        guilds._cache.clear()
        reading = asyncio.create_task(guilds.get(guild))
        await asyncio.wait_for(read_done.wait(), 10)  # it has read role 1000 ...
        await guilds.update(guild, NOW, mod_role_id=2000)  # ... and the change commits meanwhile
        go_on.set()
        assert (await reading).mod_role_id == 1000
    finally:
        guilds.db = real_db
    assert (await guilds.get(guild)).mod_role_id == 2000, "the read that began before the change cached it"
