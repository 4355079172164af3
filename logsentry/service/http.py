"""The monitoring endpoint: `/metrics` (Prometheus), `/healthz` and `/readyz`.

It runs on the daemon's event loop on purpose: when the loop is stuck,
`/healthz` stops answering, which is what a liveness probe should see. It is
aiohttp's server (GET and HEAD), bounding what a client can make it hold:
request head size, and time until a whole request has arrived.

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

from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from logsentry.core.metrics import REGISTRY
from logsentry.service.config import MetricsConfig

log = structlog.get_logger(__name__)

# A request head larger than this is refused: scrapers send a few hundred bytes.
MAX_REQUEST_HEAD = 16 * 1024

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
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        """The bound TCP port (useful with `port: 0`)."""
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def url(self) -> str:
        host = self.config.address
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and start serving; raises OSError when the address is taken."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        # A client that has not sent a whole request within the timeout is
        # disconnected; heads are bounded by aiohttp's line and field limits.
        runner = web.AppRunner(app, access_log=None, handle_signals=False,
                               keepalive_timeout=self.config.request_timeout,
                               max_field_size=MAX_REQUEST_HEAD // 2,
                               max_line_size=MAX_REQUEST_HEAD // 2)
        await runner.setup()
        site = web.TCPSite(runner, self.config.address, self.config.port,
                           reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        sockets = getattr(site._server, "sockets", None)
        self._port = int(sockets[0].getsockname()[1]) if sockets else self.config.port
        log.info("monitoring_listening", url=self.url)

    async def close(self) -> None:
        """Stop accepting and end open connections."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return _plain(200, encoder(self.registry), content_type)

    async def _healthz(self, request: web.Request) -> web.Response:
        problems = self.health.problems()
        if problems:
            return _plain(503, ("\n".join(problems) + "\n").encode())
        return _plain(200, b"ok\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        detail = "".join(f"{line}\n" for line in self.health.detail_lines())
        if not self.health.ready:
            return _plain(503, f"not ready: {self.health.not_ready_reason}\n{detail}".encode())
        ready, lines = self.health.readiness_report()
        body = "".join(line + "\n" for line in ["ready" if ready else "not ready", *lines])
        return _plain(200 if ready else 503, (body + detail).encode())


def _plain(status: int, body: bytes,
           content_type: str = "text/plain; charset=utf-8") -> web.Response:
    response = web.Response(status=status, body=body)
    response.headers["Content-Type"] = content_type
    response.headers["Cache-Control"] = "no-store"
    return response
