"""The Kafka source against a real Kafka-protocol broker (Tansu) started by the tests."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiokafka
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic import SecretStr, ValidationError

from logsentry.analysis.noop import NoopAnalyzer
from logsentry.config import PipelineConfig
from logsentry.core.event import Event
from logsentry.core.metrics import CONSUMER_LAG, LINES_MALFORMED, REGISTRY
from logsentry.pipeline import Pipeline
from logsentry.sources.base import LineBatch
from logsentry.sources.config import KafkaSourceConfig
from logsentry.sources.kafka import KafkaPosition, KafkaSource, heartbeat_ms
from logsentry.topology.config import TopologyConfig
from logsentry.transport.tls import TlsConfig
from tests.servers.kafka import kafka_broker, tansu_path
from tests.servers.ports import free_port, wait_for_port, wait_until

__all__ = ["kafka_broker"]



async def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False,
                              max_request_size=8 * 1024 * 1024)
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


async def committed(bootstrap: str, group: str, topic: str, partitions: int) -> dict[int, int]:
    """The group's committed offsets, read by an outside client (not a group member)."""
    client = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group,
                              enable_auto_commit=False)
    await client.start()
    try:
        result = {}
        for p in range(partitions):
            offset = await client.committed(TopicPartition(topic, p))
            if offset is not None:
                result[p] = offset
        return result
    finally:
        await client.stop()


def committed_by(source: KafkaSource, topic: str, partition: int) -> int:
    """What `source` committed for the partition; -1 while it does not own it."""
    progress = source.progress.get(TopicPartition(topic, partition))
    return progress.committed if progress is not None else -1


def source_config(bootstrap: str, topic: str, **extra: Any) -> KafkaSourceConfig:
    options: dict[str, Any] = {"group_id": "g", "commit_interval": 0.2, "session_timeout": 6.0,
                               "revoke_timeout": 5.0}
    return KafkaSourceConfig(bootstrap_servers=[bootstrap], topics=[topic],
                             **(options | extra))


class Reader:
    """Runs a KafkaSource into a queue; `take()` gets batches, `done()` commits them."""

    def __init__(self, source: KafkaSource, queue_size: int = 64) -> None:
        self.source = source
        self.queue: asyncio.Queue[LineBatch] = asyncio.Queue(queue_size)
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(source.run(self.queue, self.stop))

    async def take(self, lines: int, timeout: float = 20.0, commit: bool = True) -> list[str]:
        got: list[str] = []
        async with asyncio.timeout(timeout):
            while len(got) < lines:
                batch = await self.queue.get()
                got += batch.lines
                if commit:
                    self.source.commit(batch.position)
        return got

    async def close(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 10)
        await self.source.close()


async def test_lines_are_read_from_every_partition_and_committed_once_processed(
        kafka_broker: str) -> None:
    await create_topic(kafka_broker, "logs", 3)
    async with producer(kafka_broker) as client:
        for i in range(60):
            await client.send("logs", f"line {i}".encode(), partition=i % 3)
        await client.flush()
    source = source_config(kafka_broker, "logs").build(None)
    assert isinstance(source, KafkaSource)
    reader = Reader(source)
    got = await reader.take(60, commit=False)
    assert sorted(got) == sorted(f"line {i}" for i in range(60))
    await asyncio.sleep(0.6)  # several commit intervals
    # Nothing was processed yet: nothing may be committed.
    assert await committed(kafka_broker, "g", "logs", 3) == {}
    # Positions are per partition: the next offset after the batch.
    source.commit(KafkaPosition(TopicPartition("logs", 1), 20, source.progress[
        TopicPartition("logs", 1)].epoch))
    await wait_until(lambda: committed_by(source, "logs", 1) == 20, 5)
    assert await committed(kafka_broker, "g", "logs", 3) == {1: 20}
    await reader.close()


async def test_pipeline_commits_kafka_offsets_after_the_event_outputs_have_the_events(
        kafka_broker: str) -> None:
    await create_topic(kafka_broker, "logs", 2)
    async with producer(kafka_broker) as client:
        for i in range(200):
            await client.send("logs", f"sshd[1]: line {i}".encode(), partition=i % 2)
        await client.flush()
    received: list[Event] = []

    async def output(events: list[Event]) -> None:
        received.extend(events)

    source = KafkaSource(source_config(kafka_broker, "logs"))
    pipeline = Pipeline([source], NoopAnalyzer(), event_outputs=[output],
                        config=PipelineConfig(queue_batches=2, drain_timeout=5.0))
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    assert await wait_until(lambda: len(received) >= 200, 20)
    stop.set()
    await asyncio.wait_for(task, 15)
    assert sorted(e.message for e in received) == sorted(f"sshd[1]: line {i}" for i in range(200))
    assert all(e.source == source.name for e in received)
    # The source closed after the drain: everything processed is committed.
    assert await committed(kafka_broker, "g", "logs", 2) == {0: 100, 1: 100}


