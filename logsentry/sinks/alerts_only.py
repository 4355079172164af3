"""Sinks that render alerts (Slack, CEF) need Alert records, not raw events."""

from __future__ import annotations

from collections.abc import Sequence

from logsentry.core.alert import Alert
from logsentry.core.errors import SinkError
from logsentry.sinks.base import Deliverable


def require_alerts(sink_name: str, batch: Sequence[Deliverable]) -> list[Alert]:
    """The batch as alerts; a non-alert record is a permanent error for this sink."""
    alerts: list[Alert] = []
    for record in batch:
        if not isinstance(record, Alert):
            raise SinkError(f"{sink_name}: only alerts can be delivered, got "
                            f"{type(record).__name__}", permanent=True)
        alerts.append(record)
    return alerts
