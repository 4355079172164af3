"""Analysis on several cores: the configured analyzer in long-lived worker processes.

The pipeline calls `analyze_batch` from one thread and expects results in input order.
`ProcessPoolAnalyzer` cuts each batch into contiguous slices, one per worker, sends the
message strings to the workers and joins their answers in input order, so per-source
order and commit-after-durable (decided by the pipeline after this call returns) are
unchanged. Each worker loads the model once and runs torch with one thread: processes,
not threads, because the analyzer's Python code (caches, templates, decoding) holds the
GIL for most of a line.

Workers are started with "spawn": a fork of a process whose torch has started threads
can deadlock in the child. A worker that dies is started again and its slice sent once
more; if that fails too the slice gets the no-op answer (action `other`), counted in
`failed_lines` and logged, because `analyze_batch` must never raise.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
import weakref
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from logsentry.analysis.config import AnalysisConfig
from logsentry.core.analysis import Analysis
from logsentry.core.errors import AnalyzerUnavailable
from logsentry.core.metrics import CACHE_LOOKUPS, MODEL_LINES, REGISTRY, TEMPLATE_CACHE_LOOKUPS

log = logging.getLogger(__name__)

# How long a worker may take to load the model before it counts as failed.
_LOAD_TIMEOUT_S = 300.0
# How often a waiting parent checks that the worker it waits for is still alive.
_POLL_S = 0.5
# Below this many lines per worker a batch is not worth splitting (pipe round trips).
_MIN_SLICE = 8

# The analyzer's own counters, as the worker's registry reports them, forwarded to the
# parent's after every batch so /metrics shows the workers' cache hits and model lines.
_COUNTERS: tuple[tuple[str, dict[str, str]], ...] = (
    ("logsentry_analysis_cache_lookups_total", {"result": "hit"}),
    ("logsentry_analysis_cache_lookups_total", {"result": "miss"}),
    ("logsentry_analysis_template_cache_lookups_total", {"result": "hit"}),
    ("logsentry_analysis_template_cache_lookups_total", {"result": "miss"}),
    ("logsentry_analysis_model_lines_total", {}),
)


def _counter_totals() -> list[float]:
    return [REGISTRY.get_sample_value(name, labels) or 0.0 for name, labels in _COUNTERS]


def _worker_main(config: AnalysisConfig, conn: Connection) -> None:
    """A worker process: load the analyzer, then answer batches until told to stop."""
    # The daemon drains on SIGTERM/SIGINT and needs its workers until the last batch;
    # they end when the parent closes the pipe or sends None.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from logsentry.analysis.loader import load_analyzer

    try:
        analyzer = load_analyzer(config)
    except Exception as exc:  # the parent turns this into AnalyzerUnavailable
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    before = _counter_totals()
    while True:
        try:
            messages = conn.recv()
        except (EOFError, OSError):
            return
        if messages is None:
            return
        results = analyzer.analyze_batch(messages)
        after = _counter_totals()
        conn.send((results, [a - b for a, b in zip(after, before, strict=True)]))
        before = after


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, context: multiprocessing.context.SpawnContext,
                 config: AnalysisConfig, index: int) -> None:
        self.conn, child = context.Pipe()
        self.process: BaseProcess = context.Process(
            target=_worker_main, args=(config, child), name=f"logsentry-analysis-{index}",
            daemon=True)
        self.process.start()
        child.close()  # so recv sees EOF when the worker dies

    def wait(self, timeout: float | None) -> object:
        """The worker's next message; raises EOFError if it dies or times out first."""
        waited = 0.0
        while not self.conn.poll(_POLL_S):
            waited += _POLL_S
            if not self.process.is_alive() and not self.conn.poll(0):
                raise EOFError(f"worker exited with status {self.process.exitcode}")
            if timeout is not None and waited >= timeout:
                raise EOFError("worker did not answer in time")
        return self.conn.recv()

    def stop(self, timeout: float = 5.0) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout)
        self.conn.close()


def _stop_all(workers: list[_Worker]) -> None:
    for worker in workers:
        worker.stop()
    workers.clear()  # a closed pool answers without labels rather than start new ones


