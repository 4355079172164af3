"""The sink interface.

A sink is async, batched and acknowledging: `send()` returns only once the
receiver has accepted the whole batch, and raises otherwise. The caller
(pipeline or spool) owns retries and offsets; a sink never drops silently.
"""

from __future__ import annotations

from typing import Any, Protocol


class Deliverable(Protocol):
    """What sinks deliver: an Event or an Alert."""

    def to_ecs(self) -> dict[str, Any]: ...

    def to_json(self) -> bytes: ...


class Sink(Protocol):
    """A destination for records."""

    name: str

    async def start(self) -> None:
        """Open connections. Called once before the first send."""
        ...

    async def send(self, batch: list[Deliverable]) -> None:
        """Deliver the batch; return when acknowledged, raise SinkError if not."""
        ...

    async def close(self) -> None:
        """Flush and release resources."""
        ...
