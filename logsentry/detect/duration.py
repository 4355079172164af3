"""Durations as rules write them ("90s", "5m", "2h", "1d") and as summaries print them."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")


def parse_duration(value: object) -> float:
    """Seconds from a number (seconds) or a string with a unit; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f"negative duration: {value!r}")
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNITS[match.group(2) or "s"]
    raise ValueError(f"not a duration: {value!r} (use a number of seconds or 30s, 5m, 2h, 1d)")


def human_duration(seconds: float) -> str:
    """"45 seconds", "2 minutes", "3 hours": the largest unit that reads naturally."""
    seconds = max(0.0, seconds)
    for unit, size in (("day", 86400.0), ("hour", 3600.0), ("minute", 60.0)):
        if seconds >= size * 1.5 or (unit != "day" and seconds >= size and seconds % size < 1):
            amount = round(seconds / size)
            return f"{amount} {unit}{'' if amount == 1 else 's'}"
    amount = round(seconds)
    return f"{amount} second{'' if amount == 1 else 's'}"
