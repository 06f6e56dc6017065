"""Help requests (issue #3): ``/ask``, the request's buttons, ``/setup topics``, ``/setup help-settings``
and the follow-through jobs.

Discord glue only: the rules live in :mod:`bot.services.help`; the views, the modal and the
autocompletes in ``cogs/help_views.py``; the sending of threads, pings and escalations
(:class:`cogs.help_delivery.Delivery`) in ``cogs/help_delivery.py``; the helpers' own commands
(``/helper``) in ``cogs/helpers.py``.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot import i18n
from bot.app import KinshipBot
from bot.errors import InvalidInput, NotConfigured
from bot.services.help import Request
from bot.ui import COLOR, fit, format_when, lang_of, member_is_moderator, reply, tr
from cogs._base import FeatureCog
from cogs.help_delivery import Delivery
from cogs.help_views import AskModal, HelpButton, thanks_view, topic_choices

log = logging.getLogger(__name__)
_T = app_commands.locale_str


class HelpCog(FeatureCog):
    """Members ask, helpers answer within their boundaries, the scheduler follows through."""

    setup_children = ("topics", "help_settings")

    ask = app_commands.Group(name="ask", description=_T("Ask the community for help"), guild_only=True)
    topics = app_commands.Group(name="topics", description=_T("Manage help topics"))

    def __init__(self, bot: KinshipBot) -> None:
        super().__init__(bot)
        self.delivery = Delivery(bot)

    async def cog_load(self) -> None:
        """Register the persistent buttons and the jobs."""
        await super().cog_load()
        self.bot.add_dynamic_items(HelpButton)
        self.bot.scheduler.every("help.deliver", 30, self.delivery.deliver_due, per_guild=True)
        self.bot.scheduler.every("help.follow_up", 60, self.delivery.follow_up, per_guild=True)

    async def cog_unload(self) -> None:
        """Unregister what ``cog_load`` registered."""
        self.bot.remove_dynamic_items(HelpButton)
        self.bot.scheduler.remove("help.deliver")
        self.bot.scheduler.remove("help.follow_up")
        await super().cog_unload()

    # ------------------------------------------------------------------ /ask

    @ask.command(name="new", description=_T("Ask for help: opens a short form"))
    @app_commands.describe(topic=_T("What it is about"))
    @app_commands.autocomplete(topic=topic_choices)
    async def ask_new(
        self, interaction: discord.Interaction, topic: app_commands.Range[str, 1, 40] | None = None
    ) -> None:
        """Check the code of conduct, the topic and the help channel, then show the form."""
        assert interaction.guild is not None
        guild = interaction.guild
        await self.services.conduct.require_acknowledged(guild.id, interaction.user.id)
        found = await self.services.help.resolve_topic(guild.id, topic)
        settings = await self.services.guilds.get(guild.id)
        if settings.help_channel_id is None:
            raise NotConfigured("help.errors.no_channel")
        if guild.get_channel(settings.help_channel_id) is None:
            await self.delivery.report_missing(guild.id, settings.help_channel_id)
            raise NotConfigured("help.errors.channel_missing")
        await interaction.response.send_modal(AskModal(self, found.name if found else None, await lang_of(interaction)))

    async def submit(
        self,
        interaction: discord.Interaction,
        *,
        topic: str | None,
        title: str,
        body: str,
        wants: str,
        content_note: str | None,
    ) -> None:
        """The form was sent: store the request first, then open its thread."""
        assert interaction.guild_id is not None
        request = await self.services.help.open_request(
            interaction.guild_id,
            interaction.user.id,
            topic=topic,
            title=title,
            body=body,
            wants=wants,
            content_note=content_note,
            now=self.bot.now(),
        )
        await interaction.response.defer(ephemeral=True, thinking=True)
        leased = await self.services.help.lease_thread(request.id, self.bot.now())
        outcome = await self.delivery.open_thread(request, self.bot.now()) if leased else "retry"
        if outcome == "posted":
            posted = await self.services.help.get(request.id)
            await reply(interaction, await tr(interaction, "help.ask.posted", thread=f"<#{posted.thread_id}>"))
        else:
            key = "help.ask.saved_retry" if outcome == "retry" else "help.ask.saved_missing"
            await reply(interaction, await tr(interaction, key))

    @ask.command(name="mine", description=_T("List your open help requests"))
    async def ask_mine(self, interaction: discord.Interaction) -> None:
        """The member's open requests, with links."""
        assert interaction.guild_id is not None
        requests = await self.services.help.open_requests(interaction.guild_id, interaction.user.id)
        if not requests:
            await reply(interaction, await tr(interaction, "help.mine.empty"))
            return
        lines = [await self._line(interaction, r) for r in requests[:20]]
        embed = discord.Embed(
            title=await tr(interaction, "help.mine.title"), description=fit("\n".join(lines), 4096), colour=COLOR
        )
        await reply(interaction, embed=embed)

    async def _line(self, interaction: discord.Interaction, r: Request) -> str:
        where = f"<#{r.thread_id}>" if r.thread_id else await tr(interaction, "help.mine.pending")
        state = await tr(interaction, "help.mine.helping", count=len(r.helper_ids)) if r.helper_ids else None
        state = state or await tr(interaction, "help.mine.waiting")
        return f"• {where} **{discord.utils.escape_markdown(r.title)}** · {state} · {format_when(r.created_at)}"

    @ask.command(name="resolve", description=_T("Mark one of your requests as resolved"))
    @app_commands.describe(request=_T("Which request (empty: the one in this thread)"))
    async def ask_resolve(self, interaction: discord.Interaction, request: str | None = None) -> None:
        """Resolve by id (autocomplete), the request of this thread, or the only open one."""
        assert interaction.guild_id is not None
        await self.on_resolve(interaction, await self._pick_request(interaction, request))

    @ask_resolve.autocomplete("request")
    async def _resolve_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        assert interaction.guild_id is not None
        mine = await self.services.help.open_requests(interaction.guild_id, interaction.user.id)
        return [
            app_commands.Choice(name=r.title[:100], value=str(r.id)) for r in mine if current.lower() in r.title.lower()
        ][:25]

    async def _pick_request(self, interaction: discord.Interaction, given: str | None) -> int:
        if given:
            if not given.isdigit():
                raise InvalidInput("help.errors.pick_request")
            return int(given)
        assert interaction.guild_id is not None and interaction.channel_id is not None
        here = await self.services.help.by_thread(interaction.channel_id)
        if here is not None:
            return here.id
        mine = await self.services.help.open_requests(interaction.guild_id, interaction.user.id)
        if len(mine) != 1:
            raise InvalidInput("help.errors.pick_request")
        return mine[0].id

    # ---------------------------------------------------------------- buttons

    async def on_claim(self, interaction: discord.Interaction, request_id: int) -> None:
        """**I can help**."""
        claim = await self.services.help.claim(request_id, interaction.user.id, self.bot.now())
        if claim.already:
            await reply(interaction, await tr(interaction, "help.claim.already"))
            return
        await reply(interaction, await tr(interaction, "help.claim.done_lead" if claim.lead else "help.claim.done"))
        await self.delivery.announce(claim.request, "claimed_lead" if claim.lead else "claimed", interaction.user.id)

    async def on_resolve(self, interaction: discord.Interaction, request_id: int) -> None:
        """**Resolved** (or ``/ask resolve``): close it and offer one-tap thanks."""
        moderator = await member_is_moderator(interaction)
        done = await self.services.help.resolve(request_id, interaction.user.id, self.bot.now(), moderator=moderator)
        lang = await lang_of(interaction)
        helpers = [h for h in done.helper_ids if h != interaction.user.id]
        if helpers:
            names = [(h, await self.delivery.display_name(done.request.guild_id, h)) for h in helpers[:25]]
            view = thanks_view(request_id, names, lang)
            await reply(interaction, i18n.t("help.resolve.thanks", lang), view=view)
            view.stop()  # the recognition cog handles the clicks (a DynamicItem on the same custom_ids)
        else:
            await reply(interaction, i18n.t("help.resolve.done", lang))
        await self.delivery.close_thread(done.request)

    async def on_still(self, interaction: discord.Interaction, request_id: int) -> None:
        """**Still need help**: restart the idle timer and ask more helpers."""
        request = await self.services.help.still_need_help(request_id, interaction.user.id, self.bot.now())
        await reply(interaction, await tr(interaction, "help.still.done"))
        await self.delivery.announce(request, "still", request.asker_id)
        await self.delivery.flush(self.bot.now(), request_id=request.id)

    # ------------------------------------------------------------ /setup topics

    @topics.command(name="add", description=_T("Add a help topic"))
    @app_commands.describe(name=_T("The topic's name"))
    @app_commands.checks.has_permissions(manage_guild=True)
    async def topics_add(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 40]) -> None:
        """Add a topic."""
        assert interaction.guild_id is not None
        topic = await self.services.help.add_topic(interaction.guild_id, name, self.bot.now())
        await reply(interaction, await tr(interaction, "help.topics.added", name=topic.name))

    @topics.command(name="remove", description=_T("Remove a help topic"))
    @app_commands.describe(name=_T("The topic's name"))
    @app_commands.autocomplete(name=topic_choices)
    @app_commands.checks.has_permissions(manage_guild=True)
    async def topics_remove(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 40]) -> None:
        """Remove a topic."""
        assert interaction.guild_id is not None
        topic = await self.services.help.remove_topic(interaction.guild_id, name)
        await reply(interaction, await tr(interaction, "help.topics.removed", name=topic.name))

    @topics.command(name="list", description=_T("List the help topics"))
    @app_commands.checks.has_permissions(manage_guild=True)
    async def topics_list(self, interaction: discord.Interaction) -> None:
        """List topics."""
        assert interaction.guild_id is not None
        topics = await self.services.help.topics(interaction.guild_id)
        if not topics:
            await reply(interaction, await tr(interaction, "help.topics.empty"))
            return
        text = "\n".join(f"• {discord.utils.escape_markdown(t.name)}" for t in topics)
        await reply(
            interaction,
            embed=discord.Embed(title=await tr(interaction, "help.topics.list_title"), description=text, colour=COLOR),
        )

    @app_commands.command(name="help-settings", description=_T("Timers and pings of help requests"))
    @app_commands.describe(
        first_round_minutes=_T("Ping more helpers after this many minutes unanswered (15)"),
        escalate_minutes=_T("Tell the moderators after this many minutes unanswered (60)"),
        idle_hours=_T("Ask the asker whether it's resolved after this many idle hours (48)"),
        archive_hours=_T("Archive this many hours after that question (24)"),
        pings_per_round=_T("How many helpers to ping per round (3)"),
        thread_mode=_T("Public or private threads in a text channel"),
    )
    @app_commands.choices(
        thread_mode=[
            app_commands.Choice(name=_T("public"), value="public"),
            app_commands.Choice(name=_T("private"), value="private"),
        ]
    )
    @app_commands.checks.has_permissions(manage_guild=True)
    async def help_settings(  # noqa: PLR0917 - one parameter per slash option
        self,
        interaction: discord.Interaction,
        first_round_minutes: app_commands.Range[int, 1, 1440] | None = None,
        escalate_minutes: app_commands.Range[int, 1, 10080] | None = None,
        idle_hours: app_commands.Range[int, 1, 720] | None = None,
        archive_hours: app_commands.Range[int, 1, 720] | None = None,
        pings_per_round: app_commands.Range[int, 1, 10] | None = None,
        thread_mode: app_commands.Choice[str] | None = None,
    ) -> None:
        """Change the help knobs; without options, show them."""
        assert interaction.guild_id is not None
        changes: dict[str, int | str] = {
            k: v
            for k, v in {
                "first_round_minutes": first_round_minutes,
                "escalate_minutes": escalate_minutes,
                "idle_hours": idle_hours,
                "archive_hours": archive_hours,
                "pings_per_round": pings_per_round,
                "thread_mode": thread_mode.value if thread_mode else None,
            }.items()
            if v is not None
        }
        s = await self.services.help.update_settings(interaction.guild_id, self.bot.now(), **changes)
        fields = {k: getattr(s, k) for k in ("first_round_minutes", "escalate_minutes", "idle_hours", "archive_hours")}
        text = await tr(
            interaction, "help.settings.saved", pings_per_round=s.pings_per_round, thread_mode=s.thread_mode, **fields
        )
        await reply(interaction, text)

    # ---------------------------------------------------------------- events

    @FeatureCog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Record who answered in a help thread and when (never the content)."""
        if message.guild is None or message.author.bot or not isinstance(message.channel, discord.Thread):
            return
        # Only threads of the help channel (settings are cached): other threads cost no database work.
        settings = await self.services.guilds.get(message.guild.id)
        if message.channel.parent_id != settings.help_channel_id:
            return
        await self.services.help.record_message(message.channel.id, message.author.id, self.bot.now())


async def setup(bot: KinshipBot) -> None:
    """Extension entry point."""
    await bot.add_cog(HelpCog(bot))
