"""An event's ECS document and JSON: every arrangement of field names nests the same way
as placing the fields one by one, whichever path `to_ecs`/`to_json` take."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from logsentry.core.actions import ACTIONS
from logsentry.core.event import Event, rounded_confidence


def placed_one_by_one(event: Event) -> dict[str, Any]:
    """The document as its definition reads: the line, the message, the time, each dotted
    field set in order (creating or replacing objects on the way), then the action's
    `event` object over any event fields of the event's own, then the labels."""
    doc: dict[str, Any] = {"line": event.line, "message": event.message}
    if event.timestamp is not None:
        doc["@timestamp"] = event.timestamp.isoformat()
    for name, value in event.fields.items():
        *parents, leaf = name.split(".")
        node = doc
        for key in parents:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[leaf] = value
    info = ACTIONS[event.action]
    own = doc.get("event")
    doc["event"] = {**(own if isinstance(own, dict) else {}),
                    "category": list(info.category), "type": list(info.type),
                    "outcome": info.outcome, "action": event.action}
    doc["logsentry"] = {"template": event.template, "summary": event.summary,
                        "confidence": event.confidence}
    return doc


SHAPES: list[dict[str, Any]] = [
    {},
    {"host.name": "web1"},
    {"host.name": "LabSZ", "process.name": "sshd", "process.pid": 24200,
     "user.name": "root", "source.ip": "192.0.2.7", "source.port": 38926},
    # Deeper than two parts, before and after a two-part name of the same object.
    {"source.ip": "192.0.2.7", "http.request.method": "GET", "url.original": "/",
     "http.version": "1.1", "http.response.status_code": 401, "user_agent.original": "x"},
    {"http.version": "1.1", "http.request.method": "POST", "http.request.referrer": "-"},
    {"user.name": "alice", "user.effective.name": "root", "process.thread.name": "main"},
    {"a.b.c.d": 1, "a.b.e": 2, "a.f": 3},
    # A decoded record's own event fields join the action's object.
    {"event.code": "4625", "event.provider": "Microsoft-Windows-Security-Auditing",
     "winlog.channel": "Security", "source.ip": "192.0.2.7"},
    # Names that clash with the document's keys or with each other.
    {"message.x": "a", "host.name": "h"},
    {"logsentry.template": "forged", "user.name": "u"},
    {"line.no": 1},
    {"solo": "value", "host.name": "h"},
    {"a.b": 1, "a.b.c": 2},
    {"a.b.c": 2, "a.b": 1},
    {"source": "x", "source.ip": "192.0.2.7"},
    {"a..b": 1, ".x": 2, "y.": 3},
]


def event_with(fields: dict[str, Any], timestamp: datetime | None) -> Event:
    event = Event("the raw line \u00e9\"\n", line=7, body="body", fields=dict(fields),
                  timestamp=timestamp, action="ssh_login_failed", template="t <*>",
                  summary="s", confidence=0.9988)
    return event


@pytest.mark.parametrize("fields", SHAPES)
@pytest.mark.parametrize("timestamp", [None, datetime(2025, 12, 10, 6, 55, 46, tzinfo=UTC)])
def test_every_arrangement_of_field_names_nests_as_placing_them_one_by_one(
    fields: dict[str, Any], timestamp: datetime | None,
) -> None:
    expected = orjson.dumps(placed_one_by_one(event_with(fields, timestamp)))
    for _ in range(2):  # the first event of a set of names works its nesting out
        event = event_with(fields, timestamp)
        assert orjson.dumps(event.to_ecs()) == expected
        assert event.to_json() == expected


def test_a_document_never_shares_its_objects_with_the_next_event_of_the_same_names() -> None:
    first = event_with(SHAPES[2], None).to_ecs()
    second = event_with({**SHAPES[2], "user.name": "bob"}, None).to_ecs()
    assert first["user"] == {"name": "root"}
    assert second["user"] == {"name": "bob"}


def test_confidences_round_to_four_digits_keeping_their_type_and_sign() -> None:
    assert rounded_confidence(0.99876543) == 0.9988
    assert rounded_confidence(0.99876543) == 0.9988  # again, from the cache
    rounded_confidence(1.0)
    assert type(rounded_confidence(1)) is int  # 1 == 1.0, but it writes as `1`
    assert math.copysign(1.0, rounded_confidence(-0.0)) == -1.0
    assert math.isnan(rounded_confidence(math.nan))
