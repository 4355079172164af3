"""One-line human summaries: of labelled events, and the template filling rules share.

A summary never shows a placeholder it could not fill: a missing value drops its
clause (" on {host.name}", "({distinct.url.original} URLs)", ": {message}"), a
`{a|b|'text'}` placeholder takes the first of a, b with a value, else the quoted
text. A count of 1 makes the plural noun after it singular ("1 user").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from logsentry.core.actions import ACTIONS

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# Words that open a clause: with a missing value, the clause goes with it.
_CONNECTORS = r"(?:on|from|for|by|of|as|to|in|at|with|under|after)"
# The words a number governs (up to the next connector): "for {n} unknown users".
_NOUN_WORDS = rf"(?:\s+(?!{_CONNECTORS}\b)[A-Za-z][\w/-]*)*"
# A filled-in value is cut to this many characters: lines are attacker-controlled.
MAX_VALUE_CHARS = 200


def is_count(name: str) -> bool:
    """Placeholders whose value is a number of things: 0 of them says nothing."""
    return name in ("count", "total", "suppressed") or name.startswith("distinct.")


def fill_template(template: str, lookup: Callable[[str], Any]) -> tuple[str, int]:
    """`template` with every placeholder filled by `lookup`; also how many were missing.

    A missing value (None, empty, or a zero count) drops its clause: a parenthesis
    holding it, or the connecting word or colon before it (and, for a count, the
    words it counts), else the placeholder alone; a sentence that lost its first
    word starts with a capital.
    """
    placeholders = _PLACEHOLDERS.get(template)
    if placeholders is None:
        placeholders = _placeholders(template)
    values: dict[str, str | None] = {raw: _value(spec, lookup) for raw, spec in placeholders}
    missing = tuple(raw for raw, value in values.items() if value is None)
    shape = _SHAPES.get((template, missing))
    if shape is None:
        shape = _shape(template, missing)
    pieces, lost_start = shape
    out: list[str] = []
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            if out and out[-1] == "1":
                piece = _singular_after_one(piece)
            out.append(piece)
        else:
            out.append(values.get("{" + piece + "}") or "")
    filled = "".join(out)
    if "  " in filled:
        filled = _SPACES.sub(" ", filled)
    filled = filled.strip()
    if lost_start:
        filled = filled[:1].upper() + filled[1:]
    return filled, len(missing)


# What a template's text alone decides, worked out once per template (and per set of
# missing placeholders) instead of per event: action summaries and rule summaries are a
# few hundred templates, so the caches stay small; bounded anyway (templates come from
# rule files).
_CACHE_CAP = 4096
_PLACEHOLDERS: dict[str, tuple[tuple[str, str], ...]] = {}
_SHAPES: dict[tuple[str, tuple[str, ...]], tuple[tuple[str, ...], bool]] = {}
_SPACES = re.compile(r"  +")


def _placeholders(template: str) -> tuple[tuple[str, str], ...]:
    """Each distinct placeholder of `template` (as written, and its spec), in order."""
    found: dict[str, str] = {}
    for match in _PLACEHOLDER.finditer(template):
        found.setdefault(match.group(0), match.group(1))
    if len(_PLACEHOLDERS) >= _CACHE_CAP:
        _PLACEHOLDERS.clear()
    placeholders = _PLACEHOLDERS[template] = tuple(found.items())
    return placeholders


def _shape(template: str, missing: tuple[str, ...]) -> tuple[tuple[str, ...], bool]:
    """`template` without the clauses of its `missing` placeholders, split at the
    placeholders left (text, name, text, ...), and whether it lost its first word."""
    text = template
    lost_start = False
    for raw in missing:
        name = re.escape(raw)
        counted = _NOUN_WORDS if is_count(raw[1:-1].strip()) else ""
        for pattern in (rf"\s*\([^()]*{name}[^()]*\)",
                        rf"(?:\s+{_CONNECTORS}|\s*:)\s+{name}{counted}",
                        rf"^{name}{counted}\s*",
                        rf"\s*{name}"):
            text, found = re.subn(pattern, "", text)
            if found:
                lost_start = lost_start or pattern[0] == "^"
                break
    if len(_SHAPES) >= _CACHE_CAP:
        _SHAPES.clear()
    shape = _SHAPES[(template, missing)] = (tuple(_PLACEHOLDER.split(text)), lost_start)
    return shape


def _value(spec: str, lookup: Callable[[str], Any]) -> str | None:
    for name in spec.split("|"):
        name = name.strip()
        if len(name) >= 2 and name[0] == name[-1] == "'":
            return name[1:-1]
        value = lookup(name)
        if value is None or (is_count(name) and str(value) in ("0", "")):
            continue
        text = str(value).rstrip()
        if text:
            return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 1] + "…"
    return None


def _singular_after_one(text: str) -> str:
    """The first plural noun among the next three words of `text`, made singular."""
    match = re.match(r"(\s+(?:[\w/-]+\s+){0,2}?)([A-Za-z][\w/-]*?)(ies|sses|xes|ches|shes|s)\b",
                     text)
    if match is None or (match.group(3) == "s" and match.group(2).endswith("s")):
        return text
    stem, ending = match.group(2), match.group(3)
    singular = stem + {"ies": "y", "sses": "ss", "xes": "x", "ches": "ch", "shes": "sh"}.get(
        ending, "")
    return match.group(1) + singular + text[match.end():]


def summarize(action: str, fields: dict[str, Any], message: str) -> str:
    """Fill the action's summary template; fall back to the message when it lacks fields."""
    plan = _READS.get(action)
    if plan is None:
        if action not in ACTIONS:
            return message[:MAX_VALUE_CHARS].rstrip()
        template = ACTIONS[action].summary
        plan = _READS[action] = (template, _template_reads(template) if template else ())
    template, names = plan
    if not template:
        return message[:MAX_VALUE_CHARS].rstrip()
    # An action's summary depends only on the few fields its template reads: events of
    # one user and client repeat it (a brute force writes the same summary thousands of
    # times), so it is filled once per set of values. Only str and int values make a
    # key: `True == 1` and `1.0 == 1` would share one.
    key: tuple[Any, ...] | None = (action, *map(fields.get, names))
    for value in key:  # type: ignore[union-attr]
        if value.__class__ not in _KEY_TYPES:
            key = None
            break
    text = _SUMMARIES.get(key) if key is not None else None
    if text is None:
        text = _summary(template, fields)
        if key is not None:
            if len(_SUMMARIES) >= _SUMMARY_CAP:
                _SUMMARIES.clear()
            _SUMMARIES[key] = text
    # A summary that lost most of what it says tells less than the line itself.
    return message[:MAX_VALUE_CHARS].rstrip() if text is _FALLBACK else text


