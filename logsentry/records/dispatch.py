"""Which record decoder a line, a syslog body or a JSON document goes to.

Decided on the first characters (or one key) only: the envelope asks on every
line, and syslog lines, the hot path, must not pay for formats they are not.
"""

from __future__ import annotations

from typing import Any

from logsentry.records.auditd import decode_auditd, decode_laurel
from logsentry.records.cloudtrail import decode_cloudtrail, is_cloudtrail
from logsentry.records.event_name import decode_event_name
from logsentry.records.record import DecodedRecord
from logsentry.records.windows_event import decode_windows_json, decode_windows_xml

# First characters of a record: auditd `type=`/`node=`, Windows `<Event`.
RECORD_STARTS = frozenset("tn<")


def decode_line(text: str) -> DecodedRecord | None:
    """The record a whole line or a syslog body holds; None when it holds none."""
    first = text[:1]
    if first == "<":
        return decode_windows_xml(text) if text.startswith("<Event") else None
    if first in ("t", "n") and text.startswith(("type=", "node=")):
        return decode_auditd(text)
    return None


def decode_json(doc: dict[str, Any]) -> DecodedRecord | None:
    """The record a JSON document holds (laurel, nxlog, winlogbeat, CloudTrail, or an
    application's record whose event name says a login failed); None otherwise."""
    if "ID" in doc:
        return decode_laurel(doc)
    if "EventID" in doc or "winlog" in doc:
        return decode_windows_json(doc)
    if "eventSource" in doc and is_cloudtrail(doc):
        return decode_cloudtrail(doc)
    return decode_event_name(doc)
