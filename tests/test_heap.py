"""bot/heap.py: start-up objects leave the collector's passes; cycles among them are not kept forever."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot.heap import freeze_long_lived


class _Node:
    other: _Node | None = None


@pytest.fixture
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_long_lived_objects_are_frozen_and_a_refreeze_collects_cycles_that_became_garbage(thawed: None) -> None:
    a, b = _Node(), _Node()
    a.other, b.other = b, a  # a cycle, like a cached guild and its members
    alive = weakref.ref(a)
    assert freeze_long_lived("the test's start-up") == gc.get_freeze_count() > 0
    del a, b
    gc.collect()
    assert alive() is not None, "a frozen cycle is out of the collector's passes"
    freeze_long_lived("a second READY")
    assert alive() is None, "refreezing first unfreezes and collects"