class ProcessPoolAnalyzer:
    """An `Analyzer` that spreads each batch over `workers` processes, in input order."""

    def __init__(self, config: AnalysisConfig, workers: int) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        # Each worker loads the analyzer in-process, one torch thread (the cores are
        # shared out by processes, not by OpenMP threads).
        self._config = config.model_copy(update={"workers": 1, "threads": 1})
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self.failed_lines = 0
        self.restarts = 0
        self._workers: list[_Worker] = []
        self._finalizer = weakref.finalize(self, _stop_all, self._workers)
        try:
            # Start all, then wait: the workers load the model at the same time.
            self._workers.extend(
                _Worker(self._context, self._config, i) for i in range(workers))
            for worker in self._workers:
                self._expect_ready(worker)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _expect_ready(worker: _Worker) -> None:
        try:
            message = worker.wait(_LOAD_TIMEOUT_S)
        except EOFError as exc:
            raise AnalyzerUnavailable(f"an analysis worker failed to start: {exc}") from exc
        if not (isinstance(message, tuple) and len(message) == 2):
            raise AnalyzerUnavailable("an analysis worker sent an unreadable greeting")
        kind, detail = message
        if kind != "ready":
            raise AnalyzerUnavailable(f"an analysis worker cannot load the model: {detail}")

    @property
    def workers(self) -> int:
        return len(self._workers)

    def close(self) -> None:
        """Stop the worker processes (idempotent)."""
        self._finalizer()

    def analyze_batch(self, messages: list[str]) -> list[Analysis]:
        """One Analysis per message, in order; never raises."""
        texts = [m if isinstance(m, str) else str(m) for m in messages]
        if not texts:
            return []
        with self._lock:
            if not self._workers:  # closed
                return [_fallback(t) for t in texts]
            slices = _split(len(texts), len(self._workers))
            sent: list[bool] = []
            for index, (start, end) in enumerate(slices):
                sent.append(self._send(index, texts[start:end]))
            results: list[Analysis] = []
            for index, (start, end) in enumerate(slices):
                part = texts[start:end]
                answer = self._receive(index, len(part)) if sent[index] else None
                if answer is None:
                    answer = self._retry(index, part)
                results.extend(answer)
            return results

    def _send(self, index: int, part: list[str]) -> bool:
        try:
            self._workers[index].conn.send(part)
            return True
        except (OSError, ValueError):
            return False

    def _receive(self, index: int, expected: int) -> list[Analysis] | None:
        """The worker's answer, or None when it died or answered nonsense."""
        try:
            message = self._workers[index].wait(None)
        except (EOFError, OSError):
            return None
        except Exception:  # an answer that does not unpickle: treat the worker as broken
            log.exception("analysis worker %d sent an unreadable answer", index)
            return None
        if not (isinstance(message, tuple) and len(message) == 2):
            return None
        results, deltas = message
        if not (isinstance(results, list) and len(results) == expected
                and all(isinstance(r, Analysis) for r in results)):
            return None
        _forward_counters(deltas)
        return results

    def _retry(self, index: int, part: list[str]) -> list[Analysis]:
        """Restart worker `index` and send it `part` once more; the no-op answer if that
        fails too."""
        log.warning("analysis worker %d failed; restarting it and retrying %d lines",
                    index, len(part))
        self._workers[index].stop(timeout=1.0)
        try:
            self._workers[index] = _Worker(self._context, self._config, index)
            self.restarts += 1
            self._expect_ready(self._workers[index])
        except Exception:
            log.exception("analysis worker %d could not be restarted", index)
        else:
            if self._send(index, part):
                answer = self._receive(index, len(part))
                if answer is not None:
                    return answer
        log.error("analysis worker %d failed twice on a slice; %d lines get no labels",
                  index, len(part))
        self.failed_lines += len(part)
        return [_fallback(t) for t in part]


def _split(total: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous, near-equal slices of `total` lines over at most `workers` workers."""
    count = max(1, min(workers, total // _MIN_SLICE))
    size, extra = divmod(total, count)
    slices, start = [], 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        slices.append((start, end))
        start = end
    return slices


def _fallback(text: str) -> Analysis:
    """The no-op answer: what `NoopAnalyzer`/a failed model batch gives."""
    return Analysis(action="other", fields={}, template=text[:200], confidence=0.0)


_SERIES = (CACHE_LOOKUPS.labels("hit"), CACHE_LOOKUPS.labels("miss"),
           TEMPLATE_CACHE_LOOKUPS.labels("hit"), TEMPLATE_CACHE_LOOKUPS.labels("miss"),
           MODEL_LINES)


def _forward_counters(deltas: object) -> None:
    if not isinstance(deltas, list) or len(deltas) != len(_SERIES):
        return
    for series, delta in zip(_SERIES, deltas, strict=True):
        if isinstance(delta, float) and delta > 0:
            series.inc(delta)
