"""Replaying finite inputs in event time with bounded memory (`analyze --alerts`).

Detection works on event time, so several files are replayed as one timeline.
Sorting every event of every file first costs memory in proportion to the input
(6 KB an event: 10 GB at 2,000,000 lines); instead the files are read together
and merged through a reorder buffer of at most `window` events:

- each input is taken to be in time order, give or take: an event leaves the
  buffer once it is the oldest held and `window` newer events wait behind it
  (disorder within one input is mended up to that depth);
- an event is never released while an input that has not ended may still
  bring an older one: every input's newest time bounds what may leave, and the
  inputs ahead of the one lagging in time are paused while it catches up,
  which keeps the buffer at `window` events plus one read per input and the
  batches in flight in the pipeline;
- an event that comes after a newer one has left (an input whose clock jumps
  back further than the window: a log concatenated with itself) is replayed
  where it arrives, as the daemon would see it live, and counted as late.

A line without a time of its own counts at its arrival (the wall clock), as in
detection. Ties keep the input order, then the line order: for inputs in time order the
result is that of sorting all events by time (stably, the inputs one after
another), without holding them.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from logsentry.core.alert import Alert
from logsentry.core.event import Event
from logsentry.detect.detector import Detector
from logsentry.sources.base import LineBatch, Source

# Events held for reordering. At about 1 KB an event (message, fields, template,
# summary; its JSON form is dropped) this is some 50 MB, whatever the size of the input.
REORDER_WINDOW = 50_000
# Events handed to detection at a time, as the whole-input sort did (1024): the
# detector's periodic expiry counts events, so batches of the same size raise
# exactly the same alerts.
DETECT_BATCH = 1024

# (event time, input index, sequence within the input, event): unique before the event.
_Entry = tuple[float, int, int, Event]
_NEVER = float("-inf")


@dataclass(slots=True)
class _Input:
    """One input's progress as the merge sees it."""

    index: int
    # The newest event time seen: with inputs in time order, nothing older follows.
    newest: float = _NEVER
    seen: int = 0
    # Lines its reader handed on, once the reader has ended (None while reading).
    total: int | None = None
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def ended(self) -> bool:
        return self.total is not None and self.seen >= self.total

    def bound(self) -> tuple[float, int, int]:
        """The smallest key this input may still bring."""
        return (self.newest, self.index, self.seen)


class EventTimeMerge:
    """A reorder buffer merging several inputs' events into event-time order.

    Not thread-safe: one caller at a time (`push`, `end_input`, `drain`).
    """

    def __init__(self, names: list[str], window: int = REORDER_WINDOW) -> None:
        if window < 1:
            raise ValueError("the reorder window holds at least one event")
        self.window = window
        self.inputs = {name: _Input(index) for index, name in enumerate(names)}
        self._heap: list[_Entry] = []
        self._last: tuple[float, int, int] = (_NEVER, -1, -1)
        # Events released after a newer one (replayed in arrival order).
        self.late = 0
        # The most events held at once (the bound the tests check).
        self.peak = 0
        self.update_gates()  # all open

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, events: list[Event]) -> list[Event]:
        """Take events (each input's in its own order); return those that may leave, in order."""
        heap = self._heap
        inputs = self.inputs
        for event in events:
            state = inputs[event.source]
            when = event.event_time
            heapq.heappush(heap, (when, state.index, state.seen, event))
            state.seen += 1
            if when > state.newest:
                state.newest = when
        if len(heap) > self.peak:
            self.peak = len(heap)
        return self._release()

    def end_input(self, name: str, lines: int) -> list[Event]:
        """The input's reader ended after `lines` lines; return what may now leave."""
        self.inputs[name].total = lines
        return self._release()

    def drain(self) -> list[Event]:
        """Every event still held, in order (at the end of all input)."""
        heap = self._heap
        out: list[Event] = []
        while heap:
            out.append(self._pop())
        return out

    def laggard(self) -> _Input | None:
        """The input that has not ended and may still bring the oldest event."""
        active = [state for state in self.inputs.values() if not state.ended]
        return min(active, key=_Input.bound) if active else None

    def update_gates(self) -> None:
        """Pause the inputs ahead while the buffer is full and waits on the laggard."""
        full = len(self._heap) > self.window
        laggard = self.laggard()
        for state in self.inputs.values():
            if full and state is not laggard and not state.ended:
                state.gate.clear()
            else:
                state.gate.set()

    def _release(self) -> list[Event]:
        heap = self._heap
        out: list[Event] = []
        if len(heap) <= self.window:
            return out
        laggard = self.laggard()
        bound = laggard.bound() if laggard is not None else None
        while len(heap) > self.window:
            if bound is not None and heap[0][:3] >= bound:
                break  # an input behind in time may still bring an older event
            out.append(self._pop())
        return out

    def _pop(self) -> Event:
        entry = heapq.heappop(self._heap)
        key = (entry[0], entry[1], entry[2])
        if key < self._last:
            self.late += 1
        else:
            self._last = key
        return entry[3]


