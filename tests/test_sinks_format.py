"""Escaping, framing, routing, secrets and the sink factory (pure functions)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError

from logsentry.config import parse_config, redacted
from logsentry.core.errors import ConfigError, SecretError
from logsentry.core.event import Event
from logsentry.sinks.cef import escape_extension, escape_header, format_cef
from logsentry.sinks.config import (
    KafkaTopicSinkConfig,
    Routing,
    SlackSinkConfig,
    SplunkHecSinkConfig,
    SyslogSinkConfig,
    WebhookSinkConfig,
)
from logsentry.sinks.control_chars import record_json, visible_controls, visible_document
from logsentry.sinks.factory import build_sink, check_unique_names, sink_name
from logsentry.sinks.kafka_topic import KafkaTopicSink
from logsentry.sinks.mrkdwn import attack_link, escape
from logsentry.sinks.rfc5424 import format_message, octet_counted, sd_param
from logsentry.sinks.routing import accepts
from logsentry.sinks.slack import SlackSink
from logsentry.sinks.splunk_hec import SplunkHecSink
from logsentry.sinks.syslog import SyslogSink
from logsentry.sinks.webhook import WebhookSink, sign
from logsentry.transport.http_client import parse_retry_after
from logsentry.transport.secrets import resolve_secret
from tests.servers.alerts import numbered_alert


def test_cef_header_escapes_pipe_and_backslash_only() -> None:
    assert escape_header("a|b\\c=d") == "a\\|b\\\\c=d"
    assert escape_header("line\nbreak") == "line\u240abreak"


def test_cef_extension_escapes_equals_backslash_and_line_breaks() -> None:
    assert escape_extension("a=b\\c|d") == "a\\=b\\\\c|d"
    assert escape_extension("one\ntwo\r\nthree\rfour") == "one\\ntwo\\nthree\\rfour"
    assert escape_extension("\x1b[31m\x00") == "\u241b[31m\u2400"


def test_cef_record_maps_group_fields_and_rejects_bad_addresses() -> None:
    alert = numbered_alert(1, group={"source.ip": "not-an-ip", "destination.ip": "192.0.2.1",
                                     "user.name": "root", "process.name": "sshd"})
    record = format_cef(alert)
    assert record.startswith("CEF:0|logsentry|logsentry|0.1|ssh.brute_force|SSH brute force|8|")
    assert " dst=192.0.2.1" in record and " duser=root" in record
    assert " src=" not in record  # a non-IP value never goes in a typed field
    assert '"source.ip":"not-an-ip"' in record and "cs3Label=group" in record
    assert f"externalId={alert.dedup_id}" in record and "cs1=T1110.001" in record


def test_mrkdwn_escape_neutralises_links_mentions_and_pings() -> None:
    assert escape("<!channel> & <http://x|y>") == "&lt;!channel&gt; &amp; &lt;http://x|y&gt;"
    assert escape("hi @here @Channel") == "hi @\u2060here @\u2060Channel"
    assert escape("a\nb\x1b") == "a\u240ab\u241b"
    assert escape("x" * 600, 10) == "x" * 9 + "\u2026"


def test_attack_links_only_for_well_formed_technique_ids() -> None:
    assert attack_link("T1110.003") == (
        "<https://attack.mitre.org/techniques/T1110/003/|T1110.003>")
    assert attack_link("<!here>") == "&lt;!here&gt;"


def test_visible_controls_covers_bidi_and_separators() -> None:
    assert visible_controls("a\u202eb\u2028c\x7f") == "a<U+202E>b<U+2028>c\u2421"
    assert visible_controls("plain ünïcode ✓") == "plain ünïcode ✓"


def test_rfc5424_message_and_octet_counting() -> None:
    alert = numbered_alert(2, severity="critical", rule_id="web attack\n")
    message = format_message(alert, "body\nwith break", facility=13, hostname="my host",
                             app_name="logsentry")
    text = message.decode()
    assert text.startswith("<106>1 2026-05-28T20:27:12.000Z my_host logsentry ")
    assert " web_attack_ [logsentry@32473 " in text
    assert "\n" not in text and text.endswith("body\u240awith break")
    assert octet_counted(b"abc") == b"3 abc"
    assert octet_counted(message).startswith(str(len(message)).encode() + b" <106>")
    assert sd_param('a"b]c\\') == 'a\\"b\\]c\\\\'


def test_routing_by_severity_rule_pattern_and_tags() -> None:
    alert = numbered_alert(1, severity="medium", rule_id="ssh.spray", tags=["ssh", "auth"])
    assert accepts(Routing(), alert)
    assert not accepts(Routing(min_severity="high"), alert)
    assert accepts(Routing(min_severity="medium"), alert)
    assert accepts(Routing(rule_ids=["ssh.*"]), alert)
    assert not accepts(Routing(rule_ids=["web.*"]), alert)
    assert accepts(Routing(tags=["auth", "x"]), alert)
    assert not accepts(Routing(tags=["web"]), alert)
    assert not accepts(Routing(records="events"), alert)


def test_secrets_resolve_from_env_and_file(monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    monkeypatch.setenv("HOOK", "https://hooks.example/abc")
    secret = tmp_path / "token"
    secret.write_text("tok-123\n")
    assert resolve_secret("${ENV:HOOK}") == "https://hooks.example/abc"
    assert resolve_secret(f"${{FILE:{secret}}}") == "tok-123"
    assert resolve_secret("literal") == "literal"
    monkeypatch.delenv("HOOK")
    with pytest.raises(SecretError, match="HOOK is not set"):
        resolve_secret("${ENV:HOOK}")
    with pytest.raises(SecretError, match="cannot read"):
        resolve_secret(f"${{FILE:{tmp_path / 'missing'}}}")


def test_check_config_output_redacts_every_sink_secret() -> None:
    config = parse_config("""
