"""Pipeline benchmark: the running daemon, a large file in, a JSON-lines sink out.

Reports
  * sustained lines/s from a file to a JSON-lines sink (no-op analyzer by default,
    `--analyzer model` for the shipped model),
  * p50/p99 latency from the moment a line is appended to the file until its
    event is in the sink, at an offered load (default 1,000 lines/s),
  * the daemon's peak RSS.

With `--sigma N` the daemon also runs N templated Sigma rules (bench_sigma.py's set);
`--compare-sigma N` measures throughput without Sigma rules and with N of them,
alternating, `--rounds` times each, and reports the medians and their ratio.

Corpora come from ../shared/bench/make_corpora.sh (default /tmp/logsentry-bench-data).
Usage: python bench/bench_pipeline.py [--corpus ssh200k] [--repeat 5] [--analyzer none]
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

BENCH_DATA = Path(os.environ.get("BENCH_DATA", "/tmp/logsentry-bench-data"))
MAKE_CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "bench" / "make_corpora.sh"


def corpus(name: str) -> Path:
    path = BENCH_DATA / f"{name}.log"
    if not path.exists():
        subprocess.run(["bash", str(MAKE_CORPORA)], check=True)
    return path


def start_daemon(work: Path, log: Path, out: Path, analyzer: str, detection: bool,
                 start_at: str, sigma: int = 0, workers: int = 1) -> subprocess.Popen[bytes]:
    detection_config: dict[str, object] = {"enabled": detection}
    if sigma:
        from bench_sigma import write_rules

        write_rules(work / "sigma", sigma)
        detection_config["sigma"] = {"rules": [str(work / "sigma")]}
    config = {
        "state_dir": str(work / "state"),
        "sources": [{"type": "file", "paths": [str(log)], "start_at": start_at}],
        "analysis": {"analyzer": analyzer, "workers": workers},
        "detection": detection_config,
        "sinks": [{"type": "jsonl", "path": str(out), "max_bytes": 1 << 40,
                   "routing": {"records": "events"}}],
        "service": {"metrics": {"enabled": False}},
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    return subprocess.Popen(
        [sys.executable, "-m", "logsentry.cli", "--log-level", "warning", "run", "--config",
         str(work / "config.yaml")],
        stdout=subprocess.DEVNULL,
    )


def count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


class LineCounter:
    """Counts the lines of a growing file, reading only what was added since the last
    call: the benchmark polls every 0.2 s, and reading a 500 MB sink whole each time
    took CPU from the daemon it measures (the two share the cores)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.position = 0
        self.lines = 0

    def __call__(self) -> int:
        if not self.path.exists():
            return 0
        with open(self.path, "rb") as handle:
            handle.seek(self.position)
            while chunk := handle.read(1 << 20):
                self.lines += chunk.count(b"\n")
                self.position += len(chunk)
        return self.lines


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (the analysis worker processes)."""
    pids, index = [pid], 0
    while index < len(pids):
        for task in Path(f"/proc/{pids[index]}/task").glob("*/children"):
            pids += [int(child) for child in task.read_text().split()]
        index += 1
    return pids


def peak_rss_mb(pid: int) -> float:
    """Peak RSS of `pid` and its descendants, summed (each process's own peak)."""
    total = 0
    for member in process_tree(pid):
        for line in Path(f"/proc/{member}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total / 1024


def pss_mb(pid: int) -> float:
    """Proportional set size of `pid` and its descendants, summed: a page shared between
    them (the libraries' code) counts once in all, not once per process."""
    total = 0
    for member in process_tree(pid):
        try:
            text = Path(f"/proc/{member}/smaps_rollup").read_text()
        except OSError:  # gone meanwhile
            continue
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
                break
    return total / 1024


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system, all threads) the process and its live descendants have
    used so far."""
    ticks = 0
    for member in process_tree(pid):
        fields = Path(f"/proc/{member}/stat").read_text().rpartition(")")[2].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def detection_cpu_seconds(pid: int) -> float:
    """CPU time (user and system) the daemon's detection thread (`ls-detect`) has used:
    where Sigma rules cost, apart from the other stages' noise on a shared machine."""
    ticks = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().strip() != "ls-detect":
                continue
            fields = (task / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # gone meanwhile
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def throughput(source: Path, repeat: int, analyzer: str, detection: bool,
               sigma: int = 0, workers: int = 1) -> tuple[float, float, float]:
    """Lines per second of wall-clock time and per second of the daemon's CPU time, and
    the detection thread's CPU microseconds a line."""
    with tempfile.TemporaryDirectory(prefix="logsentry-bench-") as tmp:
        work = Path(tmp)
        log, out = work / "big.log", work / "out.jsonl"
        with open(log, "wb") as handle:
            for _ in range(repeat):
                with open(source, "rb") as chunk:
                    shutil.copyfileobj(chunk, handle)
        total = count_lines(log)
        daemon = start_daemon(work, log, out, analyzer, detection, "beginning", sigma, workers)
        while out.stat().st_size == 0 if out.exists() else True:
            time.sleep(0.01)
        began, done = time.monotonic(), 0
        cpu_began = cpu_seconds(daemon.pid)
        detect_began = detection_cpu_seconds(daemon.pid)
        pss = 0.0
        counted = LineCounter(out)
        while done < total:
            time.sleep(0.2)
            done = counted()
            pss = max(pss, pss_mb(daemon.pid))
        elapsed = time.monotonic() - began
        cpu = cpu_seconds(daemon.pid) - cpu_began
        detect_us = (detection_cpu_seconds(daemon.pid) - detect_began) / total * 1e6
        rss = peak_rss_mb(daemon.pid)
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
        print(f"throughput  corpus={source.name} x{repeat} lines={total:,} analyzer={analyzer} "
              f"detection={detection} sigma={sigma} workers={workers}: "
              f"{total / elapsed:,.0f} lines/s "
              f"(first to last event, {elapsed:.1f} s), {total / cpu:,.0f} lines per CPU "
              f"second (detection thread {detect_us:.2f} µs a line), peak RSS {rss:.0f} MB, "
              f"peak PSS {pss:.0f} MB (all processes)", flush=True)
        return total / elapsed, total / cpu, detect_us


def compare_sigma(source: Path, repeat: int, analyzer: str, rules: int, rounds: int) -> None:
    """Throughput without and with `rules` Sigma rules, alternating (the machine's load
    drifts); the medians and their ratio, of wall-clock rates and of CPU-time rates (on a
    shared machine the second is the steadier)."""
    rates: dict[int, list[tuple[float, float, float]]] = {0: [], rules: []}
    for _ in range(rounds):
        for count in (0, rules):
            rates[count].append(throughput(source, repeat, analyzer, True, count))
    for which, unit in ((0, "lines/s"), (1, "lines per CPU second")):
        without = statistics.median(r[which] for r in rates[0])
        with_rules = statistics.median(r[which] for r in rates[rules])
        print(f"sigma compare corpus={source.name} x{repeat} analyzer={analyzer} "
              f"rounds={rounds}: no Sigma rules {without:,.0f} {unit}, {rules} Sigma rules "
              f"{with_rules:,.0f} {unit} (medians), ratio {with_rules / without:.3f}")
    # The detection thread's share: the CPU time Sigma adds a line, and the rate ratio it
    # alone would give (the other threads' noise left out).
    without_us = statistics.median(1e6 / r[1] for r in rates[0])
    added = (statistics.median(r[2] for r in rates[rules])
             - statistics.median(r[2] for r in rates[0]))
    print(f"sigma compare: detection thread +{added:.2f} µs a line with {rules} Sigma rules "
          f"(medians), over {without_us:.2f} µs a line in all without: ratio "
          f"{without_us / (without_us + added):.3f} from the detection thread alone")


def compare_workers(source: Path, repeat: int, analyzer: str, detection: bool,
                    counts: list[int], rounds: int) -> None:
    """Throughput with each number of analysis workers, alternating, `rounds` times."""
    rates: dict[int, list[tuple[float, float, float]]] = {count: [] for count in counts}
    for _ in range(rounds):
        for count in counts:
            rates[count].append(throughput(source, repeat, analyzer, detection, 0, count))
    for count in counts:
        print(f"workers compare corpus={source.name} x{repeat} analyzer={analyzer} "
              f"rounds={rounds} workers={count}: "
              f"{statistics.median(r[0] for r in rates[count]):,.0f} lines/s, "
              f"{statistics.median(r[1] for r in rates[count]):,.0f} lines per CPU second "
              "(medians)")


def latency(rate: int, seconds: float, analyzer: str, detection: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="logsentry-bench-") as tmp:
        work = Path(tmp)
        log, out = work / "live.log", work / "out.jsonl"
        log.touch()
        daemon = start_daemon(work, log, out, analyzer, detection, "end")
        start = wait_until_reading(log, out)
        appended: dict[int, float] = {}
        latencies: list[float] = []
        received: list[int] = []
        stop = threading.Event()

        def read_sink() -> None:
            position = start
            while not stop.is_set() or len(latencies) < len(appended):
                if out.exists():
                    with open(out, "rb") as handle:
                        handle.seek(position)
                        data = handle.read()
                    now = time.monotonic()
                    end = data.rfind(b"\n") + 1
                    position += end
                    for line in data[:end].splitlines():
                        marker = line.find(b"bench-seq=")
                        if marker < 0:  # a start-up probe
                            continue
                        seq = int(line[marker + 10 : line.index(b" ", marker)])
                        latencies.append(now - appended[seq])
                        received.append(seq)
                if stop.is_set() and time.monotonic() > deadline:
                    return
                time.sleep(0.0005)

        deadline = time.monotonic() + seconds + 10
        reader = threading.Thread(target=read_sink)
        reader.start()
        interval = 1.0 / rate
        with open(log, "a", buffering=1) as handle:
            next_time = time.monotonic()
            for seq in range(int(rate * seconds)):
                appended[seq] = time.monotonic()
                handle.write(
                    f"Nov 26 06:00:00 web-1 sshd[4242]: Failed password for root from "
                    f"203.0.113.{seq % 250} port {1024 + seq % 60000} ssh2 bench-seq={seq} x\n")
                next_time += interval
                time.sleep(max(0.0, next_time - time.monotonic()))
        stop.set()
        reader.join()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)
        latencies.sort()
        ms = [value * 1000 for value in latencies]
        # Lines of one file: each must arrive once, in the order appended.
        lost = len(appended) - len(set(received))
        reordered = sum(1 for a, b in itertools.pairwise(received) if b <= a)
        print(f"latency     offered={rate} lines/s for {seconds:.0f} s analyzer={analyzer} "
              f"detection={detection}: n={len(ms)}/{len(appended)} "
              f"p50={statistics.median(ms):.1f} ms p99={ms[int(len(ms) * 0.99) - 1]:.1f} ms "
              f"max={ms[-1]:.1f} ms; lost {lost}, out of order {reordered}")


def wait_until_reading(log: Path, out: Path, timeout: float = 120.0) -> int:
    """Append probe lines until one reaches the sink (the daemon started at the end of
    the file reads only what is appended once it runs, and start-up takes seconds on a
    loaded machine); the sink's size then, where the measured lines begin."""
    deadline = time.monotonic() + timeout
    with open(log, "a", buffering=1) as handle:
        while time.monotonic() < deadline:
            handle.write("Nov 26 06:00:00 web-1 sshd[4242]: bench-probe x\n")
            time.sleep(0.1)
            if out.exists() and out.stat().st_size:
                time.sleep(0.5)  # the probes still in flight
                return out.stat().st_size
    raise SystemExit("the daemon did not start reading")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="ssh200k", choices=("ssh200k", "mixed200k"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--analyzer", default="none", choices=("none", "model"))
    parser.add_argument("--detection", action="store_true")
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--only", choices=("throughput", "latency"))
    parser.add_argument("--sigma", type=int, default=0, metavar="N",
                        help="also run N templated Sigma rules (implies --detection)")
    parser.add_argument("--compare-sigma", type=int, default=0, metavar="N",
                        help="throughput without and with N Sigma rules, alternating")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1,
                        help="analysis worker processes (analysis.workers)")
    parser.add_argument("--compare-workers", default="", metavar="N,M",
                        help="throughput with N, then M, analysis workers, alternating")
    args = parser.parse_args()
    if args.compare_workers:
        compare_workers(corpus(args.corpus), args.repeat, args.analyzer,
                        args.detection or bool(args.sigma),
                        [int(n) for n in args.compare_workers.split(",")], args.rounds)
        return
    if args.compare_sigma:
        compare_sigma(corpus(args.corpus), args.repeat, args.analyzer, args.compare_sigma,
                      args.rounds)
        return
    detection = args.detection or bool(args.sigma)
    if args.only != "latency":
        throughput(corpus(args.corpus), args.repeat, args.analyzer, detection, args.sigma,
                   args.workers)
    if args.only != "throughput":
        latency(args.rate, args.seconds, args.analyzer, detection)


if __name__ == "__main__":
    main()
