"""Decoding Kafka record values into lines: the batch paths agree with one value at a time."""

from __future__ import annotations

from typing import Any

import pytest

from logsentry.sources.base import LineDecoder
from logsentry.sources.config import KafkaSourceConfig
from logsentry.sources.kafka_message import KafkaMessageDecoder

PLAIN = [b"sshd[1]: Failed password for root", b"", b"caf\xc3\xa9 ok", b"x { y"]
TRICKY: list[list[bytes | None]] = [
    PLAIN,
    [*PLAIN, b"{not json either"],
    [*PLAIN, b"two\nlines in one record"],  # one record, one line
    [*PLAIN, b"crlf\r"],
    [*PLAIN, b"a\rb"],
    [*PLAIN, b"nul \x00 byte"],
    [*PLAIN, b"bad \xff utf8"],
    [*PLAIN, None],  # a tombstone
    [*PLAIN, b"x" * 2000],  # over max_line_bytes
    [*PLAIN, b'{"message": "from json", "host": {"name": "web-1"}}'],
    [b'{"message": "first"}', *PLAIN],
    [b"only one"],
    [],
]


def decoder(format: str) -> KafkaMessageDecoder:
    config = KafkaSourceConfig(bootstrap_servers=["127.0.0.1:9"], topics=["t"], format=format,
                               max_line_bytes=1024)
    return KafkaMessageDecoder(config, LineDecoder("test"))


def one_at_a_time(messages: KafkaMessageDecoder, values: list[bytes | None],
                  ) -> tuple[list[str], list[dict[str, Any]] | None]:
    lines, known = [], []
    for value in values:
        line, doc = messages.decode_value(value)
        lines.append(line)
        known.append(messages._fields(None, doc) or {})
    return lines, known if any(known) else None


@pytest.mark.parametrize("format", ["auto", "line", "json"])
@pytest.mark.parametrize("values", TRICKY)
def test_a_batch_of_values_decodes_like_each_value_on_its_own(
        format: str, values: list[bytes | None]) -> None:
    batch, single = decoder(format), decoder(format)
    assert batch.decode_values(values) == one_at_a_time(single, values)
    # The same repairs counted.
    assert batch.decoder.counts == single.decoder.counts


@pytest.mark.parametrize("format", ["auto", "line"])
def test_values_needing_no_repair_are_decoded_all_at_once(format: str) -> None:
    messages = decoder(format)
    assert messages._plain_lines(list(PLAIN)) == [value.decode() for value in PLAIN]
    assert messages._plain_lines([*PLAIN, b"two\nlines"]) is None
    assert messages._plain_lines([*PLAIN, None]) is None
    braced = messages._plain_lines([*PLAIN, b'{"message": "m"}'])
    assert (braced is None) == (format == "auto")


def test_a_record_holding_a_newline_stays_one_line() -> None:
    lines, _ = decoder("auto").decode_values([b"a", b"b\nc", b"d"])
    assert lines == ["a", "b\nc", "d"]


def test_plain_values_of_a_json_topic_are_counted_as_not_json() -> None:
    messages = decoder("json")
    lines, _ = messages.decode_values([b"plain", b'{"message": "m"}'])
    assert lines == ["plain", "m"]
    assert messages.decoder.counts == {"not_json": 1}


def test_fields_from_headers_need_the_records() -> None:
    config = KafkaSourceConfig(bootstrap_servers=["127.0.0.1:9"], topics=["t"],
                               fields={"service.name": "header:service"})
    messages = KafkaMessageDecoder(config, LineDecoder("test"))
    assert not messages.plain_fields
    with pytest.raises(ValueError):
        messages.decode_values([b"x"])
