"""A scriptable HTTP receiver on loopback (aiohttp), base of the sink test servers.

Tests queue responses (`script`) to simulate outages, rate limits and
rejections; every request is recorded with its arrival time. `stop()` closes
the listening socket for a real "receiver down"; `start()` again on the same
port brings it back.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web

from tests.servers.ports import free_port


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival
    status: int


class HttpReceiver:
    """Records requests; answers with scripted replies, then `default_reply()`."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.requests: list[ReceivedRequest] = []
        self.script: deque[Reply] = deque()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def default_reply(self, request: web.Request, body: bytes) -> Reply:
        return Reply()

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        reply = self.script.popleft() if self.script else self.default_reply(request, body)
        self.requests.append(ReceivedRequest(request.path, dict(request.headers), body,
                                             time.monotonic(), reply.status))
        return web.Response(status=reply.status, body=reply.body, headers=reply.headers)

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("POST", "/{tail:.*}", self.handle)
        # A stop never waits out aiohttp's 60 s grace for a sink's request in flight.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> HttpReceiver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def accepted(self) -> list[ReceivedRequest]:
        """Requests answered with a 2xx."""
        return [r for r in self.requests if 200 <= r.status < 300]
