"""RFC 5424 syslog messages and RFC 6587 octet-counting framing."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime

from logsentry.core.alert import Alert
from logsentry.sinks.control_chars import visible_controls

# Alert severity -> syslog severity (2 critical, 3 error, 4 warning, 5 notice).
SYSLOG_SEVERITY: dict[str, int] = {"critical": 2, "high": 3, "medium": 4, "low": 5}
# Private enterprise number reserved for documentation (RFC 5612).
SD_ID = "logsentry@32473"

_HEADER_UNSAFE = re.compile(r"[^\x21-\x7e]")


def header_token(value: str, limit: int) -> str:
    """A header field: printable US-ASCII without spaces, at most `limit`, `-` if empty."""
    value = _HEADER_UNSAFE.sub("_", value)[:limit]
    return value or "-"


def sd_param(value: str) -> str:
    """An SD-PARAM value: `"`, `\\` and `]` escaped, controls visible."""
    value = value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")
    return visible_controls(value)


def format_message(alert: Alert, body: str, *, facility: int, hostname: str,
                   app_name: str) -> bytes:
    """One RFC 5424 message carrying `body` (already CEF- or JSON-escaped).

    The body never holds a raw line break: CEF and JSON escape them, and any
    left are made visible, so non-transparent framing and line-oriented
    receivers cannot be split by a payload.
    """
    pri = facility * 8 + SYSLOG_SEVERITY.get(alert.severity, 2)
    timestamp = datetime.fromtimestamp(alert.end, UTC).isoformat(timespec="milliseconds")
    structured = (
        f'[{SD_ID} dedupId="{sd_param(alert.dedup_id)}" rule="{sd_param(alert.rule_id)}"'
        f' severity="{sd_param(alert.severity)}"]'
    )
    header = " ".join([
        f"<{pri}>1",
        timestamp.replace("+00:00", "Z"),
        header_token(hostname, 255),
        header_token(app_name, 48),
        header_token(str(os.getpid()), 128),
        header_token(alert.rule_id, 32),
    ])
    return f"{header} {structured} {visible_controls(body)}".encode()


def octet_counted(message: bytes) -> bytes:
    """RFC 6587 octet-counting frame: `LEN SP MSG`."""
    return b"%d %s" % (len(message), message)
