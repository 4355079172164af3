"""At-least-once alert delivery: the durable spool plus one deliverer per sink.

The pipeline calls `submit()` with the alerts detection raised; it returns
once they are fsync'd in the spool, after which the pipeline may commit the
source offsets that produced them. Each sink then delivers from the spool at
its own pace. Restarting (even after SIGKILL) resumes every sink at its last
saved cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import structlog

from logsentry.core.alert import Alert
from logsentry.core.errors import SpoolClosedError, SpoolFullError
from logsentry.core.metrics import SPOOL_BYTES
from logsentry.sinks.base import Sink
from logsentry.sinks.config import SinkConfig
from logsentry.spool.config import SpoolConfig
from logsentry.spool.cursors import CursorStore
from logsentry.spool.dead_letter import DeadLetterFile
from logsentry.spool.segments import Segment, SegmentLog
from logsentry.spool.sink_loop import SinkDeliverer

log = structlog.get_logger(__name__)


class AlertDelivery:
    """The spool and the sinks' delivery tasks. Create with `await AlertDelivery.open(...)`.

    Layout under `state_dir/spool/`: `segments/` (the records),
    `cursors/` (one per sink), `dead-letter/` (one JSON-lines file per sink).
    """

    def __init__(self, spool: SegmentLog, deliverers: list[SinkDeliverer], config: SpoolConfig):
        self._spool = spool
        self._deliverers = deliverers
        self._config = config
        self._append_lock = asyncio.Lock()
        self._space = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        self._append_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool")
        self._closed = False

    @classmethod
    async def open(cls, state_dir: Path, sinks: list[tuple[SinkConfig, Sink]],
                   config: SpoolConfig,
                   on_output_closed: Callable[[str], None] | None = None) -> AlertDelivery:
        """Recover the spool under `state_dir` and start one delivery task per sink.

        `on_output_closed(sink_name)` is called when a sink's reader went away
        (a closed stdout); that sink's delivery then ends.

        Sinks are keyed by `sink.name` (cursor file names), which must be
        unique and stable across restarts. A sink seen for the first time
        starts at the end of the spool (it receives new alerts only).
        """
        names = [sink.name for _, sink in sinks]
        duplicates = {name for name in names if names.count(name) > 1}
        if duplicates:
            raise ValueError(f"sink names must be unique: {sorted(duplicates)}")
        root = state_dir / "spool"
        spool = await asyncio.to_thread(
            SegmentLog.open, root / "segments", segment_bytes=config.segment_bytes,
            fsync=config.fsync)
        cursors = CursorStore(root / "cursors")
        cursors.forget_others(set(names))
        delivery = cls(spool, [], config)
        for sink_config, sink in sinks:
            cursor = cursors.load(sink.name)
            if cursor is None:
                cursor = spool.next_seq
                # Saved now, so alerts submitted before a crash are not skipped
                # by a restart that would otherwise start this sink at the end.
                await asyncio.to_thread(cursors.save, sink.name, cursor)
            cursor = min(max(cursor, spool.first_seq), spool.next_seq)
            delivery._deliverers.append(SinkDeliverer(
                sink=sink, routing=sink_config.routing, spool=spool, cursors=cursors,
                dead_letters=DeadLetterFile(root / "dead-letter", sink.name,
                                            config.dead_letter_max_bytes),
                config=config, cursor=cursor, on_advance=delivery._on_advance,
                on_output_closed=on_output_closed))
        await asyncio.to_thread(spool.compact, delivery._low_water())
        for deliverer in delivery._deliverers:
            delivery._tasks.append(asyncio.create_task(deliverer.run(),
                                                       name=f"deliver-{deliverer.name}"))
        log.info("spool_opened", records=spool.next_seq - spool.first_seq,
                 bytes=spool.total_bytes, torn_records=spool.torn_records,
                 pending={d.name: d.pending() for d in delivery._deliverers})
        return delivery

    async def submit(self, alerts: list[Alert]) -> None:
        """Append `alerts` durably; return once they are on disk.

        When the spool is full this waits for sinks to catch up
        (`on_full: backpressure`) or raises SpoolFullError (`on_full: error`).
        """
        if self._closed:
            raise SpoolClosedError("alert delivery is closed")
        if not alerts:
            return
        payloads = [alert.to_json() for alert in alerts]
        size = sum(len(p) + 16 for p in payloads)
        async with self._append_lock:
            await self._wait_for_space(size)
            # A dedicated thread: appends never queue behind cursor saves.
            segment, offsets = await asyncio.get_running_loop().run_in_executor(
                self._append_thread, self._spool.append, payloads)
            self._spool.publish(segment, offsets, size)
        SPOOL_BYTES.set(self._spool.total_bytes)
        for deliverer in self._deliverers:
            deliverer.wake()

    async def _wait_for_space(self, size: int) -> None:
        async with self._space:
            while self._spool.total_bytes + size > self._config.max_bytes:
                # One batch larger than the whole spool still goes in once the
                # spool is empty, rather than waiting forever.
                if all(d.pending() == 0 for d in self._deliverers):
                    return
                if self._config.on_full == "error":
                    raise SpoolFullError(
                        f"spool full ({self._spool.total_bytes} of {self._config.max_bytes} "
                        f"bytes), pending {self.pending()}")
                log.warning("spool_full_backpressure", bytes=self._spool.total_bytes,
                            pending=self.pending())
                await self._space.wait()

    def _on_advance(self) -> None:
        detached = self._spool.detach_delivered(self._low_water())
        if detached:
            SPOOL_BYTES.set(self._spool.total_bytes)
            task = asyncio.get_running_loop().create_task(self._remove(detached))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _remove(self, detached: list[Segment]) -> None:
        # Unlink and directory fsync off the event loop; the space counts as
        # free already (total_bytes covers attached segments only).
        await asyncio.to_thread(self._spool.remove_files, detached)
        async with self._space:
            self._space.notify_all()

    def _low_water(self) -> int:
        if not self._deliverers:
            return self._spool.next_seq
        return min(d.cursor for d in self._deliverers)

    def pending(self) -> dict[str, int]:
        """Alerts each sink has not yet delivered, by sink name."""
        return {d.name: d.pending() for d in self._deliverers}

    def delivered(self) -> dict[str, int]:
        """Alerts each sink delivered since open (excluding dead letters)."""
        return {d.name: d.delivered for d in self._deliverers}

    def dead_lettered(self) -> dict[str, int]:
        """Alerts each sink dead-lettered since open."""
        return {d.name: d.dead_lettered for d in self._deliverers}

    async def close(self, drain_timeout: float) -> None:
        """Stop accepting, let sinks catch up for up to `drain_timeout` s, then stop.

        Only sinks that are delivering are waited for: one whose last attempt
        failed (or whose output is closed) would spend the time in retries.
        Whatever is still pending stays in the spool for the next start.
        """
        self._closed = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + drain_timeout
        while loop.time() < deadline and any(d.pending() and not d.failing()
                                             for d in self._deliverers):
            await asyncio.sleep(0.02)
        # Python 3.11's asyncio.wait_for can swallow a cancellation that arrives as the
        # awaited send fails (a refused connection fails at once): the deliverer then
        # goes on retrying. So cancel until each task has really ended.
        for task in self._tasks:
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=0.1)
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for deliverer in self._deliverers:
            await asyncio.to_thread(deliverer.save_cursor)
            try:
                await asyncio.wait_for(deliverer.sink.close(), 5.0)
            except Exception:  # closing one sink must not skip the others
                log.exception("sink_close_failed", sink=deliverer.name)
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        left = {d.name: d.pending() for d in self._deliverers if not d.output_closed}
        if any(left.values()):
            log.warning("spool_closed_with_pending", pending=left)
        gone = {d.name: d.pending() for d in self._deliverers if d.output_closed}
        if gone:
            # Their readers went away on purpose (`| head`): no cause for alarm.
            log.info("spool_closed_output_gone", pending=gone)
        self._append_thread.shutdown(wait=True)
        self._spool.close()
