"""Surveys: ``/survey create|results``, the **Answer** button, and the opt-in monthly pulse."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

import discord
from discord import app_commands

from bot import i18n
from bot.app import KinshipBot
from bot.delivery import classify, problem_code
from bot.services.surveys import Question, SurveyInfo, SurveyResults
from bot.ui import COLOR, NO_PINGS, KinshipModal, guarded, kbot, lang_of, moderator_only, reply, tr, within_limits
from cogs._base import FeatureCog

log = logging.getLogger(__name__)
_T = app_commands.locale_str
ANSWER_PREFIX = "kinship:surveys:answer:"
PULSE_EVERY = 3600
CLOSE_EVERY = 600
BAR = "█"


def question_text(survey: SurveyInfo, question: Question, lang: str) -> str:
    """The question as members read it (the pulse question comes from the catalogue)."""
    return i18n.t("surveys.pulse_question", lang) if survey.kind == "pulse" else question.text


def survey_title(survey: SurveyInfo, lang: str) -> str:
    """The survey's title (the pulse's from the catalogue)."""
    return i18n.t("surveys.pulse_title", lang) if survey.kind == "pulse" else survey.title


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def survey_embed(survey: SurveyInfo, lang: str) -> discord.Embed:
    """The post members see, with the questions and the closing time."""
    lines = [f"**{n}.** {question_text(survey, q, lang)}" for n, q in enumerate(survey.questions, 1)]
    lines.append("")
    lines.append(i18n.t("surveys.closes", lang, when=discord.utils.format_dt(survey.closes_at, "R")))
    embed = discord.Embed(title=_cut(survey_title(survey, lang), 256), description="\n".join(lines), colour=COLOR)
    embed.set_footer(text=i18n.t("surveys.anonymous_note" if survey.anonymous else "surveys.named_note", lang))
    return embed


def results_embed(results: SurveyResults, lang: str) -> discord.Embed:
    """Aggregates only; nothing for small anonymous groups."""
    survey = results.survey
    embed = discord.Embed(title=_cut(survey_title(survey, lang), 256), colour=COLOR)
    embed.description = i18n.t("surveys.respondents", lang, count=results.respondents, id=survey.id)
    if results.hidden:
        embed.description += "\n" + i18n.t("surveys.hidden", lang)
        return embed
    for n, item in enumerate(results.questions, 1):
        name = _cut(f"{n}. {question_text(survey, item.question, lang)}", 256)
        if item.question.kind == "scale":
            mean = f"{item.mean:.2f}" if item.mean is not None else "–"
            bars = "\n".join(f"`{k}` {BAR * min(c, 20)} {c}" for k, c in item.distribution)
            value = i18n.t("surveys.mean", lang, mean=mean) + "\n" + bars
        elif item.question.kind == "choice":
            value = "\n".join(f"{_cut(o, 60)}: {BAR * min(c, 20)} {c}" for o, c in item.distribution)
        else:
            value = "\n".join(f"• {_cut(' '.join(t.split()), 300)}" for t in item.texts) or "–"
        embed.add_field(name=name, value=_cut(value, 1024), inline=False)
    return within_limits(embed)


class AnswerButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=ANSWER_PREFIX + r"(?P<id>[0-9]{1,20})"):
    """**Answer**: opens the survey's questions in a modal."""

    def __init__(self, survey_id: int, label: str = "Answer") -> None:
        super().__init__(
            discord.ui.Button(label=label, style=discord.ButtonStyle.primary, custom_id=f"{ANSWER_PREFIX}{survey_id}")
        )
        self.survey_id = survey_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> AnswerButton:
        """Rebuild the button from its custom_id."""
        return cls(int(match["id"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        """Show the questions (when the survey is still open)."""
        await guarded(interaction, lambda: self._open(interaction))

    async def _open(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        bot = kbot(interaction)
        survey = await bot.services.surveys.open_survey(interaction.guild_id, self.survey_id, bot.now())
        await interaction.response.send_modal(AnswerModal(survey, await lang_of(interaction)))


def answer_view(survey_id: int, lang: str) -> discord.ui.View:
    """The persistent Answer button of a survey post."""
    view = discord.ui.View(timeout=None)
    view.add_item(AnswerButton(survey_id, i18n.t("surveys.answer", lang)))
    return view


class AnswerModal(KinshipModal):
    """One text input per question: labels ≤ 45 characters, the full question in the placeholder."""

    def __init__(self, survey: SurveyInfo, lang: str) -> None:
        super().__init__(title=_cut(survey_title(survey, lang), 45))
        self.survey = survey
        self.inputs: list[discord.ui.TextInput[AnswerModal]] = []
        for n, question in enumerate(survey.questions):
            text = question_text(survey, question, lang)
            if question.kind == "scale":
                hint = i18n.t("surveys.scale_hint", lang)
            elif question.kind == "choice":
                hint = " / ".join(question.options)
            else:
                hint = i18n.t("surveys.text_hint", lang)
            field = discord.ui.TextInput(
                label=_cut(text, 45),
                custom_id=f"q{n}",
                style=discord.TextStyle.paragraph if question.kind == "text" else discord.TextStyle.short,
                required=question.kind != "text",
                max_length={"scale": 1, "choice": 80}.get(question.kind, 1000),
                placeholder=_cut(hint if len(text) <= 45 else f"{text} ({hint})", 100),
            )
            self.inputs.append(field)
            self.add_item(field)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Validate and store; answering again replaces the earlier answer."""
        assert interaction.guild_id is not None
        bot = kbot(interaction)
        replaced = await bot.services.surveys.answer(
            interaction.guild_id, self.survey.id, interaction.user.id, [f.value for f in self.inputs], bot.now()
        )
        await reply(interaction, await tr(interaction, "surveys.replaced" if replaced else "surveys.thanks"))


class QuestionsModal(KinshipModal):
    """The questions of a new survey, one per line."""

    def __init__(self, lang: str, *, title: str, anonymous: bool, hours: int, channel: discord.TextChannel) -> None:
        super().__init__(title=i18n.t("surveys.questions_title", lang))
        self.survey_title, self.anonymous, self.hours, self.channel = title, anonymous, hours, channel
        self.questions: discord.ui.TextInput[QuestionsModal] = discord.ui.TextInput(
            label=i18n.t("surveys.questions_label", lang),
            custom_id="questions",
            style=discord.TextStyle.paragraph,
            max_length=2000,
            placeholder=i18n.t("surveys.questions_placeholder", lang),
        )
        self.add_item(self.questions)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Create the survey and post it."""
        assert interaction.guild_id is not None
        bot = kbot(interaction)
        survey = await bot.services.surveys.create(
            interaction.guild_id,
            interaction.user.id,
            title=self.survey_title,
            anonymous=self.anonymous,
            closes_in_hours=self.hours,
            questions_text=self.questions.value,
            now=bot.now(),
        )
        settings = await bot.services.guilds.get(interaction.guild_id)
        try:
            message = await self.channel.send(
                embed=survey_embed(survey, settings.language),
                view=answer_view(survey.id, settings.language),
                allowed_mentions=NO_PINGS,
                nonce=f"ks{survey.id}"[:25],  # a retry cannot post the pulse twice
            )
        except discord.HTTPException as error:
            log.info("could not post survey %s: %s", survey.id, classify(error))
            await reply(interaction, await tr(interaction, "surveys.post_failed", channel=self.channel.mention))
            return
        await bot.services.surveys.set_message(survey.id, self.channel.id, message.id)
        await reply(interaction, await tr(interaction, "surveys.posted", id=survey.id, channel=self.channel.mention))


class SurveysCog(FeatureCog):
    """Listening to members: surveys and the monthly pulse."""

    setup_children = ("setup_pulse",)

    survey = app_commands.Group(
        name="survey",
        description=_T("Ask members for their views (moderators)"),
        guild_only=True,
        default_permissions=discord.Permissions(manage_messages=True),
    )

    async def cog_load(self) -> None:
        """Register the Answer button and the pulse/close jobs."""
        await super().cog_load()
        self.bot.add_dynamic_items(AnswerButton)
        self.bot.scheduler.every("surveys.pulse", PULSE_EVERY, self._pulse_job, per_guild=True)
        # Database only (wipes keys of closed anonymous surveys): the leader does it for every guild.
        self.bot.scheduler.every("surveys.close", CLOSE_EVERY, self._close_job)

    async def cog_unload(self) -> None:
        """Stop the jobs and forget the button."""
        self.bot.scheduler.remove("surveys.pulse")
        self.bot.scheduler.remove("surveys.close")
        self.bot.remove_dynamic_items(AnswerButton)
        await super().cog_unload()

    @survey.command(name="create", description=_T("Post a survey with up to 5 questions"))
    @app_commands.describe(
        title=_T("What the survey is about"),
        anonymous=_T("Anonymous: answers are not linked to members"),
        closes_in=_T("Hours until the survey closes"),
        channel=_T("Where to post it (default: here)"),
    )
    @moderator_only()
    async def create(
        self,
        interaction: discord.Interaction,
        title: app_commands.Range[str, 1, 100],
        anonymous: bool,
        closes_in: app_commands.Range[int, 1, 1440],
        channel: discord.TextChannel | None = None,
    ) -> None:
        """Ask for the questions in a modal, then post."""
        target = channel or interaction.channel
        if not isinstance(target, discord.TextChannel):
            await reply(interaction, await tr(interaction, "surveys.errors.bad_channel"))
            return
        modal = QuestionsModal(
            await lang_of(interaction), title=title, anonymous=anonymous, hours=closes_in, channel=target
        )
        await interaction.response.send_modal(modal)

    @survey.command(name="results", description=_T("See a survey's results (moderators)"))
    @app_commands.describe(survey_id=_T("The survey's number"))
    @app_commands.rename(survey_id=_T("survey"))
    @moderator_only()
    async def results(self, interaction: discord.Interaction, survey_id: app_commands.Range[int, 1]) -> None:
        """Aggregates, ephemeral."""
        assert interaction.guild_id is not None
        results = await self.services.surveys.results(interaction.guild_id, survey_id)
        await reply(interaction, embed=results_embed(results, await lang_of(interaction)))

    @app_commands.command(name="pulse", description=_T("A monthly question: how supported do members feel?"))
    @app_commands.describe(enabled=_T("On or off"), channel=_T("Where to post it (default: the check-in channel)"))
    @app_commands.checks.has_permissions(manage_guild=True)
    async def setup_pulse(
        self, interaction: discord.Interaction, enabled: bool, channel: discord.TextChannel | None = None
    ) -> None:
        """Opt in to (or out of) the monthly pulse."""
        assert interaction.guild_id is not None
        settings = await self.services.guilds.get(interaction.guild_id)
        channel_id = channel.id if channel else settings.checkin_channel_id or interaction.channel_id
        saved = await self.services.surveys.set_pulse(interaction.guild_id, enabled, channel_id, self.bot.now())
        key = "surveys.pulse_on" if saved.enabled else "surveys.pulse_off"
        await reply(interaction, await tr(interaction, key, channel=f"<#{saved.channel_id}>"))

    async def _pulse_job(self, now: datetime) -> None:
        """Post this month's pulse in every guild of this process that opted in (idempotent: one
        per guild and month)."""
        for survey, channel_id in await self.services.surveys.claim_pulses(now, scope=self.bot.guild_scope):
            await self._post_pulse(survey, channel_id, now)

    async def _post_pulse(self, survey: SurveyInfo, channel_id: int, now: datetime) -> None:
        surveys, health = self.services.surveys, self.services.health
        if not self.bot.owns_guild(survey.guild_id):  # not ours to post (nor to call missing)
            await surveys.release_claim(survey.id)
            return
        settings = await self.services.guilds.get(survey.guild_id)
        channel = self.bot.get_channel(channel_id)
        if not isinstance(channel, discord.TextChannel):
            await health.report(survey.guild_id, "surveys.pulse", "channel_missing", now, detail="pulse channel")
            await surveys.release_claim(survey.id)
            return
        try:
            message = await channel.send(
                embed=survey_embed(survey, settings.language),
                view=answer_view(survey.id, settings.language),
                allowed_mentions=NO_PINGS,
            )
        except discord.HTTPException as error:
            outcome = classify(error)
            code = problem_code(outcome)
            await health.report(survey.guild_id, "surveys.pulse", code, now, detail=f"#{channel.name}")
            await surveys.release_claim(survey.id)
            return
        await surveys.set_message(survey.id, channel.id, message.id)
        await health.clear(survey.guild_id, "surveys.pulse")

    async def _close_job(self, now: datetime) -> None:
        """Unlink closed anonymous surveys from their respondents."""
        wiped = await self.services.surveys.wipe_closed(now)
        if wiped:
            log.info("unlinked %d closed anonymous survey(s)", wiped)


async def setup(bot: KinshipBot) -> None:
    """Extension entry point."""
    await bot.add_cog(SurveysCog(bot))
