"""Windows event records (event XML, nxlog and winlogbeat JSON): fields, actions, the
brute-force rules they reach, and hostile XML that never raises or expands."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson
import pytest

from logsentry.core.analysis import Analysis
from logsentry.detect.config import DetectionConfig
from logsentry.detect.detector import Detector
from logsentry.envelope import EnvelopeParser
from logsentry.records.windows_event import decode_windows_xml, system_time

PARSER = EnvelopeParser(tz=UTC)
NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def event_xml(event_id: int, data: dict[str, str], provider: str =
              "Microsoft-Windows-Security-Auditing", stamp: str = "2024-11-26T09:15:30.4567891Z",
              computer: str = "dc-01.corp.example") -> str:
    """One event as the event log renders it (one line, as forwarders write it)."""
    items = "".join(f'<Data Name="{name}">{value}</Data>' for name, value in data.items())
    return (f'<Event xmlns="{NS}"><System><Provider Name="{provider}" '
            'Guid="{00000000-0000-0000-0000-000000000000}"/>'
            f"<EventID>{event_id}</EventID><Version>0</Version><Level>0</Level>"
            f'<TimeCreated SystemTime="{stamp}"/><EventRecordID>81723</EventRecordID>'
            f"<Channel>Security</Channel><Computer>{computer}</Computer><Security/></System>"
            f"<EventData>{items}</EventData></Event>")


FAILED_LOGON = {
    "SubjectUserSid": "S-1-0-0", "SubjectUserName": "-", "TargetUserName": "backup",
    "TargetDomainName": "CORP", "Status": "0xc000006d", "SubStatus": "0xc000006a",
    "LogonType": "3", "WorkstationName": "KALI", "ProcessId": "0x0", "ProcessName": "-",
    "IpAddress": "198.51.100.23", "IpPort": "49811",
}


def test_a_failed_logon_names_account_address_host_and_time() -> None:
    event = PARSER.parse(event_xml(4625, FAILED_LOGON), 0.0)
    assert event.action == event.decoded_action == "login_failed"
    fields = event.fields
    assert fields["event.code"] == "4625"
    assert fields["event.provider"] == "Microsoft-Windows-Security-Auditing"
    assert fields["user.name"] == "backup" and fields["user.domain"] == "CORP"
    assert fields["source.ip"] == "198.51.100.23" and fields["source.port"] == 49811
    assert fields["source.domain"] == "KALI"
    assert fields["host.name"] == "dc-01.corp.example"
    assert fields["winlog.channel"] == "Security"
    assert fields["winlog.record_id"] == 81723
    assert fields["winlog.event_data.LogonType"] == "3"
    assert "process.pid" not in fields and "process.executable" not in fields  # 0x0 and -
    assert event.timestamp == datetime(2024, 11, 26, 9, 15, 30, 456789, tzinfo=UTC)


def test_local_failures_have_no_source_address() -> None:
    event = PARSER.parse(event_xml(4625, {**FAILED_LOGON, "IpAddress": "-", "IpPort": "0"}), 0.0)
    assert "source.ip" not in event.fields and "source.port" not in event.fields


@pytest.mark.parametrize(("event_id", "action"), [
    (4624, "login_success"), (4771, "login_failed"), (4720, "user_created"),
    (4726, "user_deleted"), (4738, "user_changed"), (4634, None),
])
def test_security_event_ids_fix_their_actions(event_id: int, action: str | None) -> None:
    event = PARSER.parse(event_xml(event_id, {"TargetUserName": "eve", "SubjectUserName": "adm",
                                              "TargetDomainName": "CORP"}), 0.0)
    assert event.decoded_action == action
    if event_id in (4720, 4726, 4738):
        assert event.fields["user.name"] == "eve"  # the account acted on, as iam.* rules read


def test_ntlm_validation_fails_unless_its_status_is_zero() -> None:
    data = {"TargetUserName": "eve", "Workstation": "WS9"}
    failed = event_xml(4776, {**data, "Status": "0xc000006a"})
    passed = event_xml(4776, {**data, "Status": "0x0"})
    assert PARSER.parse(failed, 0.0).action == "login_failed"
    assert PARSER.parse(passed, 0.0).decoded_action is None


def test_group_membership_names_group_and_member() -> None:
    event = PARSER.parse(event_xml(4732, {
        "MemberName": "CN=Mallory Smith\\, Jr,OU=Staff,DC=corp,DC=example",
        "MemberSid": "S-1-5-21-1-2-3-1104", "TargetUserName": "Administrators",
        "TargetDomainName": "Builtin", "SubjectUserName": "adm"}), 0.0)
    assert event.action == "group_changed"
    assert event.fields["group.name"] == "Administrators"
    assert event.fields["user.name"] == "Mallory Smith, Jr"


def test_process_creation_4688_with_hex_ids() -> None:
    event = PARSER.parse(event_xml(4688, {
        "SubjectUserName": "jdoe", "SubjectDomainName": "CORP", "NewProcessId": "0x1a2c",
        "NewProcessName": "C:\\Windows\\System32\\whoami.exe", "ProcessId": "0x3e8",
        "CommandLine": "whoami /all", "ParentProcessName": "C:\\Windows\\System32\\cmd.exe",
        "TargetUserName": "-"}), 0.0)
    fields = event.fields
    assert event.action == "process_started"
    assert fields["process.pid"] == 0x1A2C and fields["process.parent.pid"] == 1000
    assert fields["process.name"] == "whoami.exe"
    assert fields["process.parent.name"] == "cmd.exe"
    assert fields["process.command_line"] == "whoami /all"
    assert fields["user.name"] == "jdoe" and fields["user.domain"] == "CORP"


def test_sysmon_process_creation_splits_domain_and_user() -> None:
    event = PARSER.parse(event_xml(1, {
        "ProcessId": "6120", "Image": "C:\\Tools\\x.exe", "CommandLine": "x.exe -q",
        "User": "CORP\\jdoe", "ParentProcessId": "900", "ParentImage": "C:\\Windows\\explorer.exe",
    }, provider="Microsoft-Windows-Sysmon"), 0.0)
    fields = event.fields
    assert event.action == "process_started"
    assert fields["user.name"] == "jdoe" and fields["user.domain"] == "CORP"
    assert fields["process.pid"] == 6120 and fields["process.parent.pid"] == 900
    assert fields["process.name"] == "x.exe"


def test_ids_of_other_providers_fix_nothing() -> None:
    event = PARSER.parse(event_xml(4625, FAILED_LOGON, provider="Contoso-App"), 0.0)
    assert event.decoded_action is None
    assert event.fields["event.code"] == "4625"
    sysmon_3 = event_xml(3, {"SourceIp": "10.0.0.5", "DestinationIp": "203.0.113.9",
                             "DestinationPort": "445"}, provider="Microsoft-Windows-Sysmon")
    fields = PARSER.parse(sysmon_3, 0.0).fields
    assert fields["destination.ip"] == "203.0.113.9" and fields["destination.port"] == 445


def test_nxlog_and_winlogbeat_json() -> None:
    nxlog = {"EventTime": "2024-11-26T09:00:00Z", "Hostname": "dc-02", "EventID": 4625,
             "SourceName": "Microsoft-Windows-Security-Auditing", "Channel": "Security",
             "TargetUserName": "svc", "TargetDomainName": "CORP", "IpAddress": "192.0.2.71",
             "IpPort": "0"}
    event = PARSER.parse(orjson.dumps(nxlog).decode(), 0.0)
    assert event.action == "login_failed"
    assert event.fields["source.ip"] == "192.0.2.71" and event.fields["host.name"] == "dc-02"
    assert event.timestamp == datetime(2024, 11, 26, 9, 0, tzinfo=UTC)
    beat = {"@timestamp": "2024-11-26T09:00:01Z", "winlog": {
        "event_id": "4624", "provider_name": "Microsoft-Windows-Security-Auditing",
        "computer_name": "dc-03", "channel": "Security",
        "event_data": {"TargetUserName": "svc", "IpAddress": "192.0.2.72", "LogonType": "10"}}}
    event = PARSER.parse(orjson.dumps(beat).decode(), 0.0)
    assert event.action == "login_success"
    assert event.fields["user.name"] == "svc" and event.fields["host.name"] == "dc-03"
    # An application's own "EventID" key is no Windows event.
    event = PARSER.parse('{"EventID": 4625, "msg": "order shipped"}', 0.0)
    assert event.decoded_action is None


def test_entities_are_undone_but_never_expanded() -> None:
    line = event_xml(4688, {"SubjectUserName": "a&amp;b", "CommandLine":
                            "cmd /c &quot;echo &lt;x&gt; &#x41;&#66; &xxe; &#99999999;&quot;",
                            "NewProcessName": "C:\\cmd.exe"})
    fields = PARSER.parse(line, 0.0).fields
    assert fields["user.name"] == "a&b"
    assert fields["process.command_line"] == 'cmd /c "echo <x> AB &xxe; &#99999999;"'
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
            + event_xml(4625, {**FAILED_LOGON, "TargetUserName": "&lol2;"}))
    assert PARSER.parse(bomb, 0.0).decoded_action is None  # not an `<Event` line
    event = PARSER.parse(event_xml(4625, {**FAILED_LOGON, "TargetUserName": "&lol2;"}), 0.0)
    assert event.fields["user.name"] == "&lol2;"


def test_hostile_xml_never_raises() -> None:
    line = event_xml(4625, FAILED_LOGON)
    for cut in range(len(line) + 1):
        PARSER.parse(line[:cut], 0.0)  # every truncation
    huge = event_xml(4688, {"CommandLine": "A" * 1_000_000, "NewProcessName": "C:\\x.exe",
                            **{f"D{i}": "v" for i in range(5000)}})
    start = time.perf_counter()
    event = PARSER.parse(huge, 0.0)
    assert time.perf_counter() - start < 1.0
    assert all(len(v) <= 8192 for v in event.fields.values() if isinstance(v, str))
    for bad in (
        line.replace("<EventID>4625</EventID>", "<EventID>99999999999999</EventID>"),
        line.replace("2024-11-26T09:15:30.4567891Z", "not-a-time"),
        line.replace("2024-11-26T09:15:30.4567891Z", "2024-13-45T99:99:99.1Z"),
        line.replace("198.51.100.23", "198.51.100.23\x00\ufffd"),
        line.replace("49811", "0xZZ"),
        "<Event" + "<Data Name='x'>" * 50_000,
        '<Event><System><EventID>4625</EventID></System><EventData><Data Name="IpAddress">',
    ):
        event = PARSER.parse(bad, 0.0)
    assert system_time("2024-11-26T09:15:30.4567891Z") is not None
    assert system_time("2024-11-26T09:15:30.45x") is None
    assert decode_windows_xml("<Event><System></System></Event>") is None


def test_the_model_does_not_relabel_a_decoded_event() -> None:
    event = PARSER.parse(event_xml(4625, FAILED_LOGON), 0.0)
    event.apply(Analysis(action="other", fields={"user.name": "KALI", "source.ip": "10.9.9.9"}))
    assert event.action == "login_failed"
    assert event.fields["user.name"] == "backup" and event.fields["source.ip"] == "198.51.100.23"
    doc = event.to_ecs()
    assert doc["event"]["code"] == "4625" and doc["event"]["action"] == "login_failed"
    assert doc["event"]["outcome"] == "failure"


def test_failed_windows_logons_reach_the_brute_force_rules() -> None:
    detector = Detector.from_config(DetectionConfig(rules=[]), None)
    events = []
    for i in range(5):
        stamp = f"2024-11-26T09:15:{30 + i:02d}.1000000Z"
        user = ("administrator", "admin", "backup", "sql", "guest")[i]
        event = PARSER.parse(event_xml(4625, {**FAILED_LOGON, "TargetUserName": user},
                                       stamp=stamp), 0.0)
        event.apply(Analysis(action="other"))
        events.append(event)
    alerts = detector.process(events)
    named = [a for a in alerts if a.group.get("source.ip") == "198.51.100.23"]
    assert {a.rule_id for a in named} >= {"auth.service-brute-force"}


def test_sysmon_for_linux_records_decode_files_and_connections() -> None:
    def linux_sysmon(event_id: int, data: dict[str, str]) -> str:
        body = event_xml(event_id, data, provider="Linux-Sysmon", computer="web01")
        return "May  1 10:00:00 web01 sysmon: " + body.replace(
            "<Channel>Security</Channel>", "<Channel>Linux-Sysmon/Operational</Channel>")

    created = PARSER.parse(linux_sysmon(11, {
        "ProcessId": "4242", "Image": "/usr/bin/wget", "TargetFilename": "/tmp/x.sh",
        "User": "www-data"}), 0.0).fields
    assert created["file.path"] == "/tmp/x.sh" and created["process.name"] == "wget"
    assert created["user.name"] == "www-data" and created["event.provider"] == "Linux-Sysmon"
    connection = PARSER.parse(linux_sysmon(3, {
        "Image": "/bin/bash", "DestinationIp": "203.0.113.9", "DestinationPort": "4444",
        "DestinationHostname": "c2.example"}), 0.0).fields
    assert connection["destination.domain"] == "c2.example"
    assert connection["destination.port"] == 4444
    started = PARSER.parse(linux_sysmon(1, {"Image": "/usr/bin/id", "CommandLine": "id"}), 0.0)
    assert started.action == "process_started"
