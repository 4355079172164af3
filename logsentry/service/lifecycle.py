"""Everything the daemon tells its supervisor and its monitoring, in one place.

The daemon makes these calls, in this order:

    lifecycle = ServiceLifecycle(config.service)
    await lifecycle.start()          # /metrics up, watchdog pinging
    ... load the model, open the sources ...
    lifecycle.ready()                # READY=1, /readyz 200, STATUS= updates begin
    on SIGHUP: lifecycle.reloading() ... reload ... lifecycle.reloaded(error=None)
    on SIGTERM: lifecycle.stopping() ... drain ...
    await lifecycle.close()

Under systemd, these become sd_notify messages; without it (a terminal, a
container) the notifications are no-ops and the HTTP endpoint still serves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from logsentry.service.config import ServiceConfig
from logsentry.service.http import HealthState, MonitoringServer
from logsentry.service.notify import ServiceNotifier
from logsentry.service.status import StatusReporter, Totals, describe
from logsentry.service.watchdog import measure_loop_lag

log = structlog.get_logger(__name__)


class ServiceLifecycle:
    """sd_notify, watchdog, STATUS= reports and the monitoring endpoint of one daemon run."""

    def __init__(
        self,
        config: ServiceConfig,
        notifier: ServiceNotifier | None = None,
        health: HealthState | None = None,
    ) -> None:
        self.config = config
        self.notifier = notifier if notifier is not None else ServiceNotifier.from_env()
        self.health = health if health is not None else HealthState()
        self.server: MonitoringServer | None = None
        self._status_task: asyncio.Task[None] | None = None
        self._lag_task: asyncio.Task[None] | None = None
        self._started = Totals.now()

    async def start(self, is_healthy: Callable[[], bool] | None = None) -> None:
        """Start the monitoring endpoint and the watchdog pings.

        Call early, before the slow start-up work, from the running loop.
        `is_healthy`, if given, gates watchdog pings (and is a liveness check).
        Raises OSError when the metrics address cannot be bound: an operator
        who configured monitoring wants to know at start, not never.
        """
        if is_healthy is not None:
            gate = is_healthy
            self.health.add_liveness_check(
                "daemon", lambda: None if gate() else "health check failed")
        if self.config.metrics.enabled:
            self.server = MonitoringServer(self.config.metrics, self.health)
            await self.server.start()
        watchdog = self.notifier.start_watchdog(is_healthy) if self.config.watchdog else None
        if watchdog is not None:
            log.info("watchdog_started", usec=self.notifier.watchdog_usec)
        else:
            # The watchdog measures event-loop lag; without one, measure it anyway.
            self._lag_task = asyncio.get_running_loop().create_task(
                measure_loop_lag(), name="loop-lag")
        self.notifier.status("starting")

    def ready(self, status: str = "running") -> None:
        """Start-up is complete: model loaded, sources open. Sends READY=1."""
        self.health.set_ready()
        self.notifier.ready(status)
        if self._status_task is None and self.notifier.enabled:
            reporter = StatusReporter(self.notifier, self.config.status_interval)
            self._status_task = asyncio.get_running_loop().create_task(
                reporter.run(), name="systemd-status")

    def reloading(self) -> None:
        """A SIGHUP reload begins. Sends RELOADING=1; `reloaded()` must follow."""
        self.notifier.reloading()

    def reloaded(self, error: str | None = None) -> None:
        """The reload ended; `error` says why the old configuration was kept.

        READY=1 goes out either way: a failed reload leaves the daemon running
        on its previous configuration, which is still a ready service.
        """
        status = "running" if error is None else f"running; reload failed: {error}"
        self.notifier.ready(status)

    def stopping(self) -> None:
        """Shutdown begins: STOPPING=1, /readyz turns 503."""
        self.health.set_not_ready("stopping")
        self.notifier.stopping(self.summary())

    def summary(self) -> str:
        """Status text over the whole run so far."""
        return "stopping; since start: " + describe(self._started, Totals.now())

    async def close(self) -> None:
        """Stop reporting, the watchdog and the endpoint."""
        tasks = [t for t in (self._status_task, self._lag_task) if t is not None]
        self._status_task = self._lag_task = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.server is not None:
            await self.server.close()
            self.server = None
        await self.notifier.close()