class GatedSource:
    """A source whose batches wait at a gate before entering the pipeline.

    The merge closes the gate of an input that is ahead in time; the batches
    already in the pipeline still flow, so the input behind never waits on it.
    """

    def __init__(self, inner: Source, gate: asyncio.Event,
                 on_end: Callable[[str, int], Awaitable[None]]) -> None:
        self.inner = inner
        self.name = inner.name
        self.gate = gate
        self.on_end = on_end
        self.lines = 0

    async def run(self, out: asyncio.Queue[LineBatch], stop: asyncio.Event) -> None:
        held: asyncio.Queue[LineBatch] = asyncio.Queue(1)
        forward = asyncio.create_task(self._forward(held, out))
        try:
            await self.inner.run(held, stop)
            await held.join()
        finally:
            forward.cancel()
            await self.on_end(self.name, self.lines)

    async def _forward(self, held: asyncio.Queue[LineBatch],
                       out: asyncio.Queue[LineBatch]) -> None:
        while True:
            batch = await held.get()
            await self.gate.wait()
            await out.put(batch)
            self.lines += len(batch.lines)
            held.task_done()

    def commit(self, position: Any) -> None:
        self.inner.commit(position)

    async def close(self) -> None:
        await self.inner.close()


class EventTimeReplay:
    """Runs detection over the merged timeline, a batch at a time, off the event loop.

    `on_alerts` gets the alerts of each batch as they are raised, and
    `on_events` (when given) the events in the order detection saw them.
    """

    def __init__(
        self,
        detector: Detector,
        names: list[str],
        *,
        window: int = REORDER_WINDOW,
        on_alerts: Callable[[list[Alert]], None],
        on_events: Callable[[list[Event]], None] | None = None,
    ) -> None:
        self.detector = detector
        self.merge = EventTimeMerge(names, window)
        self.on_alerts = on_alerts
        self.on_events = on_events
        self.alerts = 0
        self._pending: list[Event] = []
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="logsentry-replay")

    def wrap(self, source: Source) -> GatedSource:
        """The source, paused by the merge while it is ahead in time."""
        return GatedSource(source, self.merge.inputs[source.name].gate, self._end_input)

    async def events(self, events: list[Event]) -> None:
        """An event output for the pipeline: merge, detect, then reopen or close gates."""
        for event in events:
            # The JSON form is not printed; the merge holds the event without it (a
            # pipeline built with `encode_events=False` made none).
            event.json = None
        await asyncio.get_running_loop().run_in_executor(self._thread, self._push, events)
        self.merge.update_gates()

    async def finish(self, now: float) -> None:
        """At the end of all input: replay what is held, then time-driven work at `now`."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self._finish, now)
        self._thread.shutdown()

    async def _end_input(self, name: str, lines: int) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._end, name, lines)
        self.merge.update_gates()

    def _push(self, events: list[Event]) -> None:
        self._detect(self.merge.push(events), final=False)

    def _end(self, name: str, lines: int) -> None:
        self._detect(self.merge.end_input(name, lines), final=False)

    def _finish(self, now: float) -> None:
        self._detect(self.merge.drain(), final=True)
        self._raise(self.detector.tick(now))
        # The input is over: so is every window that decides at its close.
        self._raise(self.detector.close_all_windows())

    def _detect(self, released: list[Event], *, final: bool) -> None:
        pending = self._pending
        pending += released
        start = 0
        while len(pending) - start >= DETECT_BATCH or (final and start < len(pending)):
            batch = pending[start : start + DETECT_BATCH]
            start += len(batch)
            alerts = self.detector.process(batch)
            if self.on_events is not None:
                self.on_events(batch)
            self._raise(alerts)
        del pending[:start]

    def _raise(self, alerts: list[Alert]) -> None:
        if alerts:
            self.alerts += len(alerts)
            self.on_alerts(alerts)
