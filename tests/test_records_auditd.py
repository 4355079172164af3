"""Linux audit records (raw auditd, enriched, syslog-wrapped, laurel JSON): fields, actions,
and hostile input that never raises."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from logsentry.core.analysis import Analysis
from logsentry.envelope import EnvelopeParser
from logsentry.records.auditd import MAX_ARGS, decode_auditd, decode_laurel

PARSER = EnvelopeParser(tz=UTC)

# Written for these tests after the audit documentation's record layouts.
EXEC = ("type=SYSCALL msg=audit(1732600000.125:4410): arch=c000003e syscall=59 success=yes exit=0 "
        "a0=5581 a1=5582 a2=5583 a3=0 items=2 ppid=3100 pid=3150 auid=1002 uid=1002 gid=1002 "
        "euid=1002 suid=1002 fsuid=1002 egid=1002 sgid=1002 fsgid=1002 tty=pts4 ses=77 "
        'comm="curl" exe="/usr/bin/curl" subj=unconfined key="net-tools"')
SSH_FAIL = ("type=USER_AUTH msg=audit(1732600100.500:4500): pid=880 uid=0 auid=4294967295 "
            "ses=4294967295 subj=unconfined msg='op=PAM:authentication acct=\"oracle\" "
            "exe=\"/usr/sbin/sshd\" "
            "hostname=? addr=198.51.100.44 terminal=sshd res=failed'")


def test_an_execve_syscall_record_is_a_started_process_with_its_parent() -> None:
    event = PARSER.parse(EXEC, 0.0)
    assert event.action == event.decoded_action == "process_started"
    assert event.timestamp == datetime(2024, 11, 26, 5, 46, 40, 125000, tzinfo=UTC)
    fields = event.fields
    assert fields["process.pid"] == 3150 and fields["process.parent.pid"] == 3100
    assert fields["process.name"] == "curl"
    assert fields["process.executable"] == "/usr/bin/curl"
    assert fields["user.id"] == "1002" and fields["user.audit.id"] == "1002"
    assert fields["auditd.data.tty"] == "pts4"
    assert fields["auditd.session"] == "77"
    assert fields["auditd.sequence"] == 4410
    assert fields["auditd.data.syscall"] == "execve"
    assert fields["auditd.result"] == "success"
    assert fields["tags"] == ["net-tools"]
    assert event.body == EXEC  # the analyzer still reads the record


def test_node_prefix_names_the_host() -> None:
    event = PARSER.parse("node=db-4.example " + EXEC, 0.0)
    assert event.fields["host.name"] == "db-4.example"
    assert event.fields["process.pid"] == 3150


def test_a_record_behind_a_syslog_header_keeps_its_own_process_and_time() -> None:
    event = PARSER.parse(f"Nov 26 05:46:41 db-4 audisp-syslog[612]: {EXEC}", 0.0)
    assert event.fields["host.name"] == "db-4"
    assert event.fields["process.name"] == "curl"  # not the forwarder
    assert event.fields["process.pid"] == 3150
    assert event.timestamp == datetime(2024, 11, 26, 5, 46, 40, 125000, tzinfo=UTC)
    assert event.action == "process_started"


def test_a_failed_or_other_syscall_fixes_no_action_but_other() -> None:
    failed = decode_auditd(EXEC.replace("success=yes exit=0", "success=no exit=-2"))
    opened = decode_auditd(EXEC.replace("syscall=59", "syscall=257"))
    assert failed is not None and failed.action == "other"
    assert failed.fields["auditd.result"] == "fail"
    assert opened is not None and opened.action == "other"
    assert opened.fields["auditd.data.syscall"] == "257"


def test_execve_syscall_numbers_depend_on_the_arch() -> None:
    arm64 = decode_auditd(EXEC.replace("arch=c000003e syscall=59", "arch=c00000b7 syscall=221"))
    i386_59 = decode_auditd(EXEC.replace("arch=c000003e", "arch=40000003"))
    assert arm64 is not None and arm64.action == "process_started"
    assert i386_59 is not None and i386_59.action == "other"  # 59 is not execve on i386


def test_execve_arguments_quoted_hex_and_in_chunks() -> None:
    line = ('type=EXECVE msg=audit(1732600000.125:4410): argc=4 a0="sh" a1="-c" '
            "a2=6563686F2068656C6C6F207C20626173653634202D64 a3_len=10 "
            'a3[0]=6162636465 a3[1]="fghij"')
    record = decode_auditd(line)
    assert record is not None
    assert record.fields["process.args"] == ["sh", "-c", "echo hello | base64 -d", "abcdefghij"]
    assert record.fields["process.args_count"] == 4
    assert record.fields["process.command_line"] == "sh -c echo hello | base64 -d abcdefghij"
    # The SYSCALL record of the same event carries the action: no double count.
    assert record.action == "other"


def test_enriched_records_name_the_syscall_and_users() -> None:
    line = (EXEC.replace("arch=c000003e syscall=59", "arch=deadbeef syscall=9999")
            + '\x1dARCH=x86_64 SYSCALL=execve AUID="alice" UID="root" EUID="root"')
    record = decode_auditd(line)
    assert record is not None
    assert record.action == "process_started"
    assert record.fields["user.name"] == "root"
    assert record.fields["user.audit.name"] == "alice"
    assert record.fields["auditd.data.arch"] == "x86_64"


@pytest.mark.parametrize(("line", "action"), [
    (SSH_FAIL, "ssh_login_failed"),
    # sshd's own failed USER_LOGIN repeats PAM's USER_AUTH (and fires for refused keys).
    (SSH_FAIL.replace("USER_AUTH", "USER_LOGIN"), "other"),
    (SSH_FAIL.replace("USER_AUTH", "USER_LOGIN").replace("res=failed", "res=success"),
     "ssh_login_success"),
    # A successful authentication is a step before the login record.
    (SSH_FAIL.replace("res=failed", "res=success"), "other"),
    (SSH_FAIL.replace("/usr/sbin/sshd", "/bin/login"), "login_failed"),
    (SSH_FAIL.replace("USER_AUTH", "USER_LOGIN").replace("/usr/sbin/sshd", "/bin/login")
     .replace("res=failed", "res=success"), "login_success"),
    (SSH_FAIL.replace("/usr/sbin/sshd", "/usr/bin/sudo"), "sudo_auth_failure"),
    (SSH_FAIL.replace("/usr/sbin/sshd", "/usr/bin/su"), "su_failed"),
])
def test_login_and_authentication_records(line: str, action: str) -> None:
    event = PARSER.parse(line, 0.0)
    assert event.action == action
    assert event.fields["user.name"] == "oracle"
    assert event.fields["source.ip"] == "198.51.100.44"
    assert event.fields["process.pid"] == 880
    assert event.fields["process.user.id"] == "0"
    assert "user.audit.id" not in event.fields  # 4294967295: unset


def test_placeholder_account_names_are_no_user() -> None:
    for account in ('acct="(invalid user)"', "acct=28756E6B6E6F776E207573657229"):
        event = PARSER.parse(SSH_FAIL.replace('acct="oracle"', account), 0.0)
        assert "user.name" not in event.fields  # "(unknown user)" hex-encoded, above
        assert event.action == "ssh_login_failed"
        assert event.fields["source.ip"] == "198.51.100.44"


def test_account_records() -> None:
    add = ("type=ADD_USER msg=audit(1732600200.000:4600): pid=991 uid=0 auid=1000 ses=3 "
           "msg='op=add-user acct=\"svc-backup\" exe=\"/usr/sbin/useradd\" hostname=web-1 "
           "addr=? terminal=pts/0 res=success'")
    event = PARSER.parse(add, 0.0)
    assert event.action == "user_created"
    assert event.fields["user.name"] == "svc-backup"
    assert event.fields["user.audit.id"] == "1000"
    assert "source.ip" not in event.fields
    assert PARSER.parse(add.replace("ADD_USER", "DEL_USER"), 0.0).action == "user_deleted"
    # A refused useradd created nobody: the type fixes nothing then.
    assert PARSER.parse(add.replace("res=success", "res=failed"), 0.0).decoded_action is None
    group = add.replace("ADD_USER", "USER_MGMT").replace("op=add-user", "op=add-user-to-group")
    assert PARSER.parse(group, 0.0).action == "group_changed"


def test_hex_encoded_account_name() -> None:
    line = SSH_FAIL.replace('acct="oracle"', "acct=6A6F686E20646F65")  # "john doe"
    assert PARSER.parse(line, 0.0).fields["user.name"] == "john doe"


LAUREL = {
    "ID": "1732600300.250:5001",
    "SYSCALL": {"arch": "0xc000003e", "syscall": 59, "success": "yes", "exit": 0,
                "ppid": 4200, "pid": 4242, "auid": 1000, "uid": 1000, "tty": "pts1", "ses": 9,
                "comm": "base64", "exe": "/usr/bin/base64", "key": "b64", "SYSCALL": "execve",
                "UID": "dev", "AUID": "dev",
                "PPID": {"comm": "bash", "exe": "/usr/bin/bash", "ppid": 4100}},
    "EXECVE": {"argc": 2, "ARGV": ["base64", "--decode"]},
    "PROCTITLE": {"ARGV": ["base64", "--decode"]},
}


def test_laurel_event_through_the_envelope() -> None:
    event = PARSER.parse(orjson.dumps(LAUREL).decode(), 0.0)
    assert event.action == "process_started"
    fields = event.fields
    assert fields["process.pid"] == 4242 and fields["process.parent.pid"] == 4200
    assert fields["process.parent.name"] == "bash"
    assert fields["process.parent.executable"] == "/usr/bin/bash"
    assert fields["process.command_line"] == "base64 --decode"
    assert fields["process.args"] == ["base64", "--decode"]
    assert fields["user.name"] == "dev"
    assert fields["auditd.sequence"] == 5001
    assert event.timestamp == datetime(2024, 11, 26, 5, 51, 40, 250000, tzinfo=UTC)


def test_laurel_user_records_come_as_lists() -> None:
    doc = {"ID": "1732600400.000:6000", "ANOM_ABEND": [
        {"auid": 1000, "uid": 1000, "pid": 777, "comm": "nginx", "exe": "/usr/sbin/nginx",
         "sig": 11, "res": 1}]}
    record = decode_laurel(doc)
    assert record is not None and record.action == "service_crash"
    assert record.fields["process.name"] == "nginx"
    assert decode_laurel({"ID": "x", "other": 1}) is None
    # An application's JSON with an "ID" key is no laurel event.
    assert decode_laurel({"ID": "7", "USER_PREFS": {"uid": 5, "res": "success"}}) is None
    assert decode_laurel({**doc, "ID": 1732600400}) is None


def test_the_model_neither_replaces_the_action_nor_adds_fields() -> None:
    event = PARSER.parse(EXEC, 0.0)
    event.apply(Analysis(action="ssh_login_failed", confidence=0.9,
                         fields={"process.command_line": "curl", "source.ip": "192.0.2.1"}))
    assert event.action == "process_started"
    assert "process.command_line" not in event.fields
    assert "source.ip" not in event.fields


def test_lines_that_only_start_like_records_are_left_alone() -> None:
    for line in ("node server listening on 3000", "type=foo bar=baz", "tail -f x",
                 "type=SYSCALL msg=audit(abc:1): pid=1"):
        event = PARSER.parse(line, 0.0)
        assert event.decoded_action is None
        assert event.body == line
        assert "auditd.message_type" not in event.fields


def test_hostile_records_never_raise() -> None:
    lines = [EXEC, SSH_FAIL,
             'type=EXECVE msg=audit(1732600000.125:4410): argc=3 a0="sh" a1=ZZ a2=ABC']
    for line in lines:
        for cut in range(len(line) + 1):
            PARSER.parse(line[:cut], 0.0)  # every truncation
    hostile = [
        EXEC.replace('comm="curl"', 'comm="cu\x00rl\ufffd"'),
        "type=EXECVE msg=audit(1732600000.125:1): argc=999999999 a0=\"x\"",
        "type=EXECVE msg=audit(1732600000.125:1): argc=-5 a0=\"x\" a1=\"y\"",
        "type=SYSCALL msg=audit(99999999999.999999999:99999999999999999999): pid=99999999999",
        "type=SYSCALL msg=audit(0.0:0): ppid=1 pid=2",
        "type=USER_LOGIN msg=audit(1732600000.1:2): msg='acct=\"x' res=failed",
        "type=SYSCALL msg=audit(1732600000.1:2): " + "a=" * 200_000,
        "type=EXECVE msg=audit(1732600000.1:2): argc=1 a0=" + "41" * 500_000,
    ]
    for line in hostile:
        event = PARSER.parse(line, 0.0)
        for value in event.fields.values():
            assert not isinstance(value, str) or len(value) <= 8192
    huge = PARSER.parse(hostile[-1], 0.0)
    assert len(huge.fields["process.command_line"]) <= 8192
    zero = decode_auditd("type=SYSCALL msg=audit(0.0:0): ppid=1 pid=2")
    assert zero is not None and zero.timestamp is None  # implausible time: arrival stands in
    argc = decode_auditd("type=EXECVE msg=audit(1732600000.125:1): argc=999999999 a0=\"x\"")
    assert argc is not None and argc.fields["process.args"] == ["x"]
    assert MAX_ARGS < 999999999


def test_decoded_fields_reach_the_ecs_document() -> None:
    event = PARSER.parse(EXEC, 0.0)
    event.apply(Analysis(action="other"))
    doc = event.to_ecs()
    assert doc["process"]["parent"]["pid"] == 3100
    assert doc["auditd"]["data"]["tty"] == "pts4"
    assert doc["event"]["action"] == "process_started"
    assert doc["event"]["category"] == ["process"]
