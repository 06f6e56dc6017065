"""``python -m bot demo`` end to end: the real bot on SimCord plays its story, and the transcript
says what everyone saw. The demo runs as a subprocess, exactly as a reader of the README runs it."""

from __future__ import annotations

import importlib.util
import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.demo import MISSING_SIMCORD
from bot.demo.pictures import find_browser
from bot.demo.story import STEPS

SEEN = ("message", "edit", "form")  # what someone saw in Discord (not the narration between)
TIMEOUT = 300  # a bound on the subprocess, not a speed claim


def _demo(tmp_path: Path, *args: str, scratch: Path | None = None) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_", "KINSHIP_"))}
    if scratch is not None:  # not with a browser: Chromium's socket path under a deep TMPDIR would be too long
        env["TMPDIR"] = str(scratch)  # the demo's throw-away database goes here
    done = subprocess.run(
        [sys.executable, "-m", "bot", "demo", "--out", str(out), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    return done, out


def _seen_by(entries: list[dict[str, Any]], *audiences: str) -> list[dict[str, Any]]:
    return [e for e in entries if e["kind"] in SEEN and e["audience"] in audiences]


def _names(entry: dict[str, Any], name: str, snowflake: int) -> bool:
    return name in entry["text"].lower() or str(snowflake) in entry["raw"]


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    """One run of the demo without a browser, shared by the tests that read its transcript."""
    tmp_path = tmp_path_factory.mktemp("demo")
    (tmp_path / "tmp").mkdir()
    done, out = _demo(tmp_path, "--browser", str(tmp_path / "no-such-chromium"), scratch=tmp_path / "tmp")
    return done, out, tmp_path


def test_every_step_happens_and_the_run_ends_cleanly(played) -> None:
    done, out, tmp_path = played
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stderr == "", done.stderr  # nothing logged: no warnings, no errors
    headings = [line for line in done.stdout.splitlines() if line[:1].isdigit() and ". " in line]
    assert headings == [f"{n}. {title}" for n, title in enumerate(STEPS, start=1)]
    assert f"All {len(STEPS)} steps happened." in done.stdout
    # The folder is named at the end, and holds the same transcript as the terminal showed.
    assert f"The transcript is in {out}" in done.stdout
    assert (out / "transcript.txt").read_text(encoding="utf-8") == done.stdout
    # Without a browser there are no pictures, and one line says why.
    why = [line for line in done.stdout.splitlines() if line.startswith("No pictures:")]
    assert len(why) == 1 and ("no browser at" in why[0] or "screenshot extra" in why[0]), why
    assert not list(out.glob("*.png"))
    # A throw-away database, cleaned up: nothing left in the temp folder, no data/kinship.db.
    assert list((tmp_path / "tmp").iterdir()) == []
    assert not (tmp_path / "data").exists()


def test_the_story_shows_each_feature_working(played) -> None:
    _, out, _ = played
    data = json.loads((out / "transcript.json").read_text(encoding="utf-8"))
    entries = data["entries"]
    steps = {e["step"] for e in entries if e["kind"] in SEEN}
    assert steps == set(range(1, len(STEPS) + 1))  # every step made something visible

    def texts(step: int, audience: str | None = None) -> str:
        return "\n".join(e["text"] for e in entries if e["step"] == step and (audience in (None, e["audience"])))

    assert "✅ Moderators' channel: everything works." in texts(1, "only:sam")
    assert "You're a helper now for: Anxiety" in texts(2, "only:bob")
    assert "buttons: [I can help]  [Resolved]  [Still need help]" in texts(3, "everyone")
    assert "@bob is helping" in texts(4, "everyone")
    assert "🌟 @bob, @alice thanks you" in texts(5, "everyone")
    assert "Weekly check-in" in texts(6, "everyone") and "mood 4/5" in texts(6, "only:alice")
    assert "Exam went okay" not in texts(6, "everyone")  # a check-in note is private unless shared
    assert "case #1" in texts(7, "only:carol")
    assert "Case #1 · resolved" in texts(8, "moderators") and "case #1" in texts(8, "dm:carol")
    # Personal replies are marked as such in the terminal.
    assert "— only carol can see this:" in (out / "transcript.txt").read_text(encoding="utf-8")
    # Kinship notified only the helper and the member who asked.
    assert {name for e in entries for name in e["pinged"]} == {"alice", "bob"}


def test_the_reporters_name_never_reaches_the_moderators_or_the_reported_member(played) -> None:
    _, out, _ = played
    data = json.loads((out / "transcript.json").read_text(encoding="utf-8"))
    entries, people = data["entries"], data["people"]
    carol = people["carol"]
    for_mods = _seen_by(entries, "moderators", "only:jordan", "dm:jordan")
    for_max = _seen_by(entries, "only:max", "dm:max")
    assert any("Reporter: anonymous" in e["text"] for e in for_mods)
    assert [e["text"] for e in for_mods if _names(e, "carol", carol)] == []
    assert [e["text"] for e in for_max if _names(e, "carol", carol)] == []
    # Nor anything anyone but carol saw, in public channels included.
    others = [e for e in entries if e["kind"] in SEEN and e["audience"] not in ("only:carol", "dm:carol")]
    assert [e["text"] for e in others if _names(e, "carol", carol)] == []
    assert "The reporter's name (carol) is in none of the" in (out / "transcript.txt").read_text(encoding="utf-8")


def test_without_simcord_the_demo_says_how_to_get_it(tmp_path: Path) -> None:
    # A fresh interpreter in which `import simcord` fails, as where only the bot is installed.
    blocked = "import sys; sys.modules['simcord'] = None; from bot.__main__ import main; sys.exit(main(['demo']))"
    done = subprocess.run(
        [sys.executable, "-c", blocked], cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert done.returncode == 2
    assert done.stderr == MISSING_SIMCORD + "\n" and 'pip install -e ".[demo]"' in done.stderr
    assert done.stdout == ""


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", head[16:24])


_CAN_SHOOT = all(importlib.util.find_spec(m) for m in ("playwright", "aiohttp", "PIL", "markdown_it"))


@pytest.mark.slow
@pytest.mark.skipif(not (_CAN_SHOOT and find_browser()), reason="needs simcord[screenshot] and a Chromium on PATH")
def test_with_a_browser_the_demo_takes_pictures_of_the_messages(tmp_path: Path) -> None:
    done, out = _demo(tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    pictures = sorted(p.name for p in out.glob("*.png"))
    assert pictures, done.stdout[-1500:] + done.stderr[-1500:]
    assert pictures == [
        "01-setup-show.png",
        "02-help-thread.png",
        "03-thanks.png",
        "04-checkin.png",
        "05-report-receipt.png",
        "06-case-open.png",
        "07-case-resolved.png",
        "08-reporter-dm.png",
    ]
    assert f"The transcript and 8 pictures are in {out}" in done.stdout
    assert "No pictures" not in done.stdout and "Picture not taken" not in done.stdout
    for name in pictures:
        width, height = _png_size(out / name)
        assert width == 820 and 40 < height <= 900, (name, width, height)
