"""The decisions served as CrowdSec's local API serves them to bouncers.

Any CrowdSec bouncer (firewall, nginx, HAProxy, custom script, ...) configured with
this listener as its `api_url` and a key from `logsentry bouncers add` enforces
logsentry's decisions unchanged:

- `GET /v1/decisions/stream?startup=true|false`: the decisions new and deleted
  since this bouncer last asked (all active ones with `startup=true`), filtered
  by `scopes`, `origins`, `scenarios_containing` and `scenarios_not_containing`;
- `GET /v1/decisions?ip=|range=|scope=&value=|type=`: the active decisions that
  apply, or `null`.

Both answer HEAD too. A request without a known `X-Api-Key` gets 401.
"""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import structlog
from aiohttp import web

from logsentry.respond.bouncer_keys import BouncerKeys
from logsentry.respond.config import LapiConfig
from logsentry.respond.decision import Decision, go_duration
from logsentry.respond.store import DecisionStore

log = structlog.get_logger(__name__)

BOUNCER = web.RequestKey("bouncer", str)
"""The name of the bouncer whose key authenticated the request."""


@dataclass(slots=True)
class StreamFilter:
    """A bouncer's query: which decisions it wants."""

    scopes: set[str] = field(default_factory=set)
    origins: set[str] = field(default_factory=set)
    containing: list[str] = field(default_factory=list)
    not_containing: list[str] = field(default_factory=list)

    @classmethod
    def from_query(cls, query: Any) -> StreamFilter:
        def words(name: str) -> list[str]:
            return [w.strip() for w in query.get(name, "").split(",") if w.strip()]

        return cls({w.lower() for w in words("scopes")}, set(words("origins")),
                   words("scenarios_containing"), words("scenarios_not_containing"))

    def wants(self, decision: Decision) -> bool:
        if self.scopes and decision.scope.lower() not in self.scopes:
            return False
        if self.origins and decision.origin not in self.origins:
            return False
        if self.containing and not any(w in decision.scenario for w in self.containing):
            return False
        return not any(w in decision.scenario for w in self.not_containing)


class LapiServer:
    """The bouncer-facing API on its own listener."""

    def __init__(self, config: LapiConfig, store: DecisionStore,
                 clock: Callable[[], float], keys_path: Path) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.keys = BouncerKeys(keys_path)
        self._seen: dict[str, int] = {}  # bouncer name -> last change sequence sent
        self._runner: web.AppRunner | None = None
        self.port = config.port

    async def start(self) -> None:
        # Encode the decisions now, so the first bouncer's startup=true answers fast.
        for decision in self.store.active(self.clock()):
            _encoded(decision)
        app = web.Application(middlewares=[self._authenticate])
        app.router.add_get("/v1/decisions/stream", self._stream)
        app.router.add_get("/v1/decisions", self._decisions)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        context = None
        if self.config.cert_file:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.config.cert_file, self.config.key_file)
        site = web.TCPSite(self._runner, self.config.address, self.config.port,
                           ssl_context=context)
        await site.start()
        sockets = getattr(site._server, "sockets", None)
        if sockets:  # port 0: the one the system chose
            self.port = sockets[0].getsockname()[1]
        log.info("bouncer_api_listening", address=self.config.address, port=self.port,
                 tls=context is not None)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _authenticate(self, request: web.Request,
                            handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        name = self.keys.who(request.headers.get("X-Api-Key", ""))
        if name is None:
            return _json({"message": "access forbidden"}, status=401)
        request[BOUNCER] = name
        response: web.StreamResponse = await handler(request)
        return response

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        name = request[BOUNCER]
        wanted = StreamFilter.from_query(request.query)
        now = self.clock()
        self.store.expire(now)
        startup = request.query.get("startup", "false").lower() == "true"
        last = None if startup else self._seen.get(name)
        changes = self.store.changes_since(last) if last is not None else None
        new: dict[str, Decision] = {}
        deleted: dict[str, Decision] = {}
        if changes is None:  # a start, or a bouncer too far behind: everything active
            new = {d.uuid: d for d in self.store.active(now) if wanted.wants(d)}
        else:
            for change in changes:
                if not wanted.wants(change.decision):
                    continue
                if change.kind == "new":
                    new[change.decision.uuid] = change.decision
                else:
                    new.pop(change.decision.uuid, None)
                    deleted[change.decision.uuid] = change.decision
            new = {u: d for u, d in new.items() if d.active(now)}
        self._seen[name] = self.store.seq
        return _json({"new": _listed(new.values(), now),
                      "deleted": _listed(deleted.values(), now)})

    async def _decisions(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        now = self.clock()
        self.store.expire(now)
        found = [d for d in self.store.active(now) if _matches(d, query)]
        return _json(_listed(found, now))


def _matches(decision: Decision, query: Any) -> bool:
    if "type" in query and decision.type != str(query["type"]):
        return False
    target: str | None = query.get("ip") or query.get("range")
    scope: str | None = ("ip" if "ip" in query else "range" if "range" in query
                         else query.get("scope"))
    value: str | None = target or query.get("value")
    if scope and not target and decision.scope.lower() != scope.lower():
        return False
    if not value:
        return True
    try:
        asked = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return bool(decision.value == value)
    return _covers(decision.network, asked, contains=query.get("contains", "true") != "false")


def _covers(decided: ipaddress.IPv4Network | ipaddress.IPv6Network,
            asked: ipaddress.IPv4Network | ipaddress.IPv6Network, contains: bool) -> bool:
    """`contains`: the decision covers what is asked; else it lies within it."""
    if isinstance(decided, ipaddress.IPv4Network) and isinstance(asked, ipaddress.IPv4Network):
        return asked.subnet_of(decided) if contains else decided.subnet_of(asked)
    if isinstance(decided, ipaddress.IPv6Network) and isinstance(asked, ipaddress.IPv6Network):
        return asked.subnet_of(decided) if contains else decided.subnet_of(asked)
    return False


class Listed(bytes):
    """A JSON array already encoded (or `null`), spliced into a response as it is."""


def _listed(decisions: Iterable[Decision], now: float) -> Listed:
    """CrowdSec's form: a list, or null when empty. Everything but the remaining duration
    is encoded once per decision and kept (the answer to `startup=true` lists them all)."""
    parts = [_encoded(d) + b',"duration":"' + go_duration(d.until - now).encode() + b'"}'
             for d in decisions]
    return Listed(b"[" + b",".join(parts) + b"]" if parts else b"null")


_ENCODED: dict[str, bytes] = {}


def _encoded(decision: Decision) -> bytes:
    """`{"id":...,"until":...` without the closing brace and the duration."""
    cached = _ENCODED.get(decision.uuid)
    if cached is None:
        fields = decision.to_lapi(decision.until)
        del fields["duration"]
        cached = orjson.dumps(fields)[:-1]
        if len(_ENCODED) > 1_000_000:  # decisions come and go: never grow without end
            _ENCODED.clear()
        _ENCODED[decision.uuid] = cached
    return cached


def _json(body: Any, status: int = 200) -> web.Response:
    if isinstance(body, Listed):
        data = bytes(body)
    elif isinstance(body, dict) and any(isinstance(v, Listed) for v in body.values()):
        data = b"{" + b",".join(orjson.dumps(k) + b":" + (
            bytes(v) if isinstance(v, Listed) else orjson.dumps(v)) for k, v in body.items()
        ) + b"}"
    else:
        data = orjson.dumps(body)
    return web.Response(body=data, status=status, content_type="application/json")
