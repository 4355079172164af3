"""Analysis on several cores: the model's caches here, its network in worker processes.

Most lines never reach the network: the exact-text, structure and template caches answer
them (on an SSH attack wave, all but a few hundred lines in 100,000). Shipping every line
to a worker costs more than answering it here (pickling the strings and the analyses,
each worker's caches learning what the others already know), so `ProcessPoolAnalyzer` is
the in-thread `ModelAnalyzer` with its caches, templates and field building in the
pipeline's analysis thread, and only the network batches of the lines the caches miss
go to `workers` long-lived processes, spread over them and run at the same time (a
single batch, or a little work, runs in this thread with the same network). The
answers come back before `analyze_batch` returns, so per-source order and
commit-after-durable (decided by the pipeline after this call) are unchanged, and the
labels are those of the in-thread analyzer: the same lines reach the network in the same
batches.

The workers start in the background: until all have loaded the model, the network runs
in this thread, so a short `analyze` does not wait for them. Workers are forked from a
fork server, a fresh single-threaded process that has imported
numpy and this module: a fork of the daemon itself (threads, maybe BLAS's) could
deadlock in the child, and a spawned worker would import numpy on its own, where forked
ones share the pages of the server's import (measured: PSS of the whole process tree).
Each loads the model once and runs BLAS with one thread (cores are shared out by
processes, not by BLAS threads). A worker that dies is
started again and its batches sent once more; if that fails too, the pipeline batch gets
the no-op answer (action `other`), counted in `failed_lines` and logged, because
`analyze_batch` must never raise.
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
from pathlib import Path

from logsentry.analysis.config import AnalysisConfig
from logsentry.analysis.tagger.artifacts import LoadedModel, load_model
from logsentry.analysis.tagger.inference import Labels, ModelAnalyzer, configure_threads
from logsentry.analysis.tagger.location import default_model_dir
from logsentry.analysis.tagger.tokenizer import Encoded
from logsentry.core.analysis import Analysis
from logsentry.core.errors import AnalyzerUnavailable

log = logging.getLogger(__name__)

# How long a worker may take to load the model before it counts as failed.
_LOAD_TIMEOUT_S = 300.0
# How often a waiting parent checks that the worker it waits for is still alive.
_POLL_S = 0.5

# Below this many padded positions in all, a group of network batches runs in the
# analysis thread: on 2 shared cores, a round trip to a waiting worker took about 20 ms
# against about 7 ms for the network's work on one pipeline batch's misses (mixed200k).
SPREAD_POSITIONS = 1024
# Network batches: the encoded lines of each and their texts.
Chunks = list[tuple[list[Encoded], list[str]]]


def _worker_main(config: AnalysisConfig, conn: Connection) -> None:
    """A worker process: load the model, then run the network on batches until told to
    stop."""
    # The daemon drains on SIGTERM/SIGINT and needs its workers until the last batch;
    # they end when the parent closes the pipe or sends None.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        configure_threads(1)
        analyzer = ModelAnalyzer(_load(config), cache_size=0, template_cache_size=0)
    except Exception as exc:  # the parent turns this into AnalyzerUnavailable
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            chunks = conn.recv()
        except (EOFError, OSError):
            return
        if chunks is None:
            return
        conn.send([analyzer._predict(items, texts) for items, texts in chunks])


def _load(config: AnalysisConfig) -> LoadedModel:
    folder = Path(config.model_path) if config.model_path else default_model_dir()
    return load_model(folder)


class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, context: multiprocessing.context.ForkServerContext,
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
    workers.clear()  # a closed pool runs the network itself rather than start new ones


class _WorkerSet:
    """The worker processes: network batches spread over them, answers in order.

    They start in the background (the fork server imports numpy, each worker loads the
    model: up to seconds on a busy machine); until all are ready, `ready` is False and the
    analyzer runs its network itself."""

    def __init__(self, config: AnalysisConfig, workers: int) -> None:
        self._config = config
        # How workers start: see the module's docstring.
        self._context = multiprocessing.get_context("forkserver")
        # Takes effect when the server starts (the first worker of this process).
        self._context.set_forkserver_preload([__name__])
        self.restarts = 0
        self.workers: list[_Worker] = []
        self._count = workers
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._closing = False
        self._starting: list[_Worker] = []
        self._starter = threading.Thread(target=self._start, name="logsentry-analysis-start",
                                         daemon=True)
        self._starter.start()

    def _start(self) -> None:
        started = self._starting
        try:
            # Start all, then wait: the workers load the model at the same time.
            for i in range(self._count):
                with self._lock:
                    if self._closing:
                        break
                    started.append(_Worker(self._context, self._config, i))
            for worker in started:
                _expect_ready(worker)
        except Exception:
            if not self._closing:
                log.exception("the analysis workers did not start; the model runs in the "
                              "analysis thread")
            _stop_all(started)
            return
        with self._lock:
            if self._closing:
                _stop_all(started)
                return
            self.workers.extend(started)
            self._ready.set()

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and bool(self.workers)

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the workers are ready (or failed to start); whether they are."""
        self._starter.join(timeout)
        return self.ready

    def close(self) -> None:
        """Stop the workers; ones still starting are killed (an `analyze` that ends first
        does not wait for them)."""
        with self._lock:
            self._closing = True
            if not self._ready.is_set():
                for worker in self._starting:
                    worker.process.kill()
        self._starter.join()
        _stop_all(self.workers)

    def predict(self, chunks: Chunks) -> list[list[Labels]]:
        """The network's labels of each chunk; raises AnalyzerUnavailable when a worker
        fails twice on its share (or the pool is closed)."""
        if not self.workers:
            raise AnalyzerUnavailable("the analysis workers are stopped")
        shares = _balance([len(items) * max(len(item.words) for item in items)
                           for items, _ in chunks], len(self.workers))
        sent = [bool(share) and self._send(index, [chunks[c] for c in share])
                for index, share in enumerate(shares)]
        answers: list[list[Labels] | None] = [None] * len(chunks)
        for index, share in enumerate(shares):
            if not share:
                continue
            part = [chunks[c] for c in share]
            answer = self._receive(index, part) if sent[index] else None
            if answer is None:
                answer = self._retry(index, part)
            for c, labels in zip(share, answer, strict=True):
                answers[c] = labels
        return [answer for answer in answers if answer is not None]

    def _send(self, index: int, part: Chunks) -> bool:
        try:
            self.workers[index].conn.send(part)
            return True
        except (OSError, ValueError):
            return False

    def _receive(self, index: int, part: Chunks) -> list[list[Labels]] | None:
        """The worker's answer, or None when it died or answered nonsense."""
        try:
            message = self.workers[index].wait(None)
        except (EOFError, OSError):
            return None
        except Exception:  # an answer that does not unpickle: treat the worker as broken
            log.exception("analysis worker %d sent an unreadable answer", index)
            return None
        if not (isinstance(message, list) and len(message) == len(part)
                and all(isinstance(labels, list) and len(labels) == len(items)
                        and all(isinstance(label, Labels) for label in labels)
                        for labels, (items, _) in zip(message, part, strict=True))):
            return None
        return message

    def _retry(self, index: int, part: Chunks) -> list[list[Labels]]:
        """Restart worker `index` and send it `part` once more."""
        lines = sum(len(items) for items, _ in part)
        log.warning("analysis worker %d failed; restarting it and retrying %d lines",
                    index, lines)
        self.workers[index].stop(timeout=1.0)
        try:
            self.workers[index] = _Worker(self._context, self._config, index)
            self.restarts += 1
            _expect_ready(self.workers[index])
        except Exception:
            log.exception("analysis worker %d could not be restarted", index)
        else:
            if self._send(index, part):
                answer = self._receive(index, part)
                if answer is not None:
                    return answer
        raise AnalyzerUnavailable(f"analysis worker {index} failed twice on {lines} lines")


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


