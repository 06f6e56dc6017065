"""Surveys and the monthly pulse (issue #11).

Questions are written one per line (at most 5), in a compact scheme::

    scale: How supported do you feel here?
    choice: Which evening suits you? | Monday | Wednesday | Friday
    text: Anything else you'd like us to know?

``scale`` answers are 1-5, ``choice`` answers one of the options (2-10 of them), ``text`` answers
free text (optional). A member answers once; answering again replaces the earlier answer.

Anonymous surveys store no member id with the answers. The one-answer rule uses a
``respondent_key`` = SHA-256(survey salt, member id); when the survey closes, the
``surveys.close`` job wipes the salt and the keys (:meth:`SurveyService.wipe_closed`), after which
answers cannot be linked to anyone. Results of anonymous surveys are only shown once at least
:data:`MIN_GROUP` members answered (smaller groups could be re-identified); text answers are shown
for named surveys, or from :data:`MIN_GROUP` answers on.

The **pulse** ("How supported do you feel here?" 1-5) is an anonymous one-question survey posted
once per calendar month (UTC) in guilds that opted in; the unique key (guild, month) makes the
job idempotent. :meth:`SurveyService.pulse_summary` feeds ``/stats``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.errors import InvalidInput, NotFound
from bot.models.surveys import Survey, SurveyResponse, SurveySettings
from bot.services.context import ServiceContext
from bot.sharding import GuildScope, in_scope

MAX_QUESTIONS = 5
MAX_OPTIONS = 10
MIN_GROUP = 5
MAX_TEXT_ANSWER = 1000
PULSE_QUESTION = "pulse"  # rendered from the catalogue in the guild's language
PULSE_OPEN = timedelta(days=7)
#: A pulse post claimed by a process that then died is retried after this long.
CLAIM_TIMEOUT = timedelta(minutes=10)
KINDS = ("scale", "choice", "text")


@dataclass(frozen=True, slots=True)
class Question:
    """One question: ``kind`` is scale, choice or text."""

    kind: str
    text: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SurveyInfo:
    """A survey as plain data."""

    id: int
    guild_id: int
    kind: str
    title: str
    anonymous: bool
    questions: tuple[Question, ...]
    created_at: datetime
    closes_at: datetime
    channel_id: int | None
    message_id: int | None
    pulse_month: str | None

    def is_open(self, now: datetime) -> bool:
        """Whether answers are still accepted."""
        return now < self.closes_at


@dataclass(frozen=True, slots=True)
class QuestionResult:
    """The aggregate of one question. ``distribution`` maps 1-5 (scale) or option (choice) to counts."""

    question: Question
    answered: int
    mean: float | None = None
    distribution: tuple[tuple[str, int], ...] = ()
    texts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SurveyResults:
    """Aggregate results; ``hidden`` when an anonymous survey has fewer than :data:`MIN_GROUP` answers."""

    survey: SurveyInfo
    respondents: int
    hidden: bool
    questions: tuple[QuestionResult, ...]


@dataclass(frozen=True, slots=True)
class PulseMonth:
    """One month of the pulse; ``mean`` is ``None`` when fewer than :data:`MIN_GROUP` answered."""

    month: str
    responses: int
    mean: float | None


@dataclass(frozen=True, slots=True)
class PulseSummary:
    """Member satisfaction for ``/stats``: pulse answers since a date (only months with enough answers count)."""

    responses: int
    mean: float | None
    months: tuple[PulseMonth, ...]


@dataclass(frozen=True, slots=True)
class PulseSettings:
    """Whether a guild takes part in the monthly pulse and where it is posted."""

    guild_id: int
    enabled: bool
    channel_id: int | None


def parse_questions(text: str) -> tuple[Question, ...]:
    """Parse the compact question scheme (see the module docstring) or raise :class:`InvalidInput`."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise InvalidInput("surveys.errors.no_questions")
    if len(lines) > MAX_QUESTIONS:
        raise InvalidInput("surveys.errors.too_many_questions", limit=MAX_QUESTIONS)
    questions: list[Question] = []
    for number, line in enumerate(lines, 1):
        kind, sep, rest = line.partition(":")
        kind = kind.strip().lower()
        if not sep or kind not in KINDS:
            raise InvalidInput("surveys.errors.bad_line", number=number, line=line[:80])
        parts = [p.strip() for p in rest.split("|")]
        question = parts[0]
        if not question or len(question) > 300:
            raise InvalidInput("surveys.errors.bad_line", number=number, line=line[:80])
        options: tuple[str, ...] = ()
        if kind == "choice":
            options = tuple(dict.fromkeys(p[:80] for p in parts[1:] if p))
            if not 2 <= len(options) <= MAX_OPTIONS:
                raise InvalidInput("surveys.errors.bad_options", number=number, limit=MAX_OPTIONS)
        questions.append(Question(kind, question, options))
    return tuple(questions)


