"""discord.py's translator hook: localises command names, descriptions and choices."""

from __future__ import annotations

import discord
from discord import app_commands

from bot import i18n


class KinshipTranslator(app_commands.Translator):
    """Looks up German command texts in the catalogue's ``[commands]`` table."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        """Return the text for ``locale`` or ``None`` to keep the English default."""
        lang = i18n.normalize(locale.value)
        if lang is None or lang == i18n.DEFAULT:
            return None
        return i18n.command_text(string.message, lang, string.extras.get("key"))
