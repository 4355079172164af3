"""The events topic's records: an analyzed Event as ECS JSON, and back.

Stage 1 writes `Event.to_ecs()` with `@timestamp` always set (the line's own
time, else its arrival at stage 1), so every stage-2 instance, and every
replay, puts an event in the same correlation window.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import orjson

from logsentry.core.actions import ACTIONS
from logsentry.core.event import Event

# Top-level keys of the ECS document that are not flat event fields.
_RESERVED = frozenset({"@timestamp", "message", "line", "event", "logsentry"})
_ACTION_DERIVED = frozenset({"action", "category", "type", "outcome"})


# Kafka brokers reject records over `message.max.bytes` (1 MB by default):
# bigger events are cut so one huge line cannot stall stage 1.
MAX_RECORD_BYTES = 900_000


def encode_event(event: Event, max_bytes: int = MAX_RECORD_BYTES) -> bytes:
    """The record value of an analyzed event, at most about `max_bytes`."""
    doc = event.to_ecs()
    if "@timestamp" not in doc:
        doc["@timestamp"] = datetime.fromtimestamp(event.event_time, UTC).isoformat()
    value = orjson.dumps(doc)
    if len(value) > max_bytes:
        # Characters may take up to 4 bytes in UTF-8 (and 6 as JSON escapes).
        doc["message"] = event.message[: max_bytes // 8]
        doc["logsentry"]["summary"] = doc["logsentry"]["summary"][:1024]
        doc["logsentry"]["template"] = doc["logsentry"]["template"][:1024]
        doc["logsentry"]["truncated"] = True
        value = orjson.dumps(doc)
    return value


def decode_event(value: str, received: float) -> Event | None:
    """The Event of a record value; None when it is not an ECS event document."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    message = doc.get("message")
    event = Event(message=message if isinstance(message, str) else "", received=received)
    event.body = event.message
    line = doc.get("line")
    if isinstance(line, int) and not isinstance(line, bool):
        event.line = line
    stamp = doc.get("@timestamp")
    if isinstance(stamp, str):
        with contextlib.suppress(ValueError):
            event.timestamp = datetime.fromisoformat(stamp)
    meta = doc.get("event")
    if isinstance(meta, dict):
        action = meta.get("action")
        if isinstance(action, str) and action in ACTIONS:
            event.action = action
        for key, child in meta.items():
            # A decoded record's own event fields (event.code, event.provider) travel on;
            # category, type and outcome follow from the action.
            if key not in _ACTION_DERIVED:
                _flatten(child, f"event.{key}", event.fields)
    extra = doc.get("logsentry")
    if isinstance(extra, dict):
        event.template = str(extra.get("template", ""))
        event.summary = str(extra.get("summary", ""))
        confidence = extra.get("confidence")
        if isinstance(confidence, int | float):
            event.confidence = float(confidence)
    for key, child in doc.items():
        if key not in _RESERVED:
            _flatten(child, key, event.fields)
    return event


def _flatten(node: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(node, dict):
        for key, child in node.items():
            _flatten(child, f"{prefix}.{key}", out)
    else:
        out[prefix] = node