def respondent_key(salt: str, member_id: int) -> str:
    """The pseudonymous one-answer key (wiped when the survey closes)."""
    return hashlib.sha256(f"{salt}:{member_id}".encode()).hexdigest()


def month_key(now: datetime) -> str:
    """``YYYY-MM`` of an aware datetime (UTC)."""
    return f"{now.year:04d}-{now.month:02d}"


class SurveyService:
    """Creates surveys, stores answers, aggregates results and runs the monthly pulse."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.db = ctx.db
        self.events = ctx.events

    # ----------------------------------------------------------------- surveys

    async def create(
        self,
        guild_id: int,
        creator_id: int,
        *,
        title: str,
        anonymous: bool,
        closes_in_hours: int,
        questions_text: str,
        now: datetime,
    ) -> SurveyInfo:
        """Create a survey (moderators); it is open for ``closes_in_hours`` hours."""
        title = " ".join(title.split())
        if not title or len(title) > 100:
            raise InvalidInput("surveys.errors.bad_title")
        if not 1 <= closes_in_hours <= 24 * 60:
            raise InvalidInput("surveys.errors.bad_duration")
        questions = parse_questions(questions_text)
        async with self.db.session() as s:
            row = Survey(
                guild_id=guild_id,
                kind="survey",
                title=title,
                anonymous=anonymous,
                questions=_dump(questions),
                salt=secrets.token_hex(16),
                created_by=creator_id,
                created_at=now,
                closes_at=now + timedelta(hours=closes_in_hours),
            )
            s.add(row)
            await s.flush()
            return _info(row)

    async def set_message(self, survey_id: int, channel_id: int, message_id: int) -> None:
        """Remember where the survey was posted."""
        async with self.db.session() as s:
            row = await s.get(Survey, survey_id)
            if row is not None:
                row.channel_id, row.message_id = channel_id, message_id

    async def get(self, guild_id: int, survey_id: int) -> SurveyInfo:
        """A survey of the guild, or :class:`NotFound`."""
        async with self.db.session() as s:
            row = await s.get(Survey, survey_id)
        if row is None or row.guild_id != guild_id:
            raise NotFound("surveys.errors.not_found")
        return _info(row)

    async def open_survey(self, guild_id: int, survey_id: int, now: datetime) -> SurveyInfo:
        """A survey that still takes answers (for showing the questions), or a kind error."""
        survey = await self.get(guild_id, survey_id)
        if not survey.is_open(now):
            raise InvalidInput("surveys.errors.closed")
        return survey

    async def answer(self, guild_id: int, survey_id: int, member_id: int, raw: list[str], now: datetime) -> bool:
        """Validate and store a member's answers (one text per question). Returns ``True`` when this
        replaced an earlier answer."""
        async with self.db.session() as s:
            row = await s.get(Survey, survey_id)
            if row is None or row.guild_id != guild_id:
                raise NotFound("surveys.errors.not_found")
            if now >= row.closes_at or row.salt is None:
                raise InvalidInput("surveys.errors.closed")
            questions = _load(row.questions)
            answers = validate_answers(questions, raw)
            key = respondent_key(row.salt, member_id)
            existing = (
                await s.exec(
                    select(SurveyResponse).where(
                        SurveyResponse.survey_id == survey_id, SurveyResponse.respondent_key == key
                    )
                )
            ).first()
            if existing is not None:
                existing.answers, existing.answered_at = json.dumps(answers), now
                return True
            try:
                async with s.begin_nested():
                    s.add(
                        SurveyResponse(
                            survey_id=survey_id,
                            respondent_key=key,
                            member_id=None if row.anonymous else member_id,
                            answers=json.dumps(answers),
                            answered_at=now,
                        )
                    )
            except IntegrityError:
                raise InvalidInput("surveys.errors.try_again") from None
            return False

    async def results(self, guild_id: int, survey_id: int) -> SurveyResults:
        """Aggregate results (see the module docstring for what is hidden)."""
        async with self.db.session() as s:
            row = await s.get(Survey, survey_id)
            if row is None or row.guild_id != guild_id:
                raise NotFound("surveys.errors.not_found")
            rows = (await s.exec(select(SurveyResponse).where(SurveyResponse.survey_id == survey_id))).all()
            survey = _info(row)
            answers = [(r.member_id, json.loads(r.answers)) for r in rows]
        return aggregate(survey, answers)

    async def recent(self, guild_id: int, limit: int = 25) -> list[tuple[SurveyInfo, int]]:
        """The guild's latest surveys and pulses, newest first, each with its number of answers."""
        async with self.db.session() as s:
            rows = (
                await s.exec(
                    select(Survey).where(Survey.guild_id == guild_id).order_by(col(Survey.id).desc()).limit(limit)
                )
            ).all()
            ids = [r.id for r in rows]
            counts: dict[int, int] = {}
            if ids:
                counts = dict(
                    (
                        await s.exec(
                            select(SurveyResponse.survey_id, func.count())
                            .where(col(SurveyResponse.survey_id).in_(ids))
                            .group_by(SurveyResponse.survey_id)
                        )
                    ).all()
                )
        return [(_info(r), counts.get(r.id or 0, 0)) for r in rows]

    async def wipe_closed(self, now: datetime) -> int:
        """Unlink closed anonymous surveys from their respondents (salt and keys wiped). Idempotent."""
        async with self.db.session() as s:
            ids = (
                await s.exec(
                    select(Survey.id).where(
                        col(Survey.closes_at) <= now,
                        col(Survey.keys_wiped).is_(False),
                        col(Survey.anonymous).is_(True),
                    )
                )
            ).all()
            if not ids:
                return 0
            await s.exec(
                update(SurveyResponse).where(col(SurveyResponse.survey_id).in_(ids)).values(respondent_key=None)  # type: ignore[call-overload]
            )
            await s.exec(
                update(Survey).where(col(Survey.id).in_(ids)).values(salt=None, keys_wiped=True)  # type: ignore[call-overload]
            )
        return len(ids)

    # ------------------------------------------------------------------- pulse

    async def pulse_settings(self, guild_id: int) -> PulseSettings:
        """The guild's pulse opt-in."""
        async with self.db.session() as s:
            row = await s.get(SurveySettings, guild_id)
        return PulseSettings(guild_id, bool(row and row.pulse_enabled), row.pulse_channel_id if row else None)

    async def set_pulse(self, guild_id: int, enabled: bool, channel_id: int | None, now: datetime) -> PulseSettings:
        """Opt in to (or out of) the monthly pulse; ``channel_id`` where it is posted."""
        async with self.db.session() as s:
            row = await s.get(SurveySettings, guild_id, with_for_update=True)
            if row is None:
                row = SurveySettings(guild_id=guild_id, updated_at=now)
                s.add(row)
            row.pulse_enabled = enabled
            if channel_id is not None:
                row.pulse_channel_id = channel_id
            row.updated_at = now
            await s.flush()
            return PulseSettings(guild_id, row.pulse_enabled, row.pulse_channel_id)

    async def claim_pulses(
        self, now: datetime, limit: int = 20, *, scope: GuildScope | None = None
    ) -> list[tuple[SurveyInfo, int]]:
        """Pulses to post now, with their channel: creates this month's pulse for every opted-in
        guild in ``scope`` (unique per guild and month) and claims unposted ones so that two
        processes never post the same pulse. Other guilds' pulses are neither created nor claimed
        here (their shard's process does both). The caller posts and then calls
        :meth:`set_message`, or :meth:`release_claim` when it failed."""
        month = month_key(now)
        async with self.db.session() as s:
            settings = (
                await s.exec(
                    select(SurveySettings).where(
                        col(SurveySettings.pulse_enabled).is_(True),
                        col(SurveySettings.pulse_channel_id).is_not(None),
                        in_scope(scope, col(SurveySettings.guild_id)),
                    )
                )
            ).all()
            existing = set(
                (
                    await s.exec(
                        select(Survey.guild_id).where(
                            col(Survey.guild_id).in_([x.guild_id for x in settings]), Survey.pulse_month == month
                        )
                    )
                ).all()
            )
            for setting in settings:
                if setting.guild_id in existing:
                    continue
                try:
                    async with s.begin_nested():
                        s.add(
                            Survey(
                                guild_id=setting.guild_id,
                                kind="pulse",
                                title=PULSE_QUESTION,
                                anonymous=True,
                                questions=_dump((Question("scale", PULSE_QUESTION),)),
                                salt=secrets.token_hex(16),
                                created_at=now,
                                closes_at=now + PULSE_OPEN,
                                pulse_month=month,
                                channel_id=setting.pulse_channel_id,
                            )
                        )
                except IntegrityError:  # another process created it
                    continue
        claimed: list[tuple[SurveyInfo, int]] = []
        async with self.db.session() as s:
            candidates = (
                await s.exec(
                    select(Survey)
                    .where(
                        Survey.kind == "pulse",
                        Survey.pulse_month == month,
                        in_scope(scope, col(Survey.guild_id)),
                        col(Survey.message_id).is_(None),
                        col(Survey.closes_at) > now,
                        or_(col(Survey.post_claimed_at).is_(None), col(Survey.post_claimed_at) < now - CLAIM_TIMEOUT),
                    )
                    .limit(limit)
                )
            ).all()
            for row in candidates:
                result = await s.exec(
                    update(Survey)  # type: ignore[call-overload]
                    .where(
                        col(Survey.id) == row.id,
                        col(Survey.message_id).is_(None),
                        or_(col(Survey.post_claimed_at).is_(None), col(Survey.post_claimed_at) < now - CLAIM_TIMEOUT),
                    )
                    .values(post_claimed_at=now)
                )
                if result.rowcount == 1 and row.channel_id is not None:
                    claimed.append((_info(row), row.channel_id))
        return claimed

    async def release_claim(self, survey_id: int) -> None:
        """Posting failed: let a later run try again."""
        async with self.db.session() as s:
            row = await s.get(Survey, survey_id)
            if row is not None and row.message_id is None:
                row.post_claimed_at = None

    async def pulse_summary(self, guild_id: int, since: datetime) -> PulseSummary:
        """Member satisfaction (pulse answers, 1-5) since ``since``: per month, and overall over the
        months with at least :data:`MIN_GROUP` answers (smaller months are counted but not averaged)."""
        async with self.db.read() as s:
            surveys = (
                await s.exec(
                    select(Survey)
                    .where(Survey.guild_id == guild_id, Survey.kind == "pulse", col(Survey.created_at) >= since)
                    .order_by(col(Survey.pulse_month))
                )
            ).all()
            ids = [x.id for x in surveys]
            responses = (
                (await s.exec(select(SurveyResponse).where(col(SurveyResponse.survey_id).in_(ids)))).all()
                if ids
                else []
            )
        by_survey: dict[int, list[int]] = {}
        for r in responses:
            value = json.loads(r.answers)[0]
            if isinstance(value, int):
                by_survey.setdefault(r.survey_id, []).append(value)
        months: list[PulseMonth] = []
        shown: list[int] = []
        total = 0
        for survey in surveys:
            values = by_survey.get(survey.id or 0, [])
            total += len(values)
            enough = len(values) >= MIN_GROUP
            if enough:
                shown.extend(values)
            months.append(
                PulseMonth(
                    survey.pulse_month or "", len(values), round(sum(values) / len(values), 2) if enough else None
                )
            )
        mean = round(sum(shown) / len(shown), 2) if shown else None
        return PulseSummary(total, mean, tuple(months))


