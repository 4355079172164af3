"""A server implementing Slack's incoming-webhook and chat.postMessage contracts.

Webhook: 200 `ok`; 400 `invalid_payload` for a body that is not a valid
message (no `text` and no `blocks`, too many blocks, section text over 3000
characters); tests script 429 + Retry-After, 404 `no_service`, 410
`channel_is_archived` and 500. chat.postMessage: needs `Authorization: Bearer`,
answers `{"ok": true}` or `{"ok": false, "error": ...}` with HTTP 200.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from tests.servers.http_receiver import HttpReceiver, Reply

WEBHOOK_PATH = "/services/T000/B000/XXXX"


def invalid_reason(message: Any) -> str | None:
    """Why Slack would reject `message` as invalid_payload, or None."""
    if not isinstance(message, dict):
        return "not an object"
    if not message.get("text") and not message.get("blocks"):
        return "no text"
    blocks = message.get("blocks", [])
    if len(blocks) > 50:
        return "too many blocks"
    for block in blocks:
        text = block.get("text", {}).get("text", "")
        if block.get("type") == "header" and len(text) > 150:
            return "header too long"
        if len(text) > 3000:
            return "section too long"
        if len(block.get("fields", [])) > 10:
            return "too many fields"
    return None


class SlackReceiver(HttpReceiver):
    """Slack's webhook contract on loopback; `messages` are the accepted payloads."""

    bot_token = "xoxb-test-token"

    @property
    def webhook_url(self) -> str:
        return self.url + WEBHOOK_PATH

    @property
    def api_url(self) -> str:
        return self.url + "/api"

    def default_reply(self, request: web.Request, body: bytes) -> Reply:
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            message = None
        reason = invalid_reason(message)
        if request.path == "/api/chat.postMessage":
            if request.headers.get("Authorization") != f"Bearer {self.bot_token}":
                return Reply(200, b'{"ok":false,"error":"invalid_auth"}')
            if reason or not isinstance(message, dict) or not message.get("channel"):
                return Reply(200, b'{"ok":false,"error":"invalid_blocks"}')
            return Reply(200, b'{"ok":true,"ts":"1.000"}')
        if request.path != WEBHOOK_PATH:
            return Reply(404, b"no_service")
        if reason:
            return Reply(400, b"invalid_payload")
        return Reply(200, b"ok")

    def messages(self) -> list[dict[str, Any]]:
        """The payloads Slack accepted, in arrival order."""
        accepted = [orjson.loads(r.body) for r in self.accepted()]
        return [m for m in accepted if isinstance(m, dict)]

    def texts(self) -> list[str]:
        """All mrkdwn/plain text of accepted messages, one string per message."""
        return [_all_text(message) for message in self.messages()]


    def block_texts(self) -> list[str]:
        """Only the Block Kit text of accepted messages (not the notification fallback)."""
        return [_all_text(message.get("blocks", [])) for message in self.messages()]


def _all_text(node: Any) -> str:
    if isinstance(node, dict):
        return "\n".join(_all_text(v) for k, v in node.items() if k in (
            "text", "blocks", "fields", "elements"))
    if isinstance(node, list):
        return "\n".join(_all_text(item) for item in node)
    return node if isinstance(node, str) else ""
