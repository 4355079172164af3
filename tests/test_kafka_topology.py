"""The two-stage topology on a real Kafka-protocol broker (Tansu) started by the tests.

Alerts need labelled events; the analyzer `none` labels nothing, so the
correlation tests produce analyzed ECS events straight to the events topic,
as stage 1 would, and stage 1 is tested on what the envelope parser finds
without a model (access-log client addresses).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.protocol.admin import CreateTopicsResponse_v3

from logsentry.config import Config, load_config
from logsentry.core.alert import Alert
from logsentry.core.errors import KafkaTopicError
from logsentry.core.event import Event
from logsentry.detect.detector import Detector
from logsentry.detect.rule import DEFAULT_RULES_DIR, load_rules
from logsentry.service.config import MetricsConfig
from logsentry.service.http import HealthState, MonitoringServer
from logsentry.sources.config import FileSourceConfig
from logsentry.topology.config import TopologyConfig
from logsentry.topology.detect_stage import DetectStage
from logsentry.topology.ecs_event import decode_event, encode_event
from logsentry.topology.keyed_events import correlation_key
from logsentry.topology.runner import ensure_events_topic, run_stages, topic_created
from tests.servers.kafka import kafka_broker
from tests.servers.ports import wait_until

__all__ = ["kafka_broker"]

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()


# -- the workload: analyzed events of attacks, as stage 1 would produce them -----------------

def attack_events(addresses: int, seed: int = 7) -> list[Event]:
    """Labelled events of `addresses` attackers (several rule types), in time order."""
    rng = random.Random(seed)
    events: list[tuple[float, Event]] = []

    def add(when: float, action: str, **fields: Any) -> None:
        event = Event(message=f"{action} {fields}", received=when, action=action)
        event.timestamp = datetime.fromtimestamp(when, UTC)
        event.fields = {"host.name": f"web-{rng.randrange(3)}", "process.name": "sshd", **fields}
        events.append((when, event))

    for n in range(addresses):
        ip = f"203.0.{n // 250}.{n % 250 + 1}"
        start = T0 + rng.uniform(0, 60)
        kind = n % 4
        if kind == 0:  # brute force on one host
            for j in range(6):
                add(start + j * 2, "ssh_login_failed", **{"source.ip": ip, "user.name": "root",
                                                          "host.name": "web-1"})
        elif kind == 1:  # spraying, then a success
            for j in range(11):
                add(start + j * 3, "ssh_login_failed", **{"source.ip": ip,
                                                           "user.name": f"user{j}"})
            add(start + 40, "ssh_login_success", **{"source.ip": ip, "user.name": "user3"})
        elif kind == 2:  # enumeration of unknown users
            for j in range(5):
                add(start + j, "invalid_user", **{"source.ip": ip, "user.name": f"ghost{j}"})
        else:  # too few to matter
            for j in range(3):
                add(start + j * 5, "ssh_login_failed", **{"source.ip": ip, "user.name": "admin"})
    # Host-local events without an address: keyed by user.name.
    for n in range(addresses // 4):
        start = T0 + rng.uniform(0, 60)
        for j in range(3):
            add(start + j, "sudo_auth_failure", **{"user.name": f"dev{n}", "host.name": "db-1",
                                                   "process.name": "sudo"})
    events.sort(key=lambda pair: pair[0])
    return [event for _, event in events]


def reference_alerts(events: list[Event]) -> set[tuple[str, str]]:
    """What one detector seeing every event raises: (rule, dedup id)."""
    detector = Detector(load_rules([DEFAULT_RULES_DIR]), state_path=None)
    alerts = detector.process([decode_event(encode_event(e).decode(), e.received) or e
                               for e in events])
    return {(a.rule_id, a.dedup_id) for a in alerts}


async def produce_events(bootstrap: str, topic: str, events: list[Event], key_fields: list[str],
                         pause_every: int = 0, pause: float = 0.0) -> None:
    client = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False,
                              linger_ms=5)
    await client.start()
    try:
        for index, event in enumerate(events):
            await client.send(topic, encode_event(event), key=correlation_key(event, key_fields))
            if pause_every and index % pause_every == pause_every - 1:
                await client.flush()
                await asyncio.sleep(pause)
        await client.flush()
    finally:
        await client.stop()


async def group_caught_up(bootstrap: str, group: str, topic: str, partitions: int) -> bool:
    """True when the group committed the end of every partition."""
    client = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                              enable_auto_commit=False)
    await client.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = await client.end_offsets(tps)
        for tp in tps:
            if ends[tp] and (await client.committed(tp) or 0) < ends[tp]:
                return False
        return True
    finally:
        await client.stop()


async def wait_caught_up(bootstrap: str, group: str, topic: str, partitions: int,
                         timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await group_caught_up(bootstrap, group, topic, partitions):
        assert loop.time() < deadline, f"group {group} did not catch up in {timeout}s"
        await asyncio.sleep(0.5)


class CollectedAlerts:
    """An alert output that keeps what it is given (in-process instances)."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    async def submit(self, alerts: list[Alert]) -> None:
        self.alerts.extend(alerts)


