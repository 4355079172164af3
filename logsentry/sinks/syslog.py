"""Syslog to a SIEM: RFC 5424 over UDP, TCP or TLS, the alert as CEF or JSON.

TCP and TLS use RFC 6587 octet-counting framing, so nothing in a message can
split it; message bodies hold no raw line breaks either (escaped by CEF/JSON
and made visible otherwise) for receivers that still frame by newline.

Syslog has no application-level acknowledgement: `send()` returns once the
bytes are written to the kernel (TCP/TLS drained). A connection that dies with
bytes in flight can lose them; the spool retries on any write error after
reconnecting, which is the best plain syslog allows (RELP is not supported).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from logsentry.core.alert import Alert
from logsentry.core.errors import SinkError
from logsentry.sinks.base import Deliverable
from logsentry.sinks.cef import format_cef
from logsentry.sinks.config import SyslogSinkConfig
from logsentry.sinks.control_chars import record_json
from logsentry.sinks.rfc5424 import format_message, octet_counted
from logsentry.transport.tls import client_context


class SyslogSink:
    """One connection (or UDP socket) to one syslog receiver."""

    def __init__(self, config: SyslogSinkConfig, name: str | None = None):
        self.name = name or config.name or "syslog"
        self.max_batch = 200
        self._config = config
        self._hostname = config.hostname or socket.gethostname()
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.StreamReader | None = None
        self._udp: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        # Connect lazily in send(): a receiver down at startup is a retry, not a crash.
        return None

    def render(self, alert: Alert) -> bytes:
        """The RFC 5424 message of `alert` (without transport framing)."""
        body = format_cef(alert) if self._config.format == "cef" else record_json(alert).decode()
        return format_message(alert, body, facility=self._config.facility,
                              hostname=self._hostname, app_name=self._config.app_name)

    async def send(self, batch: list[Deliverable]) -> None:
        messages: list[bytes] = []
        for record in batch:
            if not isinstance(record, Alert):
                raise SinkError(f"{self.name}: only alerts can be delivered", permanent=True)
            messages.append(self.render(record))
        if not messages:
            return
        try:
            if self._config.protocol == "udp":
                await self._send_udp(messages)
            else:
                await self._send_stream(messages)
        except (TimeoutError, OSError) as exc:
            await self._disconnect()
            raise SinkError(f"{self.name}: {type(exc).__name__}: {exc}") from None

    async def _send_stream(self, messages: list[bytes]) -> None:
        if self._writer is None or self._writer.is_closing() or (
                self._reader is not None and self._reader.at_eof()):
            await self._disconnect()
            ssl_context = None
            server_hostname = None
            if self._config.protocol == "tls":
                ssl_context = client_context(self._config.tls)
                server_hostname = self._config.tls.server_hostname or self._config.host
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self._config.host, self._config.port, ssl=ssl_context,
                                        server_hostname=server_hostname),
                self._config.timeout)
        assert self._writer is not None
        self._writer.write(b"".join(octet_counted(message) for message in messages))
        await asyncio.wait_for(self._writer.drain(), self._config.timeout)

    async def _send_udp(self, messages: list[bytes]) -> None:
        if self._udp is None or self._udp.is_closing():
            loop = asyncio.get_running_loop()
            self._udp, _ = await loop.create_datagram_endpoint(
                asyncio.DatagramProtocol, remote_addr=(self._config.host, self._config.port))
        limit = self._config.max_udp_bytes
        for message in messages:
            self._udp.sendto(message if len(message) <= limit else message[: limit - 3] + b"...")

    async def _disconnect(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, asyncio.TimeoutError):
                await asyncio.wait_for(self._writer.wait_closed(), 1.0)
        self._writer = self._reader = None
        if self._udp is not None:
            self._udp.close()
            self._udp = None

    async def close(self) -> None:
        await self._disconnect()
