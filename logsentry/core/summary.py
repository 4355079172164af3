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
    values: dict[str, str | None] = {}
    for match in _PLACEHOLDER.finditer(template):
        if match.group(0) not in values:
            values[match.group(0)] = _value(match.group(1), lookup)
    text = template
    lost_start = False
    missing = [raw for raw, value in values.items() if value is None]
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
    pieces = _PLACEHOLDER.split(text)
    out: list[str] = []
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            if out and out[-1] == "1":
                piece = _singular_after_one(piece)
            out.append(piece)
        else:
            out.append(values.get("{" + piece + "}") or "")
    filled = re.sub(r"  +", " ", "".join(out)).strip()
    if lost_start:
        filled = filled[:1].upper() + filled[1:]
    return filled, len(missing)


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
    template = ACTIONS[action].summary if action in ACTIONS else ""
    fallback = message[:MAX_VALUE_CHARS].rstrip()
    if not template:
        return fallback

    def lookup(name: str) -> Any:
        if name == "source":
            return fields.get("source.ip") or fields.get("source.address")
        return fields.get(name)

    text, missing = fill_template(template, lookup)
    # A summary that lost most of what it says tells less than the line itself.
    return fallback if missing > 1 else text
