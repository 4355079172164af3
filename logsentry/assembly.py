"""Building the parts of a pipeline from the configuration.

The daemon's single pipeline and the Kafka topology's stages are assembled
here, from the same functions: sources, the detector and the outputs (sinks,
alert sinks behind the durable spool). Each config type builds its own part
(`SourceConfig.build`, `SinkConfig.build`); this module only wires them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from logsentry.config import Config
from logsentry.core.errors import ConfigError, OutputClosedError, SecretError
from logsentry.core.event import Event
from logsentry.core.metrics import (
    ANALYSIS_CACHE_BYTES,
    DETECTION_STATE_BYTES,
    DETECTION_STATE_CAP_BYTES,
    DETECTION_STATE_LIMIT_BYTES,
    PROCESS_RESIDENT_GROWTH_BYTES,
    resident_bytes,
)
from logsentry.pipeline import AlertOutput, EventOutput, retry_forever
from logsentry.sinks.base import Sink
from logsentry.sinks.factory import build_sink, check_unique_names
from logsentry.sources.base import ResumableSource, Source
from logsentry.sources.config import FileSourceConfig
from logsentry.sources.file import path_problems
from logsentry.transport.secrets import check_secrets

if TYPE_CHECKING:
    from logsentry.analysis.base import Analyzer
    from logsentry.detect.detector import Detector
    from logsentry.respond.responder import Responder

log = structlog.get_logger(__name__)


@dataclass
class Outputs:
    """The opened sinks of one pipeline run, split by what they receive."""

    event_outputs: list[EventOutput] = field(default_factory=list)
    alert_output: AlertOutput | None = None
    sinks: list[Sink] = field(default_factory=list)
    delivery: Any = None
    responder: Responder | None = None

    async def close(self, drain_timeout: float) -> None:
        if self.responder is not None:
            await self.responder.close()
        if self.delivery is not None:
            await self.delivery.close(drain_timeout)
        for sink in self.sinks:
            try:
                await sink.close()
            except Exception:
                log.exception("sink_close_failed", sink=sink.name)


async def open_outputs(config: Config, state_dir: Path | None,
                       on_output_closed: Callable[[str], None] | None = None) -> Outputs:
    """Open every configured sink; alert sinks deliver through the durable spool.

    `on_output_closed(sink_name)`: a sink's reader went away (a closed stdout).
    """
    check_unique_names(config.sinks)
    outputs = Outputs()
    alert_sinks: list[tuple[Any, Sink]] = []
    for sink_config in config.sinks:
        sink = build_sink(sink_config)
        if sink_config.routing.records == "events":
            await sink.start()
            outputs.sinks.append(sink)
            outputs.event_outputs.append(_event_output(sink, on_output_closed))
        else:
            alert_sinks.append((sink_config, sink))
    if alert_sinks:
        from logsentry.spool.alert_delivery import AlertDelivery

        outputs.delivery = await AlertDelivery.open(
            (state_dir or Path(".")) / "spool", alert_sinks, config.spool, on_output_closed)
        outputs.alert_output = outputs.delivery
    if config.respond.enabled:
        from logsentry.respond.responder import Responder

        responder = Responder(config.respond, state_dir or Path("."))
        responder.inner = outputs.alert_output
        await responder.start()
        outputs.responder = responder
        outputs.alert_output = responder
    return outputs


def _event_output(sink: Sink,
                  on_output_closed: Callable[[str], None] | None) -> EventOutput:
    closed = False

    async def send(events: list[Event]) -> None:
        async def once() -> None:
            nonlocal closed
            try:
                await sink.send(list(events))
            except OutputClosedError:
                # Its reader is gone: retrying cannot help, stopping does.
                closed = True
                log.info("sink_output_closed", sink=sink.name)
                if on_output_closed is not None:
                    on_output_closed(sink.name)

        if not closed:
            await retry_forever(sink.name, once)

    return send


def build_sources(config: Config, state_dir: Path | None) -> list[Source]:
    """The configured sources, each resuming from its persisted position."""
    return [source.build(state_dir, config.pipeline.commit_interval)
            for source in config.sources]


@dataclass(frozen=True, slots=True)
class SourceProblem:
    """A configured path of a file source that yields nothing now."""

    key: str  # "sources.0"
    source: str
    path: str
    why: str
    allowed: bool  # the source says its paths may appear later

    def __str__(self) -> str:
        return f"{self.key} ({self.source}): {self.path}: {self.why}"


def source_problems(config: Config) -> list[SourceProblem]:
    """Every configured file path or glob that matches no readable file now."""
    problems = []
    for index, source in enumerate(config.sources):
        if isinstance(source, FileSourceConfig):
            name = source.name or "file"
            waiting = ", allow_missing: waiting for it" if source.allow_missing else ""
            problems += [SourceProblem(f"sources.{index}", name, path, why + waiting,
                                       source.allow_missing)
                         for path, why in path_problems(source)]
    return problems


def check_sources(config: Config, origin: str) -> list[SourceProblem]:
    """The file paths that yield nothing; ConfigError when no source can read anything.

    A source can read something when it is not a file source (journald, Kafka,
    stdin), when one of its paths matches a readable file, or when it says its
    paths may appear later (`allow_missing: true`).
    """
    problems = source_problems(config)
    if not config.sources:
        raise ConfigError(f"{origin}: sources: none configured, nothing to read")
    failing = {(p.key, p.path) for p in problems}
    for index, source in enumerate(config.sources):
        if not isinstance(source, FileSourceConfig) or source.allow_missing:
            return problems
        if any((f"sources.{index}", path) not in failing for path in source.paths):
            return problems
    raise ConfigError(
        f"{origin}: no source can read anything:\n"
        + "".join(f"  {problem}\n" for problem in problems)
        + "Fix the paths, or set `allow_missing: true` on a file source whose files "
        "appear later.")


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

    detector = Detector.from_config(config.detection, config.state_dir)
    # Read at each scrape (an int sum over the rules, no lock needed for a gauge).
    DETECTION_STATE_BYTES.set_function(lambda: detector.memory_bytes)
    DETECTION_STATE_CAP_BYTES.set(detector.memory_cap_bytes)
    # Which rules run is never implicit: say it at every (re)start.
    log.info("rules_loaded", rules=len(detector.rules), loaded=detector.loaded_summary())
    if detector.sigma is not None:
        from logsentry.detect.sigma.report import log_loaded

        log_loaded(detector.sigma)
    return detector


def share_memory_cap(detector: Detector, analyzer: Analyzer) -> None:
    """Count the analyzer's caches and the process's resident growth against the
    detector's memory cap.

    Both grow with distinct input (a flood of new sources is a new exact-text entry per
    line and a new group per source), so the cap holds for the process only if it
    covers both: the state is evicted down to the cap less what the caches hold. What
    neither estimate sees (allocator overhead, groups a checkpoint holds, queued
    batches) shows in the resident set: its growth lowers the state's limit too.
    """
    def cache_bytes() -> int:
        # An analyzer without caches (none, or one in other processes) holds nothing.
        return int(getattr(analyzer, "cache_bytes", 0))

    from logsentry.detect.resident import ResidentCeiling

    detector.outside_bytes = cache_bytes
    ANALYSIS_CACHE_BYTES.set_function(cache_bytes)
    resident = ResidentCeiling(resident_bytes, detector.memory_cap_bytes)
    detector.resident = resident
    PROCESS_RESIDENT_GROWTH_BYTES.set_function(lambda: resident.growth)
    DETECTION_STATE_LIMIT_BYTES.set_function(lambda: detector.state_cap_bytes)


def check_components(config: Config, origin: str = "<config>", *,
                     rules: bool = True) -> Detector | None:
    """Validate what the schema cannot: sink names, secrets, rule files. Raises ConfigError.

    Everything here runs before the daemon opens anything (the metrics
    listener, the spool, a source), and again on reload. Returns the detector
    the rules built (None when detection is off, or with `rules=False`, which
    leaves the rule files to the caller: it loads them once for its detector,
    since loading the pack takes seconds).
    """
    check_unique_names(config.sinks)
    try:
        check_secrets(config)
    except SecretError as exc:
        raise SecretError(f"{origin}: {exc}") from None
    if rules and config.detection.enabled:
        from logsentry.detect.detector import Detector

        return Detector.from_config(config.detection, None)
    return None
