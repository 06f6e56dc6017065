"""Fixtures every test can use.

* ``test_db`` — a fresh, migrated database: SQLite always, and PostgreSQL as well when
  ``KINSHIP_TEST_DATABASE_URL`` is set (each test then runs once per database).
* ``world`` — the real bot running against SimCord in a standard guild (see ``harness/world``).
  At teardown the test fails if the bot raised an unexpected error, or if any REST request it
  sent breaks Discord's OpenAPI description or the hard limits in ``shared/DISCORD-LIMITS.md``.
* ``db`` / ``services`` — the services on a fresh database, without Discord, for service tests.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.db import Database
from bot.services import Services
from bot.services.context import ServiceContext
from tests.harness.contract import check_requests, format_violations, load_spec
from tests.harness.world import PG_ENV, TestDatabase, World, running_world, unexpected_errors

BACKENDS = ["sqlite"] + (["postgresql"] if os.environ.get(PG_ENV) else [])


@pytest.fixture(params=BACKENDS)
async def test_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TestDatabase]:
    """A fresh database on each configured backend."""
    async with TestDatabase.create(request.param, tmp_path) as tdb:
        yield tdb


@pytest.fixture
async def db(test_db: TestDatabase) -> AsyncIterator[Database]:
    """A migrated database without Discord."""
    database = test_db.open()
    await database.migrate()
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def services(db: Database) -> Services:
    """All services on a fresh database."""
    return Services.build(ServiceContext(db=db))


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


_spec_notice_shown = False


@pytest.fixture
def allow_error_logs() -> list[str]:
    """Tests that provoke an unexpected error on purpose append a substring of its log line
    (and of the exception's repr) here."""
    return []


@pytest.fixture
async def world(
    request: pytest.FixtureRequest, test_db: TestDatabase, allow_error_logs: list[str]
) -> AsyncIterator[World]:
    """The real bot in SimCord; unexpected errors and contract breaches fail the test.

    A test module may set ``EXTENSIONS = ["cogs.setup", "cogs.<feature>"]`` to load only those;
    by default every cog is loaded, as in production."""
    global _spec_notice_shown  # noqa: PLW0603
    errors = _ErrorLog()
    root = logging.getLogger()
    root.addHandler(errors)
    try:
        async with running_world(test_db, extensions=getattr(request.module, "EXTENSIONS", None)) as w:
            yield w
            spec = load_spec()
            if spec is None and not _spec_notice_shown:
                _spec_notice_shown = True
                warnings.warn("shared/discord-api-spec is absent: bodies are checked against limits only", stacklevel=1)
            violations = check_requests(w.env.http_requests, spec)
            assert not violations, format_violations(violations)
            unexpected = [e for e in unexpected_errors(w) if not any(a in repr(e) for a in allow_error_logs)]
            assert not unexpected, f"the bot raised unexpected errors: {unexpected!r}"
    finally:
        root.removeHandler(errors)
    logged = [
        r.getMessage() for r in errors.records if not any(allowed in r.getMessage() for allowed in allow_error_logs)
    ]
    assert not logged, "the bot logged errors:\n" + "\n".join(logged)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Run the test body with SimCord's virtual clock selected (as its own plugin does)."""
    world = getattr(item, "funcargs", {}).get("world")
    if isinstance(world, World) and world.env._started:
        with world.env.time_context():
            return (yield)
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    """Attach what the bot did (gateway events and REST calls) to a failing test."""
    report = yield
    world = getattr(item, "funcargs", {}).get("world")
    if report.failed and isinstance(world, World):
        report.sections.append(("simcord transcript", world.env.transcript()))
    return report
