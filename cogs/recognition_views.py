"""Discord pieces of recognition: the one-tap thanks button, the reason modal, and rendering."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import discord

from bot import i18n
from bot.app import KinshipBot
from bot.delivery import classify, problem_code, send_dm
from bot.services.recognition import Grant, PointsSummary, Standing, ThanksResult, WeeklyPost
from bot.ui import COLOR, KinshipModal, format_when, guarded, kbot, reply, tr
from cogs._ids import THANK, thank_custom_id

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()


def ping_only(user_id: int) -> discord.AllowedMentions:
    """Mentions that ping the thanked member and nobody else (not even @everyone in the reason)."""
    return discord.AllowedMentions(everyone=False, roles=False, replied_user=False, users=[discord.Object(user_id)])


def quote(text: str) -> str:
    """A member's reason, safe inside our sentence (no markdown breaking out of it)."""
    return discord.utils.escape_markdown(text)


async def give_thanks(
    interaction: discord.Interaction,
    receiver: discord.abc.User | int,
    *,
    reason: str,
    source: str,
    ref: int | None = None,
    message: discord.Message | None = None,
) -> None:
    """Thank ``receiver`` for ``interaction.user``: one service call, then the public message (or a
    DM for private recognition), the giver's ephemeral receipt, and any milestone roles."""
    bot = kbot(interaction)
    guild = interaction.guild
    if guild is None:
        raise discord.app_commands.NoPrivateMessage
    receiver_id = receiver if isinstance(receiver, int) else receiver.id
    user = receiver if not isinstance(receiver, int) else bot.get_user(receiver_id)
    is_bot = receiver_id == (bot.user.id if bot.user else 0) or bool(user and user.bot)
    result = await bot.services.recognition.thank(
        guild.id,
        interaction.user.id,
        receiver_id,
        reason=reason,
        source=source,
        now=bot.now(),
        receiver_is_bot=is_bot,
        message_id=message.id if message else None,
        channel_id=interaction.channel_id,
        ref=ref,
    )
    lang = (await bot.services.guilds.get(guild.id)).language
    text = thanks_text(lang, receiver_id, interaction.user.id, reason, message)
    if result.private:
        await reply(interaction, await tr(interaction, "recognition.sent_private", receiver=f"<@{receiver_id}>"))
        await send_dm(bot, receiver_id, i18n.t("recognition.dm", lang, guild=guild.name, text=text))
    else:
        await reply(interaction, text, ephemeral=False, allowed_mentions=ping_only(receiver_id))
        await reply(interaction, await receipt(interaction, result))
    for grant, role_name in await grant_roles(bot, result.milestones):
        congrats = i18n.t(
            "recognition.milestone", lang, member=f"<@{grant.member_id}>", threshold=grant.threshold, role=role_name
        )
        if result.private:
            await send_dm(bot, grant.member_id, congrats)
        else:
            await reply(interaction, congrats, ephemeral=False)


def thanks_text(lang: str, receiver_id: int, giver_id: int, reason: str, message: discord.Message | None) -> str:
    """The public thanks line (also the body of the private DM)."""
    reason = " ".join(reason.split())
    key = "recognition.public" if reason else "recognition.public_no_reason"
    text = i18n.t(key, lang, receiver=f"<@{receiver_id}>", giver=f"<@{giver_id}>", reason=quote(reason))
    if message is not None:
        text += "\n" + i18n.t("recognition.for_message", lang, link=message.jump_url)
    return text[:2000]


async def receipt(interaction: discord.Interaction, result: ThanksResult) -> str:
    """The giver's ephemeral confirmation, explaining a reduced amount."""
    receiver = f"<@{result.receiver_id}>"
    if result.previous:
        return await tr(
            interaction, "recognition.sent_diminished", receiver=receiver, amount=result.amount, count=result.previous
        )
    return await tr(interaction, "recognition.sent", receiver=receiver, amount=result.amount)


