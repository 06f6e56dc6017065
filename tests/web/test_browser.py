"""The dashboard in a real browser: Debian's ``chromium`` headless, driven by selenium through
``chromium-driver`` (``/usr/bin/chromedriver``) — never a downloaded browser. ``.ci/run`` installs
both; without them these tests are skipped with a notice saying how to get them.

The browser talks to the real app and the loopback OAuth stand-in; the bot behind it is the
SimCord bot of the ``dash`` fixture, so what a click does in Discord is checked there. Every
blocking WebDriver call runs in a thread, so the event loop keeps serving the browser's requests.
Each page is also checked for console errors (a CSP violation, a missing file, a script error).

``KINSHIP_SCREENSHOTS=1`` writes the screenshots of the main pages to ``docs/`` (README shows
them); otherwise they go to the test's temporary directory.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cogs.test_help import _ask
from tests.cogs.test_reports import _case_message, _configure, _field, _report_member, _report_message
from tests.harness.world import World
from tests.web.conftest import Dash

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
DOCS = Path(__file__).resolve().parents[2] / "docs"
HAVE_BROWSER = Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()

NOTICE = "NOTICE: browser tests skipped: install Debian's chromium and chromium-driver (bash .ci/run does)"
pytestmark = pytest.mark.skipif(not HAVE_BROWSER, reason=NOTICE)
if not HAVE_BROWSER:  # shown in pytest's warnings summary even with -q
    warnings.warn(NOTICE, stacklevel=1)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium for the module (cookies cleared per test)."""
    os.environ.setdefault("SE_OFFLINE", "true")  # selenium must never fetch a browser or driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
        "--lang=en-US",
        "--no-first-run",
        "--disable-extensions",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


class Page:
    """Async wrappers around the blocking WebDriver calls, plus the console check."""

    def __init__(self, driver: Any, dash: Dash) -> None:
        self.driver = driver
        self.dash = dash

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def find(self, by: str, value: str) -> Any:
        """The element, waiting (in the WebDriver's thread) for a page a click started to load."""
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.wait import WebDriverWait

        wait = WebDriverWait(self.driver, 15)
        return await self.run(wait.until, expected_conditions.presence_of_element_located((by, value)))

    async def open(self, path: str, *, refused: bool = False) -> None:
        """Load ``path``; ``refused`` when the page is meant to be the 403 page (the console says so)."""
        await self.run(self.driver.get, self.dash.url + path)
        await self.console_clean("status of 403" if refused else None)

    async def click(self, testid: str, *, leaves: bool = True) -> None:
        """Click; when the click ``leaves`` the page (a link, a form's button), wait until that page
        is gone: reading right after could otherwise meet the old page's elements, or an element
        going stale while it is read."""
        from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.wait import WebDriverWait

        for attempt in range(3):
            left = await self.find(By.TAG_NAME, "html") if leaves else None
            element = await self.find(By.CSS_SELECTOR, f'[data-testid="{testid}"]')
            try:
                await self.run(element.click)
                break
            except (StaleElementReferenceException, WebDriverException) as error:
                # Chromium under load sometimes hands out a node of a document it has just
                # replaced; the click never happened, so finding the element again is safe.
                stale = isinstance(error, StaleElementReferenceException) or "does not belong to the document" in (
                    error.msg or ""
                )
                if not stale or attempt == 2:
                    raise
        if left is not None:
            await self.run(WebDriverWait(self.driver, 15).until, expected_conditions.staleness_of(left))
        await self.console_clean()

    async def text(self, testid: str | None = None) -> str:
        from selenium.webdriver.common.by import By

        if testid is None:
            element = await self.find(By.TAG_NAME, "body")
        else:
            element = await self.find(By.CSS_SELECTOR, f'[data-testid="{testid}"]')
        return await self.run(lambda: element.text)

    async def fill(self, testid: str, value: str) -> None:
        from selenium.webdriver.common.by import By

        element = await self.find(By.CSS_SELECTOR, f'[data-testid="{testid}"]')
        await self.run(element.clear)
        await self.run(element.send_keys, value)

    @property
    def path(self) -> str:
        return self.driver.current_url.removeprefix(self.dash.url)

    async def console_clean(self, expected: str | None = None) -> None:
        logs = await self.run(self.driver.get_log, "browser")
        severe = [
            entry["message"]
            for entry in logs
            if entry.get("level") == "SEVERE" and not (expected and expected in entry["message"])
        ]
        assert not severe, f"browser console errors on {self.driver.current_url}: {severe}"

    async def screenshot(self, name: str, directory: Path) -> Path:
        path = directory / f"dashboard-{name}.png"
        height = await self.run(self.driver.execute_script, "return document.documentElement.scrollHeight")
        await self.run(self.driver.set_window_size, 1280, max(800, min(int(height) + 40, 2400)))
        await self.run(self.driver.save_screenshot, str(path))
        await self.run(self.driver.set_window_size, 1280, 1000)
        return path

    async def login(self, member: Any) -> None:
        """Press "Log in with Discord"; the stand-in approves for ``member`` and sends the browser back."""
        self.dash.fake.authorize_as = member.id
        await self.open("/")
        assert self.path.startswith("/login"), self.path
        await self.click("login")


