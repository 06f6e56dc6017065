"""Fault tolerance (issue #9): a flaky Discord and two processes on one database.

While 20 % of the bot's REST requests are answered 429 (with ``retry_after``), 500 or 503 — seeded,
so every run is the same — members file reports, ask for help and the weekly check-in falls due
three times. The delivery jobs then run on the virtual clock (the faults still on) until nothing is
pending: every report reaches the moderators' channel exactly once, every weekly check-in is posted
exactly once, every help request gets exactly one thread.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.models.help import HelpRequest
from bot.models.nudges import NudgeSweep
from bot.models.reports import Report
from tests.harness.faults import flaky_discord
from tests.harness.world import PG_ENV, TestDatabase, World, running_world

MONDAY_10 = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)  # week 2026-W02
REPORTS = 24
HELP_REQUESTS = 8
WEEKS = 3


async def _jump(world: World, when: datetime) -> None:
    world.env.backend.clock.advance((when - world.now()).total_seconds())
    await world.env.settle()


async def _count(world: World, model: Any) -> int:
    async with world.db.session() as s:
        return (await s.exec(select(func.count()).select_from(model))).one()


def _case_numbers(world: World) -> Counter[str]:
    titles = [m.embeds[0].title or "" for m in world.mods.history() if m.author.bot and m.embeds]
    return Counter(t.split(" ")[1] for t in titles if t.startswith("Case #"))


def _checkin_posts(world: World) -> int:
    return len([m for m in world.checkins.history() if m.author.bot and m.components])


async def _file_reports(world: World, reporters: list[Any]) -> int:
    receipts = 0
    for i in range(REPORTS):
        reporter = reporters[i % len(reporters)]
        target = reporters[(i + 1) % len(reporters)]
        shown = await reporter.slash(world.general, "report", member=target, reason=f"Unkind remark {i}")
        assert shown.modal is not None, shown
        done = await reporter.submit_modal(shown, {"details": "in #general", "rule": ""})
        receipts += "case #" in (done.response.content if done.response else "")
    return receipts


async def _ask(world: World, members: list[Any]) -> None:
    for i in range(HELP_REQUESTS):
        member = members[i % len(members)]
        shown = await member.slash(world.general, "ask new")
        assert shown.modal is not None, shown
        await member.submit_modal(shown, {"title": f"Need a hand {i}", "body": "Rough day.", "wants": ["listening"]})


async def test_every_report_checkin_and_help_request_is_delivered_once_through_a_flaky_discord(
    world: World, allow_error_logs: list[str]
) -> None:
    await world.configure_all()
    await world.owner.slash(world.general, "setup reports limits", **{"per-window": 20, "per-day": 100})
    members = [world.alice, world.bob, world.carol, *(world.member(f"member{i}") for i in range(5))]
    await world.env.settle()

    with flaky_discord(rate=0.2, seed=9) as flaky:
        receipts = await _file_reports(world, members)
        await _ask(world, members)
        for week in range(WEEKS):
            await _jump(world, MONDAY_10 + timedelta(weeks=week))
            for _ in range(8):  # the clock ticks on through the week's grace window
                await world.tick("checkins.post")
                await world.tick("reports.deliver")
                await world.tick("help.deliver")
                await world.advance(900)
        # The clock runs on with the faults still on, until nothing is left to deliver.
        for _ in range(60):
            await world.advance(900)
            for job in ("reports.deliver", "checkins.post", "help.deliver"):
                await world.tick(job)
            pending = [r for r in await _requests(world) if r.thread_state != "posted"]
            if not pending and await world.services.reports.undelivered(world.guild.id) == 0:
                break
        assert flaky.failed.get(429) and flaky.failed.get(500) and flaky.failed.get(503), flaky.failed
        assert sum(flaky.failed.values()) >= 0.1 * flaky.seen

    stored = await _count(world, Report)
    assert receipts == REPORTS and stored == REPORTS
    cases = _case_numbers(world)
    assert sorted(cases) == sorted(f"#{n}" for n in range(1, REPORTS + 1)), cases
    assert set(cases.values()) == {1}, f"a report was posted twice: {cases}"
    assert _checkin_posts(world) == WEEKS
    requests = await _requests(world)
    assert len(requests) == HELP_REQUESTS
    threads = {t.id: t for t in world.help.threads}
    for request in requests:  # each request has its thread, with the asker's intro in it
        thread = threads[request.thread_id]
        assert thread.name == request.title
        assert any(f"<@{request.asker_id}>" in (m.content or "") for m in thread.history())
    titles = [t.name for t in world.help.threads]
    assert sorted(titles) == sorted({r.title for r in requests}), "no request got a second thread"


# ---------------------------------------------------------------------- two processes


pg_only = pytest.mark.skipif(not os.environ.get(PG_ENV), reason=f"needs PostgreSQL ({PG_ENV})")


@pg_only
def test_two_bots_on_one_postgresql_without_a_leader_post_and_sweep_once(tmp_path) -> None:
    """Two bots (each on its own thread, event loop, engine and SimCord world — SimCord allows one
    world per loop — and no scheduler leadership at all) run the weekly check-in and the daily
    quiet-member sweep at the same moment on one PostgreSQL schema: the unique keys alone make each
    happen once. (With leadership and failover: ``tests/test_scale_out.py``.)"""
    friday_18 = datetime(2026, 1, 16, 18, 0, tzinfo=UTC)
    configured, together = threading.Event(), threading.Barrier(2, timeout=60)
    posts: dict[str, int] = {}
    failures: list[BaseException] = []

    async def process(name: str, tdb: TestDatabase) -> None:
        if name == "b":
            configured.wait(60)  # the first process migrated the schema and configured the guild
        async with running_world(tdb) as w:
            with w.env.time_context():
                if name == "a":
                    await w.configure(checkin_channel_id=w.checkins.id, mod_channel_id=w.mods.id)
                    await w.services.checkins.configure(w.guild.id, w.now(), weekday=4, time="09:00")
                    assert (await w.alice.slash(w.general, "nudges on")).ephemeral
                    configured.set()
                await _jump(w, friday_18)
                for job in ("checkins.post", "activity.flush", "nudges.sweep"):
                    together.wait()  # both processes run the job at the same moment
                    assert await w.bot.scheduler.run(job, w.now()), job
                    await w.env.settle()
                posts[name] = _checkin_posts(w)
                together.wait()

    def thread(name: str, tdb: TestDatabase) -> None:
        try:
            asyncio.run(process(name, tdb))
        except BaseException as error:  # reported by the test below
            failures.append(error)
            together.abort()
            configured.set()

    async def main() -> None:
        async with TestDatabase.create("postgresql", tmp_path) as tdb:
            threads = [threading.Thread(target=thread, args=(n, tdb)) for n in ("a", "b")]
            for t in threads:
                t.start()
            await asyncio.to_thread(lambda: [t.join(120) for t in threads])
            assert not failures, failures
            assert posts == {"a": posts["a"], "b": posts["b"]} and posts["a"] + posts["b"] == 1, posts
            db = tdb.open()
            try:
                async with db.session() as s:
                    sweeps = (await s.exec(select(NudgeSweep).where(NudgeSweep.kind == "daily"))).all()
            finally:
                await db.close()
            assert [row.period for row in sweeps] == ["2026-01-16"]

    asyncio.run(main())


async def _requests(world: World) -> list[Any]:
    async with world.db.session() as s:
        return list((await s.exec(select(HelpRequest))).all())


async def test_a_help_thread_is_not_duplicated_when_its_set_up_fails(world: World) -> None:
    await world.configure(help_channel_id=world.help.id, mod_channel_id=world.mods.id)
    world.env.inject_error("PUT", "/channels/*/thread-members/*", status=503, times=1)  # adding the asker
    world.env.inject_error("DELETE", "/channels/*", status=503, times=1)  # the clean-up
    shown = await world.alice.slash(world.general, "ask new")
    await world.alice.submit_modal(shown, {"title": "Only once", "body": "Please.", "wants": ["listening"]})
    for _ in range(5):
        await world.advance(900)
        await world.tick("help.deliver")
    assert [t.name for t in world.help.threads if t.name == "Only once"] == ["Only once"]
