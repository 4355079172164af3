"""Sinks that render alerts (Slack, CEF) need Alert records, not raw events."""

from __future__ import annotations

from collections.abc import Sequence

from logsentry.alert import Alert
from logsentry.sinks.base import Record, SinkError


def require_alerts(sink_name: str, batch: Sequence[Record]) -> list[Alert]:
    """The batch as alerts; a non-alert record is a permanent error for this sink."""
    alerts: list[Alert] = []
    for record in batch:
        if not isinstance(record, Alert):
            raise SinkError(f"{sink_name}: only alerts can be delivered, got "
                            f"{type(record).__name__}", permanent=True)
        alerts.append(record)
    return alerts
