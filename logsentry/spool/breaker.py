"""A circuit breaker per sink."""

from __future__ import annotations

import time
from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Closed: deliver normally. After `threshold` consecutive failures it opens
    for `open_seconds` (no attempts); then half-open: one probe batch of a
    single alert. Success closes it; failure reopens it.
    """

    def __init__(self, threshold: int, open_seconds: float):
        self.threshold = threshold
        self.open_seconds = open_seconds
        self.failures = 0
        self.opened_at: float | None = None

    @property
    def state(self) -> State:
        if self.opened_at is None:
            return "closed"
        if time.monotonic() - self.opened_at < self.open_seconds:
            return "open"
        return "half_open"

    def wait_time(self) -> float:
        """Seconds until an attempt is allowed (0 when closed or half-open)."""
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.open_seconds - time.monotonic())

    def record_success(self) -> None:
        self.failures = 0
        self.opened_at = None

    def record_failure(self) -> bool:
        """Count a failure; True when this failure (re)opened the breaker."""
        self.failures += 1
        if self.opened_at is not None or self.failures >= self.threshold:
            self.opened_at = time.monotonic()
            return True
        return False
