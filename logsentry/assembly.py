"""Building the parts of a pipeline from the configuration.

The daemon's single pipeline and the Kafka topology's stages are assembled
here, from the same functions: sources, the detector and the outputs (sinks,
alert sinks behind the durable spool). Each config type builds its own part
(`SourceConfig.build`, `SinkConfig.build`); this module only wires them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from logsentry.config import Config
from logsentry.core.event import Event
from logsentry.pipeline import AlertOutput, EventOutput, retry_forever
from logsentry.sinks.base import Sink
from logsentry.sinks.factory import build_sink, check_unique_names
from logsentry.sources.base import ResumableSource, Source

if TYPE_CHECKING:
    from logsentry.detect.detector import Detector

log = structlog.get_logger(__name__)


@dataclass
class Outputs:
    """The opened sinks of one pipeline run, split by what they receive."""

    event_outputs: list[EventOutput] = field(default_factory=list)
    alert_output: AlertOutput | None = None
    sinks: list[Sink] = field(default_factory=list)
    delivery: Any = None

    async def close(self, drain_timeout: float) -> None:
        if self.delivery is not None:
            await self.delivery.close(drain_timeout)
        for sink in self.sinks:
            try:
                await sink.close()
            except Exception:
                log.exception("sink_close_failed", sink=sink.name)


async def open_outputs(config: Config, state_dir: Path | None) -> Outputs:
    """Open every configured sink; alert sinks deliver through the durable spool."""
    check_unique_names(config.sinks)
    outputs = Outputs()
    alert_sinks: list[tuple[Any, Sink]] = []
    for sink_config in config.sinks:
        sink = build_sink(sink_config)
        if sink_config.routing.records == "events":
            await sink.start()
            outputs.sinks.append(sink)
            outputs.event_outputs.append(_event_output(sink))
        else:
            alert_sinks.append((sink_config, sink))
    if alert_sinks:
        from logsentry.spool.alert_delivery import AlertDelivery

        outputs.delivery = await AlertDelivery.open(
            (state_dir or Path(".")) / "spool", alert_sinks, config.spool)
        outputs.alert_output = outputs.delivery
    return outputs


def _event_output(sink: Sink) -> EventOutput:
    async def send(events: list[Event]) -> None:
        await retry_forever(sink.name, lambda: sink.send(list(events)))

    return send


def build_sources(config: Config, state_dir: Path | None) -> list[Source]:
    """The configured sources, each resuming from its persisted position."""
    return [source.build(state_dir, config.pipeline.commit_interval)
            for source in config.sources]


def resume_sources(sources: list[Source], detector: Detector | None) -> None:
    """Start each source from the position its restored detection state reflects.

    The lines after it are read and detected again on top of that state, so a
    crash changes no alert (see `logsentry.detect.detector`). Logs what was
    restored: the state's age, its groups, and where each source resumes.
    """
    restored = detector.restored if detector is not None else None
    if restored is None:
        return
    resumed: dict[str, Any] = {}
    for source in sources:
        position = restored.positions.get(source.name)
        if position is None or not isinstance(source, ResumableSource):
            continue
        if source.resume_from(position):
            resumed[source.name] = source.describe_position(position)
    log.info("checkpoint_restored", age_s=round(restored.age, 1), groups=restored.groups,
             replay_from=resumed, path=str(restored.path))


def build_detector(config: Config) -> Detector | None:
    """The configured detector with its saved state, or None when detection is off."""
    if not config.detection.enabled:
        return None
    from logsentry.detect.detector import Detector

    return Detector.from_config(config.detection, config.state_dir)


def check_components(config: Config) -> None:
    """Validate what the schema cannot: sink names, rule files. Raises ConfigError."""
    check_unique_names(config.sinks)
    if config.detection.enabled:
        from logsentry.detect.detector import Detector

        Detector.from_config(config.detection, None)
