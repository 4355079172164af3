"""Running the stages a process is configured for (`topology.mode`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from logsentry.analysis.base import Analyzer
from logsentry.assembly import build_sources, open_outputs
from logsentry.config import Config
from logsentry.core.errors import ConfigError
from logsentry.pipeline import Pipeline
from logsentry.sources.kafka import security_options
from logsentry.topology.config import TopologyConfig
from logsentry.topology.detect_stage import DetectStage
from logsentry.topology.keyed_events import KeyedEventProducer

log = structlog.get_logger(__name__)


async def ensure_events_topic(topology: TopologyConfig, stop: asyncio.Event | None = None) -> None:
    """Create the events topic with `events_partitions` partitions unless it exists.

    Retries while the broker is unreachable (it may start after us).
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
            try:
                await admin.create_topics(
                    [NewTopic(topology.events_topic, topology.events_partitions, 1)])
                log.info("events_topic_created", topic=topology.events_topic,
                         partitions=topology.events_partitions)
            except TopicAlreadyExistsError:
                pass
            return
        except (KafkaError, OSError) as exc:
            log.warning("events_topic_unavailable", error=repr(exc), delay=delay)
        finally:
            await admin.close()
        await asyncio.sleep(delay)
        delay = min(delay * 2, 30.0)


async def run_stages(config: Config, topology: TopologyConfig, stop: asyncio.Event,
                     analyzer: Analyzer | None = None) -> None:
    """Run stage 1 (`analyze`), stage 2 (`detect`) or both until `stop` is set.

    `single` is the plain pipeline, which `logsentry.daemon.Daemon` runs.
    """
    if topology.mode == "single":
        raise ConfigError("topology mode single runs in the daemon, not in run_stages")
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
            tasks.append(asyncio.create_task(stage2.run(stop), name="stage-detect"))
        if topology.mode in ("analyze", "both"):
            if analyzer is None:
                from logsentry.analysis.loader import load_analyzer

                analyzer = await asyncio.get_running_loop().run_in_executor(
                    None, load_analyzer, config.analysis)
            producer = KeyedEventProducer(topology)
            pipeline = Pipeline(
                build_sources(config, state_dir),
                analyzer,
                detector=None,
                event_outputs=[producer.send, *outputs.event_outputs],
                alert_output=None,
                config=config.pipeline,
                analysis=config.analysis,
            )
            tasks.append(asyncio.create_task(pipeline.run(stop), name="stage-analyze"))
        log.info("topology_started", mode=topology.mode, topic=topology.events_topic,
                 group=topology.group_id)
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        if producer is not None:
            await producer.close()
        await outputs.close(config.pipeline.drain_timeout)
