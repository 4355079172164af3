"""The analyzer that labels nothing: pure forwarding, and the pipeline benchmark's baseline."""

from __future__ import annotations

from logsentry.core.analysis import Analysis

# Shared by every line: an empty template makes the event keep its own text.
_NOTHING = Analysis()


class NoopAnalyzer:
    """Every message is `other`, with no fields; the template is the message itself."""

    def analyze_batch(self, messages: list[str]) -> list[Analysis]:
        return [_NOTHING] * len(messages)
