"""An injection corpus sent through every sink arrives escaped at the real receivers.

Payloads sit where log lines put them: the alert message, the group values, the
messages of the alert's sample events (and, for the syslog structured data and
CEF header, the rule id); for event sinks, the event's message and fields.
JSON sinks deliver every control character as its visible form: a JSON
encoder escapes it, but the receiver would decode it back into the raw byte.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from logsentry.core.alert import Alert
from logsentry.core.event import Event
from logsentry.sinks.base import Deliverable
from logsentry.sinks.config import (
    JsonlSinkConfig,
    KafkaTopicSinkConfig,
    SlackSinkConfig,
    SplunkHecSinkConfig,
    StdoutSinkConfig,
    SyslogSinkConfig,
    WebhookSinkConfig,
)
from logsentry.sinks.control_chars import visible_controls
from logsentry.sinks.jsonl import JsonlSink
from logsentry.sinks.kafka_topic import KafkaTopicSink
from logsentry.sinks.slack import SlackSink
from logsentry.sinks.splunk_hec import SplunkHecSink
from logsentry.sinks.stdout import StdoutSink
from logsentry.sinks.syslog import SyslogSink
from logsentry.sinks.webhook import WebhookSink
from tests.servers.alerts import numbered_alert
from tests.servers.hec import TOKEN, HecReceiver
from tests.servers.kafka import kafka_broker
from tests.servers.rsyslog import RSYSLOGD, run_rsyslog
from tests.servers.slack import SlackReceiver
from tests.servers.webhook import WebhookReceiver

__all__ = ["kafka_broker"]

CORPUS: list[str] = [
    "<!channel> deploy now",
    "<!here|here> <!everyone>",
    "ping @here and @channel and @everyone",
    "<@U024BE7LH> <#C024BE7LR>",
    "<http://evil.example/login|https://bank.example>",
    "<https://attack.mitre.org/techniques/T1110/|T1110> spoof",
    "*bold* _italic_ ~strike~ `code` ```block``` > quote",
    "&amp; &lt; & < > entities",
    "CEF:0|evil|vendor|1|id|name|10|src=6.6.6.6",
    "pipe|back\\slash|equals=sign \\= \\|",
    "act=blocked duser=root msg=fake",
    "line1\nline2=two\r\nline3\rline4",
    "<13>1 2026-01-01T00:00:00Z forged host - - - injected syslog",
    "\x1b[31mRED\x1b[0m \x1b]0;title\x07 \x1b[2J",
    "nul\x00byte del\x7f bell\x07 tab\tend",
    "bidi \u202eevil\u202c zero\u200bwidth \u2028sep \ufeffbom",
    '"}, "admin": true, "x": {"',
    '"] [evil@1 k="v"]',
    "%n%s%x {{7*7}} ${jndi:ldap://x}",
    "\\",
    "",
]


def corpus_event(index: int, payload: str) -> Event:
    """The event a log line carrying `payload` becomes."""
    return Event(message=payload, line=index + 1, body=payload, summary=payload,
                 template=payload, fields={"user.name": payload, "source.ip": "203.0.113.9"})


def corpus_events() -> list[Event]:
    return [corpus_event(index, payload) for index, payload in enumerate(CORPUS)]


def corpus_alerts() -> list[Alert]:
    alerts = []
    for index, payload in enumerate(CORPUS):
        alert = numbered_alert(index, message=payload,
                               group={"user.name": payload, "source.ip": "203.0.113.9"})
        alert.events = [corpus_event(index, payload).to_ecs()]
        alerts.append(alert)
    alerts.append(numbered_alert(len(CORPUS), message="rule id attack",
                                 group={"source.ip": "203.0.113.9"},
                                 rule_id='evil"]|rule\\=\n<!here>'))
    return alerts


# Every character `visible_controls` replaces (C0, DEL, C1, bidi, zero-width, separators).
_RAW_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def assert_no_raw_controls(node: Any) -> None:
    """No string (or key) of a decoded JSON document holds a raw control character."""
    if isinstance(node, str):
        assert not _RAW_CONTROL.search(node), node
    elif isinstance(node, dict):
        for key, value in node.items():
            assert_no_raw_controls(key)
            assert_no_raw_controls(value)
    elif isinstance(node, list):
        for item in node:
            assert_no_raw_controls(item)


def assert_alert_docs_visible(docs: list[dict[str, Any]], alerts: list[Alert]) -> None:
    """The alert documents a JSON receiver decoded: every payload there, made visible."""
    assert len(docs) == len(alerts)
    for doc in docs:
        assert_no_raw_controls(doc)
    expected = [visible_controls(payload) for payload in CORPUS]
    received = docs[: len(CORPUS)]
    assert [d["message"] for d in received] == expected
    assert [d["user"]["name"] for d in received] == expected
    assert [d["logsentry"]["events"][0]["message"] for d in received] == expected
    assert [d["logsentry"]["events"][0]["user"]["name"] for d in received] == expected
    assert docs[-1]["rule"]["id"] == visible_controls(alerts[-1].rule_id)
    assert "admin" not in docs[16]


def assert_event_docs_visible(docs: list[dict[str, Any]]) -> None:
    """The event documents an event sink delivered: every payload there, made visible."""
    assert len(docs) == len(CORPUS)
    for doc in docs:
        assert_no_raw_controls(doc)
    expected = [visible_controls(payload) for payload in CORPUS]
    assert [d["message"] for d in docs] == expected
    assert [d["logsentry"]["summary"] for d in docs] == expected
    assert [d["user"]["name"] for d in docs] == expected


# --- Slack -----------------------------------------------------------------------------------


_OUR_LINK = re.compile(r"<https://attack\.mitre\.org/techniques/T\d{4}(?:/\d{3})?/\|T[\d.]+>")


def assert_mrkdwn_safe(text: str) -> None:
    stripped = _OUR_LINK.sub("", text)
    assert "<" not in stripped and ">" not in stripped, stripped
    assert not re.search(r"@(here|channel|everyone)\b", _pings(stripped)), stripped
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u202e\u200b\u2028\ufeff]", stripped), stripped
    assert not re.search(r"&(?!amp;|lt;|gt;)", stripped), stripped


def _pings(text: str) -> str:
    # Pings are defused by a word joiner right after the `@`.
    return re.sub(r"@\u2060", "", text)


async def test_slack_messages_hold_no_pings_links_or_controls() -> None:
    async with SlackReceiver() as receiver:
        sink = SlackSink(SlackSinkConfig(webhook_url=receiver.webhook_url))
        await sink.start()
        alerts = corpus_alerts()
        for alert in alerts:  # one message each
            await sink.send([alert])
        await sink.send(alerts)  # and one digest (over max_digest is fine for the sink)
        await sink.close()
    messages = receiver.messages()
    assert len(messages) == len(alerts) + 1  # all accepted (valid Block Kit)
    for message in messages:
        for text in _texts(message):
            assert_mrkdwn_safe(text)
    first = receiver.texts()[0]
    assert "&lt;!channel&gt; deploy now" in first
    pings = receiver.texts()[2]
    assert "@\u2060here" in pings and "@\u2060channel" in pings and "@\u2060everyone" in pings
    newline = receiver.texts()[11]
    assert "line1\u240aline2=two\u240d\u240aline3\u240dline4" in newline


def _texts(node: object) -> list[str]:
    if isinstance(node, dict):
        return [t for key, value in node.items() for t in (
            [value] if key == "text" and isinstance(value, str) else _texts(value))]
    if isinstance(node, list):
        return [t for item in node for t in _texts(item)]
    return []


# --- JSON receivers ---------------------------------------------------------------------------


async def test_webhook_bodies_carry_every_payload_with_its_controls_visible() -> None:
    alerts = corpus_alerts()
    async with WebhookReceiver() as hook:
        sink = WebhookSink(WebhookSinkConfig(url=hook.url))
        await sink.start()
        for alert in alerts:  # one object per request
            await sink.send([alert])
        events: list[Deliverable] = list(corpus_events())
        await sink.send(events)  # an event sink's array
        await sink.close()
        # No raw control bytes: one JSON document per webhook body.
        for request in hook.requests:
            assert not re.search(rb"[\x00-\x1f]", request.body)
        docs = hook.documents()
    assert_alert_docs_visible(docs[: len(alerts)], alerts)
    assert_event_docs_visible(docs[len(alerts):])


async def test_splunk_hec_events_carry_every_payload_with_its_controls_visible() -> None:
    alerts = corpus_alerts()
    async with HecReceiver() as hec:
        sink = SplunkHecSink(SplunkHecSinkConfig(url=hec.url, token=TOKEN, max_batch=100))
        await sink.start()
        await sink.send(list(alerts))
        await sink.send(list(corpus_events()))
        await sink.close()
        alert_request, event_request = hec.requests
        # One JSON document per HEC line.
        for request in (alert_request, event_request):
            assert not re.search(rb"[\x00-\x09\x0b-\x1f]", request.body)
        assert len(alert_request.body.split(b"\n")) == len(alerts)
        docs = [e["event"] for e in hec.events()]
    assert_alert_docs_visible(docs[: len(alerts)], alerts)
    assert_event_docs_visible(docs[len(alerts):])


async def test_jsonl_lines_carry_every_payload_with_its_controls_visible(tmp_path: Path) -> None:
    alerts = corpus_alerts()
    alert_sink = JsonlSink(JsonlSinkConfig(path=str(tmp_path / "alerts.jsonl")))
    event_sink = JsonlSink(JsonlSinkConfig(path=str(tmp_path / "events.jsonl")))
    for sink, batch in ((alert_sink, list(alerts)), (event_sink, list(corpus_events()))):
        await sink.start()
        await sink.send(batch)
        await sink.close()
    alert_lines = (tmp_path / "alerts.jsonl").read_bytes().splitlines()
    event_lines = (tmp_path / "events.jsonl").read_bytes().splitlines()
    assert_alert_docs_visible([orjson.loads(line) for line in alert_lines], alerts)
    assert_event_docs_visible([orjson.loads(line) for line in event_lines])


async def test_jsonl_makes_one_payload_visible_among_clean_lines(tmp_path: Path) -> None:
    # The sink checks a batch in one scan: one record with a control character among
    # clean ones still reaches the file made visible, and the clean ones unchanged.
    clean = [corpus_event(0, "session opened for user root") for _ in range(3)]
    sink = JsonlSink(JsonlSinkConfig(path=str(tmp_path / "events.jsonl")))
    await sink.start()
    for index, payload in enumerate([*CORPUS, "caf\u00e9 na\u00efve"]):
        await sink.send([*clean, corpus_event(index, payload), *clean])
    await sink.close()
    docs = [orjson.loads(line) for line in (tmp_path / "events.jsonl").read_bytes().splitlines()]
    assert len(docs) == 7 * (len(CORPUS) + 1)
    for doc in docs:
        assert_no_raw_controls(doc)
    payloads = [doc["message"] for doc in docs[3::7]]
    assert payloads == [visible_controls(p) for p in CORPUS] + ["caf\u00e9 na\u00efve"]
    assert {doc["message"] for i, doc in enumerate(docs) if i % 7 != 3} == {
        "session opened for user root"}


async def test_stdout_json_and_text_carry_no_raw_controls() -> None:
    alerts = corpus_alerts()
    json_stream, text_stream = io.BytesIO(), io.BytesIO()
    json_sink = StdoutSink(StdoutSinkConfig(format="json"), stream=json_stream)
    text_sink = StdoutSink(StdoutSinkConfig(format="text"), stream=text_stream)
    for sink in (json_sink, text_sink):
        await sink.send(list(alerts))
        await sink.send(list(corpus_events()))
    docs = [orjson.loads(line) for line in json_stream.getvalue().splitlines()]
    assert_alert_docs_visible(docs[: len(alerts)], alerts)
    assert_event_docs_visible(docs[len(alerts):])
    text = text_stream.getvalue().decode()
    lines = text.splitlines()
    assert len(lines) == len(alerts) + len(CORPUS)  # no payload added a line
    # Only our own colour codes: each ESC starts a colour or its reset.
    assert len(re.findall("\x1b", text)) == 2 * len(alerts)
    assert not _RAW_CONTROL.search(re.sub("\x1b\\[[0-9;]*m", "", text).replace("\n", ""))
    assert visible_controls(CORPUS[13]) in lines[13]


async def test_kafka_topic_messages_carry_every_payload_with_its_controls_visible(
        kafka_broker: str) -> None:
    alerts = corpus_alerts()
    config = KafkaTopicSinkConfig(bootstrap_servers=[kafka_broker], topic="alerts", timeout=10.0)
    sink = KafkaTopicSink(config)
    await sink.start()
    await sink.send(list(alerts))
    await sink.close()
    consumer = AIOKafkaConsumer("alerts", bootstrap_servers=kafka_broker,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    values: list[bytes] = []
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while len(values) < len(alerts) and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                values.extend(record.value for record in records)
    finally:
        await consumer.stop()
    # One partition per key: the order holds per key only.
    docs = sorted((orjson.loads(value) for value in values), key=lambda d: d["logsentry"]["seq"])
    assert_alert_docs_visible(docs, alerts)


# --- syslog: CEF and JSON through rsyslog -------------------------------------------------------


def split_unescaped(text: str, separator: str, limit: int) -> list[str]:
    """Split on `separator` not preceded by an escaping backslash."""
    parts, current, index = [], [], 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            current.append(text[index: index + 2])
            index += 2
            continue
        if char == separator and len(parts) < limit:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
        index += 1
    parts.append("".join(current))
    return parts


def unescape_header(value: str) -> str:
    return re.sub(r"\\([\\|])", r"\1", value)


def parse_extension(text: str) -> dict[str, str]:
    """A CEF extension: keys are `\\w+=` not preceded by a backslash."""
    pairs = re.split(r"(?:^| )([A-Za-z0-9_]+)=(?<!\\=)", text)
    result = {}
    for key, value in zip(pairs[1::2], pairs[2::2], strict=True):
        result[key] = re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m.group(1),
                                                                        m.group(1)), value)
    return result


def cef_view(text: str) -> str:
    """What a CEF parser should read back from an extension value."""
    return visible_controls(text.replace("\r\n", "\n").replace("\n", "\x00N").replace(
        "\r", "\x00R")).replace("\u2400N", "\n").replace("\u2400R", "\r")


@pytest.mark.skipif(RSYSLOGD is None, reason="rsyslogd absent: apt-get install rsyslog")
async def test_syslog_cef_and_json_arrive_escaped_one_line_per_alert(tmp_path: Path) -> None:
    alerts = corpus_alerts()
    with run_rsyslog(tmp_path / "cef") as cef_server, \
            run_rsyslog(tmp_path / "json") as json_server:
        for server, fmt in ((cef_server, "cef"), (json_server, "json")):
            sink = SyslogSink(SyslogSinkConfig(host="127.0.0.1", port=server.port, format=fmt))
            await sink.start()
            await sink.send(list(alerts))
            await sink.close()
            server.wait_for_lines(len(alerts))
        cef_raw, cef_parsed = cef_server.raw_lines(), cef_server.parsed()
        json_raw, json_parsed = json_server.raw_lines(), json_server.parsed()
    # Exactly one line per alert: no payload split a message; rsyslog saw no raw
    # control characters (it would have written them as #ooo).
    assert len(cef_raw) == len(alerts) and len(json_raw) == len(alerts)
    for line in cef_raw + json_raw:
        assert not re.search(r"#0[0-3][0-7]|#177", line), line
    for alert, parsed in zip(alerts, cef_parsed, strict=True):
        header = split_unescaped(parsed["msg"], "|", 7)
        assert len(header) == 8, parsed["msg"]
        assert header[0] == "CEF:0" and header[6] == "8"
        assert unescape_header(header[4]) == visible_controls(alert.rule_id)
        extension = parse_extension(header[7])
        assert extension["msg"] == cef_view(alert.message)
        assert extension["externalId"] == alert.dedup_id
        if alert.group.get("user.name") is not None:
            assert extension["duser"] == cef_view(alert.group["user.name"])
        assert extension["src"] == "203.0.113.9"
        assert parsed["structured_data"].startswith("[logsentry@32473 ")
        assert parsed["structured_data"].count("]") - parsed["structured_data"].count("\\]") == 1
    for alert, parsed in zip(alerts, json_parsed, strict=True):
        doc = json.loads(parsed["msg"])
        assert_no_raw_controls(doc)
        assert doc["message"] == visible_controls(alert.message)
        for event in doc["logsentry"]["events"]:
            assert event["message"] == visible_controls(alert.message)
        assert orjson.loads(orjson.dumps(doc))["logsentry"]["dedup_id"] == alert.dedup_id
