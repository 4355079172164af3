"""Standard output: readable lines on a terminal, JSON lines otherwise."""

from __future__ import annotations

import sys
from typing import BinaryIO

from logsentry.core.alert import Alert
from logsentry.core.errors import OutputClosedError
from logsentry.core.pipes import discard_output
from logsentry.sinks.base import Deliverable
from logsentry.sinks.config import StdoutSinkConfig
from logsentry.sinks.control_chars import json_lines, visible_controls

_COLOURS = {"low": "36", "medium": "33", "high": "31", "critical": "1;31"}


class StdoutSink:
    """Writes records to stdout (or another binary stream, for tests)."""

    def __init__(self, config: StdoutSinkConfig, stream: BinaryIO | None = None) -> None:
        self.config = config
        self.name = config.name or config.type
        self._stream = stream or sys.stdout.buffer
        fmt = config.format
        self._text = fmt == "text" or (fmt == "auto" and self._stream.isatty())

    async def start(self) -> None:
        """Nothing to open."""

    async def send(self, batch: list[Deliverable]) -> None:
        if self._text:
            data = "".join(render_text(record, colour=True) for record in batch).encode(
                "utf-8", errors="replace")
        else:
            data = json_lines(batch)
        try:
            self._stream.write(data)
            self._stream.flush()
        except BrokenPipeError:
            self._closed()
            raise OutputClosedError(f"{self.name}: the reader closed the output") from None

    async def close(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._closed()

    def _closed(self) -> None:
        """The pipe's reader is gone: what is still buffered goes nowhere, quietly."""
        try:
            fd = self._stream.fileno()
        except (OSError, ValueError):  # not a real descriptor (a test's buffer)
            return
        discard_output(fd)


def render_text(record: Deliverable, *, colour: bool) -> str:
    """One readable line per record; control characters from logs are made visible."""
    if isinstance(record, Alert):
        label = record.severity.upper()
        if colour:
            label = f"\x1b[{_COLOURS[record.severity]}m{label}\x1b[0m"
        text = visible_controls(f"{record.rule_id}: {record.message}")
        return f"{label:>8} {text}\n"
    doc = record.to_ecs()
    summary = doc.get("logsentry", {}).get("summary") or doc.get("message", "")
    action = doc.get("event", {}).get("action", "")
    return f"{action:>20} {visible_controls(summary)}\n"