def topology(bootstrap: str, group: str, partitions: int = 6, **extra: Any) -> TopologyConfig:
    return TopologyConfig(mode="detect", bootstrap_servers=[bootstrap], events_topic="events",
                          events_partitions=partitions, group_id=group, session_timeout=6.0,
                          commit_interval=0.2, revoke_timeout=5.0, **extra)


@pytest.fixture
async def stopper() -> AsyncIterator[list[asyncio.Event]]:
    stops: list[asyncio.Event] = []
    yield stops
    for stop in stops:
        stop.set()


# -- unit-level properties of the topic records --------------------------------------------

def test_correlation_key_is_the_first_key_field_an_event_has() -> None:
    keys = ["source.ip", "user.name", "host.name"]
    event = Event(message="x", fields={"source.ip": "198.51.100.4", "user.name": "root"})
    assert correlation_key(event, keys) == b"source.ip=198.51.100.4"
    assert correlation_key(Event(message="x", fields={"host.name": "db-1"}), keys) == \
        b"host.name=db-1"
    assert correlation_key(Event(message="x"), keys) is None


def test_events_survive_the_trip_through_the_topic_with_their_time_and_labels() -> None:
    event = Event(message="Failed password", received=T0 + 5, action="ssh_login_failed",
                  fields={"source.ip": "203.0.113.9", "source.port": 2222,
                          "user.name": "root"})
    back = decode_event(encode_event(event).decode(), received=T0 + 999)
    assert back is not None
    assert back.action == "ssh_login_failed"
    assert back.fields == event.fields
    # No timestamp in the line: its arrival at stage 1 is its time everywhere after.
    assert back.event_time == T0 + 5
    assert decode_event("not json", 0.0) is None


def test_a_decoded_records_event_code_and_provider_survive_the_topic() -> None:
    event = Event(message="<Event ...>", received=T0, action="login_failed",
                  fields={"event.code": "4625", "event.provider": "Microsoft-Windows-Security",
                          "source.ip": "192.0.2.8"})
    back = decode_event(encode_event(event).decode(), received=T0)
    assert back is not None
    assert back.action == "login_failed"
    assert back.fields == event.fields  # not event.category/type/outcome: the action's


def test_an_event_too_big_for_a_kafka_record_is_cut_not_stuck() -> None:
    event = Event(message="A" * 3_000_000, received=T0)
    value = encode_event(event)
    assert len(value) < 1_000_000
    assert orjson.loads(value)["logsentry"]["truncated"] is True


# -- stage 1 -----------------------------------------------------------------------------

async def test_stage_one_produces_events_keyed_so_one_address_lands_on_one_partition(
        kafka_broker: str, tmp_path: Path, stopper: list[asyncio.Event]) -> None:
    log = tmp_path / "access.log"
    lines = []
    for n in range(40):
        ip = f"198.51.100.{n % 8 + 1}"
        lines.append(f'{ip} - - [01/Mar/2026:12:00:{n:02d} +0000] "GET /a{n} HTTP/1.1" 404 12')
    log.write_text("\n".join(lines) + "\n")
    config = Config.model_validate({
        "state_dir": str(tmp_path / "state"),
        "sources": [FileSourceConfig(paths=[str(log)], start_at="beginning").model_dump()],
        "analysis": {"analyzer": "none"},
        "sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}],
    })
    stage1 = topology(kafka_broker, "unused", partitions=4).model_copy(update={"mode": "analyze"})
    stop = asyncio.Event()
    stopper.append(stop)
    task = asyncio.create_task(run_stages(config, stage1, stop))
    consumer = AIOKafkaConsumer("events", bootstrap_servers=kafka_broker, group_id="check",
                                auto_offset_reset="earliest")
    await wait_until(lambda: (tmp_path / "state").exists(), 10)
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(30):
            while len(records) < 40:
                batch = await consumer.getmany(timeout_ms=500)
                for recs in batch.values():
                    records.extend(recs)
    finally:
        await consumer.stop()
    stop.set()
    await asyncio.wait_for(task, 20)
    partitions_of: dict[bytes, set[int]] = {}
    for record in records:
        partitions_of.setdefault(record.key, set()).add(record.partition)
        doc = orjson.loads(record.value)
        assert record.key == f"source.ip={doc['source']['ip']}".encode()
        assert "@timestamp" in doc
    assert len(partitions_of) == 8
    assert all(len(parts) == 1 for parts in partitions_of.values())


