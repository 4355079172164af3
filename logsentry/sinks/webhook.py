"""Generic webhook: the alert's ECS document as a JSON POST.

With `hmac_secret` set, each request carries
`X-Logsentry-Timestamp: <unix seconds>` and
`<signature_header>: sha256=<hex HMAC-SHA256 of "<timestamp>." + body>`,
so a receiver can check authenticity and reject replays.
2xx is success; 408, 425, 429, 5xx and transport errors are retried
(Retry-After honoured); any other status is permanent for the batch.
"""

from __future__ import annotations

import hashlib
import hmac
import time

import orjson

from logsentry.core.errors import SinkError
from logsentry.sinks.base import Deliverable
from logsentry.sinks.config import WebhookSinkConfig
from logsentry.sinks.control_chars import record_json
from logsentry.transport.http_client import HttpClient
from logsentry.transport.secrets import resolve_secret

_RETRYABLE_4XX = frozenset({408, 425, 429})


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header value of `body` sent at `timestamp`."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return "sha256=" + digest


class WebhookSink:
    """POSTs alerts as JSON, one object per request or an array of `max_batch`."""

    def __init__(self, config: WebhookSinkConfig, name: str | None = None):
        self.name = name or config.name or "webhook"
        self.max_batch = config.max_batch
        self._config = config
        self._http = HttpClient(timeout=config.timeout, tls=config.tls, sink_name=self.name)
        self._url = ""
        self._headers: dict[str, str] = {}
        self._secret: bytes | None = None

    async def start(self) -> None:
        self._url = resolve_secret(self._config.url)
        self._headers = {key: resolve_secret(value) for key, value in self._config.headers.items()}
        self._headers["Content-Type"] = "application/json"
        if self._config.hmac_secret is not None:
            self._secret = resolve_secret(self._config.hmac_secret).encode()
        await self._http.start()

    async def send(self, batch: list[Deliverable]) -> None:
        if not batch:
            return
        if self._config.max_batch == 1 and len(batch) == 1:
            body = record_json(batch[0])
        else:
            body = b"[" + b",".join(record_json(record) for record in batch) + b"]"
        headers = dict(self._headers)
        if self._secret is not None:
            timestamp = str(int(time.time()))
            headers["X-Logsentry-Timestamp"] = timestamp
            headers[self._config.signature_header] = sign(self._secret, timestamp, body)
        response = await self._http.post(self._url, body, headers)
        if 200 <= response.status < 300:
            return
        detail = response.body[:200].decode("utf-8", "replace")
        message = f"{self.name}: HTTP {response.status} {orjson.dumps(detail).decode()}"
        if response.status >= 500 or response.status in _RETRYABLE_4XX:
            raise SinkError(message, retry_after=response.retry_after)
        raise SinkError(message, permanent=True)

    async def close(self) -> None:
        await self._http.close()
