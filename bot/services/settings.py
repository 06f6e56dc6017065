"""Every ``/setup`` setting as one schema, validated field by field.

The dashboard's settings page is a form per :class:`Section`; the slash commands are the other
way in. Both end in the same service calls (``guilds.update``, ``help.update_settings``,
``checkins.configure`` …) and both use the same bounds: each section takes its limits from the
owning service's constants (``help.SETTING_LIMITS``, ``nudges.LIMITS`` …), and
``tests/services/test_settings.py`` checks that they match the slash commands' option ranges.

A form arrives as strings. :meth:`SettingsService.save` parses every field of a section, collects
one error per field (:class:`FieldErrors`, a catalogue key each) and only writes when all are
valid. Channels and roles are checked against what the Discord layer says exists in the guild
(:class:`GuildChoices`): a form cannot point Kinship at another guild's channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from bot import i18n
from bot.errors import InvalidInput, KinshipError
from bot.services.checkins import DAYS, SCHEDULE_LIMITS, CheckinService, parse_time
from bot.services.conduct import MAX_TEXT, ConductService
from bot.services.guilds import GuildService, validate_mod_role, validate_timezone
from bot.services.help import SETTING_LIMITS, THREAD_MODES, HelpService
from bot.services.nudges import LIMITS as NUDGE_LIMITS
from bot.services.nudges import NudgeService
from bot.services.privacy import MAX_RETENTION_DAYS, PrivacyService
from bot.services.recognition import LIMITS as RECOGNITION_LIMITS
from bot.services.recognition import RecognitionService
from bot.services.reports import LIMIT_BOUNDS, ReportService
from bot.services.surveys import SurveyService

Kind = Literal["channel", "role", "int", "choice", "bool", "time", "timezone", "text"]
WEEKDAYS = tuple((str(i), f"checkins.days.{i}") for i in range(len(DAYS)))


@dataclass(frozen=True, slots=True)
class ChannelChoice:
    """A channel of the guild as the Discord layer sees it (``type``: text, forum, voice, …)."""

    id: int
    name: str
    type: str = "text"


@dataclass(frozen=True, slots=True)
class RoleChoice:
    """A role of the guild: ``managed`` roles belong to a bot; ``assignable`` ones the bot can give."""

    id: int
    name: str
    managed: bool = False
    assignable: bool = False


@dataclass(frozen=True, slots=True)
class GuildChoices:
    """What the pickers offer and what a submitted id must be one of."""

    channels: tuple[ChannelChoice, ...] = ()
    roles: tuple[RoleChoice, ...] = ()

    def channel(self, channel_id: int) -> ChannelChoice | None:
        """The channel with this id, if the guild has it."""
        return next((c for c in self.channels if c.id == channel_id), None)

    def role(self, role_id: int) -> RoleChoice | None:
        """The role with this id, if the guild has it."""
        return next((r for r in self.roles if r.id == role_id), None)


@dataclass(frozen=True, slots=True)
class Field:
    """One form field. ``choices`` are (value, catalogue key of its label)."""

    name: str
    kind: Kind
    low: int | None = None
    high: int | None = None
    choices: tuple[tuple[str, str], ...] = ()
    channel_types: tuple[str, ...] = ("text",)
    required: bool = False
    max_length: int = 100


@dataclass(frozen=True, slots=True)
class Section:
    """A group of settings saved together (one slash command, or a few closely related ones).
    Labels are ``settings.<key>.<field>``; the title ``settings.<key>.title``."""

    key: str
    fields: tuple[Field, ...]
    commands: tuple[str, ...] = ()  # the slash commands that change the same rows

    def field(self, name: str) -> Field:
        """The field called ``name``."""
        return next(f for f in self.fields if f.name == name)


def _ints(limits: Mapping[str, tuple[int, int]], *names: str, rename: Mapping[str, str] | None = None) -> list[Field]:
    rename = rename or {}
    return [Field(rename.get(n, n), "int", *limits[n]) for n in names]


SECTIONS: tuple[Section, ...] = (
    Section(
        "general",
        (
            Field("help_channel_id", "channel", channel_types=("text", "forum")),
            Field("mod_channel_id", "channel"),
            Field("checkin_channel_id", "channel"),
            Field("mod_role_id", "role"),
            Field("timezone", "timezone", required=True, max_length=64),
            Field("language", "choice", choices=(("en", "settings.language_en"), ("de", "settings.language_de"))),
        ),
        (
            "setup help-channel",
            "setup mod-channel",
            "setup checkin-channel",
            "setup mod-role",
            "setup timezone",
            "setup language",
        ),
    ),
    Section(
        "checkins",
        (
            Field("enabled", "bool"),
            Field("weekday", "choice", choices=WEEKDAYS),
            Field("time", "time", required=True, max_length=5),
            *_ints(SCHEDULE_LIMITS, "grace_hours", "reminder_hour", "buddy_weeks"),
            Field("buddy_intro", "choice", choices=(("thread", "checkins.mode_thread"), ("dm", "checkins.mode_dm"))),
            Field(
                "closed_dms",
                "choice",
                choices=(("none", "checkins.closed_dms.none"), ("thread", "checkins.closed_dms.thread")),
            ),
        ),
        ("setup checkins", "setup buddies"),
    ),
    Section(
        "help",
        (
            *_ints(SETTING_LIMITS, *SETTING_LIMITS),
            Field("thread_mode", "choice", choices=tuple((m, f"settings.thread_{m}") for m in THREAD_MODES)),
        ),
        ("setup help-settings",),
    ),
    Section(
        "nudges",
        (
            Field("enabled", "bool"),
            *_ints(NUDGE_LIMITS, "quiet_days", "sweep_hour", "cooldown_days", "max_per_sweep"),
            Field("digest_weekday", "choice", choices=WEEKDAYS),
        ),
        ("setup nudges",),
    ),
    Section(
        "recognition",
        (
            *_ints(RECOGNITION_LIMITS, *RECOGNITION_LIMITS),
            Field("weekly_enabled", "bool"),
            Field("weekly_channel_id", "channel"),
        ),
        ("setup recognition points", "setup recognition weekly"),
    ),
    Section("reports", tuple(_ints(LIMIT_BOUNDS, "burst", "minutes", "daily")), ("setup reports limits",)),
    Section(
        "retention",
        (Field("notes_days", "int", 0, MAX_RETENTION_DAYS), Field("activity_days", "int", 0, MAX_RETENTION_DAYS)),
        ("setup retention",),
    ),
    Section("pulse", (Field("pulse_enabled", "bool"), Field("pulse_channel_id", "channel")), ("setup pulse",)),
    Section(
        "rules",
        (
            Field("text_en", "text", max_length=MAX_TEXT),
            Field("text_de", "text", max_length=MAX_TEXT),
            Field("require_ack", "bool"),
        ),
        ("setup rules", "setup rules-required"),
    ),
)
BY_KEY = {s.key: s for s in SECTIONS}


class FieldErrors(InvalidInput):
    """Some fields of a form are not valid: ``errors`` maps field name → the error to show there."""

    default_key = "settings.errors.fix_fields"

    def __init__(self, errors: Mapping[str, KinshipError]) -> None:
        super().__init__(count=len(errors))
        self.errors = dict(errors)


def _error(key: str, **params: Any) -> InvalidInput:
    return InvalidInput(key, **params)


def parse_field(spec: Field, raw: str | None, guild_id: int, choices: GuildChoices) -> Any:
    """The value of one field, or an :class:`InvalidInput` with a catalogue key."""
    text = (raw or "").strip()
    if spec.kind == "bool":
        return text.lower() in {"on", "true", "1", "yes"}
    if spec.kind == "text":
        if len(text) > spec.max_length:
            raise _error("settings.errors.too_long", limit=spec.max_length)
        return text
    if not text:
        if spec.required or spec.kind in {"int", "choice"}:
            raise _error("settings.errors.required")
        return None
    if len(text) > max(spec.max_length, 24):
        raise _error("settings.errors.too_long", limit=spec.max_length)
    if spec.kind == "int":
        if not text.lstrip("-").isdigit():
            raise _error("settings.errors.not_a_number", value=text[:16])
        value = int(text)
        assert spec.low is not None and spec.high is not None
        if not spec.low <= value <= spec.high:
            raise _error("settings.errors.out_of_range", low=spec.low, high=spec.high)
        return value
    if spec.kind == "choice":
        if text not in {v for v, _ in spec.choices}:
            raise _error("settings.errors.bad_choice", value=text[:16])
        return text
    if spec.kind == "time":
        return parse_time(text)
    if spec.kind == "timezone":
        return validate_timezone(text)
    if not text.isdigit():
        raise _error("settings.errors.unknown_channel" if spec.kind == "channel" else "settings.errors.unknown_role")
    snowflake = int(text)
    if spec.kind == "channel":
        channel = choices.channel(snowflake)
        if channel is None:
            raise _error("settings.errors.unknown_channel")
        if channel.type not in spec.channel_types:
            raise _error("settings.errors.channel_type")
        return snowflake
    role = choices.role(snowflake)
    if role is None and snowflake != guild_id:
        raise _error("settings.errors.unknown_role")
    validate_mod_role(guild_id, snowflake, managed=bool(role and role.managed))
    return snowflake


def _form(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else ""
    return str(value)


@dataclass(frozen=True, slots=True)
class SettingsService:
    """Reads and saves the settings of every feature, section by section."""

    guilds: GuildService
    help: HelpService
    checkins: CheckinService
    nudges: NudgeService
    recognition: RecognitionService
    reports: ReportService
    privacy: PrivacyService
    surveys: SurveyService
    conduct: ConductService

    async def values(self, guild_id: int) -> dict[str, dict[str, str]]:
        """Every section's current values as form strings (defaults where nothing was set)."""
        g = await self.guilds.get(guild_id)
        c = await self.checkins.get_schedule(guild_id)
        h = await self.help.settings(guild_id)
        n = await self.nudges.policy(guild_id)
        r = await self.recognition.settings(guild_id)
        lim = await self.reports.limits(guild_id)
        ret = await self.privacy.retention(guild_id)
        p = await self.surveys.pulse_settings(guild_id)
        rules = await self.conduct.get(guild_id)
        raw: dict[str, dict[str, Any]] = {
            "general": {f.name: getattr(g, f.name) for f in BY_KEY["general"].fields},
            "checkins": {
                "enabled": c.enabled,
                "weekday": c.weekday,
                "time": f"{c.hour:02d}:{c.minute:02d}",
                "grace_hours": c.grace_hours,
                "reminder_hour": c.reminder_hour,
                "buddy_weeks": c.buddy_weeks,
                "buddy_intro": "dm" if c.buddy_dm else "thread",
                "closed_dms": "thread" if c.thread_reminders else "none",
            },
            "help": {f.name: getattr(h, f.name) for f in BY_KEY["help"].fields},
            "nudges": {f.name: getattr(n, f.name) for f in BY_KEY["nudges"].fields},
            "recognition": {f.name: getattr(r, f.name) for f in BY_KEY["recognition"].fields},
            "reports": {"burst": lim.burst, "minutes": lim.minutes, "daily": lim.daily},
            "retention": {"notes_days": ret.notes_days, "activity_days": ret.activity_days},
            "pulse": {"pulse_enabled": p.enabled, "pulse_channel_id": p.channel_id},
            "rules": {
                "text_en": rules.text_en if rules else "",
                "text_de": rules.text_de if rules else "",
                "require_ack": rules.require_ack if rules else False,
            },
        }
        return {section: {k: _form(v) for k, v in fields.items()} for section, fields in raw.items()}

    async def save(
        self, guild_id: int, section: str, form: Mapping[str, str], now: datetime, choices: GuildChoices
    ) -> dict[str, str]:
        """Validate every field of ``section`` and save them all, or raise :class:`FieldErrors`
        (nothing is saved then). Returns the section's values after saving."""
        spec = BY_KEY.get(section)
        if spec is None:
            raise InvalidInput("settings.errors.unknown_section")
        parsed: dict[str, Any] = {}
        errors: dict[str, KinshipError] = {}
        for f in spec.fields:
            try:
                parsed[f.name] = parse_field(f, form.get(f.name), guild_id, choices)
            except KinshipError as error:
                errors[f.name] = error
        if errors:
            raise FieldErrors(errors)
        await self._write(guild_id, section, parsed, now)
        return (await self.values(guild_id))[section]

    async def _write(self, guild_id: int, section: str, v: dict[str, Any], now: datetime) -> None:
        if section == "general":
            await self.guilds.update(guild_id, now, **v)
        elif section == "checkins":
            v["hour"], v["minute"] = v.pop("time")
            v["buddy_dm"] = v.pop("buddy_intro") == "dm"
            v["thread_reminders"] = v.pop("closed_dms") == "thread"
            v["weekday"] = int(v["weekday"])
            await self.checkins.configure(guild_id, now, **v)
        elif section == "help":
            await self.help.update_settings(guild_id, now, **v)
        elif section == "nudges":
            await self.nudges.update_policy(guild_id, now, **{**v, "digest_weekday": int(v["digest_weekday"])})
        elif section == "recognition":
            await self.recognition.configure(guild_id, now, **v)
            if v["weekly_channel_id"] is None:  # configure() ignores None: an emptied picker unsets it
                await self.recognition.clear_weekly_channel(guild_id, now)
        elif section == "reports":
            await self.reports.set_limits(guild_id, burst=v["burst"], minutes=v["minutes"], daily=v["daily"])
        elif section == "retention":
            await self.privacy.set_retention(guild_id, now, **v)
        elif section == "pulse":
            await self.surveys.set_pulse(guild_id, v["pulse_enabled"], v["pulse_channel_id"], now)
        elif section == "rules":
            await self._write_rules(guild_id, v, now)

    async def _write_rules(self, guild_id: int, v: dict[str, Any], now: datetime) -> None:
        current = await self.conduct.get(guild_id)
        if v["text_en"] or v["text_de"]:
            await self.conduct.set_text(guild_id, v["text_en"], v["text_de"], now)
        elif current is not None:
            raise FieldErrors({"text_en": InvalidInput("conduct.errors.empty")})
        if current is not None or v["text_en"] or v["text_de"]:
            await self.conduct.set_required(guild_id, v["require_ack"], now)
        elif v["require_ack"]:
            raise FieldErrors({"require_ack": InvalidInput("conduct.errors.no_rules_admin")})


def label(section: str, name: str, lang: str) -> str:
    """A field's label."""
    return i18n.t(f"settings.{section}.{name}", lang)
