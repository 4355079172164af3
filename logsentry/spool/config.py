"""Configuration of the durable alert spool and of delivery retries."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from logsentry.core.config_base import StrictModel


class SpoolConfig(StrictModel):
    """`spool:` in the configuration file.

    The spool holds every accepted alert until each sink has delivered it (or
    dead-lettered it). `max_bytes` bounds its disk use; `on_full` says what
    happens when a long outage fills it: `backpressure` (default) makes
    `submit()` wait, which slows the sources, so no alert is lost; `error`
    makes `submit()` raise SpoolFullError at once.
    """

    max_bytes: int = Field(default=256 * 1024 * 1024, ge=64 * 1024)
    segment_bytes: int = Field(default=8 * 1024 * 1024, ge=4096)
    on_full: Literal["backpressure", "error"] = "backpressure"
    # fsync each appended batch and each cursor: durable across power loss,
    # not only across a process crash.
    fsync: bool = True
    # Retry delays: exponential from initial to max, with full jitter.
    initial_backoff: float = Field(default=0.5, gt=0)
    max_backoff: float = Field(default=10.0, gt=0)
    # Circuit breaker: after this many consecutive failures the sink rests
    # `breaker_open_seconds`, then one probe alert decides whether it is back.
    # Both bound how long a recovered receiver waits for its backlog.
    breaker_failures: int = Field(default=5, ge=1)
    breaker_open_seconds: float = Field(default=10.0, gt=0)
    # Upper bound of one sink.send() call, on top of the sink's own timeouts.
    send_timeout: float = Field(default=60.0, gt=0)
    # The per-sink dead-letter file is rotated (one backup kept) at this size.
    dead_letter_max_bytes: int = Field(default=64 * 1024 * 1024, ge=4096)
