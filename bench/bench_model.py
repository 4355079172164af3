"""Benchmark of the model analyzer: load time, unique-line throughput, cached throughput,
batch-1 latency, RSS, and the whole `logsentry analyze` process on the shared corpora.

Usage (corpora from shared/bench/make_corpora.sh beside the checkout):

    .venv/bin/python bench/bench_model.py [--model DIR] [--corpora /tmp/logsentry-bench-data]
        [--threads 2] [--unique 6000] [--json out.json] [--no-process]

    # whole process only, this tree against another source tree (e.g. `git archive` of an
    # older commit), alternating, medians of 3, on ssh200k, the fresh-values corpus and
    # mixed200k:
    .venv/bin/python bench/bench_model.py --against /path/to/old/tree [--rounds 3]

What the model sees is what the pipeline hands it: the message body left after
envelope parsing (`logsentry.envelope.EnvelopeParser`); envelope parsing itself
is not timed in the analyzer figures (the whole-process figures include everything).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BATCH = 64  # the pipeline's default analysis.max_batch


def bodies(lines: list[str]) -> list[str]:
    from logsentry.envelope import EnvelopeParser

    parser = EnvelopeParser()
    return [parser.parse(line, 0.0).body for line in lines]


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8", errors="replace").splitlines()


def throughput(analyzer: Any, lines: list[str], batch: int = BATCH) -> float:
    started = time.perf_counter()
    for begin in range(0, len(lines), batch):
        analyzer.analyze_batch(lines[begin:begin + batch])
    return len(lines) / (time.perf_counter() - started)


def load_seconds(model: str | None, threads: int) -> dict[str, float]:
    """Fresh interpreter: import + load (what a daemon start pays), and load alone."""
    code = (
        "import time; t0 = time.perf_counter(); import numpy; t1 = time.perf_counter();"
        "from logsentry.analysis.tagger import load_analyzer;"
        f"a = load_analyzer({model!r}, threads={threads});"
        "a.analyze_batch(['warm up line 1']); t2 = time.perf_counter();"
        "print(t2 - t0, t2 - t1)")
    runs = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, cwd=REPO).stdout.split()
        runs.append((float(out[0]), float(out[1])))
    return {"with_numpy_import_s": round(statistics.median(r[0] for r in runs), 3),
            "after_numpy_import_s": round(statistics.median(r[1] for r in runs), 3)}


def whole_process(corpus: Path, model: str | None, tree: Path = REPO) -> dict[str, Any]:
    """`logsentry analyze --format jsonl corpus > /dev/null`, wall clock and peak RSS, with
    the package of source tree `tree` first on the path."""
    command = [sys.executable, "-m", "logsentry.cli", "analyze", "--format", "jsonl"]
    if model:
        command += ["--model", model]
    command.append(str(corpus))
    env = {**os.environ, "PYTHONPATH": str(tree)}
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, cwd=tree,
                                   env=env)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak RSS
        seconds = time.perf_counter() - started
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    rss = usage.ru_maxrss
    lines = sum(1 for _ in corpus.open("rb"))
    if os.waitstatus_to_exitcode(status) != 0:
        return {"error": stderr[-500:]}
    return {"lines_per_s": round(lines / seconds), "seconds": round(seconds, 2),
            "peak_rss_mb": round(rss / 1024, 1)}


def against(old: Path, corpora: Path, rounds: int, model: str | None) -> dict[str, Any]:
    """Whole-process lines/s of this tree and of `old`, alternating A/B per round."""
    sys.path.insert(0, str(REPO / "bench"))
    from fresh_values import write_fresh

    fresh = corpora / "fresh200k.log"
    if not fresh.exists():
        write_fresh(corpora / "ssh200k.log", fresh)
    out: dict[str, Any] = {}
    for name in ("ssh200k", "fresh200k", "mixed200k"):
        runs: dict[str, list[dict[str, Any]]] = {"old": [], "new": []}
        for _ in range(rounds):
            for label, tree in (("old", old), ("new", REPO)):
                runs[label].append(whole_process(corpora / f"{name}.log", model, tree))
        out[name] = {label: {
            "lines_per_s": [r.get("lines_per_s") for r in results],
            "median_lines_per_s": statistics.median(r.get("lines_per_s", 0) for r in results),
            "median_peak_rss_mb": statistics.median(r.get("peak_rss_mb", 0) for r in results)}
            for label, results in runs.items()}
        print(name, json.dumps(out[name]), file=sys.stderr)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="model folder (default: the shipped model)")
    parser.add_argument("--corpora", type=Path, default=Path(
        os.environ.get("BENCH_DATA", "/tmp/logsentry-bench-data")))
    parser.add_argument("--threads", type=int, default=None,
                        help="BLAS threads (default: the analyzer's own choice)")
    parser.add_argument("--unique", type=int, default=6000, help="unique lines to time")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-process", action="store_true",
                        help="skip the whole-process `logsentry analyze` runs")
    parser.add_argument("--against", type=Path,
                        help="only compare whole-process runs with this other source tree")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if args.against:
        text = json.dumps(against(args.against, args.corpora, args.rounds, args.model),
                          indent=2)
        print(text)
        if args.json:
            args.json.write_text(text + "\n", encoding="utf-8")
        return 0

    from logsentry.analysis.tagger.artifacts import load_model
    from logsentry.analysis.tagger.inference import ModelAnalyzer, configure_threads
    from logsentry.analysis.tagger.location import default_model_dir, files_size

    results: dict[str, Any] = {"cpus": os.cpu_count()}
    model_dir = Path(args.model) if args.model else default_model_dir()
    results["model"] = str(model_dir)
    results["files_mb"] = round(files_size(model_dir) / 1e6, 2)
    results["load"] = load_seconds(args.model, args.threads)
    results["threads"] = configure_threads(args.threads)
    loaded = load_model(model_dir)
    results["parameters"] = loaded.network.parameters

    ssh = read_lines(args.corpora / "ssh200k.log")
    mixed = read_lines(args.corpora / "mixed200k.log")
    ssh_bodies, mixed_bodies = bodies(ssh), bodies(mixed)

    # Unique lines: distinct bodies of all 16 Loghub systems, no cache.
    unique = sorted(set(mixed_bodies))
    random.Random(1).shuffle(unique)
    unique = unique[:args.unique]
    cold = ModelAnalyzer(loaded, cache_size=0)
    throughput(cold, unique[:256])  # warm-up
    cpu_started = time.process_time()
    results["unique_lines_per_s"] = round(throughput(cold, unique))
    # CPU seconds as well: on a shared machine the wall clock counts other processes' turns.
    results["unique_lines_per_cpu_s"] = round(len(unique) / (time.process_time() - cpu_started))

    latencies = []
    for line in unique[:400]:
        started = time.perf_counter()
        cold.analyze_batch([line])
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    results["batch1_latency_ms"] = {
        "p50": round(latencies[len(latencies) // 2], 2),
        "p99": round(latencies[int(len(latencies) * 0.99)], 2)}

    for name, corpus in (("ssh200k", ssh_bodies), ("mixed200k", mixed_bodies)):
        full = ModelAnalyzer(loaded, cache_size=100_000)
        results[f"{name}_cached_lines_per_s"] = round(throughput(full, corpus))
        results[f"{name}_cache_stats"] = full.cache_stats()
        structure = ModelAnalyzer(loaded, cache_size=100_000, exact_cache=False)
        results[f"{name}_structure_cache_only_lines_per_s"] = round(
            throughput(structure, corpus))
    results["bench_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)

    if not args.no_process:
        for name in ("ssh200k", "mixed200k"):
            results[f"{name}_whole_process"] = whole_process(args.corpora / f"{name}.log",
                                                             args.model)

    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
