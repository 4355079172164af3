"""Making control characters from log lines visible and harmless.

Text in an alert comes from log lines an attacker wrote. Raw newlines would
break syslog framing or fake extra lines in a Slack message; ANSI escapes
would repaint an operator's terminal; bidirectional overrides would make a
value display differently from what it is. Each such character is replaced
by its Unicode "control picture" (U+2400 block) or, for format characters,
by a visible `<U+XXXX>` tag, so the evidence stays readable and unambiguous.
"""

from __future__ import annotations

# C0 controls and DEL map onto the Control Pictures block (NUL -> U+2400 ...,
# ESC -> U+241B, DEL -> U+2421); C1 controls, line/paragraph separators and
# bidi/zero-width format characters become a visible tag.
_TABLE: dict[int, str] = {code: chr(0x2400 + code) for code in range(0x20)}
_TABLE[0x7F] = "\u2421"
for _code in [*range(0x80, 0xA0), 0x2028, 0x2029, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F,
              *range(0x202A, 0x202F), *range(0x2066, 0x206A), 0xFEFF]:
    _TABLE[_code] = f"<U+{_code:04X}>"


def visible_controls(text: str) -> str:
    """`text` with every control or invisible format character made visible."""
    return text.translate(_TABLE)


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with a visible ellipsis if cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "\u2026"