def _balance(costs: list[int], workers: int) -> list[list[int]]:
    """Chunk indexes per worker: the costliest first, each to the least loaded worker
    (each worker's chunks in their original order)."""
    loads = [0] * workers
    shares: list[list[int]] = [[] for _ in range(workers)]
    for chunk in sorted(range(len(costs)), key=lambda c: -costs[c]):
        least = loads.index(min(loads))
        loads[least] += costs[chunk]
        shares[least].append(chunk)
    for share in shares:
        share.sort()
    return shares


class ProcessPoolAnalyzer(ModelAnalyzer):
    """The model as an `Analyzer` whose caches run in this thread and whose network runs in
    `workers` processes."""

    def __init__(self, config: AnalysisConfig, workers: int) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        try:
            model = _load(config)
        except (OSError, ValueError, KeyError) as exc:
            raise AnalyzerUnavailable(f"cannot load the model: {exc}") from exc
        # What the in-thread analyzer gets from `logsentry.analysis.loader`, with one BLAS
        # thread: this process runs the network only for batches too small to spread.
        configure_threads(1)
        super().__init__(model, cache_size=config.cache_size,
                         template_cache_size=config.template_cache_size,
                         cache_max_bytes=config.cache_max_mb << 20)
        self.failed_lines = 0
        # Each worker runs BLAS with one thread: the cores are shared out by processes.
        self._pool = _WorkerSet(config.model_copy(update={"workers": 1, "threads": 1}),
                                workers)
        self._finalizer = weakref.finalize(self, self._pool.close)

    @property
    def workers(self) -> int:
        return len(self._pool.workers)

    @property
    def restarts(self) -> int:
        return self._pool.restarts

    @property
    def _workers(self) -> list[_Worker]:
        return self._pool.workers

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait until the workers have started (or failed to); whether they run."""
        return self._pool.wait_ready(timeout)

    def close(self) -> None:
        """Stop the worker processes (idempotent)."""
        self._finalizer()

    def analyze_batch(self, messages: list[str]) -> list[Analysis]:
        """One Analysis per message, in order; never raises."""
        with self._lock:
            try:
                return self._analyze(messages)
            except Exception:
                log.exception("analysis of a batch of %d lines failed; they get no labels",
                              len(messages))
                self.failed_lines += len(messages)
                return [self._fallback(m) for m in messages]

    def _predict_chunks(self, chunks: Chunks) -> list[list[Labels]]:
        """Network batches that can run side by side go to the workers; one batch, or
        a little work, runs here (a round trip to a worker would cost more than it)."""
        positions = sum(len(items) * max(len(item.words) for item in items)
                        for items, _ in chunks)
        if len(chunks) < 2 or positions < SPREAD_POSITIONS or not self._pool.ready:
            # So do a pool still starting and a closed one (the daemon shutting down).
            return super()._predict_chunks(chunks)
        return self._pool.predict(chunks)
