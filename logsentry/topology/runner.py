"""Running the stages a process is configured for (`topology.mode`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from logsentry.analysis.base import Analyzer
from logsentry.assembly import build_sources, open_outputs
from logsentry.config import Config
from logsentry.core.errors import ConfigError, KafkaTopicError
from logsentry.pipeline import Pipeline
from logsentry.service.http import HealthState
from logsentry.sources.kafka import KafkaSource, security_options
from logsentry.topology.config import TopologyConfig
from logsentry.topology.detect_stage import DetectStage
from logsentry.topology.keyed_events import KeyedEventProducer

log = structlog.get_logger(__name__)

# The name of the stages' check in `/readyz`.
READINESS_CHECK = "topology"


async def ensure_events_topic(topology: TopologyConfig, stop: asyncio.Event | None = None) -> None:
    """Create the events topic with `events_partitions` partitions unless it exists.

    Retries while the broker is unreachable (it may start after us) or answers
    with a retriable error; raises KafkaTopicError when it refuses for good.
    """
    if not topology.create_topic:
        return
    delay = 0.5
    while stop is None or not stop.is_set():
        admin = AIOKafkaAdminClient(
            bootstrap_servers=topology.bootstrap_servers, client_id=topology.client_id,
            **security_options(topology.events_source()))
        try:
            await admin.start()
            response = await admin.create_topics(
                [NewTopic(topology.events_topic, topology.events_partitions, 1)])
            if topic_created(topology, response):
                return
        except (KafkaError, OSError) as exc:
            log.warning("events_topic_unavailable", error=repr(exc), delay=delay)
        finally:
            await admin.close()
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)


def topic_created(topology: TopologyConfig, response: Any) -> bool:
    """Whether the events topic is there, from a CreateTopics response.

    aiokafka raises nothing for a topic's error: each topic's error code is in
    the response's `topic_errors`, (topic, error_code[, error_message]).
    True when created or already there, False for a retriable error; raises
    KafkaTopicError for any other.
    """
    topic = topology.events_topic
    for entry in response.topic_errors:
        name, code = entry[0], entry[1]
        if name != topic:
            continue
        if code == 0:
            log.info("events_topic_created", topic=topic, partitions=topology.events_partitions)
            return True
        if code == TopicAlreadyExistsError.errno:
            log.info("events_topic_exists", topic=topic)
            return True
        error = for_code(code)
        detail = entry[2] if len(entry) > 2 and entry[2] else error.description
        if error.retriable:
            log.warning("events_topic_unavailable", topic=topic, error=error.message,
                        detail=detail)
            return False
        raise KafkaTopicError(
            f"cannot create the events topic {topic!r}: {error.message} (code {code}): "
            f"{detail}; create it with {topology.events_partitions} partitions and set "
            "topology.create_topic: false")
    log.warning("events_topic_unavailable", topic=topic, error="topic missing from the reply")
    return False


async def run_stages(config: Config, topology: TopologyConfig, stop: asyncio.Event,
                     analyzer: Analyzer | None = None, health: HealthState | None = None) -> None:
    """Run stage 1 (`analyze`), stage 2 (`detect`) or both until `stop` is set.

    `single` is the plain pipeline, which `logsentry.daemon.Daemon` runs.
    With `health`, `/readyz` says ready only once every consumer group member
    of the stages has its partitions, and lists them.
    """
    if topology.mode == "single":
        raise ConfigError("topology mode single runs in the daemon, not in run_stages")
    members = StageMembers()
    if health is not None:
        health.add_readiness_check(READINESS_CHECK, members.assignments)
    try:
        await _run_stages(config, topology, stop, analyzer, members)
    finally:
        if health is not None:
            health.remove_readiness_check(READINESS_CHECK)


@dataclass
class StageMembers:
    """The consumer group members of the running stages, for `/readyz`."""

    started: bool = False
    sources: list[tuple[str, KafkaSource]] = field(default_factory=list)

    def assignments(self) -> tuple[bool, str]:
        """Ready when every member has its partitions; each member's partitions."""
        if not self.started:
            return False, "starting (events topic, outputs)"
        if not self.sources:
            return True, "no consumer group"
        reports = [(stage, *source.assignment()) for stage, source in self.sources]
        return (all(ready for _, ready, _ in reports),
                "; ".join(f"{stage} {detail}" for stage, _, detail in reports))


async def _run_stages(config: Config, topology: TopologyConfig, stop: asyncio.Event,
                      analyzer: Analyzer | None,
                      members: StageMembers) -> None:
    state_dir: Path | None = config.state_dir
    await ensure_events_topic(topology, stop)
    outputs = await open_outputs(config, state_dir)
    tasks: list[asyncio.Task[None]] = []
    producer: KeyedEventProducer | None = None
    try:
        if topology.mode in ("detect", "both"):
            if outputs.alert_output is None:
                raise ConfigError("topology mode detect needs an alert sink")
            stage2 = DetectStage(topology, config.detection, outputs.alert_output)
            members.sources.append(("detect", stage2.source))
            tasks.append(asyncio.create_task(stage2.run(stop), name="stage-detect"))
        if topology.mode in ("analyze", "both"):
            if analyzer is None:
                from logsentry.analysis.loader import load_analyzer

                analyzer = await asyncio.get_running_loop().run_in_executor(
                    None, load_analyzer, config.analysis)
            producer = KeyedEventProducer(topology)
            sources = build_sources(config, state_dir)
            members.sources.extend(("analyze", source) for source in sources
                                   if isinstance(source, KafkaSource))
            pipeline = Pipeline(
                sources,
                analyzer,
                detector=None,
                event_outputs=[producer.send, *outputs.event_outputs],
                alert_output=None,
                config=config.pipeline,
                analysis=config.analysis,
            )
            tasks.append(asyncio.create_task(pipeline.run(stop), name="stage-analyze"))
        members.started = True
        log.info("topology_started", mode=topology.mode, topic=topology.events_topic,
                 group=topology.group_id)
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        if producer is not None:
            await producer.close()
        await outputs.close(config.pipeline.drain_timeout)
