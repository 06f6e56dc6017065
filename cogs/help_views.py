"""Views, modal, persistent buttons and renderers of the help feature (see ``cogs/help.py``)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import discord
from discord import app_commands

from bot import i18n
from bot.errors import InvalidInput
from bot.services.guilds import suggest_timezones
from bot.services.help import WANTS, Request
from bot.ui import COLOR, KinshipModal, KinshipView, guarded, kbot
from cogs._ids import thank_custom_id

if TYPE_CHECKING:
    from cogs.help import HelpCog

DURATION = re.compile(r"^\s*(\d{1,4})\s*([mhdw])\s*$", re.IGNORECASE)
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
STYLES = {
    "claim": discord.ButtonStyle.success,
    "resolve": discord.ButtonStyle.primary,
    "still": discord.ButtonStyle.secondary,
}


def parse_until(text: str, tz: str, now: datetime) -> datetime:
    """``8h``, ``3d``, ``2w`` or ``YYYY-MM-DD[ HH:MM]`` (in the helper's time zone) → aware UTC."""
    m = DURATION.match(text)
    if m:
        return now + timedelta(**{UNITS[m.group(2).lower()]: int(m.group(1))})
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            local = datetime.strptime(text.strip(), fmt)  # noqa: DTZ007 - made aware on the next line
        except ValueError:
            continue
        return local.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC)
    raise InvalidInput("help.errors.bad_until", value=text[:32])


async def topic_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete: the guild's topics."""
    assert interaction.guild_id is not None
    topics = await kbot(interaction).services.help.suggest_topics(interaction.guild_id, current)
    return [app_commands.Choice(name=t.name, value=t.name) for t in topics]


async def topic_list_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete for a comma-separated list: keep what was typed, complete the last item."""
    head = ", ".join(p.strip() for p in current.split(",")[:-1] if p.strip())
    choices = []
    for t in await topic_choices(interaction, current.rsplit(",", 1)[-1]):
        value = f"{head}, {t.value}" if head else t.value
        choices.append(app_commands.Choice(name=value[:100], value=value[:100]))
    return choices


async def tz_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Autocomplete: IANA time zones."""
    return [app_commands.Choice(name=z, value=z) for z in suggest_timezones(current)]


def request_embed(request: Request, lang: str) -> discord.Embed:
    """The embed at the top of a help thread."""
    embed = discord.Embed(title=request.title[:256], description=request.body[:4000] or None, colour=COLOR)
    embed.add_field(name=i18n.t("help.thread.asked_by", lang), value=f"<@{request.asker_id}>", inline=True)
    topic = request.topic_name or i18n.t("help.ask.no_topic", lang)
    embed.add_field(name=i18n.t("help.thread.topic", lang), value=topic, inline=True)
    embed.add_field(
        name=i18n.t("help.thread.wants", lang), value=i18n.t(f"help.wants.{request.wants}", lang), inline=True
    )
    if request.content_note:
        embed.add_field(name=i18n.t("help.thread.note", lang), value=request.content_note[:1024], inline=False)
    return embed


def request_view(request_id: int, lang: str, actions: Sequence[str] = ("claim", "resolve", "still")) -> KinshipView:
    """The persistent buttons of a request."""
    view = KinshipView(timeout=None)
    for action in actions:
        view.add_item(HelpButton(action, request_id, i18n.t(f"help.buttons.{action}", lang)))
    return view


def thanks_view(request_id: int, helpers: Sequence[tuple[int, str]], lang: str) -> discord.ui.View:
    """One-tap thanks: a button per helper, handled by the recognition cog's DynamicItem."""
    view = discord.ui.View(timeout=None)
    for n, (helper_id, name) in enumerate(helpers[:25]):
        label = i18n.t("help.resolve.thank", lang, name=name) if name else i18n.t("help.resolve.someone", lang, n=n + 1)
        view.add_item(
            discord.ui.Button(
                label=label[:80],
                style=discord.ButtonStyle.success,
                custom_id=thank_custom_id(helper_id, "help", request_id),
                row=n // 5,
            )
        )
    return view


def _cog(interaction: discord.Interaction) -> HelpCog:
    cog = interaction.client.get_cog("HelpCog")  # type: ignore[attr-defined]
    assert cog is not None
    return cog  # type: ignore[return-value]


class HelpButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"kinship:help:(?P<action>claim|resolve|still):(?P<request_id>[0-9]{1,20})",
):
    """**I can help**, **Resolved** and **Still need help**, surviving restarts."""

    def __init__(self, action: str, request_id: int, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=label or action, style=STYLES[action], custom_id=f"kinship:help:{action}:{request_id}"
            )
        )
        self.action = action
        self.request_id = request_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> HelpButton:
        """Rebuild the button from its custom_id."""
        return cls(match["action"], int(match["request_id"]), getattr(item, "label", "") or "")

    async def callback(self, interaction: discord.Interaction) -> None:  # type: ignore[override]
        """Hand the click to the cog."""
        handlers: dict[str, Callable[[discord.Interaction, int], Awaitable[None]]] = {
            "claim": _cog(interaction).on_claim,
            "resolve": _cog(interaction).on_resolve,
            "still": _cog(interaction).on_still,
        }
        await guarded(interaction, lambda: handlers[self.action](interaction, self.request_id))


class AskModal(KinshipModal):
    """Title, what is going on, what would help, an optional content note."""

    def __init__(self, cog: HelpCog, topic: str | None, lang: str) -> None:
        super().__init__(title=i18n.t("help.ask.modal_title", lang)[:45], custom_id="kinship:help:ask", timeout=900)
        self.cog, self.topic = cog, topic
        self.title_input: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=i18n.t("help.ask.title_label", lang)[:45],
            placeholder=i18n.t("help.ask.title_placeholder", lang)[:100],
            custom_id="title",
            max_length=100,
        )
        self.body: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=i18n.t("help.ask.body_label", lang)[:45],
            placeholder=i18n.t("help.ask.body_placeholder", lang)[:100],
            style=discord.TextStyle.paragraph,
            custom_id="body",
            max_length=3500,
        )
        self.wants: discord.ui.Select[Any] = discord.ui.Select(
            custom_id="wants",
            options=[
                discord.SelectOption(label=i18n.t(f"help.wants.{w}", lang), value=w, default=w == "listening")
                for w in WANTS
            ],
            min_values=1,
            max_values=1,
        )
        self.note: discord.ui.TextInput[Any] = discord.ui.TextInput(
            label=i18n.t("help.ask.note_label", lang)[:45],
            placeholder=i18n.t("help.ask.note_placeholder", lang)[:100],
            custom_id="note",
            required=False,
            max_length=200,
        )
        self.add_item(self.title_input)
        self.add_item(self.body)
        self.add_item(discord.ui.Label(text=i18n.t("help.ask.wants_label", lang)[:45], component=self.wants))
        self.add_item(self.note)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Store the request, then open its thread."""
        wants = self.wants.values[0] if self.wants.values else "listening"
        await self.cog.submit(
            interaction,
            topic=self.topic,
            title=self.title_input.value,
            body=self.body.value,
            wants=wants,
            content_note=self.note.value or None,
        )
