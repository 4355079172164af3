"""The one event type that flows through the pipeline, and its ECS form."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from logsentry.core.actions import ACTIONS, refine_action
from logsentry.core.analysis import INTEGER_FIELDS, Analysis
from logsentry.core.summary import summarize

# Fields that only hold text that parses as an IP address.
IP_FIELDS = frozenset({"source.ip", "destination.ip"})
# A dotted-quad IPv4 address exactly as `ipaddress` accepts it (ASCII digits, no leading
# zero, octets up to 255): the model's analyzer has already parsed most addresses it
# returns, and building an `ipaddress` object again costs about 4 µs a field.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}", re.ASCII)


@dataclass(slots=True)
class Event:
    """One log line on its way through the pipeline.

    `fields` holds ECS fields in flat dotted form ("source.ip") with their
    final types; `to_ecs()` nests them. `offset` is the source position just
    after this line: committing it means this line is done.
    """

    message: str
    source: str = "-"
    line: int = 0
    offset: int = 0
    received: float = 0.0
    timestamp: datetime | None = None
    body: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    action: str = "other"
    template: str = ""
    confidence: float = 0.0
    summary: str = ""
    # The JSON form, made once in the analysis thread when outputs want it.
    json: bytes | None = None
    # The action a decoded record's type fixes (an auditd execve, a Windows 4625:
    # logsentry.records); the analyzer's action never replaces it.
    decoded_action: str | None = None
    # Whether a decoded record named the fields too (auditd, Windows, CloudTrail): then the
    # model's entity guesses are not merged. A record that only names its event (a JSON
    # application record's "login_failed") leaves the fields to the model.
    decoded_fields: bool = False

    @property
    def outcome(self) -> str:
        return ACTIONS[self.action].outcome

    @property
    def category(self) -> tuple[str, ...]:
        return ACTIONS[self.action].category

    @property
    def event_time(self) -> float:
        """Seconds since the epoch: the line's own time, else its arrival."""
        return self.timestamp.timestamp() if self.timestamp is not None else self.received

    def apply(self, analysis: Analysis) -> None:
        """Merge an analyzer's labels; envelope fields already set take precedence."""
        decoded = self.decoded_action
        if decoded is not None:
            # The record said what happened and named its fields; the model only
            # guesses from the words (`comm="base64"` is no command line). A decoded
            # record's action is what the record says, not a reading: certain.
            action = decoded or "other"
            self.confidence = 1.0
        else:
            action = analysis.action
            if action not in ACTIONS:
                action = "other"
            # Rounded once here, not on every serialization.
            self.confidence = rounded_confidence(analysis.confidence)
        self.template = analysis.template or self.body
        fields = self.fields
        if not self.decoded_fields:
            for name, text in analysis.fields.items():
                if name in fields:
                    continue
                if name in _TYPED_FIELDS:
                    value = typed_field(name, text)
                    if value is not None:
                        fields[name] = value
                elif text:
                    fields[name] = text  # what typed_field gives a text field, without the call
        if action == "web_request":
            action = refine_action(action, fields.get("http.response.status_code"))
        self.action = action
        self.summary = summarize(action, fields, self.body)

    def to_ecs(self) -> dict[str, Any]:
        """The ECS document of this event, as `analyze --format jsonl` writes it."""
        return self._document(_EVENT_DOCS)

    def to_json(self) -> bytes:
        if self.json is None:
            # The action's `event` object goes in as JSON serialized once per action.
            self.json = orjson.dumps(self._document(_EVENT_JSON))
        return self.json

    def _document(self, event_docs: dict[str, Any]) -> dict[str, Any]:
        """The ECS document, with `event_docs[action]` as its `event` object where no
        field of the event's own (a decoded record's event.code) joins it."""
        doc: dict[str, Any] = {"line": self.line, "message": self.message}
        if self.timestamp is not None:
            doc["@timestamp"] = _isoformat(self.timestamp)
        fields = self.fields
        nesting: Nesting | None = ()
        if fields:
            names = tuple(fields)
            nesting = _NESTINGS.get(names, ())
            if nesting == ():  # names not seen lately (no nesting of fields is empty)
                nesting = _nesting(names)
        if nesting is None:
            return self._irregular_document(doc)
        for top, leaves, branch in nesting:
            if branch:  # deeper than two parts
                doc[top] = _fill(branch, fields)
                continue
            node = doc[top] = {}
            for leaf, name in leaves:
                node[leaf] = fields[name]
        doc["event"] = event_docs[self.action]
        doc["logsentry"] = {
            "template": self.template,
            "summary": self.summary,
            "confidence": self.confidence,
        }
        return doc

    def _irregular_document(self, doc: dict[str, Any]) -> dict[str, Any]:
        """`to_ecs` for fields no nesting plan covers: a field named like a document key
        (`event.code`, `message.x`), or one whose value is in another's way (`a`, `a.b`)."""
        for name, value in self.fields.items():
            parts = _PATHS.get(name) or _path(name)
            if len(parts) == 2:
                node = doc.get(parts[0])
                if node is None:
                    doc[parts[0]] = {parts[1]: value}
                    continue
                if isinstance(node, dict):
                    node[parts[1]] = value
                    continue
            set_dotted(doc, name, value)
        # Shared between documents: treat ECS documents as read-only.
        event_doc = _EVENT_DOCS[self.action]
        extra = doc.get("event")
        if isinstance(extra, dict):
            # A decoded record's own event fields (event.code, event.provider) join the
            # action's, which win; a copy, the shared object stays untouched.
            event_doc = {**extra, **event_doc}
        doc["event"] = event_doc
        doc["logsentry"] = {
            "template": self.template,
            "summary": self.summary,
            "confidence": self.confidence,
        }
        return doc


