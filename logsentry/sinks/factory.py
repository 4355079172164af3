"""Building a sink object from its configuration."""

from __future__ import annotations

from collections.abc import Sequence

from logsentry.sinks.base import Sink
from logsentry.sinks.config import (
    JsonlSinkConfig,
    KafkaTopicSinkConfig,
    SinkConfig,
    SlackSinkConfig,
    SplunkHecSinkConfig,
    StdoutSinkConfig,
    SyslogSinkConfig,
    WebhookSinkConfig,
)


def sink_name(config: SinkConfig) -> str:
    """The sink's stable name: `name` if set, else its type (names key the spool cursors)."""
    return config.name or config.type


def check_unique_names(configs: Sequence[SinkConfig]) -> None:
    """Raise ValueError when two sinks share a name (e.g. two unnamed Slack sinks)."""
    seen: set[str] = set()
    for config in configs:
        name = sink_name(config)
        if name in seen:
            raise ValueError(f"two sinks are named {name!r}: give each a distinct `name`")
        seen.add(name)


def build_sink(config: SinkConfig) -> Sink:
    """The Sink for `config`. Secrets are resolved in the sink's `start()`."""
    # Imports are local so a daemon without Kafka sinks never loads aiokafka.
    if isinstance(config, StdoutSinkConfig):
        from logsentry.sinks.stdout import StdoutSink

        return StdoutSink(config)  # type: ignore[no-any-return, unused-ignore]
    if isinstance(config, JsonlSinkConfig):
        from logsentry.sinks.jsonl import JsonlSink

        return JsonlSink(config)  # type: ignore[no-any-return, unused-ignore]
    name = sink_name(config)
    if isinstance(config, SlackSinkConfig):
        from logsentry.sinks.slack import SlackSink

        return SlackSink(config, name)
    if isinstance(config, WebhookSinkConfig):
        from logsentry.sinks.webhook import WebhookSink

        return WebhookSink(config, name)
    if isinstance(config, SyslogSinkConfig):
        from logsentry.sinks.syslog import SyslogSink

        return SyslogSink(config, name)
    if isinstance(config, SplunkHecSinkConfig):
        from logsentry.sinks.splunk_hec import SplunkHecSink

        return SplunkHecSink(config, name)
    if isinstance(config, KafkaTopicSinkConfig):
        from logsentry.sinks.kafka_topic import KafkaTopicSink

        return KafkaTopicSink(config, name)
    raise ValueError(f"unknown sink type {config!r}")
