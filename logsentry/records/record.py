"""What a record decoder returns, and how it joins the event being built."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from logsentry.core.event import Event

# Longest record text a decoder looks at: records are attacker-controlled
# (a command line, a user name), and a megabyte line must not cost a scan.
MAX_RECORD_CHARS = 65536
# Longest value kept in a field (a command line, an event data item).
MAX_VALUE_CHARS = 8192


@dataclass(slots=True)
class DecodedRecord:
    """Fields of one record, already in their ECS types (pids are ints).

    `action` is the `event.action` the record's type fixes (an auditd execve,
    a Windows 4625), None when the type says nothing the vocabulary names.
    `body` replaces what the analyzer reads, when the record has a message
    of its own; None keeps the line.
    """

    fields: dict[str, Any] = field(default_factory=dict)
    timestamp: datetime | None = None
    action: str | None = None
    body: str | None = None
    # False for a decoder that names only the action: the model's fields still join.
    names_fields: bool = True


def apply_record(event: Event, record: DecodedRecord, replace: bool = False) -> None:
    """Merge a decoded record into an event: fields a source already knows stay, unless
    `replace` (a record behind a syslog header replaces the forwarder's process); the
    record's own time replaces a wrapper's coarser one."""
    fields = event.fields
    for name, value in record.fields.items():
        if (replace or name not in fields) and value is not None and value != "":
            fields[name] = value
    if record.timestamp is not None:
        event.timestamp = record.timestamp
    if record.action is not None:
        # Set now (envelope-only runs have no analyzer) and kept by `Event.apply`.
        event.decoded_action = event.action = record.action
        event.confidence = 1.0
        event.decoded_fields = record.names_fields
    if record.body is not None:
        event.body = record.body


def clip(text: str) -> str:
    """A value cut to `MAX_VALUE_CHARS`."""
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS]
