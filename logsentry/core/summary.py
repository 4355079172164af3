"""One-line human summaries of labelled events."""

from __future__ import annotations

import re
from typing import Any

from logsentry.core.actions import ACTIONS

_PLACEHOLDER = re.compile(r"\{([a-z_.@]+)\}")


def summarize(action: str, fields: dict[str, Any], message: str) -> str:
    """Fill the action's summary template; fall back to the message when it lacks fields."""
    template = ACTIONS[action].summary if action in ACTIONS else ""
    if not template:
        return message[:200]
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        name = match.group(1)
        if name == "source":
            value = fields.get("source.ip") or fields.get("source.address")
        else:
            value = fields.get(name)
        if value is None:
            missing = True
            return "?"
        return str(value)

    text = _PLACEHOLDER.sub(fill, template)
    # A summary full of "?" tells less than the line itself.
    if missing and text.count("?") > 1:
        return message[:200]
    text = text.replace(" from ?", "").replace(" for ?", "")
    # "base64 ran ?": a raw audit record has no command line; the rest still says it.
    return text[:-2] if text.endswith(" ?") else text
