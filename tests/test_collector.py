"""Long-lived objects leave the garbage collector's full collections (core/collector.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from logsentry.core import collector


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture
def frozen_after_full_collections() -> Iterator[None]:
    collector.keep_survivors_frozen()
    collector.keep_survivors_frozen()  # once, however often asked
    try:
        yield
    finally:
        gc.callbacks.remove(collector._freeze_after_full_collection)
        collector._installed = False
        gc.unfreeze()


def test_what_survives_a_full_collection_is_never_visited_again(
        frozen_after_full_collections: None) -> None:
    assert gc.callbacks.count(collector._freeze_after_full_collection) == 1
    alive = _Node()
    gc.collect()
    assert not any(obj is alive for obj in gc.get_objects())
    # A young collection freezes nothing.
    young = _Node()
    gc.collect(0)
    assert any(obj is young for obj in gc.get_objects())


def test_garbage_is_collected_before_it_could_be_frozen(
        frozen_after_full_collections: None) -> None:
    cycle = _Node()
    cycle.other = _Node()
    cycle.other.other = cycle
    frozen_before = gc.get_freeze_count()
    del cycle
    assert gc.collect() >= 2  # the cycle is freed by the collection that then freezes
    assert gc.get_freeze_count() >= frozen_before


def test_a_reference_cycle_frozen_alive_is_freed_by_collect_frozen(
        frozen_after_full_collections: None) -> None:
    cycle = _Node()
    cycle.other = _Node()
    cycle.other.other = cycle
    gc.collect()  # alive: frozen
    del cycle
    assert gc.collect() == 0  # frozen garbage is out of the collector's sight
    assert collector.collect_frozen() >= 2