async def test_json_values_give_the_message_and_fields_from_json_and_headers(
        kafka_broker: str) -> None:
    await create_topic(kafka_broker, "json", 1)
    async with producer(kafka_broker) as client:
        doc = {"message": "Failed password for root from 203.0.113.9 port 22 ssh2",
               "host": {"name": "web-1"}, "@timestamp": "2026-01-01T00:00:00Z"}
        await client.send("json", orjson.dumps(doc), headers=[("service", b"sshd")],
                          key=b"k1")
        await client.send("json", b"plain text line")
        await client.send("json", b'{"no_message": 1}')
        await client.flush()
    config = source_config(kafka_broker, "json", fields={
        "host.name": "json:host.name", "service.name": "header:service",
        "labels.kafka_key": "kafka:key", "labels.partition": "kafka:partition"})
    source = KafkaSource(config)
    reader = Reader(source)
    batches: list[LineBatch] = []
    async with asyncio.timeout(20):
        while sum(len(b.lines) for b in batches) < 3:
            batches.append(await reader.queue.get())
    lines = [line for b in batches for line in b.lines]
    fields = [f for b in batches for f in (b.fields or [{}] * len(b.lines))]
    assert lines[0] == doc["message"]
    assert fields[0] == {"host.name": "web-1", "service.name": "sshd",
                         "labels.kafka_key": "k1", "labels.partition": "0"}
    assert lines[1] == "plain text line"  # format auto: not JSON, a line
    assert lines[2] == '{"no_message": 1}'  # JSON without the field: the document is the line
    await reader.close()


def malformed(reason: str, source: str) -> float:
    return REGISTRY.get_sample_value(
        "logsentry_lines_malformed_total", {"source": source, "reason": reason}) or 0.0


async def test_poison_messages_are_counted_and_skipped_without_stalling_their_partition(
        kafka_broker: str) -> None:
    await create_topic(kafka_broker, "poison", 1)
    config = source_config(kafka_broker, "poison", name="poison-src", max_line_bytes=1_048_576)
    async with producer(kafka_broker) as client:
        await client.send("poison", b"before")
        await client.send("poison", b"\xff\xfe bad \x00 bytes \xc3")
        await client.send("poison", b"A" * 5_000_000)
        await client.send("poison", None, key=b"gone")  # tombstone
        await client.send("poison", b"{\"message\": \"cut")  # invalid JSON
        await client.send("poison", b"after")
        await client.flush()
    assert LINES_MALFORMED is not None
    source = KafkaSource(config)
    reader = Reader(source)
    got = await reader.take(6)
    assert got[0] == "before"
    assert got[1] == "\ufffd\ufffd bad \ufffd bytes \ufffd"
    assert got[2] == "A" * 1_048_576  # cut at the cap, counted
    assert got[3] == ""
    assert got[4] == '{"message": "cut'
    assert got[5] == "after"  # the partition did not stall
    assert malformed("invalid_utf8", "poison-src") == 1
    assert malformed("nul_bytes", "poison-src") == 1
    assert malformed("truncated", "poison-src") == 1
    assert malformed("empty_value", "poison-src") == 1
    assert malformed("invalid_json", "poison-src") == 1
    assert await wait_until(
        lambda: committed_by(source, "poison", 0) == 6, 5)
    await reader.close()


async def test_a_full_pipeline_queue_pauses_fetching_and_resumes_when_it_drains(
        kafka_broker: str) -> None:
    await create_topic(kafka_broker, "bp", 2)
    async with producer(kafka_broker) as client:
        for i in range(400):
            await client.send("bp", f"line {i}".encode(), partition=i % 2)
        await client.flush()
    source = KafkaSource(source_config(kafka_broker, "bp", max_batch=10))
    reader = Reader(source, queue_size=1)
    assert await wait_until(lambda: reader.queue.full() and source.consumer is not None
                            and len(source.consumer.paused()) == 2, 20)
    # Blocked: the queue holds one batch, the source holds one more, no fetching.
    await asyncio.sleep(0.5)
    assert reader.queue.qsize() == 1
    assert len(source.consumer.paused()) == 2  # type: ignore[union-attr]
    got = await reader.take(400)
    assert sorted(got) == sorted(f"line {i}" for i in range(400))
    consumer = source.consumer
    assert consumer is not None
    assert await wait_until(lambda: consumer.paused() == set(), 5)
    await reader.close()


