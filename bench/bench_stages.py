"""Per-stage cost of the daemon's path, in µs per line, each stage timed alone in one thread.

The stages as the pipeline runs them (`logsentry/pipeline.py`):

- `read`: the file source (`FileSource.run`: pread, split, decode, batches on a queue);
- `envelope`: `EnvelopeParser.parse` of each line;
- `analyze`: `ModelAnalyzer.analyze_batch` over the bodies in batches of 64 (the pipeline's
  `analysis.max_batch`), caches cold at the start, in file order; of it, `network`: the
  lines that reached the network (tokenizer ids, the network, building their analyses);
- `apply`: `Event.apply` of each analysis (typed fields, summary);
- `detect`: `Detector.process` with the default rule pack, batches of 512 (selection,
  correlation, suppression);
- `encode`: `Event.to_json` (what the JSON-lines sinks and `analyze --format jsonl` write).

Each stage's input is made by the stage before it; only the stage itself is timed. Corpora
from shared/bench/make_corpora.sh and bench/fresh_values.py.

    .venv/bin/python bench/bench_stages.py [--corpus ssh200k mixed200k fresh200k]
        [--lines 200000] [--runs 3] [--profile STAGE] [--json out.json]

`--profile STAGE` runs that stage under cProfile and prints its 25 costliest functions.
The garbage collector runs with the daemon's settings (`logsentry/core/collector.py`).
Each stage is reported as wall-clock µs per line (`envelope_us`) and as this thread's CPU
µs per line (`envelope_cpu_us`), which other processes on a shared machine disturb less;
`--runs N` gives the median of N runs of each.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

ANALYZE_BATCH = 64
DETECT_BATCH = 512
T = TypeVar("T")


# CPU seconds of each stage (this thread's), beside the wall clock: on a shared machine
# the wall clock counts the time other processes held the core.
CPU: dict[str, float] = {}


def timed(name: str, profile: str | None, call: Callable[[], T]) -> tuple[T, float]:
    """Run `call`, under cProfile when `profile` names this stage; result and seconds (its
    CPU seconds go to `CPU[name]`)."""
    profiler = cProfile.Profile() if profile == name else None
    started = time.perf_counter()
    cpu_started = time.thread_time()
    result = profiler.runcall(call) if profiler is not None else call()
    CPU[name] = time.thread_time() - cpu_started
    seconds = time.perf_counter() - started
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue(), file=sys.stderr)
    return result, seconds


def read_file(path: Path, limit: int) -> list[Any]:
    """The file source's batches of `path` (at most `limit` lines), as the pipeline gets them."""
    from logsentry.sources.config import FileSourceConfig
    from logsentry.sources.file import FileSource

    async def run() -> list[Any]:
        source = FileSource(FileSourceConfig(name="bench", paths=[str(path)],
                                             start_at="beginning", follow=False), None)
        queue: asyncio.Queue[Any] = asyncio.Queue(16)
        batches: list[Any] = []
        count = 0

        async def drain() -> None:
            nonlocal count
            while True:
                batch = await queue.get()
                if batch is None:
                    return
                if count < limit:
                    batches.append(batch)
                    count += len(batch.lines)

        consumer = asyncio.create_task(drain())
        await source.run(queue, asyncio.Event())
        await queue.put(None)
        await consumer
        await source.close()
        return batches

    return asyncio.run(run())


