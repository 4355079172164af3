"""The analyzer that labels nothing: pure forwarding, and the pipeline benchmark's baseline."""

from __future__ import annotations

from logsentry.analysis.result import Analysis


class NoopAnalyzer:
    """Every message is `other`, with no fields; the template is the message itself."""

    def analyze_batch(self, messages: list[str]) -> list[Analysis]:
        return [Analysis(template=message) for message in messages]
