"""Memory under a flood of distinct attacking sources: the running daemon's RSS.

The daemon runs as a subprocess with the shipped model and the default rule pack,
following a file (a JSON-lines alert sink, the metrics endpoint on a free loopback
port). After start-up the bench appends `--lines` failed SSH logins, each from a new
address and for a new user name, at `--rate` lines/s, then waits until the daemon has
read them all and keeps sampling for `--settle` seconds.

Before the idle phase the bench writes `WARMUP_LINES` failed logins from a few
addresses and waits for the daemon to read them: the first lines through the model
allocate what any input would (the network's buffers, compiled shapes), which is not
growth from the flood. Idle RSS is the median of the idle phase's samples.

Every second it samples the daemon's RSS (/proc/PID/status), PSS
(/proc/PID/smaps_rollup) and the /metrics gauges logsentry_process_resident_bytes,
logsentry_detection_state_bytes and logsentry_detection_state_cap_bytes. Reported: idle
RSS (before the flood), peak RSS, the plateau (median RSS of the last `--settle`
seconds), growth over idle against the state's cap, and the state's own estimate.

Environment variables given to the bench reach the daemon (for example
MALLOC_ARENA_MAX=2 to compare allocators).

Usage: python bench/bench_flood.py [--lines 300000] [--rate 5000] [--settle 20]
       [--csv samples.csv] [--cache-size N] [--persist-interval S]
       [--cap-mb N]
"""

from __future__ import annotations

import argparse
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.servers.ports import free_port

GAUGES = ("logsentry_process_resident_bytes", "logsentry_detection_state_bytes",
          "logsentry_detection_state_cap_bytes", "logsentry_analysis_cache_bytes",
          "logsentry_process_resident_growth_bytes", "logsentry_detection_state_limit_bytes")
_METRIC = re.compile(r"^(logsentry_[a-z_]+)(?:\{[^}]*\})? ([0-9.eE+-]+|NaN)$")
MB = 1 << 20
# Lines of warm-up before the idle phase, from this many addresses (a few groups).
WARMUP_LINES = 2_000
WARMUP_SOURCES = 10


def address(index: int) -> str:
    """A distinct address per line: 10.0.0.1 onwards (16 million before repeating)."""
    index += 1
    return f"10.{(index >> 16) & 255}.{(index >> 8) & 255}.{index & 255}"


def flood_line(index: int) -> str:
    return (f"Dec  7 04:00:00 bastion sshd[{1000 + index % 50000}]: Failed password for "
            f"invalid user u{index:07d} from {address(index)} port {20000 + index % 40000} "
            f"ssh2\n")


def kib_field(path: Path, name: str) -> float:
    """A `Name:  123 kB` field of a /proc file, in MB; NaN when absent."""
    try:
        for line in path.read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def scrape(port: int) -> dict[str, float]:
    values: dict[str, float] = {}
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as reply:
            text = reply.read().decode()
    except OSError:
        return values
    for line in text.splitlines():
        match = _METRIC.match(line)
        if match is None:
            continue
        name, value = match.groups()
        if name in GAUGES:
            values[name] = float(value)
        elif name == "logsentry_lines_read_total":
            values[name] = values.get(name, 0.0) + float(value)
    return values


