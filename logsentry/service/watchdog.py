"""The systemd watchdog: WATCHDOG=1 pings sent from the event loop itself.

The ping is a coroutine on the daemon's event loop, not a thread: when the
loop is stuck (a blocking call, a livelock in a stage) the pings stop, systemd
notices after `WatchdogSec=` and restarts the service. A thread would keep
pinging for a dead daemon.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping

import structlog

from logsentry.core.metrics import EVENT_LOOP_LAG

log = structlog.get_logger(__name__)


def watchdog_usec_from_env(environ: Mapping[str, str] | None = None) -> int | None:
    """The watchdog timeout systemd set for this process, in microseconds, or None.

    WATCHDOG_PID, when present, names the process the watchdog is meant for;
    a child that inherited the environment must not ping on its parent's behalf.
    """
    env = os.environ if environ is None else environ
    raw = env.get("WATCHDOG_USEC", "")
    if not raw:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    try:
        usec = int(raw)
    except ValueError:
        log.warning("watchdog_usec_invalid", value=raw)
        return None
    return usec if usec > 0 else None


class Watchdog:
    """Pings every half watchdog timeout while the loop runs (and is healthy)."""

    def __init__(
        self,
        ping: Callable[[], bool],
        watchdog_usec: int,
        *,
        is_healthy: Callable[[], bool] | None = None,
    ) -> None:
        self._ping = ping
        # Half the timeout, as sd_watchdog_enabled(3) recommends: one late
        # ping does not get the daemon killed.
        self.interval = watchdog_usec / 2_000_000
        self._is_healthy = is_healthy
        self.pings = 0

    async def run(self) -> None:
        """Ping until cancelled."""
        next_due = time.monotonic()
        while True:
            now = time.monotonic()
            # How late the loop woke us: the time it spent on something else.
            EVENT_LOOP_LAG.set(max(0.0, now - next_due))
            if self._healthy() and self._ping():
                self.pings += 1
            next_due = time.monotonic() + self.interval
            await asyncio.sleep(self.interval)

    def _healthy(self) -> bool:
        if self._is_healthy is None:
            return True
        try:
            healthy = self._is_healthy()
        except Exception:
            log.exception("watchdog_health_check_failed")
            return False
        if not healthy:
            log.warning("watchdog_ping_withheld", reason="health check failed")
        return healthy


async def measure_loop_lag(interval: float = 1.0) -> None:
    """Keep logsentry_event_loop_lag_seconds current without a watchdog (until cancelled)."""
    while True:
        due = time.monotonic() + interval
        await asyncio.sleep(interval)
        EVENT_LOOP_LAG.set(max(0.0, time.monotonic() - due))
