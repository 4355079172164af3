"""The process's resident growth held under the detection memory cap.

The state's estimate and the analyzer's caches are what grows with distinct input, but
the process grows by more than they count: under a flood of distinct sources at the cap,
pymalloc's arenas held about 10% more than the live blocks (freed groups leave partly
used pools), glibc's heap kept what it freed (each checkpoint's encoded slices churn it),
and the pipeline's bounded queues fill. None of that is an estimate one can add per
group, and it shows only once the state churns.

So the process's resident set is measured against the cap as well: its growth over a
baseline (the resident set when detection began, less what was then counted). Each new
high of that growth past `NEAR_CAP` of the cap takes as many bytes off what the state
may count (its ceiling); eviction then frees a tenth below the ceiling, and the freed
blocks are reused by what comes next instead of growing the heap. Only a new high
lowers the ceiling, and only by how far it passed the last: a resident set rarely
shrinks, and lowering it again while the growth merely stays high would evict
everything. The ceiling is lifted once the growth is back under `LIFT_BELOW` of the cap
(the allocator handed memory back).
"""

from __future__ import annotations

import math
from collections.abc import Callable

# A new high of the resident growth past this share of the cap lowers the state's ceiling.
# The reaction comes after the growth: the line leaves room for the resident set's rise
# between two batches. (At 85% a flood went past the cap as often, while a checkpoint
# kept the groups evicted during its save: each lowering evicted more of them.)
NEAR_CAP = 0.9
# Below this share of the cap the ceiling is lifted.
LIFT_BELOW = 0.75


class ResidentCeiling:
    """What the process's resident growth leaves the correlation state under the cap."""

    def __init__(self, resident: Callable[[], float], cap_bytes: int) -> None:
        # The process's resident set size in bytes (NaN where it cannot be read).
        self.resident = resident
        self.cap_bytes = cap_bytes
        self.baseline: float | None = None
        # Resident growth over the baseline at the last update, and its highest.
        self.growth = 0.0
        self._high = 0.0
        # What the state may count (infinite until the growth comes near the cap).
        self.ceiling = math.inf
        self.lowered = 0

    def update(self, counted: int, state: int) -> None:
        """Measure the resident set; `counted` is all the memory counted against the cap
        (state and analyzer caches), `state` the state's part of it."""
        rss = self.resident()
        if math.isnan(rss):
            return
        if self.baseline is None:
            # What is counted already (a restored state) is growth, not baseline.
            self.baseline = rss - counted
        growth = rss - self.baseline
        self.growth = growth
        if growth < LIFT_BELOW * self.cap_bytes:
            self.ceiling = math.inf
            self._high = growth
        elif growth > self._high:
            near = NEAR_CAP * self.cap_bytes
            if growth > near:
                start = state if math.isinf(self.ceiling) else self.ceiling
                self.ceiling = start - (growth - max(self._high, near))
                self.lowered += 1
            self._high = growth
