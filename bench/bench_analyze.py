"""`logsentry analyze --alerts` as a user runs it, beside its peers, in one sitting.

Whole process, wall clock, start-up included: `logsentry analyze --alerts --format jsonl
CORPUS` against fail2ban-regex with its stock sshd filter (ssh corpora) and Drain3's
default template miner (mixed200k), each run alternating with its peer. Reports lines/s,
peak RSS (the main process's maximum resident set, from wait4), peak PSS (every process
of it summed, pages shared between them counted once), CPU time (user + system) and the
ratios to the peer, of the wall clock and of CPU time, medians of `--runs`;
`--workers 1 --workers 2` compares analysis workers, alternating.

Corpora: ssh200k and mixed200k from ../shared/bench/make_corpora.sh, ssh200k-fresh from
bench/make_fresh_values.py (made when missing), and with `--big` ssh2m, ssh200k written 10
times (2,000,000 lines), for memory. Peers that are not installed are left out:
`apt-get install fail2ban`, `pip install drain3` (a benchmark peer, not a dependency).
Usage: python bench/bench_analyze.py [--runs 3] [--big] [--corpus ssh200k ...] [--workers N ...]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
BENCH_DATA = Path(os.environ.get("BENCH_DATA", "/tmp/logsentry-bench-data"))
MAKE_CORPORA = BENCH.parents[1] / "shared" / "bench" / "make_corpora.sh"
LOGSENTRY = [sys.executable, "-m", "logsentry.cli", "analyze", "--alerts", "--format", "jsonl"]
FAIL2BAN_FILTER = Path("/etc/fail2ban/filter.d/sshd.conf")
DRAIN3 = """
import sys
from drain3 import TemplateMiner
miner = TemplateMiner()
with open(sys.argv[1], encoding="utf-8", errors="replace") as lines:
    for line in lines:
        miner.add_log_message(line.rstrip("\\n"))
