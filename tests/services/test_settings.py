"""SettingsService on a real database: every /setup setting as a validated form, and its bounds
are the slash commands' bounds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from discord import app_commands

from bot.errors import InvalidInput
from bot.services import Services
from bot.services.settings import BY_KEY, SECTIONS, ChannelChoice, FieldErrors, GuildChoices, RoleChoice
from cogs.checkins import CheckinsCog
from cogs.help import HelpCog
from cogs.nudges import NudgesCog
from cogs.privacy import PrivacyCog
from cogs.recognition import RecognitionCog
from cogs.reports import ReportsCog

G = 1_456_074_443_980_800_001
HELP, MODS, CHECKIN, FORUM, VOICE = (G + i for i in range(10, 15))
MOD_ROLE, BOT_ROLE = G + 20, G + 21
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
CHOICES = GuildChoices(
    channels=(
        ChannelChoice(HELP, "help"),
        ChannelChoice(MODS, "mods"),
        ChannelChoice(CHECKIN, "check-in"),
        ChannelChoice(FORUM, "forum", "forum"),
        ChannelChoice(VOICE, "voice", "voice"),
    ),
    roles=(RoleChoice(G, "@everyone"), RoleChoice(MOD_ROLE, "Mods"), RoleChoice(BOT_ROLE, "Kinship", managed=True)),
)


def _form(services_values: dict[str, dict[str, str]], section: str, **changes: str) -> dict[str, str]:
    return {**services_values[section], **changes}


async def test_defaults_are_shown_for_every_field(services: Services) -> None:
    values = await services.settings.values(G)
    assert set(values) == {s.key for s in SECTIONS}
    for section in SECTIONS:
        assert set(values[section.key]) == {f.name for f in section.fields}
    assert values["general"]["timezone"] == "UTC" and values["general"]["mod_channel_id"] == ""
    assert values["help"]["escalate_minutes"] == "60"
    assert values["checkins"]["time"] == "10:00" and values["checkins"]["enabled"] == "on"


async def test_saving_general_changes_the_rows_the_slash_commands_change(services: Services) -> None:
    form = _form(
        await services.settings.values(G),
        "general",
        help_channel_id=str(FORUM),
        mod_channel_id=str(MODS),
        checkin_channel_id=str(CHECKIN),
        mod_role_id=str(MOD_ROLE),
        timezone=" Europe/Berlin ",
        language="de",
    )
    saved = await services.settings.save(G, "general", form, NOW, CHOICES)
    assert saved["timezone"] == "Europe/Berlin"
    g = await services.guilds.get(G)
    assert (g.help_channel_id, g.mod_channel_id, g.checkin_channel_id) == (FORUM, MODS, CHECKIN)
    assert (g.mod_role_id, g.timezone, g.language) == (MOD_ROLE, "Europe/Berlin", "de")
    # An emptied picker unsets the channel.
    await services.settings.save(G, "general", {**saved, "checkin_channel_id": ""}, NOW, CHOICES)
    assert (await services.guilds.get(G)).checkin_channel_id is None


async def test_every_bad_field_gets_its_own_message_and_nothing_is_saved(services: Services) -> None:
    form = _form(
        await services.settings.values(G),
        "general",
        help_channel_id=str(VOICE),  # wrong kind
        mod_channel_id=str(FORUM),  # forum is only for help
        checkin_channel_id="999",  # not in this guild (e.g. another guild's channel)
        mod_role_id=str(BOT_ROLE),
        timezone="Nowhere/Atlantis",
        language="fr",
    )
    with pytest.raises(FieldErrors) as bad:
        await services.settings.save(G, "general", form, NOW, CHOICES)
    keys = {name: e.key for name, e in bad.value.errors.items()}
    assert keys == {
        "help_channel_id": "settings.errors.channel_type",
        "mod_channel_id": "settings.errors.channel_type",
        "checkin_channel_id": "settings.errors.unknown_channel",
        "mod_role_id": "setup.errors.managed_mod_role",
        "timezone": "setup.errors.bad_timezone",
        "language": "settings.errors.bad_choice",
    }
    assert bad.value.params == {"count": 6}
    assert await services.guilds.get(G) == type(await services.guilds.get(G))(guild_id=G)
    with pytest.raises(FieldErrors) as everyone:
        await services.settings.save(
            G,
            "general",
            {**form, **(await services.settings.values(G))["general"], "mod_role_id": str(G)},
            NOW,
            CHOICES,
        )
    assert everyone.value.errors["mod_role_id"].key == "setup.errors.everyone_mod_role"


@pytest.mark.parametrize(
    ("section", "field", "value", "key"),
    [
        ("help", "escalate_minutes", "0", "settings.errors.out_of_range"),
        ("help", "escalate_minutes", "10081", "settings.errors.out_of_range"),
        ("help", "pings_per_round", "three", "settings.errors.not_a_number"),
        ("help", "thread_mode", "secret", "settings.errors.bad_choice"),
        ("checkins", "time", "25:00", "checkins.errors.bad_time"),
        ("checkins", "grace_hours", "", "settings.errors.required"),
        ("checkins", "closed_dms", "everyone", "settings.errors.bad_choice"),
        ("nudges", "quiet_days", "2", "settings.errors.out_of_range"),
        ("reports", "daily", "101", "settings.errors.out_of_range"),
        ("retention", "notes_days", "3651", "settings.errors.out_of_range"),
        ("rules", "text_en", "x" * 4001, "settings.errors.too_long"),
    ],
)
async def test_field_rules(services: Services, section: str, field: str, value: str, key: str) -> None:
    form = _form(await services.settings.values(G), section, **{field: value})
    with pytest.raises(FieldErrors) as bad:
        await services.settings.save(G, section, form, NOW, CHOICES)
    assert {name: e.key for name, e in bad.value.errors.items()} == {field: key}


async def test_each_section_saves_through_its_service(services: Services) -> None:
    values = await services.settings.values(G)
    forms = {
        "checkins": {
            "enabled": "",
            "weekday": "4",
            "time": "18:30",
            "buddy_weeks": "2",
            "buddy_intro": "dm",
            "closed_dms": "thread",
        },
        "help": {"escalate_minutes": "10080", "thread_mode": "private"},
        "nudges": {"enabled": "", "quiet_days": "21", "digest_weekday": "3"},
        "recognition": {"thanks_points": "7", "weekly_enabled": "on", "weekly_channel_id": str(CHECKIN)},
        "reports": {"burst": "2", "minutes": "30", "daily": "4"},
        "retention": {"notes_days": "90", "activity_days": "0"},
        "pulse": {"pulse_enabled": "on", "pulse_channel_id": str(HELP)},
        "rules": {"text_en": "1. Be kind.", "text_de": "1. Sei freundlich.", "require_ack": "on"},
    }
    for section, changes in forms.items():
        await services.settings.save(G, section, {**values[section], **changes}, NOW, CHOICES)
    schedule = await services.checkins.get_schedule(G)
    assert (schedule.enabled, schedule.weekday, schedule.hour, schedule.minute) == (False, 4, 18, 30)
    assert (schedule.buddy_weeks, schedule.buddy_dm, schedule.thread_reminders) == (2, True, True)
    h = await services.help.settings(G)
    assert (h.escalate_minutes, h.thread_mode) == (10080, "private")  # a week, as /setup help-settings allows
    n = await services.nudges.policy(G)
    assert (n.enabled, n.quiet_days, n.digest_weekday) == (False, 21, 3)
    r = await services.recognition.settings(G)
    assert (r.thanks_points, r.weekly_enabled, r.weekly_channel_id) == (7, True, CHECKIN)
    assert (await services.reports.limits(G)) == type(await services.reports.limits(G))(2, 30, 4)
    ret = await services.privacy.retention(G)
    assert (ret.notes_days, ret.activity_days) == (90, 0)
    p = await services.surveys.pulse_settings(G)
    assert (p.enabled, p.channel_id) == (True, HELP)
    rules = await services.conduct.get(G)
    assert rules is not None and rules.require_ack and rules.text_de == "1. Sei freundlich."
    # The form shows what was saved; emptying the weekly channel goes back to the default.
    values = await services.settings.values(G)
    assert values["help"]["escalate_minutes"] == "10080" and values["checkins"]["enabled"] == ""
    await services.settings.save(G, "recognition", {**values["recognition"], "weekly_channel_id": ""}, NOW, CHOICES)
    assert (await services.recognition.settings(G)).weekly_channel_id is None


async def test_rules_need_a_text_before_they_can_be_required(services: Services) -> None:
    form = {"text_en": "", "text_de": "", "require_ack": "on"}
    with pytest.raises(FieldErrors) as bad:
        await services.settings.save(G, "rules", form, NOW, CHOICES)
    assert bad.value.errors["require_ack"].key == "conduct.errors.no_rules_admin"
    await services.settings.save(G, "rules", {**form, "require_ack": ""}, NOW, CHOICES)  # nothing to save
    assert await services.conduct.get(G) is None
    with pytest.raises(InvalidInput):
        await services.settings.save(G, "nonsense", {}, NOW, CHOICES)


def _range(command: app_commands.Command, name: str) -> tuple[int, int]:  # type: ignore[type-arg]
    param = next(p for p in command.parameters if p.name == name or p.display_name == name)
    return int(param.min_value), int(param.max_value)  # type: ignore[arg-type]


# (section, field) → (slash command, option): the dashboard's bounds are the slash commands' bounds.
SLASH = {
    ("checkins", "grace_hours"): (CheckinsCog.setup_checkins, "grace_hours"),
    ("checkins", "reminder_hour"): (CheckinsCog.setup_checkins, "reminder_hour"),
    ("checkins", "buddy_weeks"): (CheckinsCog.setup_buddies, "every_weeks"),
    ("help", "first_round_minutes"): (HelpCog.help_settings, "first_round_minutes"),
    ("help", "escalate_minutes"): (HelpCog.help_settings, "escalate_minutes"),
    ("help", "idle_hours"): (HelpCog.help_settings, "idle_hours"),
    ("help", "archive_hours"): (HelpCog.help_settings, "archive_hours"),
    ("help", "pings_per_round"): (HelpCog.help_settings, "pings_per_round"),
    ("nudges", "quiet_days"): (NudgesCog.setup_nudges, "quiet_days"),
    ("nudges", "sweep_hour"): (NudgesCog.setup_nudges, "hour"),
    ("nudges", "cooldown_days"): (NudgesCog.setup_nudges, "cooldown_days"),
    ("nudges", "max_per_sweep"): (NudgesCog.setup_nudges, "max_per_sweep"),
    ("recognition", "thanks_points"): (RecognitionCog.setup_points, "thanks"),
    ("recognition", "checkin_points"): (RecognitionCog.setup_points, "checkin"),
    ("recognition", "help_points"): (RecognitionCog.setup_points, "help"),
    ("recognition", "conflict_points"): (RecognitionCog.setup_points, "conflict"),
    ("recognition", "cooldown_hours"): (RecognitionCog.setup_points, "cooldown_hours"),
    ("recognition", "daily_cap"): (RecognitionCog.setup_points, "daily_cap"),
    ("reports", "burst"): (ReportsCog.limits, "per_window"),
    ("reports", "minutes"): (ReportsCog.limits, "window_minutes"),
    ("reports", "daily"): (ReportsCog.limits, "per_day"),
    ("retention", "notes_days"): (PrivacyCog.retention, "notes_days"),
    ("retention", "activity_days"): (PrivacyCog.retention, "activity_days"),
}


def test_every_number_has_the_bounds_of_its_slash_option() -> None:
    numbers = {(s.key, f.name) for s in SECTIONS for f in s.fields if f.kind == "int"}
    assert numbers == set(SLASH)
    for (section, name), (command, option) in SLASH.items():
        spec = BY_KEY[section].field(name)
        assert (spec.low, spec.high) == _range(command, option), (section, name)
