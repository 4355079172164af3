"""What the crash tests and the crash benches share: `logsentry run` processes started
(and killed) from outside, and what they leave behind: their log events, the alerts a
JSON-lines sink received, the offsets their consumer group committed, and those alerts
against the ones expected.

Used by tests/test_crash_consistency.py, tests/test_crash_consistency_kafka.py,
bench/bench_topology_crash.py and bench/bench_failover.py (the benches put the
repository root on `sys.path` and import it as `tests.crash_harness`, as they import
the tests' other helpers).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

ROOT = Path(__file__).resolve().parents[1]


def start_daemon(config: Path, stderr: Path) -> subprocess.Popen[bytes]:
    """`logsentry run --config CONFIG` logging JSON to `stderr`, this checkout's code
    (run from the repository root with it on PYTHONPATH)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(stderr, "wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "logsentry.cli", "--log-format", "json", "run",
             "--config", str(config)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=handle)


def log_events(path: Path, name: str) -> list[dict[str, Any]]:
    """The JSON log lines of `path` whose event is `name`, in order."""
    found = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if doc.get("event") == name:
                found.append(doc)
    return found


def jsonl_docs(path: Path) -> list[dict[str, Any]]:
    """Every document a JSON-lines sink wrote to `path` (none when it wrote nothing)."""
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@contextlib.asynccontextmanager
async def group_reader(bootstrap: str, group: str) -> AsyncIterator[AIOKafkaConsumer]:
    """A client that reads `group`'s committed offsets from outside the group."""
    client = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                              enable_auto_commit=False)
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


async def committed(client: AIOKafkaConsumer, topic: str,
                    partitions: Iterable[int]) -> dict[int, int | None]:
    """Partition -> the group's committed offset (None: nothing committed)."""
    return {p: await client.committed(TopicPartition(topic, p)) for p in partitions}


@dataclass(slots=True)
class AlertDiff:
    """Alerts delivered against the ones expected, each a (key, alert id) pair."""

    lost: set[tuple[str, str]]
    extra: set[tuple[str, str]]
    # Deliveries of a pair beyond its first (the at-least-once redelivery).
    repeats: int
    # The most distinct alert ids one key got.
    most_per_key: int


def alert_diff(expected: Iterable[tuple[str, str]],
               delivered: list[tuple[str, str]]) -> AlertDiff:
    want, got = set(expected), set(delivered)
    per_key = Counter(key for key, _ in got)
    return AlertDiff(lost=want - got, extra=got - want,
                     repeats=sum(n - 1 for n in Counter(delivered).values()),
                     most_per_key=max(per_key.values(), default=0))
