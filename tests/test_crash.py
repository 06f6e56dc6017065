"""kill -9 while reports are being filed (issue #9).

A real bot process (``tests/harness/crash_driver.py``) files up to 200 reports on a SQLite file and
writes each receipt's case number to disk the moment the member sees it; it is killed with SIGKILL
part-way. A second process on the same file delivers what is left. Every report that got a receipt
is in the database; every stored report ends up delivered; the second run posts exactly the reports
the database had not marked delivered, each once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

DRIVER = Path(__file__).parent / "harness" / "crash_driver.py"
REPORTS = 200
KILL_AFTER = 40  # receipts


@pytest.mark.slow
def test_kill_9_while_filing_reports_loses_none_and_delivers_each_once(tmp_path: Path) -> None:
    db, receipts = tmp_path / "kinship.db", tmp_path / "receipts.txt"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.Popen(
        [sys.executable, str(DRIVER), "submit", str(db), str(receipts), str(REPORTS)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120  # real time: this waits for another process
        while time.monotonic() < deadline and proc.poll() is None:
            if receipts.exists() and len(receipts.read_text().split()) >= KILL_AFTER:
                break
            time.sleep(0.02)
        assert proc.poll() is None, f"the driver ended early: {proc.stderr.read().decode()[-2000:]}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    got_receipt = [int(x) for x in receipts.read_text().split()]
    assert len(got_receipt) >= KILL_AFTER

    done = subprocess.run(
        [sys.executable, str(DRIVER), "deliver", str(db)],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])

    stored = result["stored"]
    assert result["undelivered_before"], "nothing was left in the outbox: the second run tested nothing"
    assert len(stored) < REPORTS, "the kill came after every report was filed: nothing was tested"
    assert set(got_receipt) <= set(stored), "a member got a receipt for a report that is not stored"
    assert stored == sorted(set(stored)), "a case number was given twice"
    assert result["delivered"] == stored, "a stored report was never delivered"
    assert sorted(result["posted"]) == result["undelivered_before"], "run 2 posted a delivered report, or missed one"
    assert len(result["posted"]) == len(set(result["posted"])), "a report was posted twice"