# -- stage 2: scale-out ----------------------------------------------------------------------

async def run_instances(count: int, bootstrap: str, group: str, events: list[Event],
                        stops: list[asyncio.Event]) -> set[tuple[str, str]]:
    """Run `count` in-process stage-2 members over `events`; their alerts' (rule, id)."""
    config = topology(bootstrap, group)
    await ensure_events_topic(config)
    outputs: list[CollectedAlerts] = []
    tasks = []
    for index in range(count):
        output = CollectedAlerts()
        outputs.append(output)
        stage = DetectStage(config, Config().detection, output)
        stop = asyncio.Event()
        stops.append(stop)
        tasks.append(asyncio.create_task(stage.run(stop)))
        if index == 0:
            # The others join once the first is under way: partitions move
            # mid-stream, and their new owners rebuild the state by replay.
            await wait_until(lambda: len(outputs[0].alerts) > 0, 20)
    await wait_caught_up(bootstrap, group, "events", 6, timeout=40)
    for stop in stops[-count:]:
        stop.set()
    # Members that leave together wait out the rebalance the first leave starts (about
    # 11 s for three on an idle machine, past 20 s on a loaded CI box): a bound, not a
    # speed test.
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    return {(a.rule_id, a.dedup_id) for output in outputs for a in output.alerts}


async def test_three_instances_in_one_group_raise_exactly_the_alerts_of_one(
        kafka_broker: str, stopper: list[asyncio.Event]) -> None:
    events = attack_events(80)
    expected = reference_alerts(events)
    assert len(expected) > 80
    await ensure_events_topic(topology(kafka_broker, "x"))
    await produce_events(kafka_broker, "events", events, ["source.ip", "user.name", "host.name"])
    one = await run_instances(1, kafka_broker, "one", events, stopper)
    three = await run_instances(3, kafka_broker, "three", events, stopper)
    assert one == expected
    assert three == one


# -- stage 2: an instance killed mid-stream ------------------------------------------------

def instance_config(tmp_path: Path, index: int, bootstrap: str) -> Path:
    root = tmp_path / f"instance{index}"
    root.mkdir()
    doc = {
        "state_dir": str(root / "state"),
        "analysis": {"analyzer": "none"},
        "sinks": [{"type": "jsonl", "name": "alerts", "path": str(root / "alerts.jsonl")}],
        "spool": {"fsync": False},
        "logging": {"level": "info", "format": "json"},
        "service": {"metrics": {"enabled": False}},
        "topology": {
            "mode": "detect", "bootstrap_servers": [bootstrap], "events_topic": "events",
            "events_partitions": 6, "group_id": "killed", "session_timeout": 6.0,
            "commit_interval": 0.2, "revoke_timeout": 5.0,
        },
    }
    path = root / "config.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(5)


def alerts_in(path: Path) -> set[tuple[str, str]]:
    if not path.exists():
        return set()
    found = set()
    for line in path.read_bytes().splitlines():
        doc = orjson.loads(line)
        found.add((doc["rule"]["id"], doc["event"]["id"]))
    return found


async def test_killing_one_of_three_instances_mid_stream_loses_no_alert(
        kafka_broker: str, tmp_path: Path,
        processes: list[subprocess.Popen[bytes]]) -> None:
    events = attack_events(120, seed=11)
    expected = reference_alerts(events)
    configs = [instance_config(tmp_path, i, kafka_broker) for i in range(3)]
    await ensure_events_topic(topology(kafka_broker, "killed"))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for config in configs:
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "logsentry.cli", "run", "--config", str(config)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL,
            stderr=open(config.parent / "stderr.log", "wb")))  # noqa: SIM115
    third = len(events) // 3
    keys = ["source.ip", "user.name", "host.name"]
    await produce_events(kafka_broker, "events", events[:third], keys)
    # Every instance is working (has delivered alerts) before one is killed.
    assert await wait_until(
        lambda: all(alerts_in(c.parent / "alerts.jsonl") for c in configs), 40, 0.2)
    rest = asyncio.create_task(
        produce_events(kafka_broker, "events", events[third:], keys, pause_every=40, pause=0.1))
    await asyncio.sleep(0.5)
    processes[0].send_signal(signal.SIGKILL)
    processes[0].wait(5)
    await rest
    await wait_caught_up(kafka_broker, "killed", "events", 6, timeout=40)
    for process in processes[1:]:
        process.send_signal(signal.SIGTERM)
    for process in processes[1:]:
        assert process.wait(20) == 0
    # The killed instance's spool holds alerts it accepted but had not yet
    # delivered: its restart (here: opening its outputs) delivers them.
    from logsentry.assembly import open_outputs

    killed = load_config(configs[0])
    outputs = await open_outputs(killed, killed.state_dir)
    await outputs.close(10.0)
    delivered: set[tuple[str, str]] = set()
    for config_path in configs:
        delivered |= alerts_in(config_path.parent / "alerts.jsonl")
    missing = expected - delivered
    assert not missing, f"{len(missing)} alerts lost: {sorted(missing)[:5]}"
    assert delivered == expected


