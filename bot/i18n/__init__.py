"""Message catalogues (English and German) and the ``app_commands`` translator.

Texts live in ``bot/i18n/locales/<lang>/<feature>.toml``. Tables nest into dotted keys:
``[checkins] saved = "..."`` is ``checkins.saved``. Placeholders use ``str.format`` syntax.
Command names and descriptions are looked up in the ``[commands]`` table of the German files by
their English text (or by an explicit ``key=`` given to ``locale_str``).

The German is written for a German-speaking support group: warm, plain, and "du".
"""

from __future__ import annotations

import logging
import string
import tomllib
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).parent / "locales"
SUPPORTED = ("en", "de")
DEFAULT = "en"


def normalize(locale: str | None) -> str | None:
    """Map a Discord locale ("de", "en-US", "en-GB", …) to a supported language, or ``None``."""
    if not locale:
        return None
    lang = str(locale).split("-", 1)[0].lower()
    return lang if lang in SUPPORTED else None


def pick(user_locale: str | None, guild_language: str | None) -> str:
    """The user's Discord locale when we speak it, then the guild language, then English."""
    return normalize(user_locale) or normalize(guild_language) or DEFAULT


def _flatten(prefix: str, table: Mapping[str, Any], out: dict[str, str]) -> None:
    for key, value in table.items():
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping):
            if full == "commands":  # English text → German text; keep the keys verbatim
                for text, translated in value.items():
                    out[f"commands.{text}"] = translated
            else:
                _flatten(full, value, out)
        else:
            out[full] = str(value)


@cache
def catalogue(lang: str) -> Mapping[str, str]:
    """Every message of ``lang``, merged from all of its files."""
    out: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / lang).glob("*.toml")):
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        part: dict[str, str] = {}
        _flatten("", data, part)
        clash = sorted(k for k in part.keys() & out.keys() if out[k] != part[k])
        if clash:
            log.warning("%s redefines %s", path.name, clash[:5])
        out.update(part)
    return out


class _Safe(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def t(key: str, lang: str = DEFAULT, /, **params: Any) -> str:
    """The text for ``key`` in ``lang`` (falling back to English, then to the key itself)."""
    text = catalogue(lang).get(key)
    if text is None:
        text = catalogue(DEFAULT).get(key)
        if text is None:
            log.error("missing message key %r", key)
            return key
    if not params:
        return text
    return text.format_map(_Safe(params))  # as string.Formatter().vformat, in C (~4x faster)


def has(key: str, lang: str = DEFAULT) -> bool:
    """Whether ``key`` exists in ``lang``."""
    return key in catalogue(lang)


def command_text(text: str, lang: str, key: str | None = None) -> str | None:
    """The translation of a command name/description, or ``None`` when it has none."""
    cat = catalogue(lang)
    if key and f"commands.{key}" in cat:
        return cat[f"commands.{key}"]
    return cat.get(f"commands.{text}")


def placeholders(text: str) -> set[str]:
    """The ``{names}`` used in a message (for tests that compare languages)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def keys(lang: str) -> Iterable[str]:
    """Every key of a language (for tests)."""
    return catalogue(lang).keys()


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def duration_text(minutes: float | None, lang: str) -> str:
    """A duration as ``/stats`` and the dashboard write it (minutes, hours or days)."""
    if minutes is None:
        return t("stats.none", lang)
    if minutes < 120:
        return t("stats.minutes", lang, value=_number(minutes))
    if minutes < 48 * 60:
        return t("stats.hours", lang, value=_number(minutes / 60))
    return t("stats.days", lang, value=_number(minutes / 1440))