def stages(path: Path, limit: int, profile: str | None) -> dict[str, Any]:
    from logsentry.analysis.tagger import load_analyzer
    from logsentry.detect.config import DetectionConfig
    from logsentry.detect.detector import Detector
    from logsentry.envelope import EnvelopeParser

    out: dict[str, Any] = {}
    batches, seconds = timed("read", profile, lambda: read_file(path, limit))
    lines = [line for batch in batches for line in batch.lines][:limit]
    received = batches[0].received if batches else time.time()
    n = len(lines)
    out["lines"] = n
    out["read"] = seconds

    parser = EnvelopeParser()
    parse = parser.parse

    def envelope() -> list[Any]:
        events = []
        for index, line in enumerate(lines):
            event = parse(line, received, None)
            event.source = "bench"
            event.line = index + 1
            events.append(event)
        return events

    events, out["envelope"] = timed("envelope", profile, envelope)

    analyzer = load_analyzer()
    analyzer.analyze_batch(["warm up the network 1"])
    analyzer.clear_cache()
    network_seconds = 0.0
    network_cpu = [0.0]
    run_network = analyzer._run_network

    def counted(*args: Any) -> None:
        nonlocal network_seconds
        began = time.perf_counter()
        cpu_began = time.thread_time()
        run_network(*args)
        network_seconds += time.perf_counter() - began
        network_cpu[0] += time.thread_time() - cpu_began

    analyzer._run_network = counted  # type: ignore[method-assign]
    bodies = [event.body for event in events]

    def analyze() -> list[Any]:
        results: list[Any] = []
        for start in range(0, n, ANALYZE_BATCH):
            results += analyzer.analyze_batch(bodies[start:start + ANALYZE_BATCH])
        return results

    results, out["analyze"] = timed("analyze", profile, analyze)
    out["network"] = network_seconds
    CPU["network"] = network_cpu[0]
    out["cache_stats"] = analyzer.cache_stats()

    def apply() -> None:
        loose_time = parser.loose_time
        for event, result in zip(events, results, strict=True):
            event.apply(result)
            if event.timestamp is None and result.timestamp:
                event.timestamp = loose_time(result.timestamp)

    _, out["apply"] = timed("apply", profile, apply)

    detector = Detector.from_config(DetectionConfig(), None)

    def detect() -> int:
        alerts = 0
        for start in range(0, n, DETECT_BATCH):
            alerts += len(detector.process(events[start:start + DETECT_BATCH]))
        return alerts

    out["alerts"], out["detect"] = timed("detect", profile, detect)

    def encode() -> int:
        size = 0
        for event in events:
            event.json = None
            size += len(event.to_json())
        return size

    _, out["encode"] = timed("encode", profile, encode)
    for stage in ("read", "envelope", "analyze", "network", "apply", "detect", "encode"):
        out[f"{stage}_us"] = round(out.pop(stage) / n * 1e6, 2)
        out[f"{stage}_cpu_us"] = round(CPU[stage] / n * 1e6, 2)
    for suffix in ("_us", "_cpu_us"):
        out[f"total{suffix}"] = round(sum(out[f"{s}{suffix}"] for s in (
            "read", "envelope", "analyze", "apply", "detect", "encode")), 2)
    return out


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per timing key, the median of the runs (other keys from the first run)."""
    out = dict(runs[0])
    for key in out:
        if key.endswith("_us"):
            out[key] = sorted(run[key] for run in runs)[len(runs) // 2]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", type=Path, default=Path(
        os.environ.get("BENCH_DATA", "/tmp/logsentry-bench-data")))
    parser.add_argument("--corpus", nargs="*", default=["ssh200k", "mixed200k", "fresh200k"])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--profile", choices=(
        "read", "envelope", "analyze", "apply", "detect", "encode"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--runs", type=int, default=1,
                        help="runs per corpus; the report gives the median of each timing")
    args = parser.parse_args()

    from fresh_values import write_fresh

    from logsentry.analysis.tagger.inference import configure_threads
    from logsentry.core.collector import keep_survivors_frozen, use_daemon_thresholds

    configure_threads(None)
    # The daemon's collector settings: each stage holds 200,000 results alive, which the
    # default young threshold would visit again and again, billed to the stage timed.
    use_daemon_thresholds()
    keep_survivors_frozen()
    report: dict[str, Any] = {}
    for name in args.corpus:
        path = args.corpora / f"{name}.log"
        if name == "fresh200k" and not path.exists():
            write_fresh(args.corpora / "ssh200k.log", path)
        report[name] = median_run([stages(path, args.lines, args.profile)
                                   for _ in range(args.runs)])
        print(name, json.dumps(report[name]), file=sys.stderr)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