# How the fields of one set of names, in their order, nest in the ECS document: per
# top-level key, its (leaf key, field name) pairs, or for a branch deeper than two parts
# its `_branch` plan. Events of one source and action share their names, so the nesting
# is worked out once per set instead of per field of every event (`to_ecs` of a six-field
# sshd event: 1.7 µs against 2.4). None where `_irregular_document` must place the fields
# one by one.
Branch = tuple[tuple[str, Any], ...]
Nesting = tuple[tuple[str, tuple[tuple[str, str], ...], Branch], ...]
_NESTINGS: dict[tuple[str, ...], Nesting | None] = {}
_NESTINGS_CAP = 4096
# Keys `to_ecs` writes itself: a field under one of them is placed by `_irregular_document`.
_DOCUMENT_KEYS = frozenset({"line", "message", "@timestamp", "event", "logsentry"})


def _nesting(names: tuple[str, ...]) -> Nesting | None:
    """Work out and keep the nesting of `names` (see `_NESTINGS`)."""
    if len(_NESTINGS) >= _NESTINGS_CAP:
        _NESTINGS.clear()
    tree: dict[str, Any] | None = {}
    for name in names:
        parts = name.split(".")
        if len(parts) < 2 or parts[0] in _DOCUMENT_KEYS:
            tree = None
            break
        node: Any = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break  # another field's value where this name needs an object
        if not isinstance(node, dict):
            tree = None
            break
        # A leaf over an earlier name's object replaces it, as placing the fields one by
        # one does (`a.b.c`, then `a.b`).
        node[parts[-1]] = name
    nesting = None if tree is None else tuple(
        (top, tuple(branch.items()), ())
        if all(isinstance(child, str) for child in branch.values())
        else (top, (), _branch(branch))
        for top, branch in tree.items())
    _NESTINGS[names] = nesting
    return nesting


def _branch(tree: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """A nested plan: (key, field name) or (key, plan) pairs."""
    return tuple((key, child if isinstance(child, str) else _branch(child))
                 for key, child in tree.items())


def _fill(branch: tuple[tuple[str, Any], ...], fields: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {}
    for key, child in branch:
        node[key] = fields[child] if child.__class__ is str else _fill(child, fields)
    return node


def rounded_confidence(confidence: float) -> float:
    """`round(confidence, 4)`, from a small cache: cached analyses repeat a few hundred
    confidences, and `round` to digits costs a float-to-decimal conversion (about 0.3 µs).
    Only non-zero floats are cached: `1 == 1.0` and `0.0 == -0.0` would share an entry."""
    if confidence.__class__ is not float or not confidence:
        return round(confidence, 4)
    rounded = _ROUNDED.get(confidence)
    if rounded is None:
        if len(_ROUNDED) >= _ROUNDED_CAP:
            _ROUNDED.clear()
        rounded = _ROUNDED[confidence] = round(confidence, 4)
    return rounded


_ROUNDED_CAP = 4096
_ROUNDED: dict[float, float] = {}
# The fields `typed_field` converts or checks; any other field is its text when not empty.
_TYPED_FIELDS = INTEGER_FIELDS | IP_FIELDS

# The fixed `event` object of each action, built once (copied per document).
_EVENT_DOCS: dict[str, dict[str, Any]] = {
    name: {"category": list(info.category), "type": list(info.type),
           "outcome": info.outcome, "action": name}
    for name, info in ACTIONS.items()
}
# The same, serialized once: `to_json` puts them in as they are.
_EVENT_JSON: dict[str, orjson.Fragment] = {
    name: orjson.Fragment(orjson.dumps(doc)) for name, doc in _EVENT_DOCS.items()
}
_PATHS: dict[str, tuple[str, ...]] = {}
_ISO_CACHE: dict[datetime, str] = {}


def _path(name: str) -> tuple[str, ...]:
    parts = tuple(name.split("."))
    _PATHS[name] = parts
    return parts


def _isoformat(stamp: datetime) -> str:
    """isoformat() with a small cache: consecutive lines share their second."""
    text = _ISO_CACHE.get(stamp)
    if text is None:
        if len(_ISO_CACHE) > 4096:
            _ISO_CACHE.clear()
        text = _ISO_CACHE[stamp] = stamp.isoformat()
    return text


def set_dotted(doc: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `a.b.c` in nested dicts, creating the intermediate objects."""
    *parents, leaf = dotted.split(".")
    node = doc
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[leaf] = value


def get_dotted(doc: dict[str, Any], dotted: str) -> Any:
    """Read `a.b.c` from nested dicts; None when any part is missing."""
    node: Any = doc
    for key in dotted.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
        if node is None:
            return None
    return node


def typed_field(name: str, text: str) -> Any:
    """Convert an analyzer's text to the field's ECS type; None when it does not fit."""
    if not text:
        return None
    if name in INTEGER_FIELDS:
        try:
            return int(text)
        except ValueError:
            return None
    if name in IP_FIELDS:
        if _IPV4.fullmatch(text):
            return text
        try:
            ipaddress.ip_address(text.strip("[]").split("%")[0])
        except ValueError:
            return None
    return text
