"""Splunk HTTP Event Collector: batched POSTs to `/services/collector/event`.

Authentication is `Authorization: Splunk <token>`. The body is a run of JSON
event objects. HEC answers `{"text": ..., "code": N}`; codes 8 (internal
error), 9 (server busy) and 18 (unhealthy), HTTP 429 and 5xx are retried;
every other code (1-4 token disabled/missing/invalid, 5-7 and 12-13 bad data
or index, 10-11 channel...) is permanent for the batch.
"""

from __future__ import annotations

import socket
from typing import Any

import orjson

from logsentry.core.alert import Alert
from logsentry.core.errors import SinkError
from logsentry.sinks.base import Deliverable
from logsentry.sinks.config import SplunkHecSinkConfig
from logsentry.sinks.control_chars import visible_document
from logsentry.transport.http_client import HttpClient, HttpResponse
from logsentry.transport.secrets import resolve_secret

RETRYABLE_CODES = frozenset({8, 9, 18})
ENDPOINT = "/services/collector/event"


class SplunkHecSink:
    """Delivers batches of alerts to one HEC endpoint."""

    def __init__(self, config: SplunkHecSinkConfig, name: str | None = None):
        self.name = name or config.name or "splunk_hec"
        self.max_batch = config.max_batch
        self._config = config
        self._http = HttpClient(timeout=config.timeout, tls=config.tls, sink_name=self.name)
        self._url = config.url.rstrip("/") + ENDPOINT
        self._headers: dict[str, str] = {}
        self._host = socket.gethostname()

    async def start(self) -> None:
        self._headers = {
            "Authorization": "Splunk " + resolve_secret(self._config.token),
            "Content-Type": "application/json",
        }
        await self._http.start()

    def _event(self, record: Deliverable) -> bytes:
        doc: dict[str, Any] = {
            "host": self._host,
            "source": self._config.source,
            "sourcetype": self._config.sourcetype,
            "event": visible_document(record.to_ecs()),
        }
        if isinstance(record, Alert):
            doc["time"] = round(record.end, 3)
        if self._config.index:
            doc["index"] = self._config.index
        return orjson.dumps(doc)

    async def send(self, batch: list[Deliverable]) -> None:
        if not batch:
            return
        body = b"\n".join(self._event(record) for record in batch)
        self._check(await self._http.post(self._url, body, self._headers))

    def _check(self, response: HttpResponse) -> None:
        code, text = _hec_reply(response.body)
        if response.status == 200 and code in (0, None):
            return
        message = f"{self.name}: HTTP {response.status} HEC code {code} {text!r}"
        if code in RETRYABLE_CODES or response.status == 429 or response.status >= 500:
            raise SinkError(message, retry_after=response.retry_after)
        raise SinkError(message, permanent=True)

    async def close(self) -> None:
        await self._http.close()


def _hec_reply(body: bytes) -> tuple[int | None, str]:
    try:
        reply = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, body[:100].decode("utf-8", "replace")
    if not isinstance(reply, dict):
        return None, ""
    code = reply.get("code")
    return (code if isinstance(code, int) else None), str(reply.get("text", ""))[:200]
