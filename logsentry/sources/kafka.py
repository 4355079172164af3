"""Reading log lines from Kafka topics as a member of a consumer group.

Offsets: auto-commit is off. Each LineBatch holds the records of one
partition; its position is the partition's next offset. The pipeline hands
positions back (in order) once the lines are fully processed and their alerts
durable, and only those offsets are committed to the group, every
`commit_interval` and on revocation and shutdown: a crash re-reads at most
what was in flight (at least once).

Backpressure: when the pipeline's bounded queue is full, every assigned
partition is paused (aiokafka then drops its prefetched records instead of
buffering more) until the batch fits, so memory stays bounded however far
behind the group is.

Records: where the lines need only the records' values (every configured
field comes from JSON), the consumer hands over runs of values and offsets
instead of one ConsumerRecord per record (logsentry.sources.kafka_runs, pinned
to the aiokafka release it was checked against; other releases, and header or
key fields, read ConsumerRecords). A run, like a record list, becomes one batch.

Rebalances: on revocation the source stops handing on records of the revoked
partitions, waits (at most `revoke_timeout`) until the pipeline committed
every batch of them it already had, commits those offsets, then lets the
partitions go. Batches of a partition carry the epoch of its assignment, so a
late commit from before a revocation never moves the offset of a partition
that another member now owns.

With detection checkpoints (the daemon's single pipeline, `hold_positions`),
the group's offsets never run ahead of the detection state on disk: the
offsets each checkpoint reflects travel in it, and only once it is written are
they committed to the group (at the next interval, on revocation). A SIGKILL
leaves the group at or behind the last checkpoint; on assignment a partition
starts at the later of the group's offset and the offset the detection state
reflects (restored from the checkpoint, or this member's own progress when a
rebalance hands a partition back), so no line is detected twice into the same
state and none after the checkpoint is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from logsentry.core.metrics import CONSUMER_LAG, LINES_READ
from logsentry.sources.base import LineBatch, LineDecoder
from logsentry.sources.config import KafkaSourceConfig
from logsentry.sources.kafka_message import KafkaMessageDecoder
from logsentry.sources.kafka_runs import RecordRun, install_runs

log = structlog.get_logger(__name__)

# Longest wait in one fetch: bounds how late `stop` and commits are noticed.
POLL_MS = 200
LAG_INTERVAL = 5.0
# While paused under backpressure, how often the consumer still polls.
PAUSED_POLL_SECONDS = 1.0
RETRY_MAX_DELAY = 30.0

# Called on assignment, before any record of the partitions is read; returns
# the partitions it positioned itself (seek), the others start at the committed offset.
AssignHook = Callable[[AIOKafkaConsumer, set[TopicPartition]], Awaitable[set[TopicPartition]]]
RevokeHook = Callable[[set[TopicPartition]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class KafkaPosition:
    """Where a batch ends: everything of `partition` before `offset` is in it or earlier."""

    partition: TopicPartition
    offset: int
    epoch: int


@dataclass(slots=True)
class PartitionProgress:
    """Offsets of one assigned partition: read, processed, committed to the group."""

    epoch: int
    handed: int = -1  # next offset after the last batch put into the queue
    done: int = -1  # next offset after the last batch the pipeline committed
    committed: int = -1  # what the group has (never moved backwards by us)
    revoking: bool = False  # being handed over: no more records are read
    ready: bool = False  # positioned after its assignment: its records may be read

    @property
    def in_flight(self) -> bool:
        return self.handed > self.done


class KafkaSource:
    """A consumer-group member producing LineBatches (see module docstring)."""

    def __init__(
        self,
        config: KafkaSourceConfig,
        *,
        on_assigned: AssignHook | None = None,
        on_revoked: RevokeHook | None = None,
    ) -> None:
        self.config = config
        self.name = config.name or "kafka:" + ",".join(config.topics)
        self.decoder = LineDecoder(self.name)
        self.messages = KafkaMessageDecoder(config, self.decoder)
        # Hooks of the detection stage (logsentry.topology): state per partition.
        self.on_assigned = on_assigned
        self.on_revoked = on_revoked
        self.consumer: AIOKafkaConsumer | None = None
        self.runs = False  # the consumer's records are read as RecordRuns
        self.progress: dict[TopicPartition, PartitionProgress] = {}
        self._epochs = 0
        self._joined = False  # a first assignment came and its partitions are positioned
        self._rebalancing = False  # partitions revoked, the new assignment not yet in
        self._paused = False
        self._committed_event = asyncio.Event()
        self._last_commit = time.monotonic()
        self._last_lag = 0.0
        self._lag_labels: set[tuple[str, str]] = set()
        # Detection checkpoints (see the module docstring): offsets are committed
        # only once a checkpoint holding them is on disk.
        self._held = False
        # Next offset after what this member's detection state reflects (the
        # pipeline committed it), per partition, kept across revocations.
        self._reflected: dict[TopicPartition, int] = {}
        # Next offset after what was handed to the pipeline: all of it reaches
        # the state (a partition handed back resumes here), kept across revocations.
        self._read_to: dict[TopicPartition, int] = {}
        # Offsets of the last checkpoint written (set by the writer's thread;
        # one assignment of a new dict, read by the event loop).
        self._durable: dict[TopicPartition, int] = {}

    # -- the Source interface ------------------------------------------------------

    async def run(self, out: asyncio.Queue[LineBatch], stop: asyncio.Event) -> None:
        """Consume until `stop` is set; the consumer stays open for `close()` to commit."""
        consumer = await self._connect(stop)
        if consumer is None:
            return
        delay = 0.5
        while not stop.is_set():
            try:
                # A RecordRun counts as one record and holds up to max_batch:
                # one per call keeps what is read ahead of the pipeline (and
                # the time between commit and stop checks) at one batch.
                fetched = await consumer.getmany(
                    timeout_ms=POLL_MS, max_records=1 if self.runs else self.config.max_batch)
                delay = 0.5
            except KafkaError as exc:
                # Broker gone or restarting: aiokafka reconnects; keep asking.
                log.warning("kafka_fetch_failed", source=self.name, error=repr(exc), delay=delay)
                await _sleep_unless(stop, delay)
                delay = min(delay * 2, RETRY_MAX_DELAY)
                continue
            # The assignment these records were read under: a rebalance while a
            # batch waits for queue space may revoke (and reassign) the others.
            epochs = {tp: p.epoch for tp, p in self.progress.items()
                      if p.ready and not p.revoking}
            for partition, records in fetched.items():
                for part in _parts(records):
                    progress = self.progress.get(partition)
                    if (progress is None or progress.revoking
                            or epochs.get(partition) != progress.epoch):
                        # Revoked while the records were on their way (or while
                        # an earlier part waited for queue space), or read before
                        # the assignment positioned the partition (it seeks again).
                        break
                    batch = self._batch(partition, part, progress)
                    progress.handed = batch.position.offset
                    self._read_to[partition] = batch.position.offset
                    await self._put(out, batch)
            if time.monotonic() - self._last_commit >= self.config.commit_interval:
                await self.commit_offsets()
            if time.monotonic() - self._last_lag >= LAG_INTERVAL:
                self._update_lag()

    def commit(self, position: Any) -> None:
        """The pipeline processed everything up to `position` (a KafkaPosition)."""
        # Detected, whoever owns the partition now: the state reflects it.
        if position.offset > self._reflected.get(position.partition, -1):
            self._reflected[position.partition] = position.offset
        progress = self.progress.get(position.partition)
        if progress is None or progress.epoch != position.epoch:
            return  # the partition was revoked since: its new owner reads it again
        if position.offset > progress.done:
            progress.done = position.offset
            self._committed_event.set()

    async def close(self) -> None:
        """Commit what the pipeline processed (with checkpoints: what the last one
        written holds), leave the group, close the connection."""
        consumer = self.consumer
        if consumer is None:
            return
        await self.commit_offsets()  # needs self.consumer
        self.consumer = None
        # Leaving the group revokes everything: commits already made above.
        try:
            await consumer.stop()
        except KafkaError as exc:
            log.warning("kafka_close_failed", source=self.name, error=repr(exc))
        for labels in self._lag_labels:
            CONSUMER_LAG.remove(*labels)
        self._lag_labels.clear()

    def assignment(self) -> tuple[bool, str]:
        """Whether this member has its partitions, and which (a readiness check).

        Ready once the group gave it a first assignment and those partitions are
        positioned (a detection stage has replayed their state). It stays ready
        through later rebalances, which the line reports: a member that rejoins
        is still serving, and readiness flapping on every rebalance would stall
        a rolling restart.
        """
        group = self.config.group_id
        if self.consumer is None:
            return False, f"group {group}: not connected"
        names = sorted(f"{tp.topic}-{tp.partition}" for tp in self.progress)
        held = ",".join(names) if names else "no partitions (more members than partitions)"
        pending = sorted(f"{tp.topic}-{tp.partition}" for tp, p in self.progress.items()
                         if not p.ready)
        if not self._joined:
            if pending:  # assigned, being positioned (a detection stage replays state)
                return False, f"group {group}: positioning {','.join(pending)}"
            return False, f"group {group}: waiting for partitions"
        if self._rebalancing:
            return True, f"group {group}: rebalancing, had {held}"
        if pending:
            return True, f"group {group}: {held}; positioning {','.join(pending)}"
        return True, f"group {group}: {held}"

    # -- detection checkpoints (ResumableSource) -----------------------------------

    def checkpoint_position(self) -> Any:
        """The next offset of every partition the detection state reflects, as JSON data."""
        if not self._reflected:
            return None
        return {"offsets": [[tp.topic, tp.partition, offset]
                            for tp, offset in sorted(self._reflected.items())]}

    def resume_from(self, position: Any) -> bool:
        """Before `run`: each partition of `position` starts no earlier than its offset."""
        try:
            offsets = _offsets(position)
        except (KeyError, TypeError, ValueError) as exc:
            log.error("checkpoint_position_unusable", source=self.name, error=str(exc))
            return False
        self._reflected.update(offsets)
        self._read_to.update(offsets)
        # On disk already: the group gets them even if nothing new is read.
        self._durable = {**self._durable, **offsets}
        return True

    def describe_position(self, position: Any) -> Any:
        try:
            return {f"{tp.topic}-{tp.partition}": offset
                    for tp, offset in sorted(_offsets(position).items())}
        except (KeyError, TypeError, ValueError):
            return position

    def hold_positions(self) -> None:
        self._held = True

    def persist_position(self, position: Any) -> None:
        """A checkpoint holding `position` is on disk (the writer's thread): its offsets
        may now be committed to the group, at the next interval."""
        self._durable = {**self._durable, **_offsets(position)}

    # -- consuming -----------------------------------------------------------------

    async def _connect(self, stop: asyncio.Event) -> AIOKafkaConsumer | None:
        delay = 0.5
        while not stop.is_set():
            consumer = AIOKafkaConsumer(**self._options())
            consumer.subscribe(self.config.topics, listener=_Listener(self))
            # Set before start(): the first assignment may arrive while it runs.
            self.consumer = consumer
            try:
                await consumer.start()
            except (KafkaError, OSError) as exc:
                log.warning("kafka_connect_failed", source=self.name, error=repr(exc),
                            delay=delay)
                self.consumer = None
                await consumer.stop()
                await _sleep_unless(stop, delay)
                delay = min(delay * 2, RETRY_MAX_DELAY)
                continue
            # Lines that need only the records' values skip aiokafka's
            # per-record objects (see kafka_runs); otherwise records as usual.
            self.runs = self.messages.plain_fields and install_runs(consumer,
                                                                    self.config.max_batch)
            log.info("kafka_connected", source=self.name, topics=self.config.topics,
                     group=self.config.group_id, record_runs=self.runs)
            return consumer
        return None

    def _options(self) -> dict[str, Any]:
        config = self.config
        options: dict[str, Any] = {
            "bootstrap_servers": config.bootstrap_servers,
            "group_id": config.group_id,
            "client_id": config.client_id,
            "enable_auto_commit": False,
            "auto_offset_reset": config.start_at,
            "max_partition_fetch_bytes": config.max_partition_fetch_bytes,
            "fetch_max_wait_ms": config.fetch_max_wait_ms,
            "fetch_max_bytes": max(config.max_partition_fetch_bytes, 52_428_800),
            "session_timeout_ms": int(config.session_timeout * 1000),
            "heartbeat_interval_ms": heartbeat_ms(config),
            # The revocation wait runs inside the rebalance: allow for it.
            "rebalance_timeout_ms": int((config.revoke_timeout + config.session_timeout) * 1000),
            "partition_assignment_strategy": (_assignor(config.partition_assignment),),
        }
        options.update(security_options(config))
        return options

    def _batch(self, partition: TopicPartition, part: RecordRun | list[Any],
               progress: PartitionProgress) -> LineBatch:
        if isinstance(part, RecordRun):
            lines, known = self.messages.decode_values(part.values)
            offsets = part.offsets
        else:
            lines, known = self.messages.decode_batch(part)
            offsets = [record.offset + 1 for record in part]
        LINES_READ.labels(self.name).inc(len(lines))
        return LineBatch(
            source=self,
            lines=lines,
            position=KafkaPosition(partition, offsets[-1], progress.epoch),
            received=time.time(),
            fields=known,
            offsets=offsets,
        )

    async def _put(self, out: asyncio.Queue[LineBatch], batch: LineBatch) -> None:
        try:
            out.put_nowait(batch)
            return
        except asyncio.QueueFull:
            pass
        # The pipeline is behind: stop fetching rather than buffer.
        consumer = self.consumer
        if consumer is not None:
            consumer.pause(*self.progress)
            self._paused = True
        put = asyncio.ensure_future(out.put(batch))
        try:
            while not put.done():
                await asyncio.wait({put}, timeout=PAUSED_POLL_SECONDS)
                if put.done() or consumer is None:
                    break
                # Keep polling while paused: aiokafka takes a member that has
                # not polled for max_poll_interval (5 min) for dead and leaves
                # the group, so a long sink outage would turn into rebalances.
                fetched = await consumer.getmany(timeout_ms=0)
                for tp, records in fetched.items():
                    if records:  # not handed on (newly resumed): read again later
                        first = records[0]
                        consumer.seek(tp, first.first_offset if isinstance(first, RecordRun)
                                      else first.offset)
            await put
        finally:
            if not put.done():
                put.cancel()
            if consumer is not None and self._paused:
                self._paused = False
                consumer.resume(*[tp for tp, p in self.progress.items()
                                  if p.ready and tp in consumer.assignment()])

    # -- offsets -------------------------------------------------------------------

    async def commit_offsets(self, partitions: Collection[TopicPartition] | None = None) -> None:
        """Commit to the group the offsets the pipeline processed (all or `partitions`)."""
        self._last_commit = time.monotonic()
        consumer = self.consumer
        if consumer is None:
            return
        # With checkpoints, what the last one written holds; else what was processed.
        durable = self._durable
        offsets: dict[TopicPartition, int] = {}
        for tp, p in self.progress.items():
            offset = durable.get(tp, -1) if self._held else p.done
            if (partitions is None or tp in partitions) and offset > p.committed:
                offsets[tp] = offset
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # A rebalance or a broker outage: retried at the next interval; the
            # group at worst re-reads what these offsets cover.
            log.warning("kafka_commit_failed", source=self.name, error=repr(exc))
            return
        for tp, offset in offsets.items():
            progress = self.progress.get(tp)
            if progress is not None:
                progress.committed = max(progress.committed, offset)

    def _update_lag(self) -> None:
        """CONSUMER_LAG: end of the log minus what this member committed (or will)."""
        self._last_lag = time.monotonic()
        consumer = self.consumer
        if consumer is None:
            return
        for tp, progress in self.progress.items():
            end = consumer.highwater(tp)
            if end is None:
                continue
            done = max(progress.done, progress.committed)
            if done < 0:
                continue
            labels = (tp.topic, str(tp.partition))
            CONSUMER_LAG.labels(*labels).set(max(0, end - done))
            self._lag_labels.add(labels)

    # -- rebalances ----------------------------------------------------------------

    async def assigned(self, partitions: set[TopicPartition]) -> None:
        consumer = self.consumer
        for tp in partitions:
            self._epochs += 1
            self.progress[tp] = PartitionProgress(epoch=self._epochs)
        if consumer is None:
            return
        # Nothing of these partitions is read until they are positioned: the
        # hook below may seek back (state replay), and records fetched
        # meanwhile from the committed offset would be read out of order.
        consumer.pause(*partitions)
        uncommitted: set[TopicPartition] = set()
        for tp in partitions:
            # What the group has: commits never go below it (a replay seeks back).
            try:
                committed = await consumer.committed(tp)
            except KafkaError:
                continue
            if committed is not None:
                self.progress[tp].committed = committed
            else:
                uncommitted.add(tp)
        log.info("kafka_partitions_assigned", source=self.name,
                 partitions=sorted(f"{tp.topic}-{tp.partition}" for tp in partitions))
        positioned: set[TopicPartition] = set()
        if self.on_assigned is not None:
            positioned = await self.on_assigned(consumer, partitions)
        # With checkpoints, where the detection state ends, if the group is behind
        # it (its offsets wait for a checkpoint; this member had the partition).
        state = self._read_to if self._held else {}
        # Records the run loop skipped while this ran are read again.
        fresh = [tp for tp in uncommitted
                 if tp not in positioned and tp in self.progress and tp not in state]
        if fresh:
            if self.config.start_at == "earliest":
                await consumer.seek_to_beginning(*fresh)
            else:
                await consumer.seek_to_end(*fresh)
        for tp in partitions:
            progress = self.progress.get(tp)
            if progress is None:
                continue
            start = max(progress.committed, state.get(tp, -1))
            if tp not in positioned and start >= 0:
                consumer.seek(tp, start)
                if start > progress.committed:
                    log.info("kafka_partition_resumed", source=self.name,
                             partition=f"{tp.topic}-{tp.partition}", offset=start,
                             committed=progress.committed)
            progress.ready = True
        if not self._paused:
            consumer.resume(*[tp for tp in partitions if tp in self.progress])
        self._joined = True
        self._rebalancing = False

    async def revoked(self, partitions: set[TopicPartition]) -> None:
        self._rebalancing = True
        owned = {tp for tp in partitions if tp in self.progress}
        if not owned:
            return
        # Stop handing on their records, but keep accepting the pipeline's
        # commits for what it already has.
        for tp in owned:
            self.progress[tp].revoking = True
        deadline = time.monotonic() + self.config.revoke_timeout
        while any(self.progress[tp].in_flight for tp in owned):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.warning("kafka_revoke_timeout", source=self.name,
                            partitions=sorted(str(tp) for tp in owned
                                              if self.progress[tp].in_flight))
                break
            self._committed_event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._committed_event.wait(), min(remaining, 0.5))
        await self.commit_offsets(owned)
        if self.on_revoked is not None:
            await self.on_revoked(owned)
        for tp in owned:
            del self.progress[tp]
            labels = (tp.topic, str(tp.partition))
            if labels in self._lag_labels:
                CONSUMER_LAG.remove(*labels)
                self._lag_labels.discard(labels)
        log.info("kafka_partitions_revoked", source=self.name,
                 partitions=sorted(f"{tp.topic}-{tp.partition}" for tp in owned))


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """aiokafka calls these inside the rebalance, before and after the new assignment."""

    def __init__(self, source: KafkaSource) -> None:
        self.source = source

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self.source.revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await self.source.assigned(set(assigned))


def security_options(config: KafkaSourceConfig) -> dict[str, Any]:
    """aiokafka client options for TLS and SASL (consumers, producers, admin clients)."""
    options: dict[str, Any] = {"security_protocol": config.security_protocol}
    if config.security_protocol in ("SSL", "SASL_SSL"):
        from logsentry.transport.tls import client_context

        options["ssl_context"] = client_context(config.tls)
    if config.sasl_mechanism:
        from logsentry.transport.secrets import resolve_secret

        options["sasl_mechanism"] = config.sasl_mechanism
        options["sasl_plain_username"] = config.sasl_plain_username
        if config.sasl_plain_password is not None:
            options["sasl_plain_password"] = resolve_secret(config.sasl_plain_password)
    return options


def heartbeat_ms(config: KafkaSourceConfig) -> int:
    """The heartbeat interval: as configured, else a tenth of the session timeout."""
    if config.heartbeat_interval is not None:
        return max(1, int(config.heartbeat_interval * 1000))
    return max(100, int(config.session_timeout * 1000 / 10))


def _assignor(name: str) -> Any:
    if name == "range":
        from aiokafka.coordinator.assignors.range import RangePartitionAssignor

        return RangePartitionAssignor
    if name == "sticky":
        from aiokafka.coordinator.assignors.sticky.sticky_assignor import (
            StickyPartitionAssignor,
        )

        return StickyPartitionAssignor
    from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

    return RoundRobinPartitionAssignor


def _offsets(position: Any) -> dict[TopicPartition, int]:
    """A `checkpoint_position()` back as offsets; raises KeyError, TypeError, ValueError."""
    return {TopicPartition(str(topic), int(partition)): int(offset)
            for topic, partition, offset in position["offsets"]}


def _parts(records: list[Any]) -> list[RecordRun] | list[list[Any]]:
    """What `getmany` returned for a partition, as parts of one batch each.

    Its list comes from one fetch result: all RecordRuns (one part each) or
    all ConsumerRecords (one part).
    """
    if records and not isinstance(records[0], RecordRun):
        return [records]
    return records


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
