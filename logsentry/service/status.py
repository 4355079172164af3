"""The one-line STATUS= that `systemctl status logsentry` shows.

Computed from the shared metrics registry, so it needs no hook in the
pipeline: whatever the stages count, the status line reports.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from prometheus_client import Counter

from logsentry.core.metrics import ALERTS, LINES_ANALYZED, LINES_READ, SINK_FAILURES
from logsentry.service.notify import ServiceNotifier


def counter_total(counter: Counter) -> float:
    """The sum of a counter over all its label values."""
    total = 0.0
    for metric in counter.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total"):
                total += sample.value
    return total


@dataclass(frozen=True, slots=True)
class Totals:
    """Counter totals at one instant."""

    at: float
    read: float
    analyzed: float
    alerts: float
    sink_failures: float

    @classmethod
    def now(cls) -> Totals:
        return cls(
            at=time.monotonic(),
            read=counter_total(LINES_READ),
            analyzed=counter_total(LINES_ANALYZED),
            alerts=counter_total(ALERTS),
            sink_failures=counter_total(SINK_FAILURES),
        )


def describe(before: Totals, after: Totals) -> str:
    """The status text for the interval between two snapshots."""
    elapsed = max(after.at - before.at, 1e-9)
    read_rate = (after.read - before.read) / elapsed
    analyzed_rate = (after.analyzed - before.analyzed) / elapsed
    text = (
        f"{read_rate:.0f} lines/s read, {analyzed_rate:.0f} lines/s analyzed, "
        f"{after.alerts:.0f} alerts ({after.alerts - before.alerts:.0f} new)"
    )
    failures = after.sink_failures - before.sink_failures
    if failures:
        text += f", {failures:.0f} sink failures"
    return text


class StatusReporter:
    """Sends STATUS= with rates over the last interval, every `interval` seconds."""

    def __init__(self, notifier: ServiceNotifier, interval: float) -> None:
        self._notifier = notifier
        self.interval = interval
        self.last_status = ""

    async def run(self) -> None:
        """Report until cancelled."""
        before = Totals.now()
        while True:
            await asyncio.sleep(self.interval)
            after = Totals.now()
            self.last_status = describe(before, after)
            self._notifier.status(self.last_status)
            before = after
