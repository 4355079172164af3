"""Turning a Kafka record into a log line and the ECS fields it already carries.

A record's value is attacker-controlled like any log line: it may be empty
(a tombstone), undecodable bytes, a JSON document without the expected
field, or several megabytes. None of these may stop the partition: each is
repaired or replaced, counted (`logsentry_lines_malformed`) and passed on,
so the record's offset is committed like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import orjson

from logsentry.core.event import get_dotted, typed_field
from logsentry.core.metrics import LINES_MALFORMED
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
        # When every configured field comes from JSON, a line needs only its
        # record's value (`decode_values`), and a plain line no field lookups.
        self.plain_fields = all(origin.kind == "json" for origin in self.origins)

    def decode_batch(self, records: list[Any]) -> tuple[list[str], list[dict[str, Any]] | None]:
        """Lines and (when any record has some) known fields of consecutive records."""
        if self.plain_fields:
            return self.decode_values([record.value for record in records])
        lines: list[str] = []
        known: list[dict[str, Any]] = []
        any_fields = False
        for record in records:
            line, fields = self.decode(record)
            lines.append(line)
            known.append(fields or {})
            any_fields = any_fields or bool(fields)
        return lines, known if any_fields else None

    def decode_values(
            self, values: list[bytes | None]) -> tuple[list[str], list[dict[str, Any]] | None]:
        """`decode_batch` from the values alone: only when every field comes from JSON."""
        if not self.plain_fields:
            raise ValueError("fields from headers or record metadata need the records")
        lines = self._plain_lines(values)
        if lines is not None:
            return lines, None
        lines = []
        known: list[dict[str, Any]] = []
        any_fields = False
        append_line, append_known = lines.append, known.append
        only_lines = self.format == "line"
        plain_ok = self.format != "json"  # in "json" a plain value is counted
        max_bytes = self.max_bytes
        for value in values:
            if (plain_ok and value is not None and len(value) <= max_bytes
                    and (only_lines or value[:1] != b"{") and value[-1:] != b"\r"):
                try:
                    text = value.decode()
                except UnicodeDecodeError:
                    text = "\x00"  # repaired and counted by decode_value() below
                if "\x00" not in text:
                    append_line(text)
                    append_known({})
                    continue
            line, doc = self.decode_value(value)
            fields = self._fields(None, doc) if self.origins else None
            append_line(line)
            append_known(fields or {})
            any_fields = any_fields or bool(fields)
        return lines, known if any_fields else None

    def _plain_lines(self, values: list[bytes | None]) -> list[str] | None:
        """All values at once when none needs a repair, a cut or JSON parsing, else None.

        One join, one decode and one split instead of a decode per value: the
        split gives back exactly one line per value only if no value holds a
        newline, which the count shows.
        """
        if self.format == "json" or not values:
            return None
        present = cast(list[bytes], values)
        try:
            joined = b"\n".join(present)
        except TypeError:
            return None  # a tombstone (None) among them
        if len(joined) > self.max_bytes and max(map(len, present)) > self.max_bytes:
            return None
        try:
            text = joined.decode()
        except UnicodeDecodeError:
            return None
        if "\x00" in text or "\r" in text:
            return None
        if self.format != "line" and (text[:1] == "{" or "\n{" in text):
            return None
        lines = text.split("\n")
        return lines if len(lines) == len(values) else None

    def decode(self, record: Any) -> tuple[str, dict[str, Any] | None]:
        """The line and the known fields of one `ConsumerRecord`."""
        line, doc = self.decode_value(record.value)
        fields = self._fields(record, doc) if self.origins else None
        return line, fields

    def decode_value(self, value: bytes | None) -> tuple[str, dict[str, Any] | None]:
        """The line of one record value, and its JSON document when it has one."""
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
        return line, doc

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
        """The configured fields; `record` may be None when they all come from JSON."""
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
