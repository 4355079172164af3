"""Crash benchmark of the two-stage topology: a SIGKILLed stage-2 instance changes no alert.

Per seed: a Tansu broker, 2 or 3 `logsentry run` processes of the detection
stage (`topology.mode: detect`) in one group (the seed picks how many), and
the labelled attack of tests/test_kafka_topology.py (`--addresses` attackers:
brute force, spraying then success, enumeration, sudo failures) produced to
the events topic, keyed as stage 1 keys it. Once every instance delivers
alerts, the rest is produced in paced chunks while one instance (the seed
picks which, and when) is SIGKILLed; with `--restart` it is started again a
moment later (its partitions move back and are rebuilt by replay). When the
group has committed every record, the survivors stop gracefully and the
killed instance's spool is delivered (a restart would do it).

Reported per seed and in total: alerts lost and extra alert ids against one
detector that saw every event in order, and repeats (one id delivered twice,
the at-least-once redelivery).

Usage: python bench/bench_topology_crash.py [--seeds 5] [--first-seed 0]
       [--addresses 120] [--restart] [--replay-messages N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from aiokafka import AIOKafkaProducer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_kafka import tansu  # noqa: E402
from logsentry.assembly import open_outputs  # noqa: E402
from logsentry.config import load_config  # noqa: E402
from logsentry.core.event import Event  # noqa: E402
from logsentry.topology.config import TopologyConfig  # noqa: E402
from logsentry.topology.ecs_event import encode_event  # noqa: E402
from logsentry.topology.keyed_events import correlation_key  # noqa: E402
from logsentry.topology.runner import ensure_events_topic  # noqa: E402
from tests.crash_harness import (  # noqa: E402
    alert_diff,
    committed,
    group_reader,
    jsonl_docs,
    log_events,
    start_daemon,
)
from tests.test_kafka_topology import attack_events, reference_alerts  # noqa: E402

TOPIC = "events"
GROUP = "crash"
PARTITIONS = 6
KEYS = ["source.ip", "user.name", "host.name"]


def instance_config(root: Path, bootstrap: str, replay: int | None) -> Path:
    root.mkdir(parents=True)
    doc = {
        "state_dir": str(root / "state"),
        "analysis": {"analyzer": "none"},
        "sinks": [{"type": "jsonl", "name": "alerts", "path": str(root / "alerts.jsonl")}],
        "spool": {"fsync": False},
        "logging": {"level": "info", "format": "json"},
        "service": {"metrics": {"enabled": False}},
        "topology": {"mode": "detect", "bootstrap_servers": [bootstrap], "events_topic": TOPIC,
                     "events_partitions": PARTITIONS, "group_id": GROUP,
                     "commit_interval": 0.2, "revoke_timeout": 5.0,
                     **({} if replay is None else {"replay_messages": replay})},
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def start(config: Path, run: int) -> subprocess.Popen[bytes]:
    return start_daemon(config, config.parent / f"stderr{run}.log")


def delivered(config: Path) -> list[tuple[str, str]]:
    return [(doc["rule"]["id"], doc["event"]["id"])
            for doc in jsonl_docs(config.parent / "alerts.jsonl")]


async def produce(producer: AIOKafkaProducer, events: list[Event], ends: dict[int, int],
                  rng: random.Random | None = None) -> None:
    """Produce `events` keyed (in paced chunks with `rng`); note each partition's end."""
    index = 0
    while index < len(events):
        chunk = rng.randint(10, 40) if rng is not None else len(events)
        sent = [await producer.send(TOPIC, encode_event(e), key=correlation_key(e, KEYS))
                for e in events[index:index + chunk]]
        for metadata in await asyncio.gather(*sent):
            ends[metadata.partition] = max(ends.get(metadata.partition, 0), metadata.offset + 1)
        index += chunk
        if rng is not None:
            await asyncio.sleep(rng.uniform(0.05, 0.3))