@pytest.fixture
async def page(browser: Any, dash: Dash) -> Page:
    await asyncio.to_thread(browser.delete_all_cookies)
    return Page(browser, dash)


async def test_a_moderator_logs_in_claims_a_report_and_discord_shows_it(page: Page, dash: Dash) -> None:
    world = dash.world
    await _configure(world)
    await _report_member(world, world.alice, world.bob, reason="Keeps insulting me")
    await page.login(world.mod)
    assert page.path == f"/g/{world.guild.id}"
    assert "Health checks" in await page.text() and await page.text("who") == "mod"
    await page.click("nav-reports")
    await page.click("case-1", leaves=False)  # the row, which stays; its first link is the case
    await page.open(f"/g/{world.guild.id}/reports/1")
    assert "anonymous" in await page.text() and str(world.alice.id) not in await page.text()
    await page.click("do-claim")
    assert "You claimed case #1" in await page.text("flash")
    assert await page.text("case-state") == "claimed"
    await dash.settle()
    embed = _case_message(world.mods).embeds[0]
    assert embed.title == "Case #1 · claimed" and f"<@{world.mod.id}>" in _field(embed, "Claimed by")


async def test_a_setting_changed_in_the_browser_shows_in_setup_show(page: Page, dash: Dash) -> None:
    world = dash.world
    await page.login(world.owner)
    await page.open(f"/g/{world.guild.id}/settings")
    await page.fill("general-timezone", "Europe/Vienna")
    await page.click("save-general")
    assert "Saved" in await page.text()
    shown = await world.owner.slash(world.general, "setup show")
    fields = {f.name: f.value for f in shown.response.embeds[0].fields}
    assert fields["Time zone"] == "Europe/Vienna"


async def test_a_non_moderator_is_refused_kindly(page: Page, dash: Dash) -> None:
    world = dash.world
    await page.login(world.alice)
    assert "no server with Kinship where you're a moderator" in await page.text()
    await page.open(f"/g/{world.guild.id}/reports", refused=True)
    assert "This page isn't open to you" in await page.text("forbidden")
    await page.open(f"/g/{world.guild.id}/settings", refused=True)
    assert "This page isn't open to you" in await page.text("forbidden")
    await page.click("logout")
    assert "You're logged out" in await page.text()


async def _seed(dash: Dash) -> None:
    """A guild with a little of everything, for the screenshots."""
    world = dash.world
    await _configure(world)
    await world.configure(checkin_channel_id=world.checkins.id, timezone="Europe/Berlin")
    for topic in ("Anxiety", "Exams"):
        await world.owner.slash(world.general, "setup topics add", name=topic)
    await _ask(world, world.alice, topic="Anxiety", title="Can't sleep before my exam")
    await _report_member(world, world.alice, world.bob, reason="Keeps insulting me in #general")
    message = await world.bob.send(world.general, "Nobody wants you here, just leave.")
    await _report_message(world, world.carol, message, reason="Hurtful message")
    await world.advance(45 * 60)
    await _ask(world, world.carol, topic="Exams", title="Study group for Friday?")
    await _report_member(world, world.carol, world.owner, reason="Deleted my post without saying why")
    await world.mod.click(_case_message(world.mods, 2), label="Claim")
    shown = await world.mod.click(_case_message(world.mods, 2), label="Add note")
    await world.mod.submit_modal(shown, {"note": "Talked to bob; he apologised in DMs."})
    await world.bob.slash(world.general, "thanks", member=world.alice, reason="for listening yesterday")
    await _seed_library_surveys_milestones(world)
    await world.advance(20 * 60)
    await world.env.settle()