print(len(miner.drain.clusters), "templates")
"""
PEERS = {"ssh200k": "fail2ban-regex", "ssh200k-fresh": "fail2ban-regex",
         "mixed200k": "drain3", "ssh2m": "fail2ban-regex"}


@dataclass
class Run:
    seconds: float
    rss_mb: float
    output_lines: int
    pss_mb: float = 0.0
    # CPU seconds (user + system) of the process and the children it waited for: on a
    # shared machine the wall clock follows the other load, CPU time much less.
    cpu_s: float = 0.0


def corpus(name: str) -> Path:
    path = BENCH_DATA / f"{name}.log"
    if path.exists():
        return path
    if name in ("ssh200k", "mixed200k"):
        subprocess.run(["bash", str(MAKE_CORPORA)], check=True)
    elif name == "ssh200k-fresh":
        subprocess.run([sys.executable, str(BENCH / "make_fresh_values.py")], check=True)
    elif name == "ssh2m":
        source = corpus("ssh200k").read_bytes()
        with open(path, "wb") as out:
            for _ in range(10):
                out.write(source)
    return path


def count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (analysis worker processes)."""
    pids, index = [pid], 0
    while index < len(pids):
        for task in Path(f"/proc/{pids[index]}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                pids += [int(child) for child in task.read_text().split()]
        index += 1
    return pids


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


def measure(command: list[str], work: Path) -> Run:
    """Run `command` to its end: wall clock, its peak RSS, the peak of its processes'
    summed PSS (sampled every 0.2 s), the lines it printed."""
    out_path, err_path = work / "stdout", work / "stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        began = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=err)
        peak_pss = 0.0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak_pss
            while not done.wait(0.2):
                peak_pss = max(peak_pss, pss_mb(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - began
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{command[:4]} failed ({proc.returncode}):\n"
                 + err_path.read_text(errors="replace")[-2000:])
    return Run(seconds, usage.ru_maxrss / 1024, count_lines(out_path), peak_pss,
               usage.ru_utime + usage.ru_stime)


def peer_command(peer: str, path: Path) -> list[str] | None:
    if peer == "fail2ban-regex":
        binary = shutil.which("fail2ban-regex")
        if binary is None or not FAIL2BAN_FILTER.exists():
            return None
        return [binary, str(path), str(FAIL2BAN_FILTER)]
    try:
        import drain3  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-c", DRAIN3, str(path)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--corpus", action="append", choices=sorted(PEERS),
                        help="default: ssh200k, ssh200k-fresh, mixed200k")
    parser.add_argument("--big", action="store_true",
                        help="also ssh2m (2,000,000 lines), one run, for memory")
    parser.add_argument("--workers", type=int, action="append",
                        help="logsentry's analysis workers (repeat to compare, each run "
                             "alternating); default 1")
    args = parser.parse_args()
    counts = args.workers or [1]
    names = args.corpus or ["ssh200k", "ssh200k-fresh", "mixed200k"]
    plan = [(name, args.runs) for name in names] + ([("ssh2m", 1)] if args.big else [])
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-analyze-") as tmp:
        work = Path(tmp)
        for name, runs in plan:
            path = corpus(name)
            lines = count_lines(path)
            peer = PEERS[name]
            command = peer_command(peer, path)
            ours: dict[int, list[Run]] = {count: [] for count in counts}
            theirs: list[Run] = []
            for _ in range(runs):
                for count in counts:
                    run = measure([*LOGSENTRY, "--workers", str(count), str(path)], work)
                    ours[count].append(run)
                    print(f"  {name} logsentry workers={count}: "
                          f"{lines / run.seconds:,.0f} lines/s, {run.rss_mb:,.0f} MB RSS, "
                          f"{run.pss_mb:,.0f} MB PSS, {run.cpu_s:.2f} s CPU, "
                          f"{run.output_lines} alerts", flush=True)
                if command is not None:
                    theirs.append(measure(command, work))
                    print(f"  {name} {peer}: {lines / theirs[-1].seconds:,.0f} lines/s, "
                          f"{theirs[-1].rss_mb:,.0f} MB, {theirs[-1].cpu_s:.2f} s CPU",
                          flush=True)
            rows.append((name, lines, ours, peer if command else None, theirs))

    print(f"\n{'corpus':<14} {'workers':>7} {'lines':>9} {'logsentry lines/s':>18} "
          f"{'peak RSS':>9} {'peak PSS':>9} {'alerts':>7}   {'peer':<15} {'lines/s':>8} "
          f"{'RSS':>7} {'ratio':>6}   {'CPU s':>6} {'peer CPU s':>10} {'CPU ratio':>9}")
    for name, lines, ours, peer, theirs in rows:
        for count, runs in ours.items():
            rate = lines / statistics.median(run.seconds for run in runs)
            rss = max(run.rss_mb for run in runs)
            pss = max(run.pss_mb for run in runs)
            row = (f"{name:<14} {count:>7} {lines:>9,} {rate:>18,.0f} {rss:>6,.0f} MB "
                   f"{pss:>6,.0f} MB {runs[-1].output_lines:>7}   ")
            if peer is not None and theirs:
                peer_rate = lines / statistics.median(run.seconds for run in theirs)
                peer_rss = max(run.rss_mb for run in theirs)
                cpu = statistics.median(run.cpu_s for run in runs)
                peer_cpu = statistics.median(run.cpu_s for run in theirs)
                row += (f"{peer:<15} {peer_rate:>8,.0f} {peer_rss:>4,.0f} MB "
                        f"{rate / peer_rate:>5.2f}x   {cpu:>6.2f} {peer_cpu:>10.2f} "
                        f"{peer_cpu / cpu:>8.2f}x")
            else:
                row += "(peer not installed)"
            print(row)
    print(f"\nmedians of {args.runs} runs (ssh2m: one); peak RSS: the largest of the runs "
          "(the main process); peak PSS: of all its processes summed, sampled every 0.2 s;\n"
          "CPU s: user + system seconds (medians), CPU ratio: the peer's over logsentry's, "
          "which other load on a shared machine moves much less than the wall clock")

if __name__ == "__main__":
    main()
