"""Short garbage-collector passes for a process that holds a big, long-lived heap.

A full (generation 2) pass of CPython's cycle collector visits every tracked object. After
start-up Kinship holds ~170,000 of them — modules, classes, functions, templates — and, with a
big guild, discord.py's cache; one full pass over that took 100–160 ms here, and it runs on the
event loop, so a page or an interaction that happens to trigger it waits that long
(``bench/dashboard.py``, ``bench/loop_stall.py``). Almost none of those objects ever become
garbage, so once start-up is done we move them out of the collector's view (:func:`gc.freeze`);
passes then visit only what was made since. Objects that were frozen are still freed by reference
counting; only reference cycles among them would stay, so every refreeze first unfreezes and
collects (a re-identify drops the whole old cache, which is full of guild <-> member cycles).
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger(__name__)


def freeze_long_lived(reason: str) -> int:
    """Collect what is garbage now, then leave every surviving object out of future passes.

    Returns how many objects are frozen. Takes one full pass (~0.1 s), so call it at start-up
    moments (cogs loaded, the gateway's READY, the dashboard serving), not per request."""
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info(
        "left %d long-lived objects out of the garbage collector's passes after %s (%.0f ms)",
        frozen,
        reason,
        (time.perf_counter() - started) * 1000,
    )
    return frozen
