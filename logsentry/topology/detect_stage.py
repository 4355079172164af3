"""Stage 2: consume the keyed events topic in a group and correlate per partition.

Each batch is one partition's records: decoded into events, correlated by
that partition's detector, its alerts submitted to the alert output (the
durable spool) and only then its offset handed back for commit. So an
instance killed at any point loses no alert: whatever it had not committed
is read again, with the state rebuilt by replay, by the partition's next owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog

from logsentry.core.alert import Alert
from logsentry.core.event import Event
from logsentry.core.metrics import LINES_FAILED
from logsentry.detect.config import DetectionConfig
from logsentry.detect.rule import configured_rule_paths, load_rules
from logsentry.pipeline import TICK_SECONDS, AlertOutput
from logsentry.sources.base import LineBatch
from logsentry.sources.kafka import KafkaPosition, KafkaSource
from logsentry.topology.config import TopologyConfig
from logsentry.topology.ecs_event import decode_event
from logsentry.topology.partition_state import PartitionedDetection

log = structlog.get_logger(__name__)


class DetectStage:
    """A member of the stage-2 consumer group."""

    def __init__(self, topology: TopologyConfig, detection: DetectionConfig,
                 alert_output: AlertOutput) -> None:
        rules = load_rules(configured_rule_paths(detection))
        self.detection = PartitionedDetection(rules, detection, topology.replay_messages)
        self.source = KafkaSource(
            topology.events_source(),
            on_assigned=self.detection.on_assigned,
            on_revoked=self.detection.on_revoked,
        )
        self.alert_output = alert_output
        self.queue: asyncio.Queue[LineBatch] = asyncio.Queue(topology.queue_batches)
        self.events = 0
        self.alerts = 0
        self.undecodable = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Correlate until `stop` is set; then finish what was read and commit it."""
        reader = asyncio.create_task(self.source.run(self.queue, stop), name="detect-source")
        next_tick = time.monotonic() + TICK_SECONDS
        try:
            while not (reader.done() and self.queue.empty()):
                timeout = max(0.0, next_tick - time.monotonic())
                batch: LineBatch | None = None
                with contextlib.suppress(TimeoutError):
                    batch = await asyncio.wait_for(self.queue.get(), min(timeout, 0.2))
                if batch is not None:
                    await self._process(batch)
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + TICK_SECONDS
                    await self._submit(self.detection.tick())
            if reader.done() and reader.exception() is not None:
                log.error("detect_source_failed", error=repr(reader.exception()))
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            await self.source.close()

    async def _process(self, batch: LineBatch) -> None:
        position: KafkaPosition = batch.position
        progress = self.source.progress.get(position.partition)
        if progress is None or progress.epoch != position.epoch:
            return  # read before a rebalance took the partition: read again from its offset
        events: list[Event] = []
        offsets: list[int] = []
        for index, line in enumerate(batch.lines):
            event = decode_event(line, batch.received)
            if event is None:
                # Not an event document (a foreign producer): counted, skipped.
                self.undecodable += 1
                LINES_FAILED.labels("detection").inc()
                continue
            event.source = self.source.name
            events.append(event)
            offsets.append(batch.offsets[index] if batch.offsets else position.offset)
        if events:
            alerts = self.detection.process(position.partition, events, offsets)
            self.events += len(events)
            await self._submit(alerts)
        self.source.commit(position)

    async def _submit(self, alerts: list[Alert]) -> None:
        if alerts:
            self.alerts += len(alerts)
            await self.alert_output.submit(alerts)