async def grant_roles(
    bot: KinshipBot, grants: tuple[Grant, ...] | list[Grant], *, claimed: bool = False
) -> list[tuple[Grant, str]]:
    """Give milestone roles (each claimed once); returns what was given with the role's name. A
    missing permission or a role above the bot's is reported for ``/setup show`` and the grant is
    marked failed — not retried until an admin saves that milestone again. Grants of a guild on
    another process's shards are not claimed: they stay pending for that process's job."""
    service, health, now = bot.services.recognition, bot.services.health, bot.now()
    if not claimed:
        grants = await service.claim_grants(now, ids=[g.id for g in grants], scope=bot.guild_scope)
    given: list[tuple[Grant, str]] = []
    for grant in grants:
        if not bot.owns_guild(grant.guild_id):
            continue  # claimed elsewhere by mistake: the claim goes stale and the owner's job retries it
        guild = bot.get_guild(grant.guild_id)
        role = guild.get_role(grant.role_id) if guild else None
        key = f"recognition.role.{grant.role_id}"
        if guild is None or role is None:
            if guild is not None:
                detail = f"milestone role for {grant.threshold} points was deleted"
                await health.report(grant.guild_id, key, "other", now, detail=detail)
            await service.finish_grant(grant.id, False, now)
            continue
        me = guild.me
        if me is None or not me.guild_permissions.manage_roles or role >= me.top_role:
            await _role_problem(bot, grant, role, now)
            continue
        try:
            await bot.http.add_role(guild.id, grant.member_id, role.id, reason=f"Reached {grant.threshold} points")
        except discord.HTTPException as error:
            outcome = classify(error)
            if outcome == "forbidden":
                await _role_problem(bot, grant, role, now)
            elif outcome != "retry":  # the member left: nothing to give
                await service.finish_grant(grant.id, False, now)
            continue  # "retry": the claim goes stale and the job tries again later
        await service.finish_grant(grant.id, True, now)
        await health.clear(guild.id, key)
        given.append((grant, role.name))
    return given


async def _role_problem(bot: KinshipBot, grant: Grant, role: discord.Role, now: datetime) -> None:
    detail = f"Manage Roles, with my role above “{role.name}” (milestone {grant.threshold} points)"
    await bot.services.health.report(
        grant.guild_id, f"recognition.role.{role.id}", "missing_permission", now, detail=detail
    )
    await bot.services.recognition.finish_grant(grant.id, False, now)


class ThankButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=THANK):
    """The one-tap thanks offered e.g. when a help request is resolved (``cogs._ids.THANK``): the
    clicker thanks ``receiver_id`` under the usual rules, with ``source`` and ``ref`` recorded."""

    def __init__(self, receiver_id: int, source: str, ref: int, *, label: str = "Say thanks") -> None:
        super().__init__(
            discord.ui.Button(
                label=label,
                emoji="💚",
                style=discord.ButtonStyle.success,
                custom_id=thank_custom_id(receiver_id, source, ref),
            )
        )
        self.receiver_id, self.source, self.ref = receiver_id, source, ref

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button[Any], match: Any, /
    ) -> ThankButton:
        """Rebuild the button from its custom_id (survives restarts)."""
        return cls(int(match["receiver_id"]), match["source"], int(match["ref"]), label=item.label or "Say thanks")

    async def callback(self, interaction: discord.Interaction) -> None:
        """Thank the receiver for the clicker."""
        await guarded(
            interaction, lambda: give_thanks(interaction, self.receiver_id, reason="", source=self.source, ref=self.ref)
        )


