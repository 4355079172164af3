"""One sink's delivery loop: from its spool cursor, in order, until closed.

Each sink has its own task, cursor, backoff and circuit breaker, so a sink
that is down only delays itself. The cursor advances (atomically, on disk)
only after the sink acknowledged a batch or dead-lettered it: a crash at any
point re-delivers from the last saved cursor (at least once, duplicates
possible and identified by the alert's `event.id`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import orjson
import structlog

from logsentry.core.alert import Alert
from logsentry.core.errors import OutputClosedError, SinkError
from logsentry.core.metrics import (
    SINK_DEAD_LETTERS,
    SINK_DELIVERIES,
    SINK_FAILURES,
    SINK_RETRIES,
    SPOOL_PENDING,
)
from logsentry.sinks.base import Deliverable, Sink
from logsentry.sinks.config import Routing
from logsentry.sinks.routing import accepts
from logsentry.spool.backoff import Backoff
from logsentry.spool.breaker import CircuitBreaker
from logsentry.spool.config import SpoolConfig
from logsentry.spool.cursors import CursorStore
from logsentry.spool.dead_letter import DeadLetterFile
from logsentry.spool.segments import SegmentLog

log = structlog.get_logger(__name__)

DEFAULT_MAX_BATCH = 100
# Records read per step, so routing can skip many at once.
READ_AHEAD = 256
# A cursor is saved at most this often while busy, and whenever it goes idle.
CURSOR_SAVE_INTERVAL = 0.2


@runtime_checkable
class PacedSink(Protocol):
    """A sink with a rate limit (Slack): it says when the next send may start."""

    def next_send_at(self) -> float: ...


class SinkDeliverer:
    """Delivers the spool to one sink."""

    def __init__(self, *, sink: Sink, routing: Routing, spool: SegmentLog, cursors: CursorStore,
                 dead_letters: DeadLetterFile, config: SpoolConfig, cursor: int,
                 on_advance: Callable[[], None],
                 on_output_closed: Callable[[str], None] | None = None):
        self.sink = sink
        self.name = sink.name
        self.routing = routing
        self.cursor = cursor
        self.delivered = 0
        self.dead_lettered = 0
        self._spool = spool
        self._cursors = cursors
        self._dead_letters = dead_letters
        self._config = config
        self._on_advance = on_advance
        self._on_output_closed = on_output_closed
        # The sink's reader went away (a closed stdout): nothing more is sent.
        self.output_closed = False
        self._backoff = Backoff(config.initial_backoff, config.max_backoff)
        self._breaker = CircuitBreaker(config.breaker_failures, config.breaker_open_seconds)
        self._wake = asyncio.Event()
        self._started = False
        self._saved_at = 0.0
        self._saved_cursor = cursor
        self._max_batch = int(getattr(sink, "max_batch", DEFAULT_MAX_BATCH))
        self._pacer = sink if isinstance(sink, PacedSink) else None

    def pending(self) -> int:
        """Spool records this sink has not yet delivered (or skipped by routing)."""
        return max(0, self._spool.next_seq - self.cursor)

    def save_cursor(self) -> None:
        """Persist the cursor now (blocking), e.g. past skipped records at shutdown."""
        self._cursors.save(self.name, self.cursor)

    def failing(self) -> bool:
        """The last attempt failed (or the output is gone): at shutdown, not worth waiting."""
        return self.output_closed or self._breaker.failures > 0

    def wake(self) -> None:
        """New records are in the spool."""
        self._wake.set()

    async def run(self) -> None:
        """Deliver until cancelled, or until the sink's output is closed."""
        while not self.output_closed:
            SPOOL_PENDING.labels(self.name).set(self.pending())
            if self.cursor >= self._spool.next_seq:
                if self._saved_cursor != self.cursor:
                    await self._save()
                    continue
                self._wake.clear()
                if self.cursor >= self._spool.next_seq:
                    await self._wake.wait()
                continue
            if not self._started and not await self._start_sink():
                continue
            wait = self._breaker.wait_time()
            if wait > 0:
                await asyncio.sleep(wait)
            if self._pacer is not None:
                # Waiting *before* reading the batch is what folds a burst
                # into one digest message.
                delay = self._pacer.next_send_at() - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            probing = self._breaker.state == "half_open"
            await self._deliver_next(1 if probing else self._max_batch)

    async def _start_sink(self) -> bool:
        try:
            await asyncio.wait_for(self.sink.start(), self._config.send_timeout)
        except Exception as exc:  # any start failure is retried
            await self._failed(SinkError(f"{self.name}: start failed: {exc!r}"))
            return False
        self._started = True
        return True

    async def _deliver_next(self, limit: int) -> None:
        # Read ahead past records routing will skip, so a sink that takes a
        # small share of the alerts does not crawl through the rest.
        records = self._spool.read(self.cursor, max(limit, READ_AHEAD))
        if not records:
            # Compacted below our cursor cannot happen; an empty read means a gap.
            await self._advance(self._spool.next_seq if self.cursor < self._spool.first_seq
                                else self.cursor + 1)
            return
        batch: list[Deliverable] = []
        undecodable: list[dict[str, Any]] = []
        next_cursor = records[-1][0] + 1
        for seq, payload in records:
            alert = _decode(payload)
            if alert is None:
                undecodable.append({"raw": payload.decode("utf-8", "replace")})
            elif accepts(self.routing, alert):
                batch.append(alert)
                if len(batch) == limit:
                    next_cursor = seq + 1
                    break
        if undecodable:
            await self._dead_letter(undecodable, "undecodable spool record")
        if not batch:
            await self._advance(next_cursor)
            return
        try:
            await asyncio.wait_for(self.sink.send(batch), self._config.send_timeout)
        except OutputClosedError as exc:
            # Not the alerts' fault: they stay in the spool, undelivered.
            self.output_closed = True
            log.info("sink_output_closed", sink=self.name, error=str(exc),
                     pending=self.pending())
            if self._on_output_closed is not None:
                self._on_output_closed(self.name)
            return
        except SinkError as exc:
            if exc.permanent:
                await self._isolate_permanent(batch, exc)
                await self._advance(next_cursor)
            else:
                await self._failed(exc)
            return
        except TimeoutError:
            await self._failed(SinkError(f"{self.name}: send timed out"))
            return
        except Exception as exc:  # a sink bug must not kill delivery
            log.exception("sink_unexpected_error", sink=self.name)
            await self._failed(SinkError(f"{self.name}: {exc!r}"))
            return
        self._succeeded(len(batch))
        await self._advance(next_cursor)

    async def _isolate_permanent(self, batch: list[Deliverable], error: SinkError) -> None:
        """A batch was refused: retry its alerts one by one, dead-letter only the bad ones."""
        if len(batch) == 1:
            await self._reject(batch, str(error))
            return
        for record in batch:
            while True:
                try:
                    await asyncio.wait_for(self.sink.send([record]), self._config.send_timeout)
                except SinkError as exc:
                    if exc.permanent:
                        await self._reject([record], str(exc))
                        break
                    await self._failed(exc)
                    continue
                except Exception as exc:
                    await self._failed(SinkError(f"{self.name}: {exc!r}"))
                    continue
                self._succeeded(1)
                break

    async def _reject(self, batch: list[Deliverable], reason: str) -> None:
        SINK_FAILURES.labels(self.name, "permanent").inc()
        log.error("sink_rejected_permanently", sink=self.name, alerts=len(batch), reason=reason)
        await self._dead_letter([record.to_ecs() for record in batch], reason)

    async def _dead_letter(self, documents: list[dict[str, Any]], reason: str) -> None:
        await asyncio.to_thread(self._dead_letters.write, documents, reason)
        SINK_DEAD_LETTERS.labels(self.name).inc(len(documents))
        self.dead_lettered += len(documents)

    def _succeeded(self, count: int) -> None:
        SINK_DELIVERIES.labels(self.name).inc(count)
        self.delivered += count
        if self._breaker.failures:
            log.info("sink_recovered", sink=self.name, after_failures=self._breaker.failures)
        self._breaker.record_success()
        self._backoff.reset()

    async def _failed(self, error: SinkError) -> None:
        SINK_FAILURES.labels(self.name, "transient").inc()
        SINK_RETRIES.labels(self.name).inc()
        opened = self._breaker.record_failure()
        delay = self._backoff.next_delay()
        if error.retry_after is not None:
            # The receiver said when: honour it rather than our own guess.
            delay = max(error.retry_after, 0.05)
        if opened:
            delay = max(delay, self._breaker.wait_time())
            log.warning("sink_circuit_open", sink=self.name, error=str(error),
                        seconds=round(delay, 3), pending=self.pending())
        else:
            log.warning("sink_delivery_failed", sink=self.name, error=str(error),
                        retry_in=round(delay, 3))
        await asyncio.sleep(delay)

    async def _advance(self, next_cursor: int) -> None:
        # Everything below next_cursor is acknowledged (or skipped): moving the
        # in-memory cursor first means a later save never goes backwards.
        self.cursor = next_cursor
        # Saves are coalesced (two fsyncs each): a crash re-delivers at most
        # CURSOR_SAVE_INTERVAL worth of alerts, which at-least-once allows.
        if time.monotonic() - self._saved_at >= CURSOR_SAVE_INTERVAL:
            await self._save()
        self._on_advance()

    async def _save(self) -> None:
        cursor = self.cursor
        self._saved_at = time.monotonic()
        await asyncio.to_thread(self._cursors.save, self.name, cursor)
        self._saved_cursor = cursor


def _decode(payload: bytes) -> Alert | None:
    try:
        return Alert.from_ecs(orjson.loads(payload))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        log.exception("spool_record_undecodable")
        return None
