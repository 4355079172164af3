"""Stage 1's output: every analyzed event to the events topic, keyed by its correlation key.

Kafka puts all records of one key on one partition, and a partition is read
by one stage-2 instance at a time: so every event of one correlation group
(one attacking address, one user, one host) is correlated in one place.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from logsentry.core.event import Event
from logsentry.core.metrics import SINK_DELIVERIES
from logsentry.pipeline import retry_forever
from logsentry.sources.kafka import security_options
from logsentry.topology.config import TopologyConfig
from logsentry.topology.ecs_event import encode_event

log = structlog.get_logger(__name__)

SEND_TIMEOUT = 30.0


def correlation_key(event: Event, key_fields: list[str]) -> bytes | None:
    """`field=value` of the first key field the event has; None: any partition."""
    fields = event.fields
    for name in key_fields:
        value = fields.get(name)
        if value is not None and value != "":
            return f"{name}={value}".encode()
    return None


class KeyedEventProducer:
    """An event output (see `logsentry.pipeline.EventOutput`) writing to the events topic.

    `send` returns once the broker acknowledged every record (acks=all), so
    the pipeline commits a source position only after its events are in
    the topic. Idempotence stays off (not every broker supports it): a
    retry after a lost acknowledgement may write an event twice, which the
    at-least-once contract allows.
    """

    name = "kafka-events"

    def __init__(self, topology: TopologyConfig) -> None:
        self.topology = topology
        self.topic = topology.events_topic
        self.key_fields = list(topology.key_fields)
        self._producer: Any = None

    async def start(self) -> None:
        if self._producer is not None:
            return
        producer = AIOKafkaProducer(
            bootstrap_servers=self.topology.bootstrap_servers,
            client_id=self.topology.client_id,
            acks="all",
            enable_idempotence=False,
            linger_ms=5,
            max_request_size=8 * 1024 * 1024,
            **security_options(self.topology.events_source()),
        )
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self._producer = producer

    async def _send_once(self, events: list[Event]) -> None:
        await self.start()
        producer = self._producer
        futures = []
        for event in events:
            value = encode_event(event)
            key = correlation_key(event, self.key_fields)
            futures.append(await producer.send(self.topic, value, key=key))
        await asyncio.wait_for(asyncio.gather(*futures), SEND_TIMEOUT)

    async def send(self, events: list[Event]) -> None:
        """Produce `events`; retries (the pipeline waits meanwhile) until the broker has them."""
        if not events:
            return

        async def attempt() -> None:
            try:
                await self._send_once(events)
            except KafkaError:
                await self._reset()
                raise

        await retry_forever(self.name, attempt)
        SINK_DELIVERIES.labels(self.name).inc(len(events))

    async def _reset(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await producer.stop()
            except KafkaError as exc:
                log.warning("kafka_producer_close_failed", error=repr(exc))

    async def close(self) -> None:
        await self._reset()
