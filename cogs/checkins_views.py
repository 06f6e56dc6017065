"""Buttons, the check-in modal and the message builders of the weekly check-in.

The buttons are :class:`discord.ui.DynamicItem` s whose custom_id carries the guild and the week,
so they work on old posts after a restart. This module is a helper of ``cogs.checkins`` and
``cogs.checkins_delivery``, not an extension (``*_views`` modules are never loaded as one).
"""

from __future__ import annotations

import re
from typing import Any

import discord

from bot import i18n
from bot.errors import NotAllowed
from bot.services.checkins import NOTE_MAX, AnswerResult, History
from bot.ui import COLOR, KinshipModal, guarded, kbot, lang_of, reply, tr

PREFIX = "kinship:checkins"
WEEK = r"[0-9]{4}-W[0-9]{2}"


def answer_custom_id(action: str, guild_id: int, week: str) -> str:
    """custom_id of the Check in / Not this week buttons."""
    return f"{PREFIX}:{action}:{guild_id}:{week}"


def post_view(guild_id: int, week: str, lang: str) -> discord.ui.View:
    """The two buttons under the weekly post."""
    view = discord.ui.View(timeout=None)
    view.add_item(AnswerButton("in", guild_id, week, i18n.t("checkins.button_in", lang)))
    view.add_item(AnswerButton("skip", guild_id, week, i18n.t("checkins.button_skip", lang)))
    return view


def post_embed(lang: str) -> discord.Embed:
    """The weekly post."""
    return discord.Embed(
        title=i18n.t("checkins.post_title", lang), description=i18n.t("checkins.post_body", lang), colour=COLOR
    )


def reminder_view(guild_id: int, lang: str, link: str | None) -> discord.ui.View:
    """Under every reminder DM: a way to turn reminders off (and a link to the thread)."""
    view = discord.ui.View(timeout=None)
    view.add_item(RemindersOffButton(guild_id, i18n.t("checkins.reminder_off_button", lang)))
    if link:
        view.add_item(discord.ui.Button(label=i18n.t("checkins.reminder_link", lang), url=link))
    return view


def buddy_dm_view(guild_id: int, lang: str) -> discord.ui.View:
    """Under a buddy introduction DM: a way to leave the pairing."""
    view = discord.ui.View(timeout=None)
    view.add_item(BuddyLeaveButton(guild_id, i18n.t("checkins.buddy_leave_button", lang)))
    return view


def is_post_of(message: discord.Message, guild_id: int, week: str) -> bool:
    """Whether ``message`` is the check-in post of that guild and week (duplicate guard)."""
    wanted = answer_custom_id("in", guild_id, week)
    for row in message.components:
        for child in getattr(row, "children", ()):
            if getattr(child, "custom_id", None) == wanted:
                return True
    return False


async def render_answer(interaction: discord.Interaction, result: AnswerResult) -> None:
    """The ephemeral receipt with the streak; shares the note in the week's thread if asked."""
    streak = (
        await tr(interaction, "checkins.streak", streak=result.streak)
        if result.streak
        else await tr(interaction, "checkins.streak_zero")
    )
    if result.skipped:
        lines = [await tr(interaction, "checkins.saved_skip", streak=streak)]
    else:
        lines = [await tr(interaction, "checkins.saved_checkin", mood=result.mood, streak=streak)]
    if result.changed:
        lines.append(await tr(interaction, "checkins.replaced"))
    if result.share_unavailable:
        lines.append(await tr(interaction, "checkins.share_unavailable"))
    shared = result.shared_note is not None and result.thread_id is not None
    if shared:
        lines.append(await tr(interaction, "checkins.shared"))
    await reply(interaction, "\n".join(lines))
    if shared:
        assert result.thread_id is not None and result.shared_note is not None
        if not await share_note(interaction, result.thread_id, result.mood or 0, result.shared_note):
            await reply(interaction, await tr(interaction, "checkins.share_failed"))


async def share_note(interaction: discord.Interaction, thread_id: int, mood: int, note: str) -> bool:
    """Post a shared note in the week's thread, pinging nobody."""
    bot = kbot(interaction)
    settings = await bot.services.guilds.get(interaction.guild_id or 0)
    name = discord.utils.escape_markdown(interaction.user.display_name)
    head = i18n.t("checkins.shared_line", settings.language, name=name, mood=mood)
    quoted = "\n".join(f"> {line}" for line in note.splitlines())
    try:
        thread = bot.get_channel(thread_id) or await bot.fetch_channel(thread_id)
        await thread.send(f"{head}\n{quoted}"[:2000], allowed_mentions=discord.AllowedMentions.none())  # type: ignore[union-attr]
    except discord.HTTPException:
        return False
    return True


def render_history(history: History, lang: str) -> discord.Embed:
    """``/checkin history``."""
    embed = discord.Embed(title=i18n.t("checkins.history_title", lang), colour=COLOR)
    if not history.entries:
        embed.description = i18n.t("checkins.history_empty", lang)
        return embed
    lines = []
    for entry in history.entries:
        status = i18n.t(f"checkins.status.{entry.status}", lang, mood=entry.mood)
        line = f"**{entry.week}** · {status}"
        if entry.note:
            note = entry.note if len(entry.note) <= 80 else entry.note[:79] + "…"
            line += f"\n> {discord.utils.escape_markdown(note)}"
        lines.append(line)
    streak = i18n.t("checkins.streak", lang, streak=history.streak) if history.streak else ""
    embed.description = "\n".join([*lines, "", streak]).strip()[:4096]
    return embed


