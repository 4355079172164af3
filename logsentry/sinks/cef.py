"""The alert as an ArcSight Common Event Format (CEF) record.

Escaping follows the CEF specification: in header fields `\\` and `|` are
backslash-escaped and line breaks are not allowed (made visible); in extension
values `\\` and `=` are backslash-escaped and line breaks become the two
characters `\\n` / `\\r`. Other control characters are made visible so an
ANSI or NUL payload cannot reach the SIEM raw. Extension keys are ours only.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import orjson

from logsentry.core.alert import Alert
from logsentry.sinks.control_chars import truncate, visible_controls

CEF_SEVERITY: dict[str, int] = {"low": 3, "medium": 5, "high": 8, "critical": 10}

# ECS group fields with a dedicated CEF key; the rest travel in cs3 as JSON.
_GROUP_KEYS: dict[str, str] = {
    "source.ip": "src",
    "destination.ip": "dst",
    "source.port": "spt",
    "destination.port": "dpt",
    "user.name": "duser",
    "host.name": "dhost",
    "url.original": "request",
    "http.request.method": "requestMethod",
    "user_agent.original": "requestClientApplication",
}
_ADDRESS_KEYS = frozenset({"src", "dst"})
_PORT_KEYS = frozenset({"spt", "dpt"})


def escape_header(value: str) -> str:
    """A CEF header field: `\\` and `|` escaped, no line breaks or controls."""
    value = value.replace("\\", "\\\\").replace("|", "\\|")
    return visible_controls(value)


def escape_extension(value: str) -> str:
    """A CEF extension value: `\\`, `=` escaped, CR/LF as `\\r`/`\\n`, controls visible."""
    value = value.replace("\\", "\\\\").replace("=", "\\=")
    value = value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\r")
    return visible_controls(value)


def format_cef(alert: Alert, *, vendor: str = "logsentry", product: str = "logsentry",
               version: str = "0.1") -> str:
    """One CEF:0 line (no trailing newline) for `alert`."""
    header = "|".join(
        escape_header(part)
        for part in ("CEF:0", vendor, product, version, truncate(alert.rule_id, 1023),
                     truncate(alert.rule_name, 512))
    )
    extension: list[tuple[str, str]] = [
        ("rt", str(int(alert.end * 1000))),
        ("start", str(int(alert.start * 1000))),
        ("end", str(int(alert.end * 1000))),
        ("cnt", str(alert.count)),
        ("msg", truncate(alert.message, 1023)),
        ("externalId", alert.dedup_id),
        ("cat", alert.severity),
    ]
    rest: dict[str, Any] = {}
    for name, value in alert.group.items():
        key = _GROUP_KEYS.get(name)
        if key is None or not _valid(key, value):
            rest[name] = value
        else:
            extension.append((key, str(value)))
    if alert.techniques:
        extension += [("cs1Label", "mitreTechniques"), ("cs1", ",".join(alert.techniques))]
    if alert.tags:
        extension += [("cs2Label", "tags"), ("cs2", ",".join(alert.tags))]
    if rest:
        extension += [("cs3Label", "group"),
                      ("cs3", truncate(orjson.dumps(rest, default=str).decode(), 4000))]
    body = " ".join(f"{key}={escape_extension(value)}" for key, value in extension)
    return f"{header}|{CEF_SEVERITY.get(alert.severity, 10)}|{body}"


def _valid(key: str, value: Any) -> bool:
    # Typed CEF keys must hold their type, or a SIEM parser rejects the record.
    if key in _ADDRESS_KEYS:
        try:
            ipaddress.ip_address(str(value))
        except ValueError:
            return False
    if key in _PORT_KEYS:
        return str(value).isdigit() and 0 <= int(str(value)) <= 65535
    return True
