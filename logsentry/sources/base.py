"""The source interface and the batches sources produce."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from logsentry.core.metrics import LINES_MALFORMED


@dataclass(slots=True)
class LineBatch:
    """Consecutive lines of one source.

    `position` is opaque to everyone but the source: once every line of the
    batch has been fully processed (and any alert it raised is durable), the
    pipeline hands it back to `Source.commit`. Batches of one source are
    committed in the order they were produced.

    `fields`, when given, holds per-line ECS fields the source already knows
    (journald's `_HOSTNAME`, Kafka metadata); envelope parsing keeps them.
    `first_line` is the 1-based number of the first line within its input,
    0 when unknown.
    """

    source: Source
    lines: list[str]
    position: Any
    received: float
    fields: list[dict[str, Any]] | None = None
    first_line: int = 0
    offsets: list[int] | None = None


class Source(Protocol):
    """Produces LineBatches into a bounded queue; awaits when the queue is full."""

    name: str

    async def run(self, out: asyncio.Queue[LineBatch], stop: asyncio.Event) -> None:
        """Read until `stop` is set (or the input ends, for finite sources)."""
        ...

    def commit(self, position: Any) -> None:
        """Record that everything up to `position` is processed."""
        ...

    async def close(self) -> None:
        """Persist positions and release resources."""
        ...


@runtime_checkable
class ResumableSource(Protocol):
    """A source whose committed position can travel in the detection checkpoint.

    The pipeline stores `checkpoint_position()` (what `commit` recorded so far,
    as plain JSON data) with the detection state it reflects; on the next start
    `resume_from()` makes the source read from there instead of from its own,
    possibly newer, position file, so the state and the lines after it match.
    """

    name: str

    def checkpoint_position(self) -> Any:
        """The committed position as JSON data; None when there is none to keep."""
        ...

    def resume_from(self, position: Any) -> bool:
        """Before `run`: start from `position`. False (logged) when it is unusable."""
        ...

    def describe_position(self, position: Any) -> Any:
        """`position` in a form for the log (file -> offset, a cursor)."""
        ...

    def hold_positions(self) -> None:
        """Stop writing the position file on commits and on close: from now on it is
        written only by `persist_position`, with positions a checkpoint holds (so it
        never runs ahead of the detection state on disk)."""
        ...

    def persist_position(self, position: Any) -> None:
        """Write `position` (a `checkpoint_position()`) to the position file (any thread)."""
        ...


@dataclass(slots=True)
class LineDecoder:
    """Turns raw byte lines into text, repairing and counting what is malformed.

    Log lines are attacker-controlled: invalid UTF-8 is replaced (U+FFFD),
    NUL bytes become U+FFFD too (they truncate strings in C consumers
    downstream), and a trailing CR is removed. Each repair is counted.
    """

    source: str
    counts: dict[str, int] = field(default_factory=dict)

    def decode(self, raw: bytes) -> str:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
            self._count("crlf")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="replace")
            self._count("invalid_utf8")
        if "\x00" in text:
            text = text.replace("\x00", "\ufffd")
            self._count("nul_bytes")
        return text

    def count_truncated(self) -> None:
        self._count("truncated")

    def _count(self, reason: str) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + 1
        LINES_MALFORMED.labels(self.source, reason).inc()
