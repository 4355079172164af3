"""Correlation state per partition of the events topic, rebuilt by replay when a partition moves.

Each partition has its own Detector, so the state of a partition's keys
moves with the partition: on revocation it is set aside, and on assignment
it is either still valid (this instance had the partition last and the group
committed exactly where that state ends) or rebuilt by re-reading up to
`replay_messages` events before the committed offset. Alerts raised while
replaying events before the committed offset were already made durable by
the previous owner (offsets are committed only after that) and are dropped;
events from the committed offset on are live.

Why replay rather than a compacted changelog topic: the events topic already
holds everything the state is made of, so replay needs no second topic, no
serialization of every state change on the hot path and no restore protocol;
its cost is bounded (`replay_messages` per moved partition) and paid only on
rebalances. The limit is a rule whose memory outlasts the replayed span
(first_seen baselines learn for days): see the README (Kafka section).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from logsentry.core.alert import Alert
from logsentry.core.event import Event
from logsentry.detect.config import DetectionConfig
from logsentry.detect.detector import Detector, load_sigma_rules
from logsentry.detect.rule import Rule

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class PartitionState:
    """The detector of one partition and how far it has read."""

    detector: Detector
    # Events at offsets below this were processed by the previous owner.
    replay_until: int = -1
    # Next offset after the last event fed to the detector.
    next_offset: int = -1


class PartitionedDetection:
    """One Detector per assigned partition; hooks for KafkaSource's rebalances."""

    def __init__(self, rules: list[Rule], config: DetectionConfig, replay_messages: int) -> None:
        self.rules = rules
        self.config = config
        # Compiled once, shared (read-only) by every partition's detector.
        self.sigma = load_sigma_rules(config)
        if self.sigma is not None:
            from logsentry.detect.sigma.report import log_loaded

            log_loaded(self.sigma)
        self.replay_messages = replay_messages
        self.partitions: dict[TopicPartition, PartitionState] = {}
        # Revoked partitions, kept in case the rebalance gives them back
        # (aiokafka's eager protocol revokes everything on every rebalance).
        self._set_aside: dict[TopicPartition, PartitionState] = {}
        self.replayed = 0
        self.dropped_replay_alerts = 0

    def _new_detector(self) -> Detector:
        share = max(1, len(self.partitions) + 1)
        return Detector(
            self.rules,
            memory_cap_bytes=max(1, self.config.memory_cap_mb * 1024 * 1024 // share),
            state_path=None,
            max_samples=self.config.alert_events,
            sigma=self.sigma,
        )

    async def on_assigned(self, consumer: AIOKafkaConsumer,
                          partitions: set[TopicPartition]) -> set[TopicPartition]:
        """Keep the state that is still exact; rebuild the rest by seeking back.

        Returns the partitions it moved the position of (KafkaSource's AssignHook).
        """
        positioned: set[TopicPartition] = set()
        for tp in sorted(partitions):
            try:
                committed = await consumer.committed(tp)
            except KafkaError as exc:
                log.warning("committed_offset_unknown", partition=str(tp), error=repr(exc))
                committed = None
            kept = self._set_aside.pop(tp, None)
            if kept is not None and committed is not None and kept.next_offset == committed:
                self.partitions[tp] = kept
                continue
            state = PartitionState(self._new_detector())
            self.partitions[tp] = state
            if committed is None or committed <= 0 or self.replay_messages == 0:
                continue
            try:
                beginning = (await consumer.beginning_offsets([tp]))[tp]
            except KafkaError:
                beginning = 0
            start = max(beginning, committed - self.replay_messages)
            if start < committed:
                state.replay_until = committed
                consumer.seek(tp, start)
                positioned.add(tp)
                log.info("partition_state_replay", partition=str(tp), start=start,
                         committed=committed)
        self._set_aside.clear()
        return positioned

    async def on_revoked(self, partitions: set[TopicPartition]) -> None:
        for tp in partitions:
            state = self.partitions.pop(tp, None)
            if state is not None:
                self._set_aside[tp] = state

    def process(self, tp: TopicPartition, events: list[Event], offsets: list[int]) -> list[Alert]:
        """Correlate one batch of `tp`; `offsets[i]` is the next offset after event i."""
        state = self.partitions.get(tp)
        if state is None:
            return []  # revoked meanwhile: its new owner processes these again
        detector = state.detector
        # Events this state already holds (a batch read before a rebalance
        # repositioned the partition) must not be counted twice.
        seen = 0
        while seen < len(offsets) and offsets[seen] <= state.next_offset:
            seen += 1
        if seen:
            events, offsets = events[seen:], offsets[seen:]
        replay = 0
        if state.replay_until > 0:
            while replay < len(offsets) and offsets[replay] <= state.replay_until:
                replay += 1
        if replay:
            dropped = detector.process(events[:replay])
            self.replayed += replay
            self.dropped_replay_alerts += len(dropped)
            if offsets[replay - 1] >= state.replay_until:
                state.replay_until = -1
        alerts = detector.process(events[replay:]) if replay < len(events) else []
        if offsets:
            state.next_offset = offsets[-1]
        return alerts

    def tick(self) -> list[Alert]:
        now = time.time()
        alerts: list[Alert] = []
        for state in self.partitions.values():
            alerts += state.detector.tick(now)
        return alerts
