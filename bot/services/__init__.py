"""The rules of Kinship, one module per feature. Nothing here imports discord.

Services take ids, strings and aware datetimes, return plain data, and raise
:class:`bot.errors.KinshipError` subclasses whose text is safe to show. They are all built here,
once, from a :class:`ServiceContext`, and handed to the bot.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.activity import ActivityService
from bot.services.checkins import CheckinService
from bot.services.conduct import ConductService
from bot.services.context import ServiceContext
from bot.services.guilds import GuildService, HealthService
from bot.services.help import HelpService
from bot.services.insights import InsightService
from bot.services.library import LibraryService
from bot.services.mentors import MentorService
from bot.services.nudges import NudgeService
from bot.services.privacy import PrivacyService
from bot.services.recognition import RecognitionService
from bot.services.reports import ReportService
from bot.services.surveys import SurveyService


@dataclass(frozen=True, slots=True)
class Services:
    """Every service, built once and passed to the bot."""

    ctx: ServiceContext
    guilds: GuildService
    health: HealthService
    help: HelpService
    checkins: CheckinService
    recognition: RecognitionService
    reports: ReportService
    activity: ActivityService
    nudges: NudgeService
    insights: InsightService
    privacy: PrivacyService
    mentors: MentorService
    library: LibraryService
    surveys: SurveyService
    conduct: ConductService

    @classmethod
    def build(cls, ctx: ServiceContext) -> Services:
        """Construct every service from one context (order matters only for event subscriptions)."""
        return cls(
            ctx=ctx,
            guilds=GuildService(ctx),
            health=HealthService(ctx),
            help=HelpService(ctx),
            checkins=CheckinService(ctx),
            recognition=RecognitionService(ctx),
            reports=ReportService(ctx),
            activity=ActivityService(ctx),
            nudges=NudgeService(ctx),
            insights=InsightService(ctx),
            privacy=PrivacyService(ctx),
            mentors=MentorService(ctx),
            library=LibraryService(ctx),
            surveys=SurveyService(ctx),
            conduct=ConductService(ctx),
        )
