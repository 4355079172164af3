"""Naming and building sinks from their configuration.

Each sink type is registered once, in `logsentry.sinks.config`: its config
class's `build()` constructs the sink, so adding a sink is one module and one
entry in the `SinkConfig` union.
"""

from __future__ import annotations

from collections.abc import Sequence

from logsentry.core.errors import ConfigError
from logsentry.sinks.base import Sink
from logsentry.sinks.config import SinkConfig


def sink_name(config: SinkConfig) -> str:
    """The sink's stable name: `name` if set, else its type (names key the spool cursors)."""
    return config.name or config.type


def check_unique_names(configs: Sequence[SinkConfig]) -> None:
    """Raise ConfigError when two sinks share a name (e.g. two unnamed Slack sinks)."""
    seen: set[str] = set()
    for config in configs:
        name = sink_name(config)
        if name in seen:
            raise ConfigError(
                f"sinks: two sinks are named {name!r}: give each a distinct `name`")
        seen.add(name)


def build_sink(config: SinkConfig) -> Sink:
    """The Sink for `config`. Secrets are resolved in the sink's `start()`."""
    return config.build(sink_name(config))
