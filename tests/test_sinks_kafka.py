"""The Kafka topic sink against the Tansu broker on loopback."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer

from logsentry.sinks.config import KafkaTopicSinkConfig
from logsentry.sinks.kafka_topic import KafkaTopicSink, message_key
from logsentry.spool.alert_delivery import AlertDelivery
from logsentry.spool.config import SpoolConfig
from tests.servers.alerts import numbered_alert, seq_of
from tests.servers.kafka import kafka_broker
from tests.servers.ports import wait_until

__all__ = ["kafka_broker"]

FAST = SpoolConfig(initial_backoff=0.05, max_backoff=0.5, breaker_failures=50,
                   breaker_open_seconds=0.5, send_timeout=20.0)


async def consume(bootstrap: str, topic: str, count: int, timeout: float = 20.0) -> list[
        tuple[bytes | None, dict[str, object]]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    out: list[tuple[bytes | None, dict[str, object]]] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(out) < count and loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                out.extend((m.key, orjson.loads(m.value)) for m in messages)
    finally:
        await consumer.stop()
    return out


async def test_alerts_are_produced_keyed_by_group(kafka_broker: str, tmp_path: Path) -> None:
    config = KafkaTopicSinkConfig(name="kafka", bootstrap_servers=[kafka_broker],
                                  topic="alerts", timeout=10.0)
    sink = KafkaTopicSink(config, "kafka")
    delivery = await AlertDelivery.open(tmp_path, [(config, sink)], FAST)
    alerts = [numbered_alert(n, group={"source.ip": f"10.0.0.{n % 3}"}) for n in range(30)]
    await delivery.submit(alerts)
    assert await wait_until(lambda: delivery.pending()["kafka"] == 0, 30)
    await delivery.close(1.0)
    received = await consume(kafka_broker, "alerts", 30)
    assert sorted(seq_of(doc) for _, doc in received) == list(range(30))  # type: ignore[arg-type]
    for key, doc in received:
        number = seq_of(doc)  # type: ignore[arg-type]
        assert key == message_key(alerts[number])
        assert orjson.loads(key or b"{}") == {"source.ip": f"10.0.0.{number % 3}"}
    # One group, one partition: per-group order holds.
    by_key: dict[bytes | None, list[int]] = {}
    for key, doc in received:
        by_key.setdefault(key, []).append(seq_of(doc))  # type: ignore[arg-type]
    assert all(seqs == sorted(seqs) for seqs in by_key.values())


async def test_broker_down_at_start_is_retried_not_fatal(tmp_path: Path) -> None:
    from tests.servers.ports import free_port

    config = KafkaTopicSinkConfig(name="kafka", bootstrap_servers=[f"127.0.0.1:{free_port()}"],
                                  topic="alerts", timeout=1.0)
    delivery = await AlertDelivery.open(tmp_path, [(config, KafkaTopicSink(config, "kafka"))],
                                        FAST)
    await delivery.submit([numbered_alert(1)])
    await asyncio.sleep(1.5)
    assert delivery.pending() == {"kafka": 1}
    await delivery.close(0.1)