async def _seed_library_surveys_milestones(world: World) -> None:
    """A little for the library, surveys, milestones and support contacts pages."""
    g, now, services = world.guild.id, world.now(), world.services
    kept = await services.library.suggest_resource(
        g,
        world.alice.id,
        title="Grounding: 5-4-3-2-1",
        content="https://example.org/grounding",
        topic="Anxiety",
        language="en",
        now=now,
    )
    await services.library.approve(g, kept.id, world.mod.id, now)
    await services.library.suggest_resource(
        g,
        world.carol.id,
        title="Pomodoro timer that works offline",
        content="https://example.org/pomodoro",
        topic="Exams",
        language="en",
        now=now,
    )
    survey = await services.surveys.create(
        g,
        world.mod.id,
        title="How is the server doing?",
        anonymous=True,
        closes_in_hours=72,
        questions_text="scale: How welcome do you feel here?\n"
        "choice: Best time for a voice meetup? | Mornings | Evenings\n"
        "text: One thing we could do better",
        now=now,
    )
    people = [world.alice, world.bob, world.carol, *(world.member(f"member{i}") for i in range(4))]
    for i, person in enumerate(people):
        answers = [
            str(3 + i % 3),
            ("Mornings", "Evenings")[i % 2],
            ("More quiet rooms", "", "Weekly game night")[i % 3],
        ]
        await services.surveys.answer(g, survey.id, person.id, answers, now)
    role = world.guild.create_role("Steady helper")
    await services.recognition.add_milestone(g, 5, role.id, now)
    await services.recognition.add_milestone(g, 50, world.guild.create_role("Pillar of the community").id, now)
    await services.care.add(
        g,
        "de",
        name="Krisendienst Psychiatrie",
        contact="0800 655 3000",
        url="https://www.krisendienste.bayern",
        added_by=world.owner.id,
        now=now,
    )


async def test_screenshots_of_the_main_pages(page: Page, dash: Dash, tmp_path: Path) -> None:
    world = dash.world
    await _seed(dash)
    target = DOCS if os.environ.get("KINSHIP_SCREENSHOTS") == "1" else tmp_path
    await page.open("/login")
    await page.screenshot("login", target)
    await page.login(world.owner)
    g = world.guild.id
    pages = {
        "overview": f"/g/{g}",
        "reports": f"/g/{g}/reports",
        "case": f"/g/{g}/reports/2",
        "member": f"/g/{g}/members/{world.bob.id}",
        "help": f"/g/{g}/help",
        "stats": f"/g/{g}/stats",
        "settings": f"/g/{g}/settings",
        "library": f"/g/{g}/library",
        "surveys": f"/g/{g}/surveys",
        "survey": f"/g/{g}/surveys/{(await world.services.surveys.recent(g, limit=1))[0][0].id}",
        "milestones": f"/g/{g}/milestones",
    }
    shots = []
    for name, path in pages.items():
        await page.open(path)
        assert page.path == path, f"{path} went to {page.path}"
        text = await page.text()
        assert "isn't open to you" not in text
        assert "**" not in text and "`" not in text, f"Discord markdown shown as is on {path}"
        shots.append(await page.screenshot(name, target))
    dash.logout_cookies()
    await page.run(page.driver.delete_all_cookies)
    await page.login(world.alice)
    await page.open(f"/g/{g}", refused=True)
    shots.append(await page.screenshot("forbidden", target))
    assert all(p.stat().st_size > 10_000 for p in shots)
