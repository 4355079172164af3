"""The monitoring endpoint: `/metrics` (Prometheus), `/healthz` and `/readyz`.

It runs on the daemon's event loop on purpose: when the loop is stuck,
`/healthz` stops answering, which is what a liveness probe should see. The
server speaks just enough HTTP/1.1 for scrapers and probes (GET and HEAD, one
request per connection) and bounds what a client can make it hold: request
head size and time.

- `/metrics`: every metric of `logsentry.core.metrics.REGISTRY`, in the text format
  or OpenMetrics when the scraper asks for it.
- `/healthz`: 200 while the loop answers and every liveness check passes.
- `/readyz`: 200 once the daemon said it is ready (model loaded, sources open)
  and every readiness check passes (a Kafka stage: its consumer group gave it
  its partitions and they are positioned), with what each check reports; 503
  with the reason before that and while stopping; either way followed by
  `warning:` lines for what it serves only in part (a file path matching nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from logsentry.core.metrics import REGISTRY
from logsentry.service.config import MetricsConfig

log = structlog.get_logger(__name__)

# A request head larger than this is refused: scrapers send a few hundred bytes.
MAX_REQUEST_HEAD = 16 * 1024

_REASONS = {
    200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
    408: "Request Timeout", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 503: "Service Unavailable",
}


@dataclass
class HealthState:
    """Readiness and liveness as the daemon reports them.

    A liveness check returns None when fine, else a short description of
    the problem (e.g. "pipeline task 'analysis' died"). A readiness check
    returns whether its part is ready and a line that says what it has
    (e.g. a consumer group member's partitions).
    """

    ready: bool = False
    not_ready_reason: str = "starting"
    checks: dict[str, Callable[[], str | None]] = field(default_factory=dict)
    readiness: dict[str, Callable[[], tuple[bool, str]]] = field(default_factory=dict)
    # What `/readyz` adds below its verdict, e.g. configured paths that match
    # no file: the daemon serves, but not everything it was told to.
    details: dict[str, Callable[[], list[str]]] = field(default_factory=dict)

    def set_ready(self) -> None:
        """The daemon serves: model loaded, sources open."""
        self.ready = True
        self.not_ready_reason = ""

    def set_not_ready(self, reason: str) -> None:
        """The daemon does not (or no longer) serve, e.g. "stopping"."""
        self.ready = False
        self.not_ready_reason = reason

    def add_liveness_check(self, name: str, check: Callable[[], str | None]) -> None:
        """Register a check `/healthz` runs on every request."""
        self.checks[name] = check

    def add_readiness_check(self, name: str, check: Callable[[], tuple[bool, str]]) -> None:
        """Register a check `/readyz` runs on every request, once the daemon is ready."""
        self.readiness[name] = check

    def remove_readiness_check(self, name: str) -> None:
        """The part it checked is gone (stopped, or rebuilt by a reload)."""
        self.readiness.pop(name, None)

    def readiness_report(self) -> tuple[bool, list[str]]:
        """Whether every readiness check passes, and each one's line."""
        ready, lines = True, []
        for name, check in list(self.readiness.items()):
            try:
                passed, detail = check()
            except Exception as exc:
                passed, detail = False, f"check raised {type(exc).__name__}: {exc}"
            ready = ready and passed
            lines.append(f"{name}: {detail}")
        return ready, lines

    def add_readiness_detail(self, name: str, detail: Callable[[], list[str]]) -> None:
        """Register lines `/readyz` shows after its verdict (computed per request)."""
        self.details[name] = detail

    def detail_lines(self) -> list[str]:
        """What the readiness details report now."""
        lines = []
        for name, detail in self.details.items():
            try:
                lines += [f"warning: {line}" for line in detail()]
            except Exception as exc:
                lines.append(f"{name}: detail raised {type(exc).__name__}: {exc}")
        return lines

    def problems(self) -> list[str]:
        """What the liveness checks report; empty when healthy."""
        found = []
        for name, check in self.checks.items():
            try:
                problem = check()
            except Exception as exc:
                problem = f"check raised {type(exc).__name__}: {exc}"
            if problem:
                found.append(f"{name}: {problem}")
        return found


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


class MonitoringServer:
    """Serves `/metrics`, `/healthz` and `/readyz` on the configured local address."""

    def __init__(
        self,
        config: MetricsConfig,
        health: HealthState,
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self.config = config
        self.health = health
        self.registry = registry
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        """The bound TCP port (useful with `port: 0`)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("server not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        host = self.config.address
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and start serving; raises OSError when the address is taken."""
        self._server = await asyncio.start_server(
            self._serve, self.config.address, self.config.port,
            limit=MAX_REQUEST_HEAD, reuse_address=True)
        log.info("monitoring_listening", url=self.url)

    async def close(self) -> None:
        """Stop accepting and end open connections."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._clients):
            task.cancel()
        await asyncio.gather(*self._clients, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        try:
            response, head_only = await self._respond(reader)
            # A client that does not read its response must not hold the task.
            async with asyncio.timeout(self.config.request_timeout):
                await self._write(writer, response, head_only)
        except (ConnectionError, TimeoutError, asyncio.CancelledError):
            pass
        except Exception:
            log.exception("monitoring_request_failed")
        finally:
            if task is not None:
                self._clients.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _respond(self, reader: asyncio.StreamReader) -> tuple[Response, bool]:
        try:
            async with asyncio.timeout(self.config.request_timeout):
                head = await reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            return Response(408, b"request timeout\n"), False
        except asyncio.LimitOverrunError:
            return Response(431, b"request head too large\n"), False
        except asyncio.IncompleteReadError:
            return Response(400, b"incomplete request\n"), False
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            return Response(400, b"malformed request line\n"), False
        method, target = parts[0], parts[1]
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if method not in ("GET", "HEAD"):
            return Response(405, b"only GET and HEAD\n"), False
        path = target.split("?", 1)[0]
        return self._route(path, headers), method == "HEAD"

    def _route(self, path: str, headers: dict[str, str]) -> Response:
        if path == "/metrics":
            encoder, content_type = choose_encoder(headers.get("accept", ""))
            return Response(200, encoder(self.registry), content_type)
        if path == "/healthz":
            problems = self.health.problems()
            if problems:
                return Response(503, ("\n".join(problems) + "\n").encode())
            return Response(200, b"ok\n")
        if path == "/readyz":
            detail = "".join(f"{line}\n" for line in self.health.detail_lines())
            if not self.health.ready:
                return Response(
                    503, f"not ready: {self.health.not_ready_reason}\n{detail}".encode())
            ready, lines = self.health.readiness_report()
            body = "".join(line + "\n" for line in ["ready" if ready else "not ready", *lines])
            return Response(200 if ready else 503, (body + detail).encode())
        return Response(404, b"not found: try /metrics, /healthz, /readyz\n")

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, response: Response, head_only: bool) -> None:
        head = (
            f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Unknown')}\r\n"
            f"Content-Type: {response.content_type}\r\n"
            f"Content-Length: {len(response.body)}\r\n"
            "Cache-Control: no-store\r\n"
            "Connection: close\r\n\r\n"
        ).encode("latin-1")
        writer.write(head if head_only else head + response.body)
        await writer.drain()