sinks:
  - {type: slack, webhook_url: "https://hooks.slack.com/services/T/B/SECRET1"}
  - {type: slack, name: api, bot_token: xoxb-SECRET2, channel: "#sec"}
  - {type: webhook, url: "https://x.example/SECRET3", hmac_secret: SECRET4,
     headers: {Authorization: "Bearer SECRET5"}}
  - {type: splunk_hec, url: "https://splunk:8088", token: SECRET6}
  - {type: kafka_topic, bootstrap_servers: ["k:9092"], topic: alerts,
     sasl_mechanism: PLAIN, sasl_plain_username: u, sasl_plain_password: SECRET7}
  - {type: syslog, host: siem.example, protocol: tls, tls: {ca_file: /etc/ca.pem}}
""")
    text = repr(redacted(config)) + repr(config)
    assert "SECRET" not in text
    assert "siem.example" in text and "/etc/ca.pem" in text


def test_slack_config_needs_exactly_one_transport() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        SlackSinkConfig()
    with pytest.raises(ValidationError, match="needs a channel"):
        SlackSinkConfig(bot_token="xoxb-1")


def test_factory_builds_every_sink_type() -> None:
    configs = [
        (SlackSinkConfig(webhook_url="https://h.example/x"), SlackSink),
        (WebhookSinkConfig(url="https://h.example/y"), WebhookSink),
        (SyslogSinkConfig(host="127.0.0.1"), SyslogSink),
        (SplunkHecSinkConfig(url="https://s.example", token="t"), SplunkHecSink),
        (KafkaTopicSinkConfig(bootstrap_servers=["127.0.0.1:9092"], topic="t"), KafkaTopicSink),
    ]
    for config, cls in configs:
        sink = build_sink(config)
        assert isinstance(sink, cls) and sink.name == config.type == sink_name(config)
    named = build_sink(SyslogSinkConfig(name="siem", host="h"))
    assert named.name == "siem"
    with pytest.raises(ConfigError, match="slack"):
        check_unique_names([configs[0][0], configs[0][0]])


def test_retry_after_accepts_seconds_and_dates_and_caps_them() -> None:
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("999999") == 900.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_webhook_signature_is_hmac_sha256_of_timestamp_and_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"k", b"123.{}", hashlib.sha256).hexdigest()
    assert sign(b"k", "123", b"{}") == "sha256=" + expected


def test_record_json_is_the_records_own_json_unless_it_holds_a_control() -> None:
    clean = Event(message="Failed password for root from 203.0.113.9 port 22 ssh2 ünï",
                  fields={"source.ip": "203.0.113.9"})
    assert record_json(clean) is clean.to_json()  # the cached bytes, not a copy
    backslash = Event(message="C:\\new\\table \\u001b")  # text, not controls
    assert orjson.loads(record_json(backslash))["message"] == backslash.message
    dirty = Event(message="a\x1b[2Jb\u202ec\r\nd\x85", fields={"user.name": "x\ty"})
    doc = orjson.loads(record_json(dirty))
    assert doc["message"] == "a\u241b[2Jb<U+202E>c\u240d\u240ad<U+0085>"
    assert doc["user"]["name"] == "x\u2409y"
    assert visible_document({"k\n": ["\x00", 1, None]}) == {"k\u240a": ["\u2400", 1, None]}
