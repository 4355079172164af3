"""The labelled example shared by the training-data code and the model.

One `Example` is one log message (a body with its envelope removed, or a whole
line) with character spans for every variable part and one line-level action.
Spans carry an ECS role from `TOKEN_ROLES` or the generic label `variable`;
everything not covered by a span is template constant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from logsentry.analysis.tagger.labels import SPAN_LABELS, VARIABLE
from logsentry.core.actions import ACTIONS

ORIGINS: tuple[str, ...] = ("synthetic", "fail2ban", "crowdsec", "loghub")

PARTIAL_SPAN_ORIGINS: frozenset[str] = frozenset({"fail2ban", "crowdsec"})
"""Origins whose spans mark only the entities their annotations name.

In these examples text outside the spans is *unknown* (it may hold unlabelled
variables such as ports or pids), not template constant: a trainer should not
compute token loss there. Synthetic and Loghub examples label every variable part.
"""


class ExampleError(ValueError):
    """An example breaks the span or vocabulary rules."""


@dataclass(slots=True)
class Span:
    """A labelled character range `[start, end)` of `Example.text`."""

    start: int
    end: int
    label: str

    def to_list(self) -> list[Any]:
        return [self.start, self.end, self.label]


@dataclass(slots=True)
class Example:
    """One labelled log message."""

    text: str
    spans: list[Span]
    action: str
    family: str
    origin: str = "synthetic"
    action_known: bool = True
    roles_known: bool = True

    @property
    def spans_complete(self) -> bool:
        """True when every variable part has a span (uncovered text is constant)."""
        return self.origin not in PARTIAL_SPAN_ORIGINS

    def span_text(self, span: Span) -> str:
        """The characters of `text` that `span` covers."""
        return self.text[span.start:span.end]

    def entities(self) -> dict[str, list[str]]:
        """Map each label to the texts of its spans, in order of appearance."""
        out: dict[str, list[str]] = {}
        for span in self.spans:
            out.setdefault(span.label, []).append(self.text[span.start:span.end])
        return out

    def validate(self) -> None:
        """Raise `ExampleError` unless spans are in range, sorted, disjoint and labels known."""
        if self.action not in ACTIONS:
            raise ExampleError(f"unknown action {self.action!r} in family {self.family!r}")
        if self.origin not in ORIGINS:
            raise ExampleError(f"unknown origin {self.origin!r}")
        previous_end = 0
        for span in self.spans:
            if span.label not in SPAN_LABELS:
                raise ExampleError(f"unknown span label {span.label!r} in family {self.family!r}")
            if not 0 <= span.start < span.end <= len(self.text):
                raise ExampleError(
                    f"span {span.to_list()} out of range for text of length {len(self.text)}"
                    f" in family {self.family!r}")
            if span.start < previous_end:
                raise ExampleError(
                    f"span {span.to_list()} overlaps or is out of order in family {self.family!r}")
            previous_end = span.end

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping; spans are `[start, end, label]` lists."""
        return {
            "text": self.text,
            "spans": [span.to_list() for span in self.spans],
            "action": self.action,
            "family": self.family,
            "origin": self.origin,
            "action_known": self.action_known,
            "roles_known": self.roles_known,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Example:
        """Inverse of `to_dict`; accepts spans as lists or `{start, end, label}` mappings."""
        spans: list[Span] = []
        for raw in data["spans"]:
            if isinstance(raw, Mapping):
                spans.append(Span(int(raw["start"]), int(raw["end"]), str(raw["label"])))
            else:
                start, end, label = raw
                spans.append(Span(int(start), int(end), str(label)))
        return cls(
            text=str(data["text"]),
            spans=spans,
            action=str(data["action"]),
            family=str(data["family"]),
            origin=str(data.get("origin", "synthetic")),
            action_known=bool(data.get("action_known", True)),
            roles_known=bool(data.get("roles_known", True)),
        )


@dataclass(slots=True)
class ExampleBuilder:
    """Builds an example's text piece by piece so spans are exact by construction.

    `const` appends template text, `var` appends a value and records a span over
    exactly that value; offsets never need to be computed by hand.
    """

    parts: list[str] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    length: int = 0

    def const(self, text: str) -> ExampleBuilder:
        self.parts.append(text)
        self.length += len(text)
        return self

    def var(self, value: str, label: str = VARIABLE) -> ExampleBuilder:
        if value:
            self.spans.append(Span(self.length, self.length + len(value), label))
        self.parts.append(value)
        self.length += len(value)
        return self

    def extend(self, text: str, spans: Iterable[Span]) -> ExampleBuilder:
        """Append `text` whose spans are given relative to its own start."""
        for span in spans:
            self.spans.append(Span(span.start + self.length, span.end + self.length, span.label))
        self.parts.append(text)
        self.length += len(text)
        return self

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def build(self, action: str, family: str, **kwargs: Any) -> Example:
        """The example built so far (`kwargs` go to `Example`, e.g. `origin`)."""
        return Example(
            text=self.text, spans=list(self.spans), action=action, family=family, **kwargs)
