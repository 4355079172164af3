"""Failover benchmark: how long a SIGKILLed stage-2 instance's partitions wait.

Starts a Tansu broker and `--instances` `logsentry run` processes of the
detection stage (`topology.mode: detect`) in one group, produces events to
every partition of the events topic at `--rate` events/s, kills one instance
with SIGKILL once every partition is being committed, and reports, from
outside:
  * assigned: seconds from the kill until a survivor logged
    `kafka_partitions_assigned` for the last of the killed instance's partitions;
  * revoked: seconds until the first survivor let its partitions go for the
    rebalance (the group noticed the death);
  * consumed: seconds until the group's committed offset of each of those
    partitions moved past where it stood at the kill (the partition is read,
    processed and committed again), the largest over them.
Also the seconds from start until every instance's `/readyz` answered 200
(and what it said), when the code reports assignments there.

Usage: python bench/bench_failover.py [--rounds 3] [--session-timeout S]
       [--heartbeat-interval S] [--instances 3] [--partitions 6] [--rate 200]
(an option left out keeps the configuration's default).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_kafka import tansu  # noqa: E402
from logsentry.core.event import Event  # noqa: E402
from logsentry.topology.config import TopologyConfig  # noqa: E402
from logsentry.topology.ecs_event import encode_event  # noqa: E402
from logsentry.topology.runner import ensure_events_topic  # noqa: E402
from tests.crash_harness import committed, log_events, start_daemon  # noqa: E402

TOPIC = "events"
GROUP = "failover"


def instance_config(root: Path, bootstrap: str, partitions: int,
                    tuning: dict[str, float]) -> Path:
    root.mkdir(parents=True)
    doc = {
        "state_dir": str(root / "state"),
        "analysis": {"analyzer": "none"},
        "sinks": [{"type": "jsonl", "name": "alerts", "path": str(root / "alerts.jsonl")}],
        "spool": {"fsync": False},
        "logging": {"level": "info", "format": "json"},
        # Port 0: several instances on one host each get a free port (logged).
        "service": {"metrics": {"enabled": True, "port": 0}},
        "topology": {"mode": "detect", "bootstrap_servers": [bootstrap], "events_topic": TOPIC,
                     "events_partitions": partitions, "group_id": GROUP, **tuning},
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def stamp(doc: dict[str, Any]) -> float:
    return datetime.fromisoformat(doc["timestamp"]).replace(tzinfo=UTC).timestamp()


def readyz(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=2) as reply:
            return int(reply.status), reply.read().decode()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read().decode()
    except OSError as exc:
        return 0, repr(exc)


async def produce(bootstrap: str, partitions: int, rate: float, stop: asyncio.Event) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                enable_idempotence=False, linger_ms=5)
    await producer.start()
    try:
        index = 0
        began = time.monotonic()
        while not stop.is_set():
            event = Event(message=f"failed login {index}", received=time.time(),
                          action="ssh_login_failed",
                          fields={"source.ip": f"198.51.100.{index % 250}"})
            event.timestamp = datetime.now(UTC)
            await producer.send(TOPIC, encode_event(event), partition=index % partitions)
            index += 1
            delay = began + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
    finally:
        await producer.stop()


async def committed_or_zero(client: AIOKafkaConsumer, partitions: list[int]) -> dict[int, int]:
    return {p: offset or 0 for p, offset in (await committed(client, TOPIC, partitions)).items()}


async def one_round(args: argparse.Namespace, tuning: dict[str, float]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    with tansu() as bootstrap, tempfile.TemporaryDirectory() as tmp:
        roots = [Path(tmp) / f"instance{i}" for i in range(args.instances)]
        configs = [instance_config(r, bootstrap, args.partitions, tuning) for r in roots]
        await ensure_events_topic(TopologyConfig(
            mode="detect", bootstrap_servers=[bootstrap], events_topic=TOPIC,
            events_partitions=args.partitions))
        started = time.time()
        processes = [start_daemon(c, c.parent / "stderr.log") for c in configs]
        stop = asyncio.Event()
        producing = asyncio.create_task(produce(bootstrap, args.partitions, args.rate, stop))
        client = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=GROUP,
                                  enable_auto_commit=False)
        try:
            everything = list(range(args.partitions))
            urls: dict[int, str] = {}
            ready_at: dict[int, float] = {}
            await asyncio.sleep(1.0)
            await client.start()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                for i, root in enumerate(roots):
                    listening = log_events(root / "stderr.log", "monitoring_listening")
                    if listening and i not in urls:
                        urls[i] = listening[0]["url"]
                    if i in urls and i not in ready_at:
                        status, body = readyz(urls[i])
                        if status == 200:
                            ready_at[i] = time.time() - started
                            result.setdefault("readyz", []).append(body.strip())
                done = await committed_or_zero(client, everything)
                if all(done.values()) and len(ready_at) == len(roots):
                    break
                await asyncio.sleep(0.2)
            else:
                raise RuntimeError("the group never committed every partition")
            result["ready_s"] = max(ready_at.values())
            result["all_committed_s"] = time.time() - started
            await asyncio.sleep(2.0)  # steady state
            assigned = log_events(roots[0] / "stderr.log", "kafka_partitions_assigned")
            victim = sorted(int(p.rsplit("-", 1)[1]) for p in assigned[-1]["partitions"])
            result["victim_partitions"] = victim
            before = await committed_or_zero(client, victim)
            killed_at = time.time()
            processes[0].send_signal(signal.SIGKILL)
            processes[0].wait(5)
            moved: dict[int, float] = {}
            while len(moved) < len(victim) and time.time() - killed_at < 120:
                now = await committed_or_zero(client, victim)
                for p, offset in now.items():
                    if p not in moved and offset > before[p]:
                        moved[p] = time.time() - killed_at
                await asyncio.sleep(0.1)
            result["consumed_s"] = max(moved.values()) if len(moved) == len(victim) else None
            reassigned: dict[int, float] = {}
            for root in roots[1:]:
                for doc in log_events(root / "stderr.log", "kafka_partitions_assigned"):
                    at = stamp(doc) - killed_at
                    for p in doc["partitions"]:
                        number = int(p.rsplit("-", 1)[1])
                        if at > 0 and number in victim and number not in reassigned:
                            reassigned[number] = at
            result["assigned_s"] = (max(reassigned.values())
                                    if len(reassigned) == len(victim) else None)
            # When the survivors learned of the rebalance (they let their partitions go).
            revoked = [stamp(doc) - killed_at for root in roots[1:]
                       for doc in log_events(root / "stderr.log", "kafka_partitions_revoked")
                       if stamp(doc) > killed_at]
            result["revoked_s"] = min(revoked) if revoked else None
        finally:
            stop.set()
            await producing
            await client.stop()
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--session-timeout", type=float)
    parser.add_argument("--heartbeat-interval", type=float)
    args = parser.parse_args()
    tuning = {key: value for key, value in (("session_timeout", args.session_timeout),
                                            ("heartbeat_interval", args.heartbeat_interval))
              if value is not None}
    rounds = []
    for number in range(args.rounds):
        result = await one_round(args, tuning)
        rounds.append(result)
        print(f"round {number + 1}: {json.dumps(result)}", flush=True)
    for key in ("revoked_s", "assigned_s", "consumed_s", "ready_s"):
        values = [r[key] for r in rounds if r.get(key) is not None]
        if values:
            print(f"{key}: median {statistics.median(values):.1f}, "
                  f"min {min(values):.1f}, max {max(values):.1f} ({len(values)} rounds)")


if __name__ == "__main__":
    asyncio.run(main())
