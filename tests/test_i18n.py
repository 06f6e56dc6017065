"""Every text exists in English and German, with the same placeholders, within Discord's limits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot import i18n

ROOT = Path(__file__).resolve().parents[1]
SLASH_NAME = re.compile(r"^[-_'\w]{1,32}$")


def _messages(lang: str) -> dict[str, str]:
    return {k: v for k, v in i18n.catalogue(lang).items() if not k.startswith("commands.")}


def test_english_and_german_have_the_same_keys() -> None:
    en, de = _messages("en"), _messages("de")
    assert sorted(set(en) - set(de)) == [], "missing in German"
    assert sorted(set(de) - set(en)) == [], "missing in English"


def test_placeholders_match() -> None:
    en, de = _messages("en"), _messages("de")
    wrong = {k: (i18n.placeholders(en[k]), i18n.placeholders(de[k])) for k in en if k in de}
    wrong = {k: v for k, v in wrong.items() if v[0] != v[1]}
    assert wrong == {}


def test_german_is_du_not_sie() -> None:
    formal = re.compile(r"\b(Sie|Ihr|Ihnen|Ihre[nmrs]?)\b")
    offenders = {k: v for k, v in _messages("de").items() if formal.search(v)}
    assert offenders == {}, "the German texts address members with “du”"


def test_german_command_translations_fit_discord() -> None:
    for key, text in i18n.catalogue("de").items():
        if not key.startswith("commands."):
            continue
        source = key.removeprefix("commands.")
        assert text.strip(), key
        is_name = source == source.lower() and " " not in source and len(source) <= 32
        if is_name:
            assert SLASH_NAME.match(text) and text == text.lower(), f"bad German command name {text!r} for {source!r}"
        else:
            assert len(text) <= 100, f"German description too long for {source!r}"


_KEY_USE = re.compile(
    r"""(?:\btr\(\s*interaction\s*,\s*|\bi18n\.t\(\s*|\bt\(\s*|Error\(\s*|Input\(\s*|Found\(\s*|Allowed\(\s*|"""
    r"""Configured\(\s*|Later\(\s*)["']([a-z_]+(?:\.[a-z0-9_]+)+)["']"""
)


@pytest.mark.parametrize("folder", ["bot", "cogs"])
def test_every_key_used_in_code_exists(folder: str) -> None:
    en = i18n.catalogue("en")
    missing = []
    for path in (ROOT / folder).rglob("*.py"):
        for key in _KEY_USE.findall(path.read_text(encoding="utf-8")):
            if key not in en and not key.startswith(("bot.", "cogs.")):
                missing.append(f"{path.relative_to(ROOT)}: {key}")
    assert missing == []


def test_language_choice() -> None:
    assert i18n.pick("de", "en") == "de"
    assert i18n.pick("en-GB", "de") == "en"
    assert i18n.pick("fr", "de") == "de"
    assert i18n.pick(None, None) == "en"
    assert i18n.t("errors.unexpected", "de", error_id="abc").endswith("`abc`.")
    assert i18n.t("no.such.key", "de") == "no.such.key"
