"""Keeping long-lived objects out of the garbage collector's full collections.

A full (generation 2) collection visits every tracked object of the process. With a
million correlation groups alive that is 0.5 to 2.5 s with the interpreter lock held,
a stall of every thread, each time enough new objects have survived since the last
one. `gc.freeze()` moves every tracked object into a permanent generation that
collections skip, so that a full collection visits only what survived since the
last freeze.

The moment to freeze is the end of a full collection: there is then no cyclic
garbage left anywhere to be frozen with the live objects, and freezing costs nothing
more (it splices lists). Frozen objects are still freed by reference counting (an
expired or evicted group goes as before); only a reference cycle among objects that
were alive at a freeze and die later is not collected, until `collect_frozen()`: the
daemon calls it between two pipeline runs (a reload), when a whole detector and its
state become such garbage at once.
"""

from __future__ import annotations

import gc
import threading
from typing import Any

_installed = False
_guard = threading.Lock()

# The collector's thresholds in the daemon: young generation, then the two older ones.
# The batches in flight (three queues of up to 16 batches of hundreds of events, each
# event a few dicts) are what the collector finds alive: at the default young threshold
# (700 allocations) it visits them again and again and promotes them, and the middle
# generation's collections then visit them all. With 50,000, most of them are written
# and freed before a collection comes: the collector's time fell from 1.4 s to 0.24 s
# over 400,000 lines (model and rules), at a pause of about 10 ms a young collection.
DAEMON_THRESHOLDS = (50_000, 20, 100)


def use_daemon_thresholds() -> None:
    """The daemon's collection thresholds, process-wide (benchmarks of its parts too)."""
    gc.set_threshold(*DAEMON_THRESHOLDS)


def _freeze_after_full_collection(phase: str, info: dict[str, Any]) -> None:
    # Called by the collector itself, with the interpreter lock held: the objects that
    # survived this full collection leave all the later ones.
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


def keep_survivors_frozen() -> None:
    """From now on, freeze what survives each full collection (process-wide, once)."""
    global _installed
    with _guard:
        if not _installed:
            gc.callbacks.append(_freeze_after_full_collection)
            _installed = True


def collect_frozen() -> int:
    """Collect the garbage among frozen objects too, then freeze the survivors again; how
    many objects were freed. A full collection of everything: seconds at a million
    groups, so only where nothing waits on it."""
    gc.unfreeze()
    freed = gc.collect()
    gc.freeze()
    return freed


def collect_young() -> None:
    """A generation-0 collection now: what the collector would do on its own, if it
    counted right. It collects the young generation once allocations outnumber
    deallocations by its threshold (700), and every object freed counts against that,
    a frozen one too. Where old objects are freed as fast as new ones are made (a
    correlation group's tuples replaced, the copies of a checkpoint written and
    dropped), no collection comes for a long time while the new objects pile up in
    the young generation: at 390,000 groups during a save, 380,000 of them, and the
    collection that finally came stalled detection for 200 ms. Called after a batch,
    it visits about what that batch made (a millisecond or two)."""
    gc.collect(0)
