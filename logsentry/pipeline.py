"""The data path: sources -> envelope parsing -> analysis -> detection -> outputs.

Stages are asyncio tasks joined by bounded queues of batches, so a slow stage
makes the ones before it wait (down to the sources, which stop reading):
memory stays bounded and no line is dropped. The analyzer and the detector
run in their own worker threads so the event loop stays responsive. Source
positions are committed only after a batch's events reached the event sinks
and its alerts were accepted by the alert output, in source order.

With a detector, the positions that reach the disk together with its state are
those of its checkpoints: a checkpoint is taken between two batches, and once
every batch before it is committed, the sources' positions are written with
it. A restart resumes the sources from there, so the state and the lines
detected after it always match (see `Detector.begin_checkpoint`).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from logsentry.analysis.base import Analyzer
from logsentry.analysis.config import AnalysisConfig
from logsentry.config import PipelineConfig
from logsentry.core.alert import Alert
from logsentry.core.event import Event
from logsentry.core.metrics import (
    ALERTS,
    BATCH_SIZE,
    LINES_ANALYZED,
    LINES_FAILED,
    MODEL_LATENCY,
    QUEUE_DEPTH,
)
from logsentry.core.thread_names import name_this_thread
from logsentry.envelope import EnvelopeParser
from logsentry.sources.base import LineBatch, ResumableSource, Source

log = structlog.get_logger(__name__)

# Events handed to the detection thread at once, at most (see `Pipeline._coalesce`).
DETECT_BATCH = 512
# Seconds between detection ticks (time-driven rules, suppression flushes).
TICK_SECONDS = 1.0


class EventDetector(Protocol):
    """What the pipeline needs of the detection stage."""

    def process(self, events: list[Event]) -> list[Alert]: ...

    def tick(self, now: float) -> list[Alert]: ...

    def begin_checkpoint(self) -> Any:
        """A checkpoint of the state as it is now, if one is due; else None."""
        ...

    def write_checkpoint(self, checkpoint: Any, positions: dict[str, Any],
                         written: Callable[[], None] | None = None) -> None:
        """Write `checkpoint` with the source positions it reflects (in the background),
        then call `written` (from the writer's thread)."""
        ...

    @property
    def checkpointing(self) -> bool:
        """Whether this detector keeps checkpoints (it has a state file)."""
        ...

    def save_state(self, positions: dict[str, Any] | None = None) -> bool:
        """Write the whole state with `positions` now (blocking); True when written."""
        ...

    def wait_for_save(self, timeout: float | None = None) -> bool:
        """Wait for the checkpoint being written (blocking); False on timeout."""
        ...


class AlertOutput(Protocol):
    """Takes alerts; returns once they are safe (durable, or delivered)."""

    async def submit(self, alerts: list[Alert]) -> None: ...


EventOutput = Callable[[list[Event]], Awaitable[None]]


@dataclass(slots=True)
class EventBatch:
    """Events (and the alerts they raised) on their way to the outputs."""

    events: list[Event]
    commits: list[tuple[Source, Any]]
    alerts: list[Alert] = field(default_factory=list)
    # The detector's checkpoint taken right after these events, written once
    # their positions are committed.
    checkpoint: Any = None


@dataclass(slots=True)
class PipelineStats:
    """Counters a daemon reports (STATUS=, logs) and tests read."""

    lines: int = 0
    events_out: int = 0
    alerts: int = 0
    started: float = field(default_factory=time.monotonic)


class Pipeline:
    """Runs sources through analysis and detection to the outputs until stopped."""

    def __init__(
        self,
        sources: Sequence[Source],
        analyzer: Analyzer,
        *,
        detector: EventDetector | None = None,
        event_outputs: Sequence[EventOutput] = (),
        alert_output: AlertOutput | None = None,
        config: PipelineConfig | None = None,
        analysis: AnalysisConfig | None = None,
        parser: EnvelopeParser | None = None,
        encode_events: bool = True,
    ) -> None:
        self.sources = list(sources)
        self.analyzer = analyzer
        self.detector = detector
        self.event_outputs = list(event_outputs)
        # Whether the event outputs write the events' JSON form (sinks, `analyze --format
        # jsonl`); `analyze --alerts` only hands them to detection.
        self.encode_events = encode_events
        self.alert_output = alert_output
        self.config = config or PipelineConfig()
        self.analysis = analysis or AnalysisConfig()
        self.parser = parser or EnvelopeParser()
        self.stats = PipelineStats()
        self.failed_sources: list[str] = []
        # Whether the output stage saw the end of input: everything read was
        # detected, delivered and committed (a drain that timed out leaves it False).
        self.drained = False
        if detector is not None and detector.checkpointing:
            # Positions reach the disk with the detection checkpoints only.
            for source in self.sources:
                if isinstance(source, ResumableSource):
                    source.hold_positions()
        self._lines: asyncio.Queue[LineBatch | None] = asyncio.Queue(self.config.queue_batches)
        self._events: asyncio.Queue[EventBatch | None] = asyncio.Queue(self.config.queue_batches)
        self._out: asyncio.Queue[EventBatch | None] = asyncio.Queue(self.config.queue_batches)
        # Named for the kernel too (`top -H`, /proc/PID/task/*/comm): the stages' CPU apart.
        self._analysis_thread = ThreadPoolExecutor(
            1, thread_name_prefix="logsentry-analysis", initializer=name_this_thread,
            initargs=("ls-analysis",))
        self._detect_thread = ThreadPoolExecutor(
            1, thread_name_prefix="logsentry-detect", initializer=name_this_thread,
            initargs=("ls-detect",))

    async def run(self, stop: asyncio.Event) -> None:
        """Process until `stop` is set, then drain what was read; or until finite sources end."""
        readers = [
            asyncio.create_task(self._read(source, stop), name=f"source:{source.name}")
            for source in self.sources
        ]
        stages = [
            asyncio.create_task(self._analyze_stage(), name="analysis"),
            asyncio.create_task(self._detect_stage(), name="detection"),
            asyncio.create_task(self._output_stage(), name="output"),
        ]
        monitor = asyncio.create_task(self._monitor_queues())
        try:
            await asyncio.gather(*readers)
            await self._lines.put(None)  # end of input: drain the stages behind it
            await self._wait_drained(stages, stop)
        finally:
            monitor.cancel()
            for task in (*readers, *stages):
                task.cancel()
            await self._final_checkpoint()
            for source in self.sources:
                await source.close()
            self._analysis_thread.shutdown(wait=False, cancel_futures=True)
            self._detect_thread.shutdown(wait=False, cancel_futures=True)

    async def _final_checkpoint(self) -> None:
        """On the way out, before the sources close (a Kafka source commits the offsets
        of the last checkpoint written as it leaves its group): the whole state with
        the positions of everything drained, or, when the drain did not finish, the
        checkpoint being written (what was read and not committed is read again from
        the last one; a state saved now would be ahead of those lines)."""
        detector = self.detector
        if detector is None or not detector.checkpointing:
            return
        loop = asyncio.get_running_loop()
        # In a thread: at a million groups a save takes seconds, the event loop serves
        # /healthz and the watchdog meanwhile.
        if self.drained:
            positions = self.positions()
            if await loop.run_in_executor(None, detector.save_state, positions):
                self.persist_positions(positions)
        else:
            await loop.run_in_executor(None, detector.wait_for_save)
            log.warning("detection_state_kept_at_last_checkpoint")

    async def _wait_drained(self, stages: list[asyncio.Task[None]], stop: asyncio.Event) -> None:
        done = asyncio.gather(*stages)
        if not stop.is_set():
            # Finite input (analyze, demo): take as long as it takes.
            await done
            return
        try:
            await asyncio.wait_for(done, self.config.drain_timeout)
        except TimeoutError:
            # What was not committed is read again on the next start: at least once.
            log.warning("drain_timeout", pending_batches=self._out.qsize() + self._events.qsize())

    async def _read(self, source: Source, stop: asyncio.Event) -> None:
        queue: asyncio.Queue[LineBatch] = self._lines  # type: ignore[assignment]
        try:
            await source.run(queue, stop)
        except Exception:
            # One broken source must not take the others down; it is logged loudly.
            log.exception("source_failed", source=source.name)
            self.failed_sources.append(source.name)

    # -- analysis ----------------------------------------------------------------

    async def _analyze_stage(self) -> None:
        loop = asyncio.get_running_loop()
        max_batch = self.analysis.max_batch
        max_wait = self.analysis.max_wait_ms / 1000
        ended = False
        while not ended:
            first = await self._lines.get()
            if first is None:
                break
            batches = [first]
            count = len(first.lines)
            deadline = loop.time() + max_wait
            # Micro-batching: under load, lines are already waiting; at low load
            # wait at most `max_wait` for company, which bounds latency.
            while count < max_batch:
                try:
                    item = self._lines.get_nowait()
                except asyncio.QueueEmpty:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        item = await asyncio.wait_for(self._lines.get(), remaining)
                    except TimeoutError:
                        break
                if item is None:
                    ended = True
                    break
                batches.append(item)
                count += len(item.lines)
            events = await loop.run_in_executor(self._analysis_thread, self._analyze, batches)
            commits = [(batch.source, batch.position) for batch in batches]
            await self._events.put(EventBatch(events, commits))
        await self._events.put(None)

    def _analyze(self, batches: list[LineBatch]) -> list[Event]:
        """Worker thread: envelope parsing and labelling of a group of batches."""
        parse = self.parser.parse
        events: list[Event] = []
        for batch in batches:
            known = batch.fields
            line_no = batch.first_line
            offsets = batch.offsets
            for index, line in enumerate(batch.lines):
                event = parse(line, batch.received, known[index] if known else None)
                event.source = batch.source.name
                if line_no:
                    event.line = line_no + index
                if offsets:
                    event.offset = offsets[index]
                events.append(event)
        self.stats.lines += len(events)
        step = self.analysis.max_batch
        for start in range(0, len(events), step):
            chunk = events[start : start + step]
            began = time.perf_counter()
            try:
                results = self.analyzer.analyze_batch([event.body for event in chunk])
            except Exception:
                # The events still go on, unlabelled: nothing is lost.
                LINES_FAILED.labels("analysis").inc(len(chunk))
                log.exception("analysis_failed", lines=len(chunk))
                continue
            MODEL_LATENCY.observe(time.perf_counter() - began)
            BATCH_SIZE.observe(len(chunk))
            for event, result in zip(chunk, results, strict=True):
                event.apply(result)
                if event.timestamp is None and result.timestamp:
                    # No envelope time: the time the analyzer found in the body.
                    event.timestamp = self.parser.loose_time(result.timestamp)
        if self.event_outputs and self.encode_events:
            # Serialize here, off the event loop, while the batch is hot in cache.
            for event in events:
                event.to_json()
        for batch in batches:
            LINES_ANALYZED.labels(batch.source.name).inc(len(batch.lines))
        return events

    # -- detection -----------------------------------------------------------------

    async def _detect_stage(self) -> None:
        loop = asyncio.get_running_loop()
        detector = self.detector
        next_tick = time.monotonic() + TICK_SECONDS
        while True:
            timeout = max(0.0, next_tick - time.monotonic())
            try:
                item = await asyncio.wait_for(self._events.get(), timeout)
            except TimeoutError:
                item = EventBatch([], [])
            if item is None:
                break
            ended = False
            if detector is not None and item.events and not self._events.empty():
                item, ended = self._coalesce(item)
            if detector is not None:
                item.alerts, item.checkpoint = await loop.run_in_executor(
                    self._detect_thread, self._detect, detector, item.events
                )
                if time.monotonic() >= next_tick:
                    next_tick = time.monotonic() + TICK_SECONDS
                    item.alerts += await loop.run_in_executor(
                        self._detect_thread, self._tick, detector
                    )
            elif time.monotonic() >= next_tick:
                # Without a detector (topology stage 1) the tick
                # deadline must advance too: wait_for(get(), 0) never gets an item.
                next_tick = time.monotonic() + TICK_SECONDS
            if item.events or item.alerts or item.commits or item.checkpoint is not None:
                await self._out.put(item)
            if ended:
                break
        if detector is not None:
            # Flush what time-driven rules hold, so finite replays report it.
            alerts = await loop.run_in_executor(self._detect_thread, self._tick, detector)
            if alerts:
                await self._out.put(EventBatch([], [], alerts))
        await self._out.put(None)

    def _coalesce(self, first: EventBatch) -> tuple[EventBatch, bool]:
        """`first` and the batches queued behind it (up to `DETECT_BATCH` events) as one, and
        whether the end of input was among them. Handing a batch to the detection thread
        costs about 0.5 µs a line at 64 lines and 0.07 at 512; `Detector.process` costs the
        same per line either way. Order is kept: events, then their commits."""
        events, commits, alerts = list(first.events), list(first.commits), list(first.alerts)
        while len(events) < DETECT_BATCH and not self._events.empty():
            more = self._events.get_nowait()
            if more is None:
                return EventBatch(events, commits, alerts), True
            events += more.events
            commits += more.commits
            alerts += more.alerts
        return EventBatch(events, commits, alerts), False

    @staticmethod
    def _detect(detector: EventDetector, events: list[Event]) -> tuple[list[Alert], Any]:
        """Detection thread: the batch's alerts, and a checkpoint taken right after it
        (if one is due) so that it reflects exactly the batches up to this one."""
        try:
            alerts = detector.process(events)
        except Exception:
            LINES_FAILED.labels("detection").inc(len(events))
            log.exception("detection_failed", events=len(events))
            alerts = []
        try:
            checkpoint = detector.begin_checkpoint()
        except Exception:
            log.exception("detection_checkpoint_failed")
            checkpoint = None
        return alerts, checkpoint

    @staticmethod
    def _tick(detector: EventDetector) -> list[Alert]:
        try:
            return detector.tick(time.time())
        except Exception:
            log.exception("detection_tick_failed")
            return []

    # -- outputs -----------------------------------------------------------------------

    async def _output_stage(self) -> None:
        while True:
            item = await self._out.get()
            if item is None:
                self.drained = True
                return
            if item.events:
                for output in self.event_outputs:
                    await output(item.events)
                self.stats.events_out += len(item.events)
            if item.alerts:
                for alert in item.alerts:
                    ALERTS.labels(alert.rule_id, alert.severity).inc()
                self.stats.alerts += len(item.alerts)
                if self.alert_output is not None:
                    await self.alert_output.submit(item.alerts)
            for source, position in item.commits:
                source.commit(position)
            if item.checkpoint is not None and self.detector is not None:
                # Every batch up to the checkpoint is committed, none after it.
                positions = self.positions()
                self.detector.write_checkpoint(
                    item.checkpoint, positions,
                    functools.partial(self.persist_positions, positions))

    def persist_positions(self, positions: dict[str, Any]) -> None:
        """Write each source's position file with the positions a checkpoint on disk holds
        (any thread): without a checkpoint (detection turned off later) a restart
        resumes from there."""
        for source in self.sources:
            position = positions.get(source.name)
            if position is not None and isinstance(source, ResumableSource):
                try:
                    source.persist_position(position)
                except OSError as exc:
                    log.error("cannot save source position", source=source.name,
                              error=str(exc))

    def positions(self) -> dict[str, Any]:
        """The committed position of each source that can resume from a checkpoint."""
        positions: dict[str, Any] = {}
        for source in self.sources:
            if isinstance(source, ResumableSource):
                position = source.checkpoint_position()
                if position is not None:
                    positions[source.name] = position
        return positions

    async def _monitor_queues(self) -> None:
        while True:
            QUEUE_DEPTH.labels("lines").set(self._lines.qsize())
            QUEUE_DEPTH.labels("events").set(self._events.qsize())
            QUEUE_DEPTH.labels("output").set(self._out.qsize())
            await asyncio.sleep(1.0)


async def retry_forever(name: str, send: Callable[[], Awaitable[None]]) -> None:
    """Await `send` until it succeeds, backing off; the pipeline waits meanwhile.

    Used for event outputs: blocking here is backpressure, which is what keeps
    an outage from losing lines.
    """
    delay = 0.1
    while True:
        try:
            await send()
            return
        except Exception as exc:
            log.warning("output_retry", output=name, error=str(exc), delay=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
