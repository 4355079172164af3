"""Building source objects from their configuration."""

from __future__ import annotations

import sys
from pathlib import Path

from logsentry.sources.base import Source
from logsentry.sources.config import (
    FileSourceConfig,
    JournaldSourceConfig,
    KafkaSourceConfig,
    SourceConfig,
    StdinSourceConfig,
)


def build_source(config: SourceConfig, state_dir: Path | None,
                 commit_interval: float = 1.0) -> Source:
    """The Source for `config`; positions persist under `state_dir`."""
    if isinstance(config, FileSourceConfig):
        from logsentry.sources.file import FileSource

        return FileSource(config, state_dir, commit_interval=commit_interval)
    if isinstance(config, StdinSourceConfig):
        from logsentry.sources.stdin import StreamSource

        return StreamSource(sys.stdin.buffer, config.name or "stdin", config.max_line_bytes)
    if isinstance(config, JournaldSourceConfig):
        # journald source (issue 8, service helper).
        from logsentry.sources.journald import JournaldSource

        return JournaldSource(config, state_dir, commit_interval=commit_interval)
    if isinstance(config, KafkaSourceConfig):
        from logsentry.sources.kafka import KafkaSource

        return KafkaSource(config)
    raise ValueError(f"unknown source type {config!r}")
