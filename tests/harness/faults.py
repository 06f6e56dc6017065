"""A flaky Discord for fault-tolerance tests: a seeded share of REST requests fails.

SimCord's ``env.inject_error`` fails requests that match a pattern a number of times; this module
adds a *rate*: each request the bot sends is answered 429 (with ``retry_after``), 500 or 503 with
probability ``rate``, decided by a seeded ``random.Random`` so a run is reproducible.

SimCord replaces discord.py's HTTP client, so discord.py's own retry loop (which sleeps on 429 and
retries 5xx up to five times) never runs: every injected fault reaches the bot as the
``discord.HTTPException`` discord.py raises once it gives up — the worst case the bot must handle.
"""

from __future__ import annotations

import contextlib
import fnmatch
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from simcord.backend.errors import BackendError
from simcord.http import router

#: Paths answered through the interaction's token (the reply to a click or command). A failure
#: there cannot be retried by the bot (the token is only good for 3 seconds for the first answer),
#: so the default leaves them alone; pass ``exclude=()`` to include them.
INTERACTION_PATHS = ("/interactions/*", "/webhooks/*")


class RateLimited(BackendError):
    """A 429 as Discord sends it: the body carries ``retry_after`` (seconds) and ``global``."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(429, 0, "You are being rate limited.")
        self.retry_after = retry_after

    def to_json(self) -> dict[str, Any]:
        """Discord's 429 body."""
        return {"message": self.message, "retry_after": self.retry_after, "global": False, "code": 0}


@dataclass
class FlakyDiscord:
    """Counts what it did: ``seen`` requests considered, ``failed`` by status."""

    rate: float
    rng: random.Random
    exclude: tuple[str, ...]
    enabled: bool = True
    seen: int = 0
    failed: dict[int, int] = field(default_factory=dict)

    def maybe_fail(self, method: str, path: str) -> None:
        """Raise a fault for this request, or not."""
        if not self.enabled or any(fnmatch.fnmatch(path, p) for p in self.exclude):
            return
        self.seen += 1
        if self.rng.random() >= self.rate:
            return
        status = self.rng.choice((429, 500, 503))
        self.failed[status] = self.failed.get(status, 0) + 1
        if status == 429:
            raise RateLimited(retry_after=round(self.rng.uniform(0.1, 5.0), 2))
        raise BackendError(status, 0, "Service Unavailable" if status == 503 else "Internal Server Error")


@contextlib.contextmanager
def flaky_discord(
    rate: float = 0.2, *, seed: int = 9, exclude: tuple[str, ...] = INTERACTION_PATHS
) -> Iterator[FlakyDiscord]:
    """While active, each REST request (except ``exclude`` path patterns) fails with probability
    ``rate``. Set ``.enabled = False`` to pause it."""
    flaky = FlakyDiscord(rate=rate, rng=random.Random(seed), exclude=exclude)
    original = router._check_faults

    def check(backend: Any, method: str, path: str) -> None:
        original(backend, method, path)
        flaky.maybe_fail(method, path)

    router._check_faults = check
    try:
        yield flaky
    finally:
        router._check_faults = original
