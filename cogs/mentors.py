"""Mentor programme: ``/mentor offer|pause|leave|find|end|block``, acceptance buttons for both
sides, an introduction in a private thread, and the monthly check-in DM."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

import discord
from discord import app_commands

from bot import i18n
from bot.app import KinshipBot
from bot.delivery import classify, problem_code, send_dm
from bot.errors import NotConfigured
from bot.services.guilds import suggest_timezones
from bot.services.mentors import MatchInfo
from bot.ui import COLOR, NO_PINGS, guarded, kbot, lang_of, reply, tr
from cogs._base import FeatureCog

log = logging.getLogger(__name__)
_T = app_commands.locale_str
PREFIX = "kinship:mentors:"
#: One pairing's monthly check-in per tick, and only when a DM slot is free (DMs stay paced).
CHECKIN_EVERY = 60


async def _guild_lang(bot: KinshipBot, guild_id: int) -> str:
    return (await bot.services.guilds.get(guild_id)).language


def decision_view(match_id: int, lang: str) -> discord.ui.View:
    """Accept / Decline of a proposal."""
    view = discord.ui.View(timeout=None)
    view.add_item(DecisionButton("accept", match_id, i18n.t("mentors.accept", lang)))
    view.add_item(DecisionButton("decline", match_id, i18n.t("mentors.decline", lang)))
    return view


async def _dm(bot: KinshipBot, user_id: int, content: str, view: discord.ui.View | None = None) -> bool:
    """Send a DM; False when it could not be delivered (closed DMs are not retried)."""
    outcome, _ = await send_dm(bot, user_id, content, view=view)
    return outcome == "sent"


class DecisionButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=PREFIX + r"(?P<action>accept|decline):(?P<id>[0-9]{1,20})",
):
    """Accept or decline a proposal (the mentee in the server, the mentor in a DM)."""

    def __init__(self, action: str, match_id: int, label: str | None = None) -> None:
        style = discord.ButtonStyle.success if action == "accept" else discord.ButtonStyle.secondary
        super().__init__(
            discord.ui.Button(label=label or action.title(), style=style, custom_id=f"{PREFIX}{action}:{match_id}")
        )
        self.action, self.match_id = action, match_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> DecisionButton:
        """Rebuild the button from its custom_id."""
        return cls(match["action"], int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Record the decision and move the pairing on."""
        await guarded(interaction, lambda: self._decide(interaction))

    async def _decide(self, interaction: discord.Interaction) -> None:
        bot = kbot(interaction)
        mentors, me = bot.services.mentors, interaction.user.id
        if self.action == "decline":
            match = await mentors.decline(self.match_id, me, bot.now())
            await reply(interaction, await tr(interaction, "mentors.declined"))
            if me == match.mentor_id:  # the mentee asked; tell them kindly, without reasons
                lang = await _guild_lang(bot, match.guild_id)
                await _dm(bot, match.mentee_id, i18n.t("mentors.mentor_declined", lang, topic=match.topic))
            return
        outcome = await mentors.accept(self.match_id, me, bot.now())
        match = outcome.match
        if outcome.waiting_for == "mentor":
            await _ask_mentor(bot, interaction, match)
        elif outcome.full:
            await reply(interaction, await tr(interaction, "mentors.full"))
            lang = await _guild_lang(bot, match.guild_id)
            await _dm(bot, match.mentee_id, i18n.t("mentors.mentor_full", lang, topic=match.topic))
        elif outcome.started:
            thread = await _introduce(bot, match)
            key = "mentors.started" if thread else "mentors.started_no_thread"
            await reply(interaction, await tr(interaction, key, thread=thread.mention if thread else ""))


async def _ask_mentor(bot: KinshipBot, interaction: discord.Interaction, match: MatchInfo) -> None:
    lang = await _guild_lang(bot, match.guild_id)
    text = i18n.t(
        "mentors.mentor_request",
        lang,
        mentee=f"<@{match.mentee_id}>",
        topic=match.topic,
        guild=await bot.guild_name(match.guild_id),
    )
    if await _dm(bot, match.mentor_id, text, decision_view(match.id, lang)):
        await reply(interaction, await tr(interaction, "mentors.asked", mentor=f"<@{match.mentor_id}>"))
        return
    await bot.services.mentors.unreachable(match.id, bot.now())
    await reply(interaction, await tr(interaction, "mentors.unreachable"))