def validate_answers(questions: tuple[Question, ...], raw: list[str]) -> list[int | str | None]:
    """Check the modal's values against the questions; returns what is stored."""
    if len(raw) != len(questions):
        raise InvalidInput("surveys.errors.try_again")
    out: list[int | str | None] = []
    for number, (question, typed) in enumerate(zip(questions, raw, strict=True), 1):
        value = typed.strip()
        if question.kind == "scale":
            if value not in {"1", "2", "3", "4", "5"}:
                raise InvalidInput("surveys.errors.bad_scale", number=number)
            out.append(int(value))
        elif question.kind == "choice":
            chosen = _choose(question.options, value)
            if chosen is None:
                raise InvalidInput(
                    "surveys.errors.bad_choice", number=number, options=" / ".join(question.options)[:300]
                )
            out.append(chosen)
        else:
            out.append(value[:MAX_TEXT_ANSWER] or None)
    return out


def _choose(options: tuple[str, ...], value: str) -> str | None:
    if value.isdigit() and 1 <= int(value) <= len(options):
        return options[int(value) - 1]
    folded = value.casefold()
    return next((o for o in options if o.casefold() == folded), None)


def aggregate(survey: SurveyInfo, answers: list[tuple[int | None, list[int | str | None]]]) -> SurveyResults:
    """Aggregate stored answers. An anonymous survey with fewer than :data:`MIN_GROUP` answers shows
    nothing but the count (so its text answers only appear from :data:`MIN_GROUP` answers on); a
    named survey shows everything, text answers with who wrote them."""
    count = len(answers)
    if survey.anonymous and count < MIN_GROUP:
        return SurveyResults(survey, count, True, ())
    results: list[QuestionResult] = []
    for index, question in enumerate(survey.questions):
        values = [(member, a[index]) for member, a in answers if index < len(a) and a[index] is not None]
        if question.kind == "scale":
            numbers = [int(v) for _, v in values]  # type: ignore[arg-type]
            counts = Counter(numbers)
            results.append(
                QuestionResult(
                    question,
                    len(numbers),
                    mean=round(sum(numbers) / len(numbers), 2) if numbers else None,
                    distribution=tuple((str(k), counts.get(k, 0)) for k in range(1, 6)),
                )
            )
        elif question.kind == "choice":
            counts = Counter(str(v) for _, v in values)
            results.append(
                QuestionResult(
                    question, len(values), distribution=tuple((o, counts.get(o, 0)) for o in question.options)
                )
            )
        else:
            if survey.anonymous:
                texts = tuple(sorted(str(v) for _, v in values))  # sorted: the order would tell who answered when
            else:
                texts = tuple(f"<@{m}>: {v}" for m, v in values)
            results.append(QuestionResult(question, len(values), texts=texts))
    return SurveyResults(survey, count, False, tuple(results))


def _dump(questions: tuple[Question, ...]) -> str:
    return json.dumps([{"kind": q.kind, "text": q.text, "options": list(q.options)} for q in questions])


def _load(raw: str) -> tuple[Question, ...]:
    return tuple(Question(q["kind"], q["text"], tuple(q.get("options", ()))) for q in json.loads(raw))


def _info(row: Survey) -> SurveyInfo:
    assert row.id is not None
    return SurveyInfo(
        id=row.id,
        guild_id=row.guild_id,
        kind=row.kind,
        title=row.title,
        anonymous=row.anonymous,
        questions=_load(row.questions),
        created_at=row.created_at,
        closes_at=row.closes_at,
        channel_id=row.channel_id,
        message_id=row.message_id,
        pulse_month=row.pulse_month,
    )
