"""PAN-OS THREAT and TRAFFIC records: their columns, not the model, name the ends."""

from __future__ import annotations

from datetime import UTC

from logsentry.envelope import EnvelopeParser
from logsentry.records.panos import decode_panos, find_panos

THREAT = (
    "1,2024/02/01 10:00:00,001122334455,THREAT,vulnerability,2561,2024/02/01 10:00:00,"
    "198.51.100.20,192.0.2.10,198.51.100.20,192.0.2.10,allow-web,,,web-browsing,vsys1,"
    "untrust,dmz,ethernet1/1,ethernet1/2,fwd,2024/02/01 10:00:00,4242,1,51515,443,0,0,"
    "0x402000,tcp,reset-both,\"example.com/cgi-bin/x\",Apache Path Traversal(91234),"
    "any,critical,client-to-server,7204,0x8000000000000000,US,DE")
TRAFFIC = (
    "1,2024/02/01 10:00:01,001122334455,TRAFFIC,drop,2561,2024/02/01 10:00:01,"
    "203.0.113.5,192.0.2.10,0.0.0.0,0.0.0.0,deny-all,,,not-applicable,vsys1,untrust,dmz,"
    "ethernet1/1,,fwd,2024/02/01 10:00:01,0,1,40001,3389,0,0,0x0,tcp,deny,60,60,0,1")


def test_a_threat_record_names_both_ends_and_is_an_intrusion() -> None:
    line = f"<14>Feb  1 10:00:00 PA-3220 {THREAT}"
    event = EnvelopeParser(UTC).parse(line, 0.0)
    assert event.action == "intrusion_detected"
    assert (event.fields["source.ip"], event.fields["source.port"]) == ("198.51.100.20", 51515)
    assert (event.fields["destination.ip"], event.fields["destination.port"]) == (
        "192.0.2.10", 443)
    assert event.fields["panw.panos.threat.name"] == "Apache Path Traversal(91234)"
    assert event.fields["rule.name"] == "allow-web"
    assert event.fields["host.name"] == "PA-3220"


def test_denied_traffic_is_a_firewall_drop_and_allowed_traffic_is_left_to_the_model() -> None:
    decoded = decode_panos(TRAFFIC)
    assert decoded is not None and decoded.action == "firewall_drop"
    assert decoded.fields["destination.port"] == 3389
    allowed = decode_panos(TRAFFIC.replace(",tcp,deny,", ",tcp,allow,"))
    assert allowed is not None and allowed.action is None


def test_other_lines_and_truncated_records_are_not_panos() -> None:
    assert find_panos("Failed password for root from 192.0.2.1 port 22 ssh2") == -1
    assert find_panos("x,THREAT, but no record") == -1
    assert decode_panos(THREAT[:120]) is None  # too few columns: nothing guessed
    assert decode_panos('1,"unterminated') is None