class ThankModal(KinshipModal):
    """Asks for the reason when thanking a message's author from the context menu."""

    def __init__(self, message: discord.Message, lang: str) -> None:
        name = message.author.display_name
        super().__init__(title=i18n.t("recognition.modal.title", lang, name=name)[:45])
        self.message = message
        self.reason: discord.ui.TextInput[ThankModal] = discord.ui.TextInput(
            label=i18n.t("recognition.modal.label", lang)[:45],
            placeholder=i18n.t("recognition.modal.placeholder", lang)[:100],
            custom_id="reason",
            max_length=200,
            required=True,
        )
        self.add_item(self.reason)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Thank the author for the message."""
        await give_thanks(
            interaction, self.message.author, reason=self.reason.value, source="message", message=self.message
        )


def points_embed(summary: PointsSummary, name: str, lang: str, *, detailed: bool = True) -> discord.Embed:
    """``/points``: totals over rolling windows and, when ``detailed`` (one's own, or a moderator
    asking), the latest entries with their ids and givers."""
    embed = discord.Embed(title=i18n.t("recognition.points.title", lang, name=name)[:256], colour=COLOR)
    embed.add_field(name=i18n.t("recognition.points.total", lang), value=str(summary.total))
    embed.add_field(name=i18n.t("recognition.points.week", lang), value=str(summary.week))
    embed.add_field(name=i18n.t("recognition.points.month", lang), value=str(summary.month))
    if not detailed:
        return embed
    lines = []
    for e in summary.recent:
        source = (
            i18n.t(f"recognition.source.{e.source}", lang) if i18n.has(f"recognition.source.{e.source}") else e.source
        )
        line = i18n.t(
            "recognition.points.entry", lang, id=e.id, amount=e.amount, source=source, when=format_when(e.created_at)
        )
        if e.giver_id:
            line += " " + i18n.t("recognition.points.from", lang, giver=f"<@{e.giver_id}>")
        if e.revoked_at is not None:
            line = f"~~{line}~~ " + i18n.t("recognition.points.revoked", lang)
        lines.append(line)
    value = "\n".join(lines) or i18n.t("recognition.points.none", lang)
    embed.add_field(name=i18n.t("recognition.points.recent", lang), value=value[:1024], inline=False)
    if summary.prefs.hidden:
        embed.set_footer(text=i18n.t("recognition.points.hidden", lang))
    return embed


def leaderboard_embed(rows: list[Standing], period: str, lang: str) -> discord.Embed:
    """``/leaderboard``: mentions in an embed never ping."""
    lines = [
        i18n.t("recognition.leaderboard.line", lang, rank=i, member=f"<@{r.member_id}>", points=r.points)
        for i, r in enumerate(rows, 1)
    ]
    return discord.Embed(
        title=i18n.t(f"recognition.leaderboard.{period}", lang),
        description="\n".join(lines) or i18n.t("recognition.leaderboard.empty", lang),
        colour=COLOR,
    )


async def send_weekly(bot: KinshipBot, post: WeeklyPost) -> None:
    """Send one claimed weekly post (display names, no pings) and record the outcome."""
    service, health, now = bot.services.recognition, bot.services.health, bot.now()
    guild = bot.get_guild(post.guild_id)
    if guild is None:
        # The bot left (failed), or the guild is another process's: that one sends it ("retry").
        status = "failed" if bot.owns_guild(post.guild_id) else "retry"
        await service.finish_weekly_post(post.guild_id, post.week, status, now)
        return
    channel = guild.get_channel(post.channel_id) if post.channel_id else guild.system_channel
    if not isinstance(channel, discord.TextChannel):
        await health.report(guild.id, "recognition.weekly", "channel_missing", now, detail="weekly recognition post")
        await service.finish_weekly_post(guild.id, post.week, "failed", now)
        return
    title = i18n.t("recognition.weekly.title", post.language, week=post.week)
    if post.resumed and (earlier := await _posted_before(bot, channel, title)) is not None:
        # A crash between sending and recording: it is there, so record it instead of posting twice.
        await service.finish_weekly_post(guild.id, post.week, "sent", now, message_id=earlier.id)
        return
    lines = []
    for s in post.supporters:
        member = guild.get_member(s.member_id)
        if member is None:
            try:
                member = await guild.fetch_member(s.member_id)
            except discord.HTTPException:
                continue  # left the server
        name = discord.utils.escape_markdown(discord.utils.escape_mentions(member.display_name))
        lines.append(i18n.t("recognition.weekly.line", post.language, name=name, points=s.points))
    embed = discord.Embed(
        title=title,
        description=(i18n.t("recognition.weekly.intro", post.language) + "\n\n" + "\n".join(lines))[:4096],
        colour=COLOR,
    )
    embed.set_footer(text=i18n.t("recognition.weekly.footer", post.language))
    try:
        # A stable nonce: a retry after an ambiguous failure cannot post the week twice.
        nonce = f"kr{post.guild_id % 10**12}{post.week.replace('-W', '')}"[:25]
        sent = await channel.send(embed=embed, allowed_mentions=NO_PINGS, nonce=nonce)
    except discord.HTTPException as error:
        outcome = classify(error)
        if outcome == "retry":
            await service.finish_weekly_post(guild.id, post.week, "retry", now)
            return
        code = problem_code(outcome)
        await health.report(
            guild.id, "recognition.weekly", code, now, detail=f"weekly recognition post in #{channel.name}"
        )
        await service.finish_weekly_post(guild.id, post.week, "failed", now)
        return
    await service.finish_weekly_post(guild.id, post.week, "sent", now, message_id=sent.id)
    await health.clear(guild.id, "recognition.weekly")


async def _posted_before(bot: KinshipBot, channel: discord.TextChannel, title: str) -> discord.Message | None:
    """The week's post, if an earlier attempt sent it (the latest 25 messages are enough: it is
    looked for a few minutes after that attempt)."""
    try:
        async for message in channel.history(limit=25):
            if bot.user and message.author.id == bot.user.id and message.embeds and message.embeds[0].title == title:
                return message
    except discord.HTTPException as error:
        log.warning("could not read #%s to find an earlier weekly post: %s", channel.name, error)
    return None
