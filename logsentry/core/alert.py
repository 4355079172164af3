"""The alert that detection raises and sinks deliver."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from logsentry.core.event import set_dotted

SEVERITY_SCORES: dict[str, int] = {"low": 21, "medium": 47, "high": 73, "critical": 99}
SEVERITY_ORDER: tuple[str, ...] = ("low", "medium", "high", "critical")


@dataclass(slots=True)
class Alert:
    """One alert, ECS-shaped by `to_ecs()`.

    `group` holds the fields the rule grouped by (flat dotted ECS names);
    `events` the first few contributing events in ECS form. `dedup_id` is
    stable for the same rule, group and window start, so a redelivered alert
    can be dropped by its receiver.
    """

    rule_id: str
    rule_name: str
    severity: str
    message: str
    start: float
    end: float
    count: int
    group: dict[str, Any] = field(default_factory=dict)
    techniques: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    suppressed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    dedup_id: str = ""

    def __post_init__(self) -> None:
        if not self.dedup_id:
            self.dedup_id = make_dedup_id(self.rule_id, self.group, self.start)

    @property
    def severity_score(self) -> int:
        return SEVERITY_SCORES[self.severity]

    def to_ecs(self) -> dict[str, Any]:
        """The alert document (schema in rules/README.md)."""
        doc: dict[str, Any] = {
            "@timestamp": _iso(self.end),
            "message": self.message,
            "event": {
                "kind": "alert",
                "severity": self.severity_score,
                "start": _iso(self.start),
                "end": _iso(self.end),
                "id": self.dedup_id,
            },
            "rule": {"id": self.rule_id, "name": self.rule_name},
            "threat": {"framework": "MITRE ATT&CK", "technique": {"id": list(self.techniques)}},
            "tags": list(self.tags),
        }
        for name, value in self.group.items():
            set_dotted(doc, name, value)
        doc["logsentry"] = {
            "severity": self.severity,
            "count": self.count,
            "suppressed": self.suppressed,
            "dedup_id": self.dedup_id,
            "events": self.events,
            **self.extra,
        }
        return doc

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_ecs())

    @classmethod
    def from_ecs(cls, doc: dict[str, Any]) -> Alert:
        """Rebuild an alert from `to_ecs()` output (the spool stores that form)."""
        ls = dict(doc.get("logsentry", {}))
        skip = {"@timestamp", "message", "event", "rule", "threat", "tags", "logsentry"}
        group: dict[str, Any] = {}
        _flatten({k: v for k, v in doc.items() if k not in skip}, "", group)
        return cls(
            rule_id=doc["rule"]["id"],
            rule_name=doc["rule"]["name"],
            severity=ls.pop("severity"),
            message=doc["message"],
            start=_epoch(doc["event"]["start"]),
            end=_epoch(doc["event"]["end"]),
            count=ls.pop("count"),
            group=group,
            techniques=list(doc["threat"]["technique"]["id"]),
            tags=list(doc.get("tags", [])),
            events=ls.pop("events", []),
            suppressed=ls.pop("suppressed", 0),
            dedup_id=ls.pop("dedup_id"),
            extra=ls,
        )


def make_dedup_id(rule_id: str, group: dict[str, Any], start: float) -> str:
    """A stable id: same rule, same group, same window start, same id."""
    key = orjson.dumps([rule_id, sorted(group.items()), round(start, 3)])
    return hashlib.sha256(key).hexdigest()[:32]


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _flatten(node: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            _flatten(value, name + ".", out)
        else:
            out[name] = value
