"""Views, modal, persistent buttons and renderers of the help feature (see ``cogs/help.py``)."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import discord
from discord import app_commands

from bot import i18n
from bot.delivery import classify
from bot.errors import InvalidInput
from bot.services.guilds import suggest_timezones
from bot.services.help import WANTS, FailureOutcome, OutboxItem, Request
from bot.ui import COLOR, NO_PINGS, KinshipModal, KinshipView, guarded, kbot
from cogs._ids import thank_custom_id

if TYPE_CHECKING:
    from bot.app import KinshipBot
    from cogs.help import HelpCog

log = logging.getLogger(__name__)

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


Opened = Literal["posted", "retry", "missing", "forbidden"]


class Delivery:
    """Everything the help feature sends: threads, pings, escalations, idle questions, archiving.

    Each send starts from stored rows (a pending request, an outbox item), so the ``help.deliver``
    job can redo whatever failed — after a 5xx, a missing channel or permission, or a restart.
    """

    def __init__(self, bot: KinshipBot) -> None:
        self.bot = bot
        self.services = bot.services

    # --------------------------------------------------------------- jobs

    async def deliver_due(self, now: datetime) -> None:
        """``help.deliver``: open the threads still pending, then send what is queued (this
        process's guilds only: those on other shards are not in its cache, their process does it)."""
        for request in await self.services.help.pending_threads(now, scope=self.bot.guild_scope):
            if await self.services.help.lease_thread(request.id, now):
                await self.open_thread(request, now)
        await self.flush(now)

    async def follow_up(self, now: datetime) -> None:
        """``help.follow_up``: queue what the timers say is due, then send it."""
        await self.services.help.follow_up(now, scope=self.bot.guild_scope)
        await self.flush(now)

    # ------------------------------------------------------------- thread

    async def report_missing(self, guild_id: int, channel_id: int) -> None:
        """Record the deleted help channel for ``/setup show``."""
        await self.services.health.report(
            guild_id, "help.channel", "channel_missing", self.bot.now(), detail=f"help channel <#{channel_id}>"
        )

    async def open_thread(self, request: Request, now: datetime) -> Opened:
        """Create the request's thread from the stored row (the caller holds its lease, see
        ``HelpService.lease_thread``); on failure the row stays pending."""
        guild = self.bot.get_guild(request.guild_id)
        if guild is None and not self.bot.owns_guild(request.guild_id):
            return "retry"  # another process's guild: not gone; its help.deliver opens it once the lease lapses
        settings = await self.services.guilds.get(request.guild_id)
        channel = guild.get_channel(settings.help_channel_id) if guild and settings.help_channel_id else None
        if guild is None or not isinstance(channel, (discord.TextChannel, discord.ForumChannel)):
            await self.services.help.thread_failed(request.id, "missing", now)
            if settings.help_channel_id is not None:
                await self.report_missing(request.guild_id, settings.help_channel_id)
            return "missing"
        lang = settings.language
        cfg = await self.services.help.settings(request.guild_id)
        intro = i18n.t("help.thread.intro", lang, asker=f"<@{request.asker_id}>")
        asker = discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(request.asker_id)])
        embed, view = request_embed(request, lang), request_view(request.id, lang)
        try:
            if isinstance(channel, discord.ForumChannel) and request.private:
                # Forum posts are public: a private request waits until a text help channel is set.
                await self.services.help.thread_failed(request.id, "missing", now)
                return "missing"
            if isinstance(channel, discord.ForumChannel):
                tags = await self._forum_tags(channel, request.topic_name)
                created = await channel.create_thread(
                    name=request.title[:100],
                    content=intro,
                    embed=embed,
                    view=view,
                    applied_tags=tags,
                    allowed_mentions=asker,
                    auto_archive_duration=10080,
                )
                thread = created.thread
            else:
                thread = await self._unfinished_thread(request)
                if thread is None:
                    private = request.private or cfg.thread_mode == "private"
                    kind = discord.ChannelType.private_thread if private else discord.ChannelType.public_thread
                    thread = await channel.create_thread(
                        name=request.title[:100], type=kind, auto_archive_duration=10080, invitable=not private
                    )
                    # Remembered before the set-up below: a retry finishes this thread, never a second one.
                    await self.services.help.thread_created(request.id, thread.id, channel.id)
                await thread.add_user(discord.Object(request.asker_id))
                await thread.send(intro, embed=embed, view=view, allowed_mentions=asker, nonce=f"kh{request.id}"[:25])
        except discord.HTTPException as error:
            outcome = classify(error)
            failure: FailureOutcome = outcome if outcome in ("forbidden", "missing") else "retry"  # type: ignore[assignment]
            await self.services.help.thread_failed(request.id, failure, now)
            if failure != "retry":
                code = "missing_permission" if failure == "forbidden" else "channel_missing"
                detail = (
                    f"create threads in <#{channel.id}>" if failure == "forbidden" else f"help channel <#{channel.id}>"
                )
                await self.services.health.report(request.guild_id, "help.channel", code, now, detail=detail)
            log.warning("could not open the thread of help request %s: %s", request.id, error)
            return failure
        await self.services.help.thread_posted(request.id, thread.id, channel.id, now)
        await self.services.health.clear(request.guild_id, "help.channel")
        await self.flush(now, request_id=request.id)
        return "posted"

    async def _unfinished_thread(self, request: Request) -> discord.Thread | None:
        """The thread an earlier attempt created but could not finish setting up, if it still exists."""
        if request.thread_id is None:
            return None
        thread = self.bot.get_channel(request.thread_id)
        if thread is None:
            try:
                thread = await self.bot.fetch_channel(request.thread_id)
            except discord.NotFound:
                return None
        return thread if isinstance(thread, discord.Thread) else None

    async def _forum_tags(self, forum: discord.ForumChannel, topic: str | None) -> list[discord.ForumTag]:
        """The forum tag of the topic; created when missing and the bot may (else no tag)."""
        if not topic:
            return []
        name = topic[:20]
        for tag in forum.available_tags:
            if tag.name.lower() == name.lower():
                return [tag]
        me = forum.guild.me
        if me is None or not forum.permissions_for(me).manage_channels or len(forum.available_tags) >= 20:
            return []
        try:
            return [await forum.create_tag(name=name)]
        except discord.HTTPException:
            log.warning("could not create forum tag %r in %s", name, forum.id, exc_info=True)
            return []

    # ------------------------------------------------------------- outbox

    async def flush(self, now: datetime, *, request_id: int | None = None) -> None:
        """Send every due outbox item of this process's guilds (optionally of one request);
        failures wait for a retry."""
        for item in await self.services.help.due_outbox(now, request_id=request_id, scope=self.bot.guild_scope):
            try:
                sent = await self._send(item, now)
            except discord.HTTPException as error:
                outcome = classify(error)
                if outcome == "gone":
                    await self.services.help.outbox_done(item.id, dropped=True)
                else:
                    failure = outcome if outcome in ("forbidden", "missing") else "retry"
                    await self.services.help.outbox_failed(item.id, failure, now)  # type: ignore[arg-type]
                    log.warning("help outbox item %s (%s) failed: %s", item.id, item.kind, error)
                continue
            await self.services.help.outbox_done(item.id, dropped=not sent)

    async def _send(self, item: OutboxItem, now: datetime) -> bool:
        """Send one item; ``False`` when it can never be sent (it is dropped)."""
        request = item.request
        settings = await self.services.guilds.get(request.guild_id)
        lang = settings.language
        if item.kind == "mods":
            return await self._tell_mods(request, settings.mod_channel_id, settings.mod_role_id, lang, now)
        thread = await self._thread(request.thread_id)
        if thread is None:
            return False
        asker = f"<@{request.asker_id}>"
        only_asker = discord.AllowedMentions(everyone=False, roles=False, users=[discord.Object(request.asker_id)])
        if item.kind == "pings":
            if not item.user_ids:
                return True
            if thread.type == discord.ChannelType.private_thread:
                for user_id in item.user_ids:
                    await thread.add_user(discord.Object(user_id))
            topic = request.topic_name or i18n.t("help.ask.no_topic", lang)
            mentions = " ".join(f"<@{u}>" for u in item.user_ids)
            helpers = discord.AllowedMentions(
                everyone=False, roles=False, users=[discord.Object(u) for u in item.user_ids]
            )
            await thread.send(
                i18n.t("help.thread.pings", lang, mentions=mentions, topic=topic), allowed_mentions=helpers
            )
        elif item.kind == "wait":
            await thread.send(i18n.t("help.thread.wait", lang, asker=asker), allowed_mentions=only_asker)
        elif item.kind == "idle":
            cfg = await self.services.help.settings(request.guild_id)
            view = request_view(request.id, lang, ("resolve", "still"))
            text = i18n.t("help.thread.idle", lang, asker=asker, hours=cfg.archive_hours)
            await thread.send(text, view=view, allowed_mentions=only_asker)
        elif item.kind == "archive":
            await thread.send(i18n.t("help.thread.archived", lang), allowed_mentions=NO_PINGS)
            await thread.edit(archived=True)
        return True

    async def _tell_mods(
        self, request: Request, channel_id: int | None, role_id: int | None, lang: str, now: datetime
    ) -> bool:
        guild = self.bot.get_guild(request.guild_id)
        channel = guild.get_channel(channel_id) if guild and channel_id else None
        if not isinstance(channel, discord.TextChannel):
            detail = f"moderators' channel <#{channel_id}>" if channel_id else "moderators' channel (not set)"
            await self.services.health.report(request.guild_id, "help.mods", "channel_missing", now, detail=detail)
            return False
        cfg = await self.services.help.settings(request.guild_id)
        text = i18n.t(
            "help.mods.escalation",
            lang,
            role=f"<@&{role_id}>" if role_id else "",
            minutes=cfg.escalate_minutes,
            thread=f"<#{request.thread_id}>",
            topic=request.topic_name or i18n.t("help.ask.no_topic", lang),
        ).strip()
        pings = discord.AllowedMentions(
            everyone=False, users=False, roles=[discord.Object(role_id)] if role_id else False
        )
        await channel.send(text, allowed_mentions=pings)
        await self.services.health.clear(request.guild_id, "help.mods")
        return True

    async def _thread(self, thread_id: int | None) -> discord.Thread | None:
        if thread_id is None:
            return None
        channel = self.bot.get_channel(thread_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(thread_id)
            except discord.NotFound:
                return None
        return channel if isinstance(channel, discord.Thread) else None

    # ------------------------------------------------------------ in-thread

    async def announce(self, request: Request, kind: str, member_id: int) -> None:
        """A short, ping-free note in the thread (someone claimed, the asker still needs help)."""
        thread = await self._thread(request.thread_id)
        if thread is None:
            return
        lang = (await self.services.guilds.get(request.guild_id)).language
        text = i18n.t(f"help.thread.{kind}", lang, helper=f"<@{member_id}>", asker=f"<@{member_id}>")
        try:
            await thread.send(text, allowed_mentions=NO_PINGS)
        except discord.HTTPException:
            log.warning("could not post in help thread %s", thread.id, exc_info=True)

    async def close_thread(self, request: Request) -> None:
        """After resolution: a thank-you note, then archive the thread."""
        thread = await self._thread(request.thread_id)
        if thread is None:
            return
        lang = (await self.services.guilds.get(request.guild_id)).language
        try:
            await thread.send(
                i18n.t("help.thread.resolved", lang, asker=f"<@{request.asker_id}>"), allowed_mentions=NO_PINGS
            )
            await thread.edit(archived=True)
        except discord.HTTPException:
            log.warning("could not close help thread %s", thread.id, exc_info=True)

    async def display_name(self, guild_id: int, member_id: int) -> str:
        """A member's name for a button label ("" when unknown)."""
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            return ""
        member = guild.get_member(member_id)
        if member is None:
            try:
                member = await guild.fetch_member(member_id)
            except discord.HTTPException:
                return ""
        return member.display_name
