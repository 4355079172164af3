"""Filling a rule's summary template into the alert's human message.

Placeholders: `{count}` (events in the alert), `{suppressed}` (events during the
previous suppression, carried into this alert), `{total}` (both), `{duration}`
("2 minutes"), `{start}`/`{end}` (ISO times), `{rule.id}`, `{rule.title}`,
`{severity}`, `{distinct.F}` (how many distinct values of field F),
`{values.F}` (the first few of them) and any field name `{F}`: the group's value,
else the value on the event that raised the alert; `{F|G|'text'}` is the first of them with
a value, else the text. A missing value drops its clause and a count of 1 makes its noun
singular (`logsentry.core.summary.fill_template`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from logsentry.core.summary import fill_template
from logsentry.detect.duration import human_duration

_LISTED_VALUES = 5


def render_summary(template: str, lookup: Callable[[str], Any]) -> str:
    """Replace every `{name}` by `lookup(name)`; `{a|b}` is the first of a, b that has a
    value (a Windows logon has no `process.name`, its `event.provider` says where it
    failed); with none, its clause goes ("on {host.name}" of a line without a host)."""
    return fill_template(template, lookup)[0]


def describe_duration(seconds: float) -> str:
    return "under a second" if seconds < 1 else human_duration(seconds)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def distinct_text(values: Collection[str], cap: int) -> str:
    """How many distinct values, "100+" once the tracked set hit its cap."""
    return f"{len(values)}+" if len(values) >= cap else str(len(values))


def values_text(values: Collection[str]) -> str:
    """The first few values in sorted order, "a, b, c and 4 more"."""
    ordered = sorted(values)
    shown = ", ".join(ordered[:_LISTED_VALUES])
    if len(ordered) > _LISTED_VALUES:
        shown += f" and {len(ordered) - _LISTED_VALUES} more"
    return shown
