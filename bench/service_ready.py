"""Time to READY=1 and idle memory of `logsentry run`, as systemd would start it.

Starts the daemon as a subprocess with a real NOTIFY_SOCKET, measures the
time from spawn to READY=1 (model loaded, sources open) and the CPU time the
process used until then (a figure that other load on the machine does not
inflate), lets it idle, then reads its resident memory from /proc.
Targets: READY <= 3 s, idle RSS <= 400 MB.

    .venv/bin/python bench/service_ready.py [--analyzer model|none] [--runs 3] [--idle 5]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CONFIG = """
state_dir: {tmp}/state
sources:
  - type: file
    paths: [{tmp}/auth.log]
analysis:
  analyzer: {analyzer}
sinks:
  - type: jsonl
    path: {tmp}/alerts.jsonl
service:
  metrics: {{port: 0}}
"""


def proc_memory(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM / RssAnon of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            fields[key] = int(value.split()[0])
    return fields


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def one_run(analyzer: str, idle: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "auth.log").write_text("")
        config = tmp / "config.yaml"
        config.write_text(CONFIG.format(tmp=tmp, analyzer=analyzer))
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(tmp / "notify.sock"))
        sock.settimeout(120)
        env = dict(os.environ, NOTIFY_SOCKET=str(tmp / "notify.sock"),
                   PYTHONPATH=str(REPO), OMP_NUM_THREADS="2")
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-c", "import sys; from logsentry.cli import main; sys.exit(main())",
             "--log-format", "json", "--log-level", "warning", "run", "--config", str(config)],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(tmp / "stderr.log", "wb"))  # noqa: SIM115 - closed with the process
        try:
            while True:
                message = sock.recv(4096).decode()
                if "READY=1" in message.split("\n"):
                    ready = time.monotonic() - started
                    # CPU time to READY: what an idle machine's wall time
                    # approaches; wall time on a busy box is inflated by others.
                    ready_cpu = proc_cpu_seconds(process.pid)
                    break
            time.sleep(idle)
            memory = proc_memory(process.pid)
        except TimeoutError:
            raise SystemExit("no READY=1: " + (tmp / "stderr.log").read_text()[-2000:]) from None
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
            sock.close()
        return {"ready_s": ready, "ready_cpu_s": ready_cpu, "rss_mb": memory["VmRSS"] / 1024,
                "peak_rss_mb": memory["VmHWM"] / 1024, "anon_mb": memory["RssAnon"] / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--analyzer", choices=("model", "none"), default="model")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds idle before measuring")
    args = parser.parse_args()
    runs = [one_run(args.analyzer, args.idle) for _ in range(args.runs)]
    summary = {key: round(statistics.median(r[key] for r in runs), 3) for key in runs[0]}
    print(json.dumps({"analyzer": args.analyzer, "runs": runs, "median": summary}, indent=1))


if __name__ == "__main__":
    main()
