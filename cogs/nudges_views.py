"""The prompt DM, its buttons, and the renderers of the quiet-members feature (issue #7).

DMs have no guild context, so every button's custom_id carries the guild id and the nudge id.
Discord delivers a DM's button press on shard 0, whichever shard the guild lives on: with
``SHARD_IDS`` the press may reach a process that does not have the guild in its cache, so the
handlers below go by ids and the database (names over REST, the help request for the owning
process's ``help.deliver`` job).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

import discord

from bot import i18n
from bot.delivery import send_with_health
from bot.errors import KinshipError
from bot.services.nudges import Answer, Digest, Policy, Status
from bot.ui import COLOR, format_when, guarded, kbot, lang_of, reply

if TYPE_CHECKING:
    from bot.app import KinshipBot

log = logging.getLogger(__name__)

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_STYLES = {
    "okay": discord.ButtonStyle.success,
    "talk": discord.ButtonStyle.primary,
    "stop": discord.ButtonStyle.secondary,
}


class NudgeButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"kinship:nudges:(?P<answer>okay|talk|stop):(?P<guild_id>[0-9]{1,20}):(?P<nudge_id>[0-9]{1,20})",
):
    """**I'm okay**, **I'd like to talk**, **Stop these messages** — on a prompt DM."""

    def __init__(self, answer: Answer, guild_id: int, nudge_id: int, label: str | None = None) -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                style=_STYLES[answer],
                custom_id=f"kinship:nudges:{answer}:{guild_id}:{nudge_id}",
            )
        )
        self.answer: Answer = answer
        self.guild_id = guild_id
        self.nudge_id = nudge_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> NudgeButton:
        """Rebuild the button from its custom_id (works after a restart)."""
        return cls(match["answer"], int(match["guild_id"]), int(match["nudge_id"]))  # type: ignore[arg-type]

    async def callback(self, interaction: discord.Interaction) -> None:
        """Record the answer; errors are rendered kindly."""
        await guarded(interaction, lambda: answer_prompt(interaction, self.answer, self.guild_id, self.nudge_id))


def prompt_view(lang: str, guild_id: int, nudge_id: int) -> discord.ui.View:
    """The three buttons of a prompt DM."""
    view = discord.ui.View(timeout=None)
    for answer in ("okay", "talk", "stop"):
        view.add_item(NudgeButton(answer, guild_id, nudge_id, label=i18n.t(f"nudges.dm.{answer}", lang)))  # type: ignore[arg-type]
    return view


def prompt_text(lang: str, name: str, guild_name: str) -> str:
    """The warm, short prompt DM (always mentions ``/resources``)."""
    return i18n.t("nudges.dm.body", lang, name=name, guild=guild_name)[:2000]


async def answer_prompt(interaction: discord.Interaction, answer: Answer, guild_id: int, nudge_id: int) -> None:
    """A member pressed a prompt button: record it (one service call), remove the buttons, reply."""
    bot = kbot(interaction)
    now = bot.now()
    response = await bot.services.nudges.respond(guild_id, nudge_id, interaction.user.id, answer, now)
    if bot.owns_guild(guild_id):  # else the guild's own process would not know to forget it on deletion
        bot.services.activity.record(guild_id, interaction.user.id, now)
    await interaction.response.edit_message(view=None)
    lang = await lang_of(interaction)
    guild_name = await bot.guild_name(guild_id)
    key = f"nudges.answer.{answer}"
    if answer == "talk" and response.first:
        key = await open_talk(interaction, guild_id, now)
    await reply(interaction, i18n.t(key, lang, guild=guild_name), ephemeral=False)


async def open_talk(interaction: discord.Interaction, guild_id: int, now: datetime) -> str:
    """**I'd like to talk**: open a *private* help request (a private thread in a text help channel:
    nobody else learns that this member went quiet and asked); when the server has no text help
    channel, tell the moderators instead.

    The request is stored here; the ``help.deliver`` job of the process holding the guild's shard
    opens its thread (this one, unless the guild lives on another process's shards)."""
    bot = kbot(interaction)
    settings = await bot.services.guilds.get(guild_id)
    lang = settings.language
    if await _has_text_help_channel(bot, guild_id, settings.help_channel_id):
        try:
            await bot.services.help.open_request(
                guild_id,
                interaction.user.id,
                topic=None,
                title=i18n.t("nudges.talk.title", lang),
                body=i18n.t("nudges.talk.body", lang),
                wants="listening",
                content_note=None,
                now=now,
                private=True,
            )
            return "nudges.answer.talk"
        except KinshipError as error:
            log.info("help request for a nudge could not be opened (%s); telling the moderators", error.key)
    name = await member_name(bot.get_guild(guild_id), interaction.user.id, interaction.user.display_name)
    note = i18n.t("nudges.talk.mods_note", lang, name=name)
    sent = await send_with_health(
        bot,
        guild_id,
        settings.mod_channel_id,
        problem_key="nudges.talk",
        now=now,
        detail="moderators' channel",
        content=note,
    )
    return "nudges.answer.talk_mods" if sent else "nudges.answer.talk_nobody"


async def _has_text_help_channel(bot: KinshipBot, guild_id: int, channel_id: int | None) -> bool:
    """Whether the guild's help channel is a text channel (where private threads can be opened).

    From the cache for this process's guilds; for a guild on another process's shards (not in this
    cache) one REST call asks Discord. When Discord cannot say right now, the request is stored anyway:
    the owning process's ``help.deliver`` job retries, and knows the channel."""
    try:
        channel = await bot.channel_of(guild_id, channel_id)
    except discord.HTTPException as error:
        log.warning("could not look up help channel %s of guild %s: %s", channel_id, guild_id, error)
        return True
    return isinstance(channel, discord.TextChannel)


async def member_name(guild: discord.Guild | None, member_id: int, fallback: str | None = None) -> str | None:
    """A member's display name (from the cache, else one REST call); ``None`` when they left."""
    if guild is None:
        return fallback
    member = guild.get_member(member_id)
    if member is None:
        try:
            member = await guild.fetch_member(member_id)
        except discord.NotFound:
            return fallback
        except discord.HTTPException:
            return fallback or f"<@{member_id}>"
    return discord.utils.escape_markdown(member.display_name)


def render_status(status: Status, lang: str) -> str:
    """``/nudges status`` (and the confirmation after on/off/pause)."""
    policy = status.policy
    if status.opted_in and status.paused_until is not None:
        lines = [i18n.t("nudges.status.paused", lang, until=format_when(status.paused_until))]
    elif status.opted_in:
        lines = [i18n.t("nudges.status.on", lang, days=policy.quiet_days, cooldown=policy.cooldown_days)]
    else:
        lines = [i18n.t("nudges.status.off", lang)]
    if status.opted_in and not policy.enabled:
        lines.append(i18n.t("nudges.status.server_off", lang))
    if status.dm_closed:
        lines.append(i18n.t("nudges.status.dm_closed", lang))
    if status.last_prompt_at is not None:
        outcome = i18n.t(f"nudges.outcome.{status.last_outcome or 'none'}", lang)
        lines.append(i18n.t("nudges.status.last", lang, when=format_when(status.last_prompt_at), outcome=outcome))
    return "\n".join(lines)


def render_policy(policy: Policy, lang: str) -> str:
    """The ``/setup nudges`` summary."""
    return i18n.t(
        "nudges.setup.summary",
        lang,
        state=i18n.t("nudges.setup.on" if policy.enabled else "nudges.setup.off", lang),
        days=policy.quiet_days,
        hour=f"{policy.sweep_hour:02d}:00",
        cooldown=policy.cooldown_days,
        cap=policy.max_per_sweep,
        weekday=i18n.t(f"nudges.weekday.{WEEKDAYS[policy.digest_weekday]}", lang),
        weeks=policy.digest_weeks,
    )


def render_digest(digest: Digest, names: list[str]) -> discord.Embed:
    """The weekly moderators' digest; stays within Discord's embed limits ("and N more")."""
    lang = digest.language
    head = i18n.t("nudges.digest.count", lang, count=digest.total, weeks=digest.weeks)
    lines: list[str] = []
    budget = 4096 - len(head) - 200
    for name in names:
        line = f"• {name[:80]}"
        if budget - len(line) - 1 < 0:
            break
        lines.append(line)
        budget -= len(line) + 1
    more = digest.total - len(lines)
    text = head + "\n\n" + "\n".join(lines)
    if more > 0:
        text += "\n" + i18n.t("nudges.digest.more", lang, count=more)
    embed = discord.Embed(title=i18n.t("nudges.digest.title", lang), description=text[:4096], colour=COLOR)
    embed.set_footer(text=i18n.t("nudges.digest.footer", lang))
    return embed
