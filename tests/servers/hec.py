"""A Splunk HTTP Event Collector receiver: `/services/collector/event`.

Checks `Authorization: Splunk <token>` (401 code 2 when missing, 403 code 4
when wrong), parses the concatenated JSON events (400 code 6 when invalid,
code 12 without `event`), answers `{"text":"Success","code":0}`. Tests script
503 code 9 (server busy) and others.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from tests.servers.http_receiver import HttpReceiver, Reply

TOKEN = "11111111-2222-3333-4444-555555555555"


def hec_reply(status: int, code: int, text: str) -> Reply:
    return Reply(status, orjson.dumps({"text": text, "code": code}),
                 {"Content-Type": "application/json"})


def parse_events(body: bytes) -> list[dict[str, Any]]:
    """Split HEC's run of concatenated JSON objects (raises ValueError)."""
    events: list[dict[str, Any]] = []
    decoder_input = body.decode("utf-8")
    import json

    decoder = json.JSONDecoder()
    index = 0
    while index < len(decoder_input):
        while index < len(decoder_input) and decoder_input[index].isspace():
            index += 1
        if index >= len(decoder_input):
            break
        obj, index = decoder.raw_decode(decoder_input, index)
        if not isinstance(obj, dict):
            raise ValueError("event is not an object")
        events.append(obj)
    return events


class HecReceiver(HttpReceiver):
    """Splunk HEC on loopback; `events()` are the accepted event objects."""

    token = TOKEN

    def default_reply(self, request: web.Request, body: bytes) -> Reply:
        if request.path != "/services/collector/event":
            return hec_reply(404, 404, "The requested URL was not found on this server.")
        auth = request.headers.get("Authorization")
        if not auth:
            return hec_reply(401, 2, "Token is required")
        if auth != f"Splunk {self.token}":
            return hec_reply(403, 4, "Invalid token")
        try:
            events = parse_events(body)
        except ValueError:
            return hec_reply(400, 6, "Invalid data format")
        if not events:
            return hec_reply(400, 5, "No data")
        if any("event" not in event for event in events):
            return hec_reply(400, 12, "Event field is required")
        return hec_reply(200, 0, "Success")

    def events(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for request in self.accepted():
            out.extend(parse_events(request.body))
        return out
