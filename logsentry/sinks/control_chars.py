"""Making control characters from log lines visible and harmless.

Text in an alert comes from log lines an attacker wrote. Raw newlines would
break syslog framing or fake extra lines in a Slack message; ANSI escapes
would repaint an operator's terminal; bidirectional overrides would make a
value display differently from what it is. Each such character is replaced
by its Unicode "control picture" (U+2400 block) or, for format characters,
by a visible `<U+XXXX>` tag, so the evidence stays readable and unambiguous.

`visible_controls` is the one rule for text; `visible_document` and
`record_json` apply it to every string of an ECS document, for the sinks that
deliver JSON (webhook, Splunk HEC, Kafka topic, JSON lines, stdout, syslog
JSON): a JSON encoder escapes a control character, but the receiver decodes
it back into the raw character.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson

from logsentry.sinks.base import Deliverable

# C0 controls and DEL map onto the Control Pictures block (NUL -> U+2400 ...,
# ESC -> U+241B, DEL -> U+2421); C1 controls, line/paragraph separators and
# bidi/zero-width format characters become a visible tag.
_TABLE: dict[int, str] = {code: chr(0x2400 + code) for code in range(0x20)}
_TABLE[0x7F] = "\u2421"
for _code in [*range(0x80, 0xA0), 0x061C, 0x2028, 0x2029, 0x200B, 0x200C, 0x200D, 0x200E,
              0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF]:
    _TABLE[_code] = f"<U+{_code:04X}>"

# How a C0 control is written by orjson: a backslash escape (\n, \t, \u001b ...).
# A match may be harmless (`\\n` is an escaped backslash and an n).
_ESCAPED_C0 = re.compile(rb"\\[bfnrtu]")


def visible_controls(text: str) -> str:
    """`text` with every control or invisible format character made visible."""
    return text.translate(_TABLE)


def visible_document(value: Any) -> Any:
    """A copy of a JSON-like value with `visible_controls` applied to every string and key."""
    if isinstance(value, str):
        return value.translate(_TABLE)
    if isinstance(value, dict):
        return {visible_controls(str(key)): visible_document(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [visible_document(item) for item in value]
    return value


def record_json(record: Deliverable) -> bytes:
    """The record's JSON with every control character visible.

    Most documents hold none: their JSON (an event's is made once, in the
    analysis thread) is checked by a scan of its bytes and returned as it is.
    """
    data = record.to_json()
    if _ESCAPED_C0.search(data) is None and (
            b"\x7f" not in data if data.isascii() else data.decode().isprintable()):
        # The rest of the table is unprintable text, written raw by orjson.
        return data
    return orjson.dumps(visible_document(record.to_ecs()))


def json_lines(batch: Sequence[Deliverable]) -> bytes:
    """The records' JSON, one line each, every control character visible.

    One scan of the whole batch instead of one per record: a match in a record is a
    match in the batch, so a clean batch is clean in every record (and a rare record
    that needs `record_json`'s repair sends its whole batch the slow way). A third of
    a microsecond a line against one.
    """
    parts = [record.to_json() for record in batch]
    parts.append(b"")
    data = b"\n".join(parts)
    # Non-ASCII text needs `isprintable` per record (a newline is not printable).
    if data.isascii() and b"\x7f" not in data and _ESCAPED_C0.search(data) is None:
        return data
    return b"".join(record_json(record) + b"\n" for record in batch)


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with a visible ellipsis if cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "\u2026"
