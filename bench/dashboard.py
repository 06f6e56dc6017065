"""Dashboard pages on a big guild (issue #15): target p99 < 50 ms per page.

Fills a fresh database with one guild of 100,000 members (an activity row each, 20,000 of them
with activity days in the last 30 days), 10,000 cases filed through ``ReportService.file_report``
(real case numbers and audit entries; 2,000 claimed, 6,000 closed), 3,000 help requests (300
open), 20,000 check-ins, 20,000 recognition entries, 300 resources (50 waiting), 30 surveys
with answers and 5 milestones with 5,000 grants. Then it serves the real app
(:func:`bot.web.app.create_app`) on loopback and times, as a logged-in moderator, every GET page
the app's router has under ``/g/{guild_id}`` — found by enumerating the router, so a page added
later is timed too — after a warm-up, sequentially (one browser), through real HTTP.

Discord reads (is the visitor a moderator, channel/role pickers, names) are answered by a stand-in
directory from memory, as the bot's cache answers them inside ``python -m bot``; the per-request
moderator check itself (``Access``, cached 30 s) runs as in production. The baseline of the same
run is ``GET /login``: a template rendered through the same middlewares without the database.

    .venv/bin/python bench/dashboard.py                       # SQLite, full size
    .venv/bin/python bench/dashboard.py --members 10000 --cases 1000 --requests 50   # a quick look
    KINSHIP_TEST_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test .venv/bin/python bench/dashboard.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import fresh_database
from aiohttp.test_utils import TestClient, TestServer

from bot.config import DashboardSettings
from bot.db import Database
from bot.heap import freeze_long_lived
from bot.models.activity import InsightActivityDay, MemberActivity
from bot.models.checkins import CheckinAnswer
from bot.models.help import HelpRequest
from bot.models.recognition import RecognitionEntry, RecognitionGrant
from bot.models.reports import Report, ReportAudit, ReportGuild
from bot.services import Services
from bot.services.checkins import week_key
from bot.services.context import ServiceContext
from bot.services.guilds import REQUIRED_PERMISSIONS, ChannelObservation, GuildSettings
from bot.web.app import create_app
from bot.web.directory import ChannelInfo, MemberAccess, RoleInfo
from bot.web.session import COOKIE
from bot.web.state import Dashboard

GUILD = 1_456_074_443_980_800_001
MOD = GUILD + 1
MOD_ROLE, HELP_CH, MOD_CH, CHECKIN_CH = GUILD + 2, GUILD + 3, GUILD + 4, GUILD + 5
FIRST_MEMBER = GUILD + 1_000
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
BATCH = 5_000
TARGET_MS = 50.0
#: GET routes that only redirect (a search form's target), not pages.
REDIRECTS = {"/g/{guild_id}/members": "redirects to /members/{member_id}"}


class MemoryDirectory:
    """The bot's cache as the dashboard sees it, for one big guild (see the module docstring)."""

    def __init__(self) -> None:
        named = ((HELP_CH, "help"), (MOD_CH, "moderators"), (CHECKIN_CH, "check-ins"))
        self._channels = [ChannelInfo(cid, name, "text") for cid, name in named]
        self._channels += [ChannelInfo(GUILD + 100 + i, f"channel-{i}", "text", position=i) for i in range(60)]
        self._roles = [RoleInfo(GUILD, "@everyone", is_everyone=True), RoleInfo(MOD_ROLE, "Moderators", position=1)]
        self._roles += [RoleInfo(GUILD + 300 + i, f"role-{i}", position=2 + i, assignable=True) for i in range(80)]

    async def installed(self, guild_ids: Iterable[int]) -> dict[int, str]:
        return {GUILD: "Bench guild"} if GUILD in set(guild_ids) else {}

    async def member(self, guild_id: int, user_id: int) -> MemberAccess | None:
        return MemberAccess(user_id, frozenset({MOD_ROLE}), privileged=False) if user_id == MOD else None

    async def channels(self, guild_id: int) -> list[ChannelInfo]:
        return list(self._channels)

    async def roles(self, guild_id: int) -> list[RoleInfo]:
        return list(self._roles)

    async def names(self, guild_id: int, user_ids: Iterable[int]) -> dict[int, str]:
        return {u: f"member-{u - FIRST_MEMBER}" for u in user_ids}

    async def observe(self, guild_id: int, settings: GuildSettings) -> list[ChannelObservation]:
        return [  # every permission the bot checks is granted
            ChannelObservation(kind, cid, exists=True, granted=frozenset(REQUIRED_PERMISSIONS[kind]))  # type: ignore[arg-type]
            for kind, cid in (("help", HELP_CH), ("mod", MOD_CH), ("checkin", CHECKIN_CH))
        ]