async def _introduce(bot: KinshipBot, match: MatchInfo) -> discord.Thread | None:
    """Open a private thread in the help channel and introduce both sides (pinging only them)."""
    settings = await bot.services.guilds.get(match.guild_id)
    try:
        channel = await bot.channel_of(match.guild_id, settings.help_channel_id)
    except discord.HTTPException as error:
        code = problem_code(classify(error))
        await bot.services.health.report(match.guild_id, "mentors.thread", code, bot.now(), "help channel")
        return None
    if not isinstance(channel, discord.TextChannel):
        await bot.services.health.report(match.guild_id, "mentors.thread", "channel_missing", bot.now(), "help channel")
        return None
    lang = settings.language
    thread: discord.Thread | None = None
    try:
        thread = await channel.create_thread(
            name=i18n.t("mentors.thread_name", lang, topic=match.topic)[:100],
            type=discord.ChannelType.private_thread,
            invitable=False,
        )
        for member_id in (match.mentor_id, match.mentee_id):
            await thread.add_user(discord.Object(id=member_id))
        view = discord.ui.View(timeout=None)
        view.add_item(CheckinToggle(match.id, i18n.t("mentors.checkin_button", lang)))
        await thread.send(
            i18n.t(
                "mentors.intro", lang, mentor=f"<@{match.mentor_id}>", mentee=f"<@{match.mentee_id}>", topic=match.topic
            ),
            view=view,
            allowed_mentions=discord.AllowedMentions(
                users=[discord.Object(match.mentor_id), discord.Object(match.mentee_id)], everyone=False, roles=False
            ),
        )
    except discord.HTTPException as error:
        outcome = classify(error)
        code = problem_code(outcome)
        await bot.services.health.report(match.guild_id, "mentors.thread", code, bot.now(), f"#{channel.name}")
        if thread is not None:  # half set up: don't leave an empty private thread behind
            try:
                await thread.delete()
            except discord.HTTPException:
                log.warning("could not remove the unfinished mentor thread %s", thread.id)
        return None
    await bot.services.mentors.set_thread(match.id, thread.id)
    await bot.services.health.clear(match.guild_id, "mentors.thread")
    return thread


