"""Which alerts a sink receives."""

from __future__ import annotations

from fnmatch import fnmatchcase

from logsentry.core.alert import SEVERITY_ORDER, Alert
from logsentry.sinks.config import Routing


def accepts(routing: Routing, alert: Alert) -> bool:
    """True when `alert` passes the sink's routing.

    All set conditions must hold: severity at least `min_severity`; the rule id
    matches one of `rule_ids` (shell-style patterns, `ssh.*`); the alert carries
    at least one of `tags`. A sink routed to `events` receives no alerts.
    """
    if routing.records != "alerts":
        return False
    if _rank(alert.severity) < _rank(routing.min_severity):
        return False
    if routing.rule_ids is not None and not any(
        fnmatchcase(alert.rule_id, pattern) for pattern in routing.rule_ids
    ):
        return False
    return routing.tags is None or bool(set(routing.tags) & set(alert.tags))


def _rank(severity: str) -> int:
    # An unknown severity (a rule author's typo) ranks highest: better one
    # alert too many in a channel than one silently missing.
    try:
        return SEVERITY_ORDER.index(severity)
    except ValueError:
        return len(SEVERITY_ORDER)
