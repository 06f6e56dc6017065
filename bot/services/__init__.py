"""The rules of Kinship, one module per feature. Nothing here imports discord.

Services take ids, strings and aware datetimes, return plain data, and raise
:class:`bot.errors.KinshipError` subclasses whose text is safe to show. They are all built here,
once, from a :class:`ServiceContext`, and handed to the bot.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.activity import ActivityService
from bot.services.care import CareService
from bot.services.charts import ChartRenderer
from bot.services.checkins import CheckinService
from bot.services.conduct import ConductService
from bot.services.context import ServiceContext
from bot.services.dashboard import DashboardService
from bot.services.guilds import GuildService, HealthService
from bot.services.help import HelpService
from bot.services.insights import InsightService
from bot.services.library import LibraryService
from bot.services.mentors import MentorService
from bot.services.nudges import NudgeService
from bot.services.privacy import PrivacyService
from bot.services.recognition import RecognitionService
from bot.services.reports import ReportService
from bot.services.settings import SettingsService
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
    dashboard: DashboardService
    settings: SettingsService
    care: CareService
    charts: ChartRenderer

    @classmethod
    def build(cls, ctx: ServiceContext) -> Services:
        """Construct every service from one context (order matters only for event subscriptions)."""
        # In the original order: constructors subscribe to events, and subscribers run in that order.
        guilds, health, help_, checkins = GuildService(ctx), HealthService(ctx), HelpService(ctx), CheckinService(ctx)
        recognition, reports, activity = RecognitionService(ctx), ReportService(ctx), ActivityService(ctx)
        nudges, insights, privacy = NudgeService(ctx), InsightService(ctx), PrivacyService(ctx)
        mentors, library, surveys = MentorService(ctx), LibraryService(ctx), SurveyService(ctx)
        conduct = ConductService(ctx)
        return cls(
            ctx=ctx,
            guilds=guilds,
            health=health,
            help=help_,
            checkins=checkins,
            recognition=recognition,
            reports=reports,
            activity=activity,
            nudges=nudges,
            insights=insights,
            privacy=privacy,
            mentors=mentors,
            library=library,
            surveys=surveys,
            conduct=conduct,
            dashboard=DashboardService(ctx),
            settings=SettingsService(
                guilds=guilds,
                help=help_,
                checkins=checkins,
                nudges=nudges,
                recognition=recognition,
                reports=reports,
                privacy=privacy,
                surveys=surveys,
                conduct=conduct,
            ),
            care=CareService(ctx),
            charts=ChartRenderer(),
        )