class CheckinToggle(discord.ui.DynamicItem[discord.ui.Button[Any]], template=PREFIX + r"checkin:(?P<id>[0-9]{1,20})"):
    """Turn the pairing's monthly "is this still working for you?" DM on or off."""

    def __init__(self, match_id: int, label: str = "Monthly check-in") -> None:
        super().__init__(
            discord.ui.Button(label=label, style=discord.ButtonStyle.secondary, custom_id=f"{PREFIX}checkin:{match_id}")
        )
        self.match_id = match_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CheckinToggle:
        """Rebuild the button from its custom_id."""
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Toggle."""
        await guarded(interaction, lambda: self._toggle(interaction))

    async def _toggle(self, interaction: discord.Interaction) -> None:
        match = await kbot(interaction).services.mentors.set_checkin(self.match_id, interaction.user.id)
        await reply(
            interaction,
            await tr(
                interaction, "mentors.checkin_on" if match.wants_checkin(interaction.user.id) else "mentors.checkin_off"
            ),
        )


class MentorsCog(FeatureCog):
    """Mentoring: offers, matching with consent on both sides, kind endings."""

    mentor = app_commands.Group(name="mentor", description=_T("Find a mentor or offer to be one"), guild_only=True)

    async def cog_load(self) -> None:
        """Register the persistent buttons and the monthly check-in job."""
        await super().cog_load()
        self.bot.add_dynamic_items(DecisionButton, CheckinToggle)
        self.bot.scheduler.every("mentors.checkin", CHECKIN_EVERY, self._checkin_job, per_guild=True)

    async def cog_unload(self) -> None:
        """Stop the job and forget the buttons."""
        self.bot.scheduler.remove("mentors.checkin")
        self.bot.remove_dynamic_items(DecisionButton, CheckinToggle)
        await super().cog_unload()

    @mentor.command(name="offer", description=_T("Offer to mentor others on some topics"))
    @app_commands.describe(
        topics=_T("Topics, separated by commas"),
        capacity=_T("How many mentees at a time"),
        timezone=_T("Your time zone, e.g. Europe/Berlin (helps matching)"),
    )
    async def offer(
        self,
        interaction: discord.Interaction,
        topics: app_commands.Range[str, 1, 300],
        capacity: app_commands.Range[int, 1, 10],
        timezone: app_commands.Range[str, 1, 64] | None = None,
    ) -> None:
        """Offer, update or resume mentoring."""
        assert interaction.guild_id is not None
        info = await self.services.mentors.offer(
            interaction.guild_id,
            interaction.user.id,
            topics=topics,
            capacity=capacity,
            timezone=timezone,
            now=self.bot.now(),
        )
        await reply(
            interaction, await tr(interaction, "mentors.offered", topics=", ".join(info.topics), capacity=info.capacity)
        )

    @mentor.command(name="pause", description=_T("Take a break from new mentees"))
    async def pause(self, interaction: discord.Interaction) -> None:
        """No new proposals until /mentor offer."""
        assert interaction.guild_id is not None
        await self.services.mentors.pause(interaction.guild_id, interaction.user.id, self.bot.now())
        await reply(interaction, await tr(interaction, "mentors.paused"))

    @mentor.command(name="leave", description=_T("Stop being a mentor"))
    async def leave(self, interaction: discord.Interaction) -> None:
        """Remove the offer; running pairings go on."""
        assert interaction.guild_id is not None
        running = await self.services.mentors.leave(interaction.guild_id, interaction.user.id, self.bot.now())
        await reply(interaction, await tr(interaction, "mentors.left", running=running))

    @mentor.command(name="find", description=_T("Find a mentor for a topic"))
    @app_commands.describe(topic=_T("What you would like support with"), timezone=_T("Your time zone (optional)"))
    async def find(
        self,
        interaction: discord.Interaction,
        topic: app_commands.Range[str, 1, 40],
        timezone: app_commands.Range[str, 1, 64] | None = None,
    ) -> None:
        """Propose a match; the mentee accepts here, then the mentor is asked."""
        assert interaction.guild_id is not None
        settings = await self.services.guilds.get(interaction.guild_id)
        if settings.help_channel_id is None:
            raise NotConfigured("mentors.errors.no_channel")
        match = await self.services.mentors.find(
            interaction.guild_id, interaction.user.id, topic, self.bot.now(), timezone=timezone
        )
        lang = await lang_of(interaction)
        embed = discord.Embed(
            title=i18n.t("mentors.proposal_title", lang),
            description=i18n.t("mentors.proposal", lang, mentor=f"<@{match.mentor_id}>", topic=match.topic),
            colour=COLOR,
        )
        await reply(interaction, embed=embed, view=decision_view(match.id, lang))

    @offer.autocomplete("timezone")
    @find.autocomplete("timezone")
    async def timezone_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """IANA time zone names."""
        return [app_commands.Choice(name=z, value=z) for z in suggest_timezones(current)]

    @mentor.command(name="end", description=_T("End a mentoring pairing, kindly"))
    @app_commands.describe(member=_T("Your mentor or mentee"))
    async def end(self, interaction: discord.Interaction, member: discord.Member) -> None:
        """End the pairing; both are told."""
        assert interaction.guild_id is not None
        match = await self.services.mentors.end(interaction.guild_id, interaction.user.id, member.id, self.bot.now())
        lang = await _guild_lang(self.bot, interaction.guild_id)
        note = i18n.t("mentors.ended_other", lang, member=f"<@{interaction.user.id}>", topic=match.topic)
        await _dm(self.bot, member.id, note)
        if match.thread_id and isinstance(thread := self.bot.get_channel(match.thread_id), discord.Thread):
            try:
                await thread.send(i18n.t("mentors.ended_thread", lang), allowed_mentions=NO_PINGS)
            except discord.HTTPException as error:
                log.info("could not post the goodbye in thread %s: %s", thread.id, classify(error))
        await reply(interaction, await tr(interaction, "mentors.ended", member=member.mention))

    @mentor.command(name="block", description=_T("Never be matched with this member"))
    @app_commands.describe(member=_T("The member"))
    async def block(self, interaction: discord.Interaction, member: discord.Member) -> None:
        """Quietly never match the two."""
        assert interaction.guild_id is not None
        await self.services.mentors.block(interaction.guild_id, interaction.user.id, member.id, self.bot.now())
        await reply(interaction, await tr(interaction, "mentors.blocked"))

    async def _checkin_job(self, now: datetime) -> None:
        """Monthly "is this still working for you?" to each side that opted in: one pairing per tick,
        of this process's guilds (each process paces its own DMs)."""
        if not self.bot.dm_pacer.ready(now):
            return
        for match in await self.services.mentors.claim_checkins(now, limit=1, scope=self.bot.guild_scope):
            lang = await _guild_lang(self.bot, match.guild_id)
            for member_id in match.checkin_recipients:
                other = f"<@{match.other(member_id)}>"
                await _dm(self.bot, member_id, i18n.t("mentors.checkin_dm", lang, other=other, topic=match.topic))


async def setup(bot: KinshipBot) -> None:
    """Extension entry point."""
    await bot.add_cog(MentorsCog(bot))