async def caught_up(bootstrap: str, ends: dict[int, int], timeout: float) -> bool:
    async with group_reader(bootstrap, GROUP) as client:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = {p: offset or 0 for p, offset in (await committed(client, TOPIC, ends)).items()}
            if done == ends:
                return True
            await asyncio.sleep(0.3)
        return False


async def one_seed(seed: int, addresses: int, restart: bool,
                   replay: int | None) -> dict[str, Any]:
    rng = random.Random(seed)
    instances = rng.choice([2, 3])
    events = attack_events(addresses, seed=1000 + seed)
    expected = reference_alerts(events)
    result: dict[str, Any] = {"seed": seed, "instances": instances, "events": len(events),
                              "expected": len(expected)}
    with tansu() as bootstrap, tempfile.TemporaryDirectory() as tmp:
        configs = [instance_config(Path(tmp) / f"instance{i}", bootstrap, replay)
                   for i in range(instances)]
        await ensure_events_topic(TopologyConfig(
            mode="detect", bootstrap_servers=[bootstrap], events_topic=TOPIC,
            events_partitions=PARTITIONS))
        processes = [start(c, 1) for c in configs]
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                                    enable_idempotence=False, linger_ms=5)
        await producer.start()
        ends: dict[int, int] = {}
        try:
            third = len(events) // 3
            await produce(producer, events[:third], ends)
            deadline = time.monotonic() + 90
            while not all(delivered(c) for c in configs):
                if time.monotonic() > deadline:
                    raise RuntimeError("not every instance delivered alerts")
                await asyncio.sleep(0.2)
            rest = asyncio.create_task(produce(producer, events[third:], ends, rng))
            victim = rng.randrange(instances)
            await asyncio.sleep(rng.uniform(0.1, 2.0))
            held = log_events(configs[victim].parent / "stderr1.log",
                              "kafka_partitions_assigned")
            result["victim_partitions"] = held[-1]["partitions"] if held else []
            processes[victim].send_signal(signal.SIGKILL)
            processes[victim].wait(5)
            if restart:
                await asyncio.sleep(rng.uniform(1.0, 4.0))
                processes[victim] = start(configs[victim], 2)
            await rest
            if not await caught_up(bootstrap, ends, 120):
                raise RuntimeError("the group did not commit every record")
        finally:
            await producer.stop()
            for process in processes:
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(60)
                except subprocess.TimeoutExpired:
                    process.kill()
        if not restart:
            # What the killed instance accepted and had not delivered: its restart
            # (here: opening its outputs) delivers it.
            killed = load_config(configs[victim])
            outputs = await open_outputs(killed, killed.state_dir)
            await outputs.close(10.0)
        lines = [alert for c in configs for alert in delivered(c)]
        # Moved partitions whose state was rebuilt by replay (the path under test).
        result["replays"] = sum(len(log_events(log, "partition_state_replay"))
                                for c in configs for log in c.parent.glob("stderr*.log"))
    diff = alert_diff(expected, lines)
    result["lost"] = len(diff.lost)
    result["extra"] = len(diff.extra)
    result["repeats"] = diff.repeats
    if diff.lost:
        result["lost_sample"] = sorted(diff.lost)[:3]
    if diff.extra:
        result["extra_sample"] = sorted(diff.extra)[:3]
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--addresses", type=int, default=120)
    parser.add_argument("--restart", action="store_true")
    # 0 turns the rebuilding of a moved partition's state off (the bench must then fail).
    parser.add_argument("--replay-messages", type=int)
    args = parser.parse_args()
    totals = Counter[str]()
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        began = time.monotonic()
        result = await one_seed(seed, args.addresses, args.restart, args.replay_messages)
        result["seconds"] = round(time.monotonic() - began, 1)
        for key in ("expected", "lost", "extra", "repeats"):
            totals[key] += result[key]
        print(json.dumps(result), flush=True)
    print(f"{args.seeds} seeds{' (killed instance restarted)' if args.restart else ''}: "
          f"{totals['expected']} alerts expected, {totals['lost']} lost, "
          f"{totals['extra']} extra ids, {totals['repeats']} repeats", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
