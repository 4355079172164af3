"""Slack: incoming webhook, or the Web API `chat.postMessage` with a bot token.

Pacing: Slack accepts about one message per second per webhook. The sink
exposes `next_send_at()`; the spool's deliverer waits for it *before* taking
the next batch, so alerts that arrive meanwhile are folded into one digest
message instead of flooding the channel. The first alert of a quiet period
goes out at once.

Errors: 429 (or `ratelimited`) honours Retry-After; 5xx, timeouts and
connection errors are retried; any other 4xx (`invalid_payload`,
`no_service`, `channel_is_archived`, `invalid_auth`...) is permanent for that
message and ends in the dead-letter file.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import structlog

from logsentry.core.errors import SinkError
from logsentry.sinks.alerts_only import require_alerts
from logsentry.sinks.base import Deliverable
from logsentry.sinks.config import SlackSinkConfig
from logsentry.sinks.slack_blocks import alert_message, digest_message
from logsentry.transport.http_client import HttpClient, HttpResponse
from logsentry.transport.secrets import resolve_secret

log = structlog.get_logger(__name__)

# Web API errors worth retrying; every other `error` is permanent.
_TRANSIENT_API_ERRORS = frozenset({
    "ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
})


class SlackSink:
    """Posts Block Kit alert messages to one Slack webhook or channel."""

    def __init__(self, config: SlackSinkConfig, name: str | None = None):
        self.name = name or config.name or "slack"
        self.max_batch = config.max_digest
        self._config = config
        self._http = HttpClient(timeout=config.timeout, tls=config.tls, sink_name=self.name)
        self._url = ""
        self._headers = {"Content-Type": "application/json; charset=utf-8"}
        self._next_at = 0.0

    async def start(self) -> None:
        if self._config.webhook_url is not None:
            self._url = resolve_secret(self._config.webhook_url)
        else:
            assert self._config.bot_token is not None
            self._url = self._config.api_url.rstrip("/") + "/chat.postMessage"
            self._headers["Authorization"] = "Bearer " + resolve_secret(self._config.bot_token)
        await self._http.start()

    def next_send_at(self) -> float:
        """Monotonic time before which the next message would exceed the rate limit."""
        return self._next_at

    async def send(self, batch: list[Deliverable]) -> None:
        alerts = require_alerts(self.name, batch)
        if not alerts:
            return
        payload = alert_message(alerts[0]) if len(alerts) == 1 else digest_message(alerts)
        if self._config.bot_token is not None:
            payload["channel"] = self._config.channel
            # Pings are defused by escaping; also tell Slack not to resolve names.
            payload["link_names"] = False
        payload["unfurl_links"] = False
        payload["unfurl_media"] = False
        self._next_at = time.monotonic() + self._config.min_interval
        response = await self._http.post(self._url, orjson.dumps(payload), self._headers)
        self._check(response)

    def _check(self, response: HttpResponse) -> None:
        status = response.status
        if status == 429:
            wait = response.retry_after if response.retry_after is not None else 1.0
            self._next_at = max(self._next_at, time.monotonic() + wait)
            raise SinkError(f"{self.name}: rate limited (429)", retry_after=wait)
        error = _error_text(response.body)
        if status >= 500:
            raise SinkError(f"{self.name}: server error {status} {error}")
        if status >= 400:
            raise SinkError(f"{self.name}: rejected {status} {error}", permanent=True)
        if self._config.bot_token is not None:
            self._check_api_body(response)

    def _check_api_body(self, response: HttpResponse) -> None:
        try:
            body: Any = orjson.loads(response.body)
        except orjson.JSONDecodeError:
            raise SinkError(f"{self.name}: unreadable Web API response") from None
        if isinstance(body, dict) and body.get("ok") is True:
            return
        error = str(body.get("error", "unknown")) if isinstance(body, dict) else "unknown"
        if error in _TRANSIENT_API_ERRORS:
            raise SinkError(f"{self.name}: Web API {error}", retry_after=response.retry_after)
        raise SinkError(f"{self.name}: Web API {error}", permanent=True)

    async def close(self) -> None:
        await self._http.close()


def _error_text(body: bytes) -> str:
    # Slack answers webhook errors with a short plain-text code.
    return body[:100].decode("utf-8", "replace").strip()
