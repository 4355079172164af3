"""A generic JSON webhook receiver that checks the HMAC-SHA256 signature."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson
from aiohttp import web

from tests.servers.http_receiver import HttpReceiver, Reply


class WebhookReceiver(HttpReceiver):
    """Accepts JSON POSTs; with `secret` set, 401 unless the signature verifies."""

    def __init__(self, port: int | None = None, secret: bytes | None = None,
                 signature_header: str = "X-Logsentry-Signature"):
        super().__init__(port)
        self.secret = secret
        self.signature_header = signature_header

    def default_reply(self, request: web.Request, body: bytes) -> Reply:
        if self.secret is not None:
            timestamp = request.headers.get("X-Logsentry-Timestamp", "")
            expected = "sha256=" + hmac.new(self.secret, timestamp.encode() + b"." + body,
                                            hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, request.headers.get(self.signature_header, "")):
                return Reply(401, b"bad signature")
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            return Reply(400, b"invalid json")
        return Reply(200, b"{}")

    def documents(self) -> list[dict[str, Any]]:
        """Accepted alert documents in arrival order (arrays flattened)."""
        out: list[dict[str, Any]] = []
        for request in self.accepted():
            doc = orjson.loads(request.body)
            out.extend(doc if isinstance(doc, list) else [doc])
        return out
