"""The HTTP client shared by the Slack, webhook and Splunk HEC sinks."""

from __future__ import annotations

import asyncio
import email.utils
import time
from dataclasses import dataclass

import aiohttp

from logsentry.core.errors import SinkError
from logsentry.transport.tls import TlsConfig, client_context

# A receiver may ask us to wait; we honour it up to this bound so a bogus
# header cannot park a sink for a day.
MAX_RETRY_AFTER = 900.0


@dataclass(frozen=True, slots=True)
class HttpResponse:
    status: int
    body: bytes
    retry_after: float | None


class HttpClient:
    """One keep-alive connection pool per sink, TLS-verified by default.

    Transport failures (refused, reset, timeout, TLS errors) raise a transient
    SinkError; the status code is the sink's to interpret.
    """

    def __init__(self, *, timeout: float, tls: TlsConfig, sink_name: str):
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._tls = tls
        self._sink_name = sink_name
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            connector = aiohttp.TCPConnector(ssl=client_context(self._tls), limit=4)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout,
                headers={"User-Agent": "logsentry"},
            )

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> HttpResponse:
        """POST `body`; return the response or raise a transient SinkError."""
        await self.start()
        assert self._session is not None
        try:
            async with self._session.post(url, data=body, headers=headers,
                                          allow_redirects=False) as response:
                content = await response.read()
                return HttpResponse(response.status, content,
                                    parse_retry_after(response.headers.get("Retry-After")))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            # The URL may hold a secret (Slack webhooks): name the sink, not the URL.
            raise SinkError(f"{self._sink_name}: {type(exc).__name__}: {_safe(exc)}") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _safe(exc: BaseException) -> str:
    # aiohttp messages can embed the request URL; keep only host-level detail.
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"status {exc.status}"
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    return type(exc).__name__