async def test_consumer_lag_is_exported_per_partition(kafka_broker: str) -> None:
    await create_topic(kafka_broker, "lag", 1)
    async with producer(kafka_broker) as client:
        for i in range(30):
            await client.send("lag", f"line {i}".encode())
        await client.flush()
    source = KafkaSource(source_config(kafka_broker, "lag", max_batch=10))
    reader = Reader(source)
    await reader.take(10)  # commit the first 10 only
    await reader.take(20, commit=False)
    source._update_lag()
    assert CONSUMER_LAG.labels("lag", "0")._value.get() == 20
    await reader.close()


async def test_a_rebalance_hands_partitions_over_after_committing_what_was_processed(
        kafka_broker: str) -> None:
    await create_topic(kafka_broker, "rb", 4)
    total = 600

    async def produce() -> None:
        async with producer(kafka_broker) as client:
            for i in range(total):
                await client.send("rb", f"line {i}".encode(), partition=i % 4)
                await asyncio.sleep(0.01)

    got: dict[str, list[str]] = {"first": [], "second": []}

    async def drain(name: str, reader: Reader) -> None:
        while True:
            batch = await reader.queue.get()
            got[name].extend(batch.lines)
            reader.source.commit(batch.position)

    producing = asyncio.create_task(produce())
    first = Reader(KafkaSource(source_config(kafka_broker, "rb", max_batch=20)), queue_size=2)
    drains = [asyncio.create_task(drain("first", first))]
    assert await wait_until(lambda: len(got["first"]) >= 50, 20)
    second = Reader(KafkaSource(source_config(kafka_broker, "rb", max_batch=20)), queue_size=2)
    drains.append(asyncio.create_task(drain("second", second)))
    await producing
    assert await wait_until(lambda: len(got["first"]) + len(got["second"]) >= total, 30)
    await asyncio.sleep(0.5)
    for task in drains:
        task.cancel()
    everything = got["first"] + got["second"]
    # Every line was read; a line is read twice only when its batch was still
    # in flight at the handover (the at-least-once window): here none was,
    # since the revoked member waited for its batches and committed them
    # before letting its partitions go.
    assert sorted(set(everything)) == sorted(f"line {i}" for i in range(total))
    assert len(everything) == total
    assert got["second"], "the newcomer got partitions and read them"
    await first.close()
    await second.close()
    assert await committed(kafka_broker, "g", "rb", 4) == {p: total // 4 for p in range(4)}


@contextlib.contextmanager
def tansu_on(port: int) -> Iterator[subprocess.Popen[bytes]]:
    binary = tansu_path()
    assert binary is not None
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
         "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, 15)
        yield process
    finally:
        process.kill()
        process.wait(5)


async def test_the_source_survives_a_broker_restart_and_reads_on(kafka_broker: str) -> None:
    # The in-memory broker loses its log and the group's offsets when it
    # restarts; a real broker keeps both. So the test restores what a
    # persistent broker would hold (the topic and its first 20 records) and
    # then produces new records: the source must ride out the outage,
    # reconnect, rejoin and read every new record. Depending on whether the
    # group noticed the restart, it reads on from offset 20 or (group state
    # lost) from the beginning again: at least once, nothing missed.
    port = free_port()
    bootstrap = f"127.0.0.1:{port}"
    before = [f"before {i}" for i in range(20)]
    after = [f"after {i}" for i in range(30)]
    with tansu_on(port):
        await create_topic(bootstrap, "rs", 1)
        async with producer(bootstrap) as client:
            for line in before:
                await client.send("rs", line.encode())
        source = KafkaSource(source_config(bootstrap, "rs"))
        reader = Reader(source)
        assert sorted(await reader.take(20)) == sorted(before)
        assert await wait_until(
            lambda: committed_by(source, "rs", 0) == 20, 5)
    await asyncio.sleep(1.0)  # the broker is down; the source keeps retrying
    assert not reader.task.done()
    with tansu_on(port):
        await create_topic(bootstrap, "rs", 1)
        async with producer(bootstrap) as client:
            for line in before + after:
                await client.send("rs", line.encode())
        got: list[str] = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                while not set(after) <= set(got):
                    got += await reader.take(1)
        assert set(after) <= set(got) <= set(before + after), (got, source.progress)
        assert await wait_until(
            lambda: committed_by(source, "rs", 0) == 50, 5)
        await reader.close()


async def test_a_restarted_member_resumes_from_the_committed_offset(kafka_broker: str) -> None:
    await create_topic(kafka_broker, "resume", 1)
    async with producer(kafka_broker) as client:
        for i in range(30):
            await client.send("resume", f"line {i}".encode())
        await client.flush()
    reader = Reader(KafkaSource(source_config(kafka_broker, "resume", max_batch=10)))
    await reader.take(10)  # processed and committed
    await reader.take(20, commit=False)  # read, never processed (a crash)
    await reader.close()
    again = Reader(KafkaSource(source_config(kafka_broker, "resume", max_batch=10)))
    assert await again.take(20) == [f"line {i}" for i in range(10, 30)]
    await again.close()


async def read_batches(bootstrap: str, topic: str, group: str, lines: int,
                       ) -> tuple[KafkaSource, list[LineBatch]]:
    source = KafkaSource(source_config(bootstrap, topic, group_id=group, max_batch=100))
    reader = Reader(source)
    batches: list[LineBatch] = []
    async with asyncio.timeout(20):
        while sum(len(b.lines) for b in batches) < lines:
            batches.append(await reader.queue.get())
            source.commit(batches[-1].position)
    await reader.close()
    return source, batches


def by_partition(batches: list[LineBatch]) -> dict[int, list[tuple[str, int]]]:
    """Each partition's lines with their next offsets, checking each batch's position."""
    got: dict[int, list[tuple[str, int]]] = {}
    for batch in batches:
        assert batch.offsets is not None and len(batch.offsets) == len(batch.lines)
        assert batch.position.offset == batch.offsets[-1]
        got.setdefault(batch.position.partition.partition, []).extend(
            zip(batch.lines, batch.offsets, strict=True))
    return got


async def test_record_runs_give_the_batches_aiokafkas_records_give(
        kafka_broker: str, monkeypatch: pytest.MonkeyPatch) -> None:
    await create_topic(kafka_broker, "runs", 2)
    poison = [None, b"", b"\xff\xfe bad", b"nul \x00", b"crlf\r", b'{"message": "m"}',
              b"two\nlines", b"B" * 2_000_000]
    async with producer(kafka_broker) as client:
        for i in range(1200):  # in several producer batches per partition
            value = poison[i // 100] if i % 100 == 50 and i // 100 < len(poison) \
                else f"sshd[1]: line {i}".encode()
            await client.send("runs", value, key=b"k", partition=i % 2)
        await client.flush()
    fast, fast_batches = await read_batches(kafka_broker, "runs", "runs-fast", 1200)
    # Another aiokafka release: the same source reads ConsumerRecords.
    monkeypatch.setattr(aiokafka, "__version__", "0.0.0")
    normal, normal_batches = await read_batches(kafka_broker, "runs", "runs-normal", 1200)
    assert by_partition(fast_batches) == by_partition(normal_batches)
    assert sum(len(lines) for lines in by_partition(fast_batches).values()) == 1200
    assert {p: len(lines) for p, lines in by_partition(fast_batches).items()} == {0: 600, 1: 600}
    assert [f for b in fast_batches for f in b.fields or [{}] * len(b.lines)] == \
        [f for b in normal_batches for f in b.fields or [{}] * len(b.lines)]
    assert fast.consumer is None and normal.consumer is None  # closed
    assert fast.runs and not normal.runs
    assert await committed(kafka_broker, "runs-fast", "runs", 2) == {0: 600, 1: 600}


async def test_closing_commits_what_was_processed_since_the_last_interval(
        kafka_broker: str) -> None:
    await create_topic(kafka_broker, "close", 1)
    async with producer(kafka_broker) as client:
        for i in range(30):
            await client.send("close", f"line {i}".encode())
        await client.flush()
    # No interval commit happens before the close.
    reader = Reader(KafkaSource(source_config(kafka_broker, "close", commit_interval=600.0)))
    await reader.take(30)
    await reader.close()
    assert await committed(kafka_broker, "g", "close", 1) == {0: 30}


async def test_with_detection_checkpoints_the_group_gets_only_offsets_a_written_one_holds(
        kafka_broker: str) -> None:
    await create_topic(kafka_broker, "held", 1)
    async with producer(kafka_broker) as client:
        for i in range(30):
            await client.send("held", f"line {i}".encode())
        await client.flush()
    source = KafkaSource(source_config(kafka_broker, "held"))
    source.hold_positions()  # the pipeline does this when its detector keeps checkpoints
    reader = Reader(source)
    await reader.take(30)
    await asyncio.sleep(0.6)  # three commit intervals
    assert await committed(kafka_broker, "g", "held", 1) == {}
    assert source.checkpoint_position() == {"offsets": [["held", 0, 30]]}
    source.persist_position({"offsets": [["held", 0, 20]]})  # a checkpoint was written
    assert await wait_until(lambda: committed_by(source, "held", 0) == 20, 5)
    await reader.close()
    assert await committed(kafka_broker, "g", "held", 1) == {0: 20}
    # A restart whose restored state is ahead of the group (killed between writing the
    # checkpoint and committing it) reads on from the state's end, and commits it.
    again = KafkaSource(source_config(kafka_broker, "held"))
    again.hold_positions()
    assert again.resume_from({"offsets": [["held", 0, 25]]})
    reader = Reader(again)
    assert await reader.take(5) == [f"line {i}" for i in range(25, 30)]
    assert await wait_until(lambda: committed_by(again, "held", 0) == 25, 5)
    await reader.close()


async def test_a_partition_a_rebalance_hands_back_resumes_where_the_members_state_ends(
        kafka_broker: str) -> None:
    # With checkpoints the group lags the member's state; a partition it keeps
    # through a rebalance (revoked and assigned again) must not be read twice.
    await create_topic(kafka_broker, "back", 2)
    async with producer(kafka_broker) as client:
        for i in range(40):
            await client.send("back", f"line {i}".encode(), partition=i % 2)
        await client.flush()
    first = KafkaSource(source_config(kafka_broker, "back", group_id="back"))
    first.hold_positions()
    reader = Reader(first)
    assert sorted(await reader.take(40)) == sorted(f"line {i}" for i in range(40))
    second = KafkaSource(source_config(kafka_broker, "back", group_id="back"))
    second.hold_positions()
    newcomer = Reader(second)
    # The newcomer's state is empty: it reads its partition from the start.
    assert len(await newcomer.take(20)) == 20
    assert await wait_until(lambda: len(first.progress) == 1, 10)
    await asyncio.sleep(1.0)
    assert reader.queue.empty(), "the kept partition was read again"
    await newcomer.close()
    await reader.close()


def test_sasl_and_tls_settings_become_client_options(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECRET", "s3cret")
    config = KafkaSourceConfig(
        bootstrap_servers=["kafka:9093"], topics=["logs"], security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512", sasl_plain_username="logsentry",
        sasl_plain_password=SecretStr("${ENV:KAFKA_SECRET}"), tls=TlsConfig(verify=False))
    options = KafkaSource(config)._options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "logsentry"
    assert options["sasl_plain_password"] == "s3cret"
    assert options["ssl_context"].verify_mode == ssl.CERT_NONE
    assert options["enable_auto_commit"] is False


def test_incomplete_security_settings_are_configuration_errors() -> None:
    with pytest.raises(ValidationError, match="SASL needs"):
        KafkaSourceConfig(bootstrap_servers=["k:9092"], topics=["t"],
                          security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN")
    with pytest.raises(ValidationError, match="needs security_protocol"):
        KafkaSourceConfig(bootstrap_servers=["k:9092"], topics=["t"], sasl_mechanism="PLAIN",
                          sasl_plain_username="u", sasl_plain_password=SecretStr("p"))
    with pytest.raises(ValidationError, match=r"fields\.host\.name"):
        KafkaSourceConfig(bootstrap_servers=["k:9092"], topics=["t"],
                          fields={"host.name": "env:HOST"})


def test_heartbeats_follow_the_session_timeout_unless_configured() -> None:
    base = {"bootstrap_servers": ["127.0.0.1:9"], "topics": ["t"]}
    assert heartbeat_ms(KafkaSourceConfig(**base, session_timeout=6.0)) == 600
    assert heartbeat_ms(KafkaSourceConfig(**base, heartbeat_interval=0.25)) == 250
    with pytest.raises(ValidationError, match="a third of session_timeout"):
        KafkaSourceConfig(**base, session_timeout=6.0, heartbeat_interval=3.0)
    stage = TopologyConfig(mode="detect", bootstrap_servers=["127.0.0.1:9"],
                           session_timeout=9.0, heartbeat_interval=1.5)
    assert heartbeat_ms(stage.events_source()) == 1500
    assert stage.events_source().session_timeout == 9.0
