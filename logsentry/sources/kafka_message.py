"""Turning a Kafka record into a log line and the ECS fields it already carries.

A record's value is attacker-controlled like any log line: it may be empty
(a tombstone), undecodable bytes, a JSON document without the expected
field, or several megabytes. None of these may stop the partition: each is
repaired or replaced, counted (`logsentry_lines_malformed`) and passed on,
so the record's offset is committed like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from logsentry.event import get_dotted, typed_field
from logsentry.metrics import LINES_MALFORMED
from logsentry.sources.base import LineDecoder
from logsentry.sources.config import KafkaSourceConfig


@dataclass(frozen=True, slots=True)
class FieldOrigin:
    """Where one configured ECS field comes from."""

    name: str
    kind: str  # "json", "header" or "kafka"
    what: str

    @classmethod
    def parse(cls, name: str, origin: str) -> FieldOrigin:
        kind, _, what = origin.partition(":")
        return cls(name, kind, what)


class KafkaMessageDecoder:
    """Decodes records of one source; counts what it had to repair."""

    def __init__(self, config: KafkaSourceConfig, decoder: LineDecoder) -> None:
        self.format = config.format
        self.message_field = config.message_field
        self.max_bytes = config.max_line_bytes
        self.origins = [FieldOrigin.parse(name, origin) for name, origin in config.fields.items()]
        self.decoder = decoder
        # Records that are plain lines need no field lookups when every
        # configured field comes from JSON: the hot path of `decode_batch`.
        self._plain_fields = all(origin.kind == "json" for origin in self.origins)

    def decode_batch(self, records: list[Any]) -> tuple[list[str], list[dict[str, Any]] | None]:
        """Lines and (when any record has some) known fields of consecutive records."""
        lines: list[str] = []
        known: list[dict[str, Any]] = []
        any_fields = False
        append_line, append_known = lines.append, known.append
        fast = self._plain_fields
        only_lines = self.format == "line"
        max_bytes = self.max_bytes
        for record in records:
            value = record.value
            if (fast and value is not None and len(value) <= max_bytes
                    and (only_lines or value[:1] != b"{") and value[-1:] != b"\r"):
                try:
                    text = value.decode()
                except UnicodeDecodeError:
                    text = "\x00"  # repaired and counted by decode() below
                if "\x00" not in text:
                    append_line(text)
                    append_known({})
                    continue
            line, fields = self.decode(record)
            append_line(line)
            append_known(fields or {})
            any_fields = any_fields or bool(fields)
        return lines, known if any_fields else None

    def decode(self, record: Any) -> tuple[str, dict[str, Any] | None]:
        """The line and the known fields of one `ConsumerRecord`."""
        value: bytes | None = record.value
        if value is None:
            # A tombstone (compacted topics): an empty line keeps offsets moving.
            self._count("empty_value")
            value = b""
        if len(value) > self.max_bytes:
            self.decoder.count_truncated()
            # Cut at the cap, not after decoding: a 5 MB value is never copied as text.
            value = value[: self.max_bytes]
        doc: dict[str, Any] | None = None
        line: str | None = None
        if self.format != "line" and value[:1] == b"{":
            doc, line = self._json(value)
        elif self.format == "json":
            self._count("not_json")
        if line is None:
            line = self.decoder.decode(value)
        fields = self._fields(record, doc) if self.origins else None
        return line, fields

    def _json(self, value: bytes) -> tuple[dict[str, Any] | None, str | None]:
        try:
            doc = orjson.loads(value)
        except orjson.JSONDecodeError:
            # Invalid JSON (often a truncated one): the raw text is still a line.
            self._count("invalid_json")
            return None, None
        if not isinstance(doc, dict):
            return None, None
        message = get_dotted(doc, self.message_field)
        if isinstance(message, str):
            return doc, self._clean(message)
        # No message field: the document itself is the line; the envelope
        # parser knows journald and common JSON logging shapes.
        self._count("no_message_field")
        return doc, None

    def _count(self, reason: str) -> None:
        counts = self.decoder.counts
        counts[reason] = counts.get(reason, 0) + 1
        LINES_MALFORMED.labels(self.decoder.source, reason).inc()

    def _clean(self, text: str) -> str:
        """The LineDecoder's NUL repair, for text that came out of JSON."""
        if "\x00" in text:
            self._count("nul_bytes")
            return text.replace("\x00", "\ufffd")
        return text

    def _fields(self, record: Any, doc: dict[str, Any] | None) -> dict[str, Any] | None:
        fields: dict[str, Any] = {}
        for origin in self.origins:
            raw: Any
            if origin.kind == "json":
                raw = get_dotted(doc, origin.what) if doc is not None else None
            elif origin.kind == "header":
                raw = _header(record.headers, origin.what)
            elif origin.what == "key":
                raw = record.key
            else:
                raw = getattr(record, origin.what, None)
            if isinstance(raw, bytes):
                raw = self._clean(raw.decode("utf-8", errors="replace"))
            if isinstance(raw, int) and not isinstance(raw, bool):
                raw = str(raw)
            if not isinstance(raw, str) or len(raw) > 1024:
                continue
            value = typed_field(origin.name, raw)
            if value is not None:
                fields[origin.name] = value
        return fields or None


def _header(headers: Any, name: str) -> bytes | None:
    for key, value in headers or ():
        if key == name:
            return value if isinstance(value, bytes) else None
    return None