async def _insert(db: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    async with db.session() as s:
        for start in range(0, len(rows), BATCH):
            await s.exec(table.__table__.insert(), params=rows[start : start + BATCH])  # type: ignore[call-overload]


async def fill(services: Services, db: Database, members: int, cases: int, rng: random.Random) -> None:
    """The big guild (see the module docstring); prints how long each part took."""
    started = time.perf_counter()
    await services.guilds.update(
        GUILD, NOW, help_channel_id=HELP_CH, mod_channel_id=MOD_CH, checkin_channel_id=CHECKIN_CH, mod_role_id=MOD_ROLE
    )
    ids = [FIRST_MEMBER + i for i in range(members)]
    await _insert(
        db,
        MemberActivity,
        [
            {
                "guild_id": GUILD,
                "member_id": m,
                "last_active_at": NOW - timedelta(days=rng.uniform(0, 120)),
                "joined_at": NOW - timedelta(days=400),
            }
            for m in ids
        ],
    )
    active = ids[: members // 5]
    days = {
        (m, (NOW - timedelta(days=rng.randrange(30))).replace(hour=0, minute=0, second=0))
        for m in active
        for _ in range(4)
    }
    await _insert(db, InsightActivityDay, [{"guild_id": GUILD, "member_id": m, "day": d} for m, d in days])
    await _insert(
        db,
        CheckinAnswer,
        [
            {
                "guild_id": GUILD,
                "member_id": m,
                "week": week_key((at := NOW - timedelta(days=rng.uniform(0, 90))).date()),
                "mood": rng.randint(1, 5),
                "answered_at": at,
            }
            for m in rng.sample(active, min(len(active), 20_000))
        ],
    )
    await _insert(
        db,
        RecognitionEntry,
        [
            {
                "guild_id": GUILD,
                "giver_id": rng.choice(ids),
                "receiver_id": rng.choice(active),
                "amount": 10,
                "reason": "thanks",
                "source": "thanks",
                "created_at": NOW - timedelta(days=rng.uniform(0, 90)),
            }
            for _ in range(20_000)
        ],
    )
    help_rows = []
    for i in range(3_000):
        created = NOW - timedelta(minutes=rng.uniform(5, 60 * 24 * 60))
        is_open = i < 300
        first = None if is_open and i % 3 == 0 else created + timedelta(minutes=rng.uniform(1, 240))
        help_rows.append(
            {
                "guild_id": GUILD,
                "asker_id": rng.choice(ids),
                "title": f"Need someone to talk to #{i}",
                "state": "open" if is_open else "resolved",
                "thread_state": "posted",
                "thread_id": GUILD + 10_000 + i,
                "created_at": created,
                "posted_at": created,
                "first_response_at": first,
                "last_activity_at": created,
                "resolved_at": None if is_open else created + timedelta(hours=5),
            }
        )
    await _insert(db, HelpRequest, help_rows)
    print(f"  members, activity, check-ins, recognition, help: {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    # The first cases go through ReportService (the real shapes); the rest are the same rows in bulk.
    by_service = min(cases, 50)
    for i in range(by_service):
        receipt = await services.reports.file_report(
            GUILD,
            ids[i],
            ids[-1 - i],
            reported_is_bot=False,
            reason=f"Case {i}: unkind messages",
            now=NOW - timedelta(minutes=cases - i),
            details="What happened, in the reporter's words.",
        )
        await services.reports.act(receipt.report_id, GUILD, MOD, "claim", now=NOW)
    reports, audits = [], []
    for i in range(by_service, cases):
        at = NOW - timedelta(minutes=cases - i)
        state = ("open", "open", "claimed", "resolved", "dismissed")[i % 5]
        reports.append(
            {
                "id": 1_000_000 + i,
                "guild_id": GUILD,
                "case_no": i + 1,
                "reporter_id": rng.choice(ids),
                "reported_id": rng.choice(ids),
                "reason": f"Case {i}: unkind messages",
                "details": "What happened.",
                "state": state,
                "claimed_by": MOD if state != "open" else None,
                "claimed_at": at if state != "open" else None,
                "closed_by": MOD if state in ("resolved", "dismissed") else None,
                "closed_at": NOW if state in ("resolved", "dismissed") else None,
                "created_at": at,
                "delivery": "delivered",
                "next_attempt_at": at,
                "mod_channel_id": MOD_CH,
                "mod_message_id": GUILD + 50_000 + i,
                "delivered_at": at,
            }
        )
        audits.append({"report_id": 1_000_000 + i, "actor_id": None, "action": "filed", "detail": "member", "at": at})
        if state != "open":
            audits.append({"report_id": 1_000_000 + i, "actor_id": MOD, "action": "claim", "detail": "", "at": at})
        if state in ("resolved", "dismissed"):
            audits.append(
                {
                    "report_id": 1_000_000 + i,
                    "actor_id": MOD,
                    "action": {"resolved": "resolve", "dismissed": "dismiss"}[state],
                    "detail": "",
                    "at": NOW,
                }
            )
    await _insert(db, Report, reports)
    await _insert(db, ReportAudit, audits)
    async with db.session() as s:
        guild = await s.get(ReportGuild, GUILD)
        assert guild is not None
        guild.last_case = cases
    print(f"  {cases:,} cases ({by_service} through ReportService): {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    for i in range(300):
        item = await services.library.suggest_resource(
            GUILD,
            ids[i % 40],
            title=f"Resource {i}",
            content=f"https://example.org/{i}",
            topic="sleep",
            language="en",
            now=NOW - timedelta(days=1),
        )
        if i >= 50:
            await services.library.approve(GUILD, item.id, MOD, NOW)
    for i in range(30):
        survey = await services.surveys.create(
            GUILD,
            MOD,
            title=f"Survey {i}",
            anonymous=i % 2 == 0,
            closes_in_hours=48,
            questions_text="scale: How are we doing?\nchoice: Best time? | morning | evening",
            now=NOW - timedelta(hours=1),
        )
        for member in rng.sample(active, 12):
            await services.surveys.answer(GUILD, survey.id, member, [str(rng.randint(1, 5)), "morning"], NOW)
    for n, threshold in enumerate((10, 50, 100, 500, 1000)):
        await services.recognition.add_milestone(GUILD, threshold, GUILD + 300 + n, NOW)
    await _insert(
        db,
        RecognitionGrant,
        [
            {
                "guild_id": GUILD,
                "member_id": m,
                "threshold": 10,
                "role_id": GUILD + 300,
                "status": "granted",
                "created_at": NOW,
            }
            for m in active[:5_000]
        ],
    )
    await services.help.add_topic(GUILD, "Anxiety", NOW)
    print(f"  library, surveys, milestones: {time.perf_counter() - started:.1f} s")
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql("ANALYZE")


def guild_pages(app: Any, samples: dict[str, str]) -> tuple[list[str], list[str]]:
    """Every GET path under /g/{guild_id} in the router, with sample ids for its other parameters."""
    paths, skipped = [], []
    for resource in app.router.resources():
        info = resource.get_info()
        pattern = info.get("formatter") or info.get("path") or ""
        if not pattern.startswith("/g/{guild_id}"):
            continue
        if not any(route.method == "GET" for route in resource):
            continue
        if pattern in REDIRECTS:
            skipped.append(f"{pattern} ({REDIRECTS[pattern]})")
            continue
        names = re.findall(r"{([^}:]+)(?::[^}]*)?}", pattern)
        if any(n != "guild_id" and n not in samples for n in names):
            skipped.append(pattern)
            continue
        paths.append(re.sub(r"{([^}:]+)(?::[^}]*)?}", lambda m: samples.get(m[1], str(GUILD)), pattern))
    return paths, skipped


async def measure(client: TestClient, path: str, n: int) -> list[float] | int:
    """``n`` sequential GETs after 5 warm-ups, in milliseconds; the status when one is not 200."""
    out = []
    for i in range(n + 5):
        started = time.perf_counter()
        r = await client.get(path, allow_redirects=False)
        await r.read()
        if r.status != 200:
            return r.status
        if i >= 5:
            out.append((time.perf_counter() - started) * 1000)
    return out


async def _profile(client: TestClient, path: str, n: int) -> None:
    """Where the time of one page goes (``--profile /g/{g}/help``), hottest first."""
    import cProfile
    import pstats

    await measure(client, path, 5)
    profiler = cProfile.Profile()
    profiler.enable()
    await measure(client, path, n)
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def run(args: argparse.Namespace) -> None:
    backend = "postgresql" if os.environ.get("KINSHIP_TEST_DATABASE_URL") and not args.sqlite else "sqlite"
    with tempfile.TemporaryDirectory() as tmp:
        async with fresh_database(backend, Path(tmp)) as db:
            await _bench(db, args)


async def _bench(db: Database, args: argparse.Namespace) -> None:
    print(f"Dashboard pages on {db.dialect}: {args.members:,} members, {args.cases:,} cases")
    services = Services.build(ServiceContext(db=db))
    rng = random.Random(15)
    await fill(services, db, args.members, args.cases, rng)
    settings = DashboardSettings(
        port=1,
        url="http://127.0.0.1",
        client_id="1",
        client_secret="x" * 16,
        secret="b" * 40,
        oauth_base="http://127.0.0.1:9",
    )
    dashboard = Dashboard(settings=settings, services=services, directory=MemoryDirectory(), now=lambda: NOW)  # type: ignore[arg-type]
    app = create_app(dashboard)
    client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    if not args.no_freeze:
        freeze_long_lived("the bench's start-up")  # as `python -m bot.web` and `python -m bot` do
    try:
        token, _ = await services.dashboard.open_session(MOD, "bench-mod", {GUILD}, NOW)
        client.session.cookie_jar.update_cookies({COOKIE: dashboard.signer.sign("session", token)})
        case = await services.reports.open_cases(GUILD, limit=1)
        survey = (await services.surveys.recent(GUILD, limit=1))[0][0]
        samples = {
            "survey_id": str(survey.id),
            "case_no": str(case[0].case_no) if case else "1",
            "report_id": str(case[0].id) if case else "1",
            "member_id": str(FIRST_MEMBER + 7),
        }
        paths, skipped = guild_pages(app, samples)
        if args.profile:
            await _profile(client, args.profile.replace("{g}", str(GUILD)), args.requests)
            return
        anonymous = TestClient(client.server)
        await anonymous.start_server()
        try:
            baseline = await measure(anonymous, "/login", args.requests)
            assert isinstance(baseline, list), f"/login answered {baseline}"
        finally:
            await anonymous.session.close()
        rows = [("GET /login (baseline, no database)", baseline)]
        for path in paths:
            rows.append((f"GET {path.replace(str(GUILD), '{g}')}", await measure(client, path, args.requests)))
    finally:
        await client.close()
    base50 = statistics.median(baseline)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{args.requests} sequential requests per page after 5 warm-ups (ms); target p99 < {TARGET_MS:.0f} ms")
    print(f"load average during the run: {load} on {os.cpu_count()} cores\n")
    print("| page | p50 | p99 | max | p50 / baseline | verdict |\n|---|---:|---:|---:|---:|---|")
    for label, values in rows:
        if isinstance(values, int):
            print(f"| {label} | — | — | — | — | FAILED: HTTP {values} |")
            continue
        p50, p99 = statistics.median(values), _p(values, 0.99)
        verdict = "met" if p99 < TARGET_MS else "MISSED"
        print(f"| {label} | {p50:.1f} | {p99:.1f} | {max(values):.1f} | {p50 / base50:.1f}× | {verdict} |")
    for pattern in skipped:
        print(f"(not timed: {pattern})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--profile", default="", help="profile one page instead, e.g. /g/{g}/help")
    parser.add_argument("--sqlite", action="store_true", help="SQLite even when KINSHIP_TEST_DATABASE_URL is set")
    parser.add_argument(
        "--no-freeze", action="store_true", help="leave the start-up heap in the collector's passes (bot/heap.py)"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