# Summaries filled lately, by action and the values their template reads (`_READS`);
# `_FALLBACK` where the line itself is the summary.
_SUMMARY_CAP = 8192
_SUMMARIES: dict[tuple[Any, ...], str] = {}
# Per action: its summary template and the `fields` keys it reads (`_template_reads`).
_READS: dict[str, tuple[str, tuple[str, ...]]] = {}
_KEY_TYPES = frozenset({str, int, type(None)})
_FALLBACK = "\0fallback"


def _template_reads(template: str) -> tuple[str, ...]:
    """The `fields` keys an action's summary template reads (`summarize`'s lookup)."""
    names: list[str] = []
    for _raw, spec in _placeholders(template):
        for name in spec.split("|"):
            name = name.strip()
            if len(name) >= 2 and name[0] == name[-1] == "'":
                break
            names += ("source.ip", "source.address") if name == "source" else (name,)
    return tuple(dict.fromkeys(names))


def _summary(template: str, fields: dict[str, Any]) -> str:
    """The filled template, or `_FALLBACK` when more than one value is missing."""

    def lookup(name: str) -> Any:
        if name == "source":
            return fields.get("source.ip") or fields.get("source.address")
        return fields.get(name)

    text, missing = fill_template(template, lookup)
    return _FALLBACK if missing > 1 else text
