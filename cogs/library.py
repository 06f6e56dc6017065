"""Resource library: ``/resource add|search|list|pending|remove`` and the moderators' approval queue."""

from __future__ import annotations

import logging
import re
from typing import Any

import discord
from discord import app_commands

from bot import i18n
from bot.app import KinshipBot
from bot.delivery import classify, send_with_health
from bot.errors import NotConfigured, NotFound
from bot.services.library import ResourceItem
from bot.ui import (
    COLOR,
    NO_PINGS,
    KinshipModal,
    ensure_moderator,
    fit,
    guarded,
    kbot,
    lang_of,
    moderator_only,
    reply,
    tr,
    within_limits,
)
from cogs._base import FeatureCog

log = logging.getLogger(__name__)
_T = app_commands.locale_str
DECIDE_PREFIX = "kinship:library:"


_URL = re.compile(r"(?<!<)(https?://[^\s>]+)")


def no_preview(text: str) -> str:
    """Wrap bare links in ``<…>`` so Discord shows no preview for them."""
    return _URL.sub(r"<\1>", text)


def queue_text(item: ResourceItem, lang: str, decision: str | None = None, moderator_id: int | None = None) -> str:
    """The approval-queue post (sent with embeds suppressed: links are not previewed before approval)."""
    quoted = "\n".join(f"> {line}" for line in no_preview(item.content).splitlines() or [""])
    lines = [
        i18n.t("library.queue.header", lang, id=item.id),
        i18n.t("library.queue.meta", lang, title=item.title, topic=item.topic, language=item.language),
        i18n.t("library.queue.by", lang, member=f"<@{item.suggested_by}>") if item.suggested_by else "",
        quoted,
    ]
    if decision is not None:
        lines.append(i18n.t(f"library.queue.{decision}", lang, moderator=f"<@{moderator_id}>"))
    return fit("\n".join(line for line in lines if line), 2000)


def results_embed(title: str, items: list[ResourceItem], lang: str) -> discord.Embed:
    """Approved resources as embed fields (each field ≤ 1024 characters)."""
    embed = discord.Embed(title=title[:256], colour=COLOR)
    for item in items[:10]:
        body = item.content if len(item.content) <= 600 else item.content[:599] + "…"
        meta = i18n.t("library.result_meta", lang, topic=item.topic, language=item.language, id=item.id)
        embed.add_field(name=item.title, value=f"{body}\n{meta}"[:1024], inline=False)
    return within_limits(embed)


class DecideButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=DECIDE_PREFIX + r"(?P<action>approve|reject):(?P<id>[0-9]{1,20})",
):
    """**Approve** / **Reject** on a queue item (moderators only, enforced)."""

    def __init__(self, action: str, resource_id: int, label: str | None = None) -> None:
        style = discord.ButtonStyle.success if action == "approve" else discord.ButtonStyle.secondary
        super().__init__(
            discord.ui.Button(
                label=label or action.title(), style=style, custom_id=f"{DECIDE_PREFIX}{action}:{resource_id}"
            )
        )
        self.action = action
        self.resource_id = resource_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> DecideButton:
        """Rebuild the button from its custom_id."""
        return cls(match["action"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Approve or reject, then update the queue post."""
        await guarded(interaction, lambda: self._decide(interaction))

    async def _decide(self, interaction: discord.Interaction) -> None:
        await ensure_moderator(interaction)
        assert interaction.guild_id is not None
        bot = kbot(interaction)
        library = bot.services.library
        decide = library.approve if self.action == "approve" else library.reject
        item = await decide(interaction.guild_id, self.resource_id, interaction.user.id, bot.now())
        settings = await bot.services.guilds.get(interaction.guild_id)
        decision = "approved" if self.action == "approve" else "rejected"
        content = queue_text(item, settings.language, decision, interaction.user.id)
        if interaction.message is not None and interaction.message.id == item.queue_message_id:
            await interaction.response.edit_message(content=content, view=None, allowed_mentions=NO_PINGS)
            return
        await _edit_queue_post(bot, item, content)
        await reply(interaction, await tr(interaction, f"library.{decision}", title=item.title))


async def _edit_queue_post(bot: KinshipBot, item: ResourceItem, content: str) -> None:
    if item.queue_channel_id is None or item.queue_message_id is None:
        return
    channel = bot.get_channel(item.queue_channel_id)
    if not isinstance(channel, discord.TextChannel):
        return
    try:
        await channel.get_partial_message(item.queue_message_id).edit(
            content=content, view=None, allowed_mentions=NO_PINGS
        )
    except discord.HTTPException as error:
        log.info("could not update queue post of resource %s: %s", item.id, classify(error))


async def refresh_queue_post(bot: KinshipBot, guild_id: int, resource_id: int, moderator_id: int | None) -> bool:
    """Show a decision made elsewhere (the web dashboard) in the suggestion's queue post, without
    its buttons, as the Approve/Reject button does. ``False`` means "try again later" (a 5xx or a
    rate limit); a resource or post that is gone is nothing to do."""
    try:
        item = await bot.services.library.get(guild_id, resource_id)
    except NotFound:
        return True
    if item.status not in ("approved", "rejected") or item.queue_channel_id is None or item.queue_message_id is None:
        return True
    channel = bot.get_channel(item.queue_channel_id)
    if not isinstance(channel, discord.TextChannel):
        return True
    settings = await bot.services.guilds.get(guild_id)
    content = queue_text(item, settings.language, item.status, moderator_id or item.decided_by)
    try:
        await channel.get_partial_message(item.queue_message_id).edit(
            content=content, view=None, allowed_mentions=NO_PINGS
        )
    except (discord.HTTPException, OSError) as error:
        outcome = classify(error)
        log.info("could not update queue post of resource %s: %s", item.id, outcome)
        return outcome != "retry"
    return True


def decision_view(item: ResourceItem, lang: str) -> discord.ui.View:
    """The Approve/Reject buttons of one suggestion."""
    view = discord.ui.View(timeout=None)
    view.add_item(DecideButton("approve", item.id, i18n.t("library.approve", lang)))
    view.add_item(DecideButton("reject", item.id, i18n.t("library.reject", lang)))
    return view


class SuggestModal(KinshipModal):
    """Title, link or text, topic, language."""

    def __init__(self, lang: str) -> None:
        super().__init__(title=i18n.t("library.modal_title", lang))
        self.res_title: discord.ui.TextInput[SuggestModal] = discord.ui.TextInput(
            label=i18n.t("library.field_title", lang), custom_id="title", max_length=100
        )
        self.content: discord.ui.TextInput[SuggestModal] = discord.ui.TextInput(
            label=i18n.t("library.field_content", lang),
            custom_id="content",
            style=discord.TextStyle.paragraph,
            max_length=1000,
            placeholder=i18n.t("library.field_content_hint", lang),
        )
        self.topic: discord.ui.TextInput[SuggestModal] = discord.ui.TextInput(
            label=i18n.t("library.field_topic", lang),
            custom_id="topic",
            max_length=40,
            placeholder=i18n.t("library.field_topic_hint", lang),
        )
        self.language: discord.ui.TextInput[SuggestModal] = discord.ui.TextInput(
            label=i18n.t("library.field_language", lang), custom_id="language", max_length=8, default=lang
        )
        for item in (self.res_title, self.content, self.topic, self.language):
            self.add_item(item)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Store the suggestion and put it into the moderators' queue."""
        assert interaction.guild is not None
        bot = kbot(interaction)
        item = await bot.services.library.suggest_resource(
            interaction.guild.id,
            interaction.user.id,
            title=self.res_title.value,
            content=self.content.value,
            topic=self.topic.value,
            language=self.language.value,
            now=bot.now(),
        )
        posted = await _post_to_queue(bot, interaction.guild, item)
        key = "library.suggested" if posted else "library.suggested_unposted"
        await reply(interaction, await tr(interaction, key, title=item.title))


async def _post_to_queue(bot: KinshipBot, guild: discord.Guild, item: ResourceItem) -> bool:
    settings = await bot.services.guilds.get(guild.id)
    message = await send_with_health(
        bot,
        guild.id,
        settings.mod_channel_id,
        problem_key="library.queue",
        now=bot.now(),
        detail="mod channel",
        content=queue_text(item, settings.language),
        view=decision_view(item, settings.language),
        suppress_embeds=True,
    )
    if message is None:
        return False
    await bot.services.library.set_queue_message(item.id, message.channel.id, message.id)
    return True


class LibraryCog(FeatureCog):
    """Shared resources, suggested by members and approved by moderators."""

    resource = app_commands.Group(
        name="resource", description=_T("Helpful links and texts of this server"), guild_only=True
    )

    async def cog_load(self) -> None:
        """Register the persistent queue buttons."""
        await super().cog_load()
        self.bot.add_dynamic_items(DecideButton)

    async def cog_unload(self) -> None:
        """Forget the persistent buttons."""
        self.bot.remove_dynamic_items(DecideButton)
        await super().cog_unload()

    @resource.command(name="add", description=_T("Suggest a helpful link or text (moderators approve it)"))
    async def add(self, interaction: discord.Interaction) -> None:
        """Open the suggestion modal (when a moderators' channel exists to review it)."""
        assert interaction.guild_id is not None
        settings = await self.services.guilds.get(interaction.guild_id)
        if settings.mod_channel_id is None:
            raise NotConfigured("library.errors.no_queue")
        await interaction.response.send_modal(SuggestModal(await lang_of(interaction)))

    @resource.command(name="search", description=_T("Search the approved resources"))
    @app_commands.describe(query=_T("Words to look for"))
    async def search(self, interaction: discord.Interaction, query: app_commands.Range[str, 1, 100]) -> None:
        """Full-text search over approved resources."""
        assert interaction.guild_id is not None
        items = await self.services.library.search(interaction.guild_id, query)
        lang = await lang_of(interaction)
        if not items:
            await reply(interaction, i18n.t("library.nothing_found", lang, query=query))
            return
        await reply(interaction, embed=results_embed(i18n.t("library.results", lang, query=query), items, lang))

    @search.autocomplete("query")
    async def search_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Approved titles."""
        assert interaction.guild_id is not None
        titles = await self.services.library.titles(interaction.guild_id, current)
        return [app_commands.Choice(name=t, value=t) for t in titles]

    @resource.command(name="list", description=_T("List the approved resources, optionally of one topic"))
    @app_commands.describe(topic=_T("A topic"))
    async def list_(
        self, interaction: discord.Interaction, topic: app_commands.Range[str, 1, 40] | None = None
    ) -> None:
        """Approved resources, newest first."""
        assert interaction.guild_id is not None
        items = await self.services.library.list(interaction.guild_id, topic)
        lang = await lang_of(interaction)
        if not items:
            await reply(interaction, i18n.t("library.empty", lang))
            return
        title = i18n.t("library.list_topic", lang, topic=topic) if topic else i18n.t("library.list_all", lang)
        await reply(interaction, embed=results_embed(title, items, lang))

    @list_.autocomplete("topic")
    async def topic_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Topics with approved resources."""
        assert interaction.guild_id is not None
        return [
            app_commands.Choice(name=t, value=t)
            for t in await self.services.library.topics(interaction.guild_id, current)
        ]

    @resource.command(name="pending", description=_T("Suggestions waiting for a decision (moderators)"))
    @moderator_only()
    async def pending(self, interaction: discord.Interaction) -> None:
        """The oldest waiting suggestions, each with Approve/Reject."""
        assert interaction.guild_id is not None
        items = await self.services.library.pending(interaction.guild_id, limit=5)
        lang = await lang_of(interaction)
        if not items:
            await reply(interaction, i18n.t("library.none_pending", lang))
            return
        view = discord.ui.View(timeout=None)
        for row, item in enumerate(items):
            view.add_item(_row(DecideButton("approve", item.id, i18n.t("library.approve_n", lang, id=item.id)), row))
            view.add_item(_row(DecideButton("reject", item.id, i18n.t("library.reject_n", lang, id=item.id)), row))
        text = "\n".join(
            i18n.t("library.pending_line", lang, id=i.id, title=i.title, topic=i.topic, language=i.language)
            + "\n> "
            + no_preview(" ".join(i.content.split())[:200])
            for i in items
        )
        await reply(interaction, text[:2000], view=view)

    @resource.command(name="remove", description=_T("Remove a resource (moderators)"))
    @app_commands.describe(resource_id=_T("The number shown with the resource"))
    @app_commands.rename(resource_id=_T("id"))
    @moderator_only()
    async def remove(self, interaction: discord.Interaction, resource_id: app_commands.Range[int, 1]) -> None:
        """Delete a resource and its search entry."""
        assert interaction.guild_id is not None
        item = await self.services.library.remove(interaction.guild_id, resource_id)
        await reply(interaction, await tr(interaction, "library.removed", title=item.title))


def _row(item: DecideButton, row: int) -> DecideButton:
    item.row = row
    return item


async def setup(bot: KinshipBot) -> None:
    """Extension entry point."""
    await bot.add_cog(LibraryCog(bot))
