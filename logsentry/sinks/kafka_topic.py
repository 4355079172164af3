"""A Kafka topic: one message per alert, keyed by the alert's group.

The producer uses `acks=all`. Idempotence is opt-in (`enable_idempotence`):
not every broker supports it (the Tansu broker the tests use rejects
InitProducerId), and the spool already gives at-least-once with a stable
`event.id` for deduplication.
Keying by the group keeps all alerts about one entity on one partition, in order.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from logsentry.core.alert import Alert
from logsentry.core.errors import SinkError
from logsentry.sinks.base import Deliverable
from logsentry.sinks.config import KafkaTopicSinkConfig
from logsentry.sinks.control_chars import record_json
from logsentry.transport.secrets import resolve_secret
from logsentry.transport.tls import client_context


def message_key(record: Deliverable) -> bytes | None:
    """The partitioning key: the alert's group fields, canonical JSON."""
    if isinstance(record, Alert):
        return orjson.dumps(record.group, option=orjson.OPT_SORT_KEYS, default=str)
    return None


class KafkaTopicSink:
    """An aiokafka producer writing alerts to one topic."""

    def __init__(self, config: KafkaTopicSinkConfig, name: str | None = None):
        self.name = name or config.name or "kafka_topic"
        self.max_batch = config.max_batch
        self._config = config
        self._producer: Any = None

    async def start(self) -> None:
        await self._ensure_producer()

    async def _ensure_producer(self) -> Any:
        if self._producer is not None:
            return self._producer
        config = self._config
        options: dict[str, Any] = {
            "bootstrap_servers": config.bootstrap_servers,
            "client_id": config.client_id,
            "acks": "all",
            "enable_idempotence": config.enable_idempotence,
            "request_timeout_ms": int(config.timeout * 1000),
            "security_protocol": config.security_protocol,
        }
        if config.security_protocol in ("SSL", "SASL_SSL"):
            options["ssl_context"] = client_context(config.tls)
        if config.sasl_mechanism:
            options["sasl_mechanism"] = config.sasl_mechanism
            options["sasl_plain_username"] = config.sasl_plain_username
            if config.sasl_plain_password is not None:
                options["sasl_plain_password"] = resolve_secret(config.sasl_plain_password)
        producer = AIOKafkaProducer(**options)
        try:
            await asyncio.wait_for(producer.start(), config.timeout)
        except (TimeoutError, KafkaError, OSError) as exc:
            await producer.stop()
            raise SinkError(f"{self.name}: cannot connect: {type(exc).__name__}") from None
        self._producer = producer
        return producer

    async def send(self, batch: list[Deliverable]) -> None:
        if not batch:
            return
        producer = await self._ensure_producer()
        try:
            futures = [
                await producer.send(self._config.topic, record_json(record),
                                    key=message_key(record))
                for record in batch
            ]
            await asyncio.wait_for(asyncio.gather(*futures), self._config.timeout)
        except MessageSizeTooLargeError as exc:
            raise SinkError(f"{self.name}: message too large: {exc}", permanent=True) from None
        except (TimeoutError, KafkaError, OSError) as exc:
            raise SinkError(f"{self.name}: {type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()