class Sampler(threading.Thread):
    """Samples the daemon once a second until stopped."""

    def __init__(self, pid: int, port: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.port = pid, port
        self.samples: list[dict[str, float]] = []
        self.phase = "start"
        self.stop = threading.Event()

    def run(self) -> None:
        began = time.monotonic()
        while not self.stop.wait(1.0):
            sample = scrape(self.port)
            sample["t"] = time.monotonic() - began
            sample["rss_mb"] = kib_field(Path(f"/proc/{self.pid}/status"), "VmRSS")
            sample["pss_mb"] = kib_field(Path(f"/proc/{self.pid}/smaps_rollup"), "Pss")
            sample["phase"] = {"start": 0.0, "idle": 1.0, "flood": 2.0, "settle": 3.0}[
                self.phase]
            self.samples.append(sample)

    def latest(self, name: str) -> float:
        for sample in reversed(self.samples):
            if name in sample:
                return sample[name]
        return 0.0


def run(lines: int, rate: int, settle: float, idle: float, csv: Path | None,
        cache_size: int | None, persist_interval: float | None, cap_mb: int | None) -> None:
    with tempfile.TemporaryDirectory(prefix="logsentry-flood-") as tmp:
        work = Path(tmp)
        log, alerts = work / "auth.log", work / "alerts.jsonl"
        log.touch()
        port = free_port()
        config = {
            "state_dir": str(work / "state"),
            "sources": [{"type": "file", "paths": [str(log)], "start_at": "end"}],
            "sinks": [{"type": "jsonl", "path": str(alerts), "max_bytes": 1 << 40}],
            "service": {"metrics": {"enabled": True, "port": port}},
        }
        if cache_size is not None:
            config["analysis"] = {"cache_size": cache_size}
        detection: dict[str, float] = {}
        if persist_interval is not None:
            detection["persist_interval"] = persist_interval
        if cap_mb is not None:
            detection["memory_cap_mb"] = cap_mb
        if detection:
            config["detection"] = detection
        (work / "config.yaml").write_text(yaml.safe_dump(config))
        daemon = subprocess.Popen(
            [sys.executable, "-m", "logsentry.cli", "--log-level", "warning", "run",
             "--config", str(work / "config.yaml")], stdout=subprocess.DEVNULL)
        sampler = Sampler(daemon.pid, port)
        sampler.start()
        try:
            deadline = time.monotonic() + 120
            while not scrape(port) and time.monotonic() < deadline:
                time.sleep(0.5)
            # The file source may open the file after /metrics answers (`start_at: end`
            # skips what was there): warm-up lines until some are read.
            while (sampler.latest("logsentry_lines_read_total") == 0
                   and daemon.poll() is None and time.monotonic() < deadline):
                with open(log, "a") as handle:
                    handle.write("".join(flood_line(-1 - i % WARMUP_SOURCES)
                                         for i in range(WARMUP_LINES)))
                time.sleep(2.0)
            time.sleep(2.0)
            before = sampler.latest("logsentry_lines_read_total")
            sampler.phase = "idle"
            time.sleep(idle)
            sampler.phase = "flood"
            began = time.monotonic()
            step = max(1, rate // 100)  # 100 appends a second
            with open(log, "a") as handle:
                for start in range(0, lines, step):
                    handle.write("".join(flood_line(i) for i in range(start,
                                                                        min(lines, start + step))))
                    handle.flush()
                    ahead = began + (start + step) / rate - time.monotonic()
                    if ahead > 0:
                        time.sleep(ahead)
            written = time.monotonic() - began
            while (sampler.latest("logsentry_lines_read_total") < before + lines
                   and daemon.poll() is None):
                time.sleep(1.0)
            caught_up = time.monotonic() - began
            sampler.phase = "settle"
            time.sleep(settle)
        finally:
            sampler.stop.set()
            sampler.join()
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(60)
            except subprocess.TimeoutExpired:
                daemon.kill()
        alert_count = alerts.read_bytes().count(b"\n") if alerts.exists() else 0
        state_file = work / "state" / "detection.json"
        state_file_mb = state_file.stat().st_size / MB if state_file.exists() else 0.0
    samples = sampler.samples
    if csv is not None:
        keys = ["t", "phase", "rss_mb", "pss_mb", *GAUGES, "logsentry_lines_read_total"]
        csv.write_text(",".join(keys) + "\n" + "".join(
            ",".join(str(s.get(k, "")) for k in keys) + "\n" for s in samples))
    idle_rss = statistics.median(s["rss_mb"] for s in samples if s["phase"] == 1.0)
    peak = max(s["rss_mb"] for s in samples)
    peak_pss = max(s["pss_mb"] for s in samples)
    plateau = statistics.median(s["rss_mb"] for s in samples if s["phase"] == 3.0)
    plateau_pss = statistics.median(s["pss_mb"] for s in samples if s["phase"] == 3.0)
    state = max(s.get("logsentry_detection_state_bytes", 0.0) for s in samples) / MB
    cap = sampler.latest("logsentry_detection_state_cap_bytes") / MB
    caches = max(s.get("logsentry_analysis_cache_bytes", 0.0) for s in samples) / MB
    resident = max(s.get("logsentry_process_resident_bytes", 0.0) for s in samples) / MB
    print(f"flood lines={lines:,} rate={rate:,}/s: written in {written:.1f} s, read by the "
          f"daemon after {caught_up:.1f} s, {alert_count:,} alerts")
    print(f"  RSS idle {idle_rss:.0f} MB, peak {peak:.0f} MB (+{peak - idle_rss:.0f}), "
          f"plateau {plateau:.0f} MB (+{plateau - idle_rss:.0f}); PSS peak {peak_pss:.0f} MB, "
          f"plateau {plateau_pss:.0f} MB")
    growth = max(s.get("logsentry_process_resident_growth_bytes", 0.0) for s in samples) / MB
    limits = [s["logsentry_detection_state_limit_bytes"] / MB for s in samples
              if s.get("logsentry_detection_state_limit_bytes", 0.0) > 0]
    print(f"  /metrics: resident peak {resident:.0f} MB, analysis caches peak {caches:.1f} MB, "
          f"resident growth peak {growth:.0f} MB, state limit lowest "
          f"{min(limits, default=float('nan')):.0f} MB")
    print(f"  state estimate peak {state:.1f} MB, cap {cap:.0f} MB, state file at shutdown "
          f"{state_file_mb:.0f} MB; growth over idle "
          f"{'within' if peak - idle_rss <= cap else 'OVER'} the cap")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--rate", type=int, default=5_000)
    parser.add_argument("--settle", type=float, default=20.0)
    parser.add_argument("--idle", type=float, default=5.0)
    parser.add_argument("--csv", type=Path, default=None)
    parser.add_argument("--cache-size", type=int, default=None,
                        help="analysis.cache_size (default: the daemon's)")
    parser.add_argument("--persist-interval", type=float, default=None,
                        help="detection.persist_interval (default: the daemon's)")
    parser.add_argument("--cap-mb", type=int, default=None,
                        help="detection.memory_cap_mb (default: the daemon's)")
    args = parser.parse_args()
    run(args.lines, args.rate, args.settle, args.idle, args.csv, args.cache_size,
        args.persist_interval, args.cap_mb)


if __name__ == "__main__":
    main()
