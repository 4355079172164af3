"""The analyzer interface the pipeline and `analyze` call."""

from __future__ import annotations

from typing import Protocol

from logsentry.core.analysis import Analysis


class Analyzer(Protocol):
    """Labels messages. Called from a worker thread, one batch at a time."""

    def analyze_batch(self, messages: list[str]) -> list[Analysis]:
        """Return one Analysis per message, in order. Must not raise on odd input."""
        ...
