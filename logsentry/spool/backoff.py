"""Exponential retry delays with full jitter."""

from __future__ import annotations

import random


class Backoff:
    """Delays `uniform(0, min(max, initial * 2**n))` for the n-th consecutive failure.

    Full jitter spreads the retries of many daemons hitting one recovering
    receiver, instead of synchronising them.
    """

    def __init__(self, initial: float, maximum: float, rng: random.Random | None = None):
        self.initial = initial
        self.maximum = maximum
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """The delay before the next attempt; counts one more failure."""
        ceiling = min(self.maximum, self.initial * (2 ** min(self.failures, 30)))
        self.failures += 1
        # Never zero: a tight retry loop against a dead receiver helps no one.
        return max(self.initial / 4, self._rng.uniform(0, ceiling))

    def reset(self) -> None:
        self.failures = 0
