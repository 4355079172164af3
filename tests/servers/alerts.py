"""Alerts for the sink and spool tests: numbered, so order and loss are checkable."""

from __future__ import annotations

from typing import Any

from logsentry.core.alert import Alert

BASE_TIME = 1_780_000_000.0


def numbered_alert(number: int, *, severity: str = "high", rule_id: str = "ssh.brute_force",
                   message: str | None = None, group: dict[str, Any] | None = None,
                   tags: list[str] | None = None) -> Alert:
    """Alert number `number`; its message and `logsentry.seq` carry the number."""
    return Alert(
        rule_id=rule_id,
        rule_name="SSH brute force",
        severity=severity,
        message=message if message is not None else f"alert #{number}",
        start=BASE_TIME + number,
        end=BASE_TIME + number + 30,
        count=5,
        group=group if group is not None else {"source.ip": f"10.0.{number // 256 % 256}."
                                                            f"{number % 256}"},
        techniques=["T1110.001"],
        tags=tags if tags is not None else ["ssh"],
        extra={"seq": number},
    )


def seq_of(document: dict[str, Any]) -> int:
    """The number of an alert from its ECS document."""
    return int(document["logsentry"]["seq"])


def first_occurrences(sequence: list[int]) -> list[int]:
    """`sequence` with repeats removed, keeping first occurrences in order."""
    seen: set[int] = set()
    out: list[int] = []
    for item in sequence:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out