# -- seen from outside: topic creation and readiness ------------------------------------------

async def test_a_second_instance_finds_the_events_topic_instead_of_creating_it(
        kafka_broker: str) -> None:
    config = topology(kafka_broker, "created")
    with structlog.testing.capture_logs() as first:
        await ensure_events_topic(config)
    with structlog.testing.capture_logs() as second:
        await ensure_events_topic(config)
    assert [e["event"] for e in first] == ["events_topic_created"]
    # Tansu, like Kafka, answers TOPIC_ALREADY_EXISTS (36) in the reply, raising nothing.
    assert [e["event"] for e in second] == ["events_topic_exists"]


def create_topics_reply(topic: str, code: int, message: str | None) -> Any:
    """A CreateTopics v3 reply as aiokafka decodes it off the wire."""
    reply = CreateTopicsResponse_v3(throttle_time_ms=0, topic_errors=[(topic, code, message)])
    return CreateTopicsResponse_v3.decode(reply.encode())


def test_a_topic_the_broker_refuses_is_an_error_and_a_retriable_one_is_retried() -> None:
    config = topology("127.0.0.1:9", "refused")
    denied = create_topics_reply("events", 29, "User:logsentry may not create")
    with pytest.raises(KafkaTopicError, match=r"TOPIC_AUTHORIZATION_FAILED.*may not create"):
        topic_created(config, denied)
    assert topic_created(config, create_topics_reply("events", 7, None)) is False  # timed out
    assert topic_created(config, create_topics_reply("events", 0, None)) is True


async def readyz(server: MonitoringServer) -> tuple[int, str]:
    def fetch() -> tuple[int, str]:
        try:
            with urllib.request.urlopen(server.url + "/readyz", timeout=5) as reply:
                return int(reply.status), reply.read().decode()
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read().decode()
    return await asyncio.to_thread(fetch)


def held_partitions(body: str) -> set[str]:
    """The partitions a `/readyz` body says the detect stage holds."""
    line = next(line for line in body.splitlines() if line.startswith("topology: "))
    held = line.split("detect group ready: ", 1)[1]
    return set() if held.startswith("no partitions") else set(held.split(","))


async def test_readyz_says_ready_once_each_instance_has_its_partitions_and_lists_them(
        kafka_broker: str, tmp_path: Path, stopper: list[asyncio.Event]) -> None:
    await ensure_events_topic(topology(kafka_broker, "ready"))
    servers, tasks, seen = [], [], []
    try:
        for index in range(2):
            config = Config.model_validate({
                "state_dir": str(tmp_path / f"state{index}"),
                "sinks": [{"type": "jsonl", "path": str(tmp_path / f"alerts{index}.jsonl")}],
                "topology": topology(kafka_broker, "ready").model_dump()})
            health = HealthState()
            health.set_ready()  # the daemon's part: what is left is the stages'
            server = MonitoringServer(MetricsConfig(port=0), health)
            await server.start()
            servers.append(server)
            stop = asyncio.Event()
            stopper.append(stop)
            tasks.append(asyncio.create_task(
                run_stages(config, config.topology, stop, health=health)))
            seen.append(await readyz(server))
            deadline = asyncio.get_running_loop().time() + 30
            while (await readyz(server))[0] != 200:
                assert asyncio.get_running_loop().time() < deadline, await readyz(server)
                await asyncio.sleep(0.1)
        # Both in the group: together they hold every partition, each its own.
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            bodies = [(await readyz(server))[1] for server in servers]
            if all("rebalancing" not in b and "positioning" not in b for b in bodies):
                held = [held_partitions(body) for body in bodies]
                if held[0] | held[1] == {f"events-{p}" for p in range(6)}:
                    break
            assert asyncio.get_running_loop().time() < deadline, bodies
            await asyncio.sleep(0.1)
        assert held[0] and held[1] and not held[0] & held[1]
    finally:
        for stop in stopper:
            stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
        for server in servers:
            await server.close()
    # Right after start, before its group gave it partitions, an instance is not ready.
    assert all(status == 503 for status, _ in seen), seen
    assert all("topology: " in body for _, body in seen), seen