class CheckinModal(KinshipModal):
    """Mood 1-5 (radio group), an optional note, and "share in the thread" (off by default)."""

    def __init__(self, lang: str, guild_id: int, week: str | None) -> None:
        super().__init__(
            title=i18n.t("checkins.modal_title", lang),
            custom_id=f"{PREFIX}:modal:{guild_id}:{week or 'now'}",
            timeout=900,
        )
        self.guild_id, self.week = guild_id, week
        options = [
            discord.RadioGroupOption(label=i18n.t(f"checkins.mood.{i}", lang), value=str(i)) for i in range(1, 6)
        ]
        self.mood: discord.ui.RadioGroup[Any] = discord.ui.RadioGroup(custom_id="mood", options=options)
        self.note: discord.ui.TextInput[Any] = discord.ui.TextInput(
            custom_id="note",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=NOTE_MAX,
            placeholder=i18n.t("checkins.note_placeholder", lang),
        )
        self.share: discord.ui.Checkbox[Any] = discord.ui.Checkbox(custom_id="share", default=False)
        self.add_item(discord.ui.Label(text=i18n.t("checkins.mood_label", lang), component=self.mood))
        self.add_item(discord.ui.Label(text=i18n.t("checkins.note_label", lang), component=self.note))
        self.add_item(
            discord.ui.Label(
                text=i18n.t("checkins.share_label", lang),
                description=i18n.t("checkins.share_description", lang),
                component=self.share,
            )
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Record the check-in and answer with the streak."""
        bot = kbot(interaction)
        mood = int(self.mood.value) if self.mood.value and self.mood.value.isdigit() else None
        result = await bot.services.checkins.answer(
            self.guild_id,
            interaction.user.id,
            bot.now(),
            week=self.week,
            mood=mood,
            note=self.note.value,
            share=bool(self.share.value),
        )
        await render_answer(interaction, result)


async def open_modal(interaction: discord.Interaction, guild_id: int, week: str | None) -> None:
    """Show the check-in modal."""
    await interaction.response.send_modal(CheckinModal(await lang_of(interaction), guild_id, week))


class AnswerButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"{PREFIX}:(?P<action>in|skip):(?P<guild_id>[0-9]{{1,20}}):(?P<week>{WEEK})",
):
    """**Check in** (opens the modal) / **Not this week** (answers at once) on the weekly post."""

    def __init__(self, action: str, guild_id: int, week: str, label: str = "…") -> None:
        style = discord.ButtonStyle.primary if action == "in" else discord.ButtonStyle.secondary
        super().__init__(
            discord.ui.Button(label=label, style=style, custom_id=answer_custom_id(action, guild_id, week))
        )
        self.action, self.guild_id, self.week = action, guild_id, week

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AnswerButton:
        """Rebuild from the custom_id (works after a restart)."""
        return cls(match["action"], int(match["guild_id"]), match["week"])

    async def callback(self, interaction: discord.Interaction) -> None:
        """Open the modal, or record "not this week"."""
        await guarded(interaction, lambda: self._run(interaction))

    async def _run(self, interaction: discord.Interaction) -> None:
        if interaction.guild_id != self.guild_id:
            raise NotAllowed("checkins.errors.wrong_guild")
        if self.action == "in":
            await open_modal(interaction, self.guild_id, self.week)
            return
        bot = kbot(interaction)
        result = await bot.services.checkins.answer(
            self.guild_id, interaction.user.id, bot.now(), week=self.week, skipped=True
        )
        await render_answer(interaction, result)


class RemindersOffButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"{PREFIX}:remind-off:(?P<guild_id>[0-9]{{1,20}})",
):
    """ "Turn off reminders" under every reminder DM."""

    def __init__(self, guild_id: int, label: str = "…") -> None:
        super().__init__(
            discord.ui.Button(
                label=label, style=discord.ButtonStyle.secondary, custom_id=f"{PREFIX}:remind-off:{guild_id}"
            )
        )
        self.guild_id = guild_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> RemindersOffButton:
        """Rebuild from the custom_id (works after a restart)."""
        return cls(int(match["guild_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Turn the clicking member's reminders off for that guild."""
        await guarded(interaction, lambda: self._run(interaction))

    async def _run(self, interaction: discord.Interaction) -> None:
        bot = kbot(interaction)
        await bot.services.checkins.set_reminders(self.guild_id, interaction.user.id, False, bot.now())
        await reply(interaction, await tr(interaction, "checkins.reminders_turned_off"))


class BuddyLeaveButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=rf"{PREFIX}:buddy-leave:(?P<guild_id>[0-9]{{1,20}})",
):
    """ "Leave buddies" under every buddy introduction DM."""

    def __init__(self, guild_id: int, label: str = "…") -> None:
        super().__init__(
            discord.ui.Button(
                label=label, style=discord.ButtonStyle.secondary, custom_id=f"{PREFIX}:buddy-leave:{guild_id}"
            )
        )
        self.guild_id = guild_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> BuddyLeaveButton:
        """Rebuild from the custom_id (works after a restart)."""
        return cls(int(match["guild_id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Take the clicking member out of that guild's buddy pairing."""
        await guarded(interaction, lambda: self._run(interaction))

    async def _run(self, interaction: discord.Interaction) -> None:
        bot = kbot(interaction)
        await bot.services.checkins.set_buddies(self.guild_id, interaction.user.id, False, bot.now())
        await reply(interaction, await tr(interaction, "checkins.buddy_left"))
