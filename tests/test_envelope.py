"""Envelope parsing: each header format yields its fields and leaves the body to the analyzer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from logsentry.envelope import EnvelopeParser

UTC_PARSER = EnvelopeParser(tz=UTC)


def test_rfc3164_without_year_takes_the_most_recent_past_date() -> None:
    now = datetime.now(UTC)
    stamp = (now - timedelta(days=3)).strftime("%b %e %H:%M:%S")
    event = UTC_PARSER.parse(f"{stamp} web-1 sshd[42]: Failed password for root", 0.0)
    assert event.timestamp is not None
    assert event.timestamp.year in (now.year, now.year - 1)
    assert event.timestamp <= now
    assert event.fields == {"host.name": "web-1", "process.name": "sshd", "process.pid": 42}
    assert event.body == "Failed password for root"


def test_rfc3164_with_priority_and_year() -> None:
    event = UTC_PARSER.parse("<38>Feb  7 2005 15:10:42 gate sshd: Accepted password", 0.0)
    assert event.timestamp == datetime(2005, 2, 7, 15, 10, 42, tzinfo=UTC)
    assert event.fields == {"host.name": "gate", "process.name": "sshd"}
    assert event.body == "Accepted password"


def test_rsyslog_high_precision_timestamp() -> None:
    event = UTC_PARSER.parse(
        "2026-11-26T06:05:44.123456+01:00 db-2 sudo: pam_unix(sudo:auth): failure", 0.0)
    assert event.timestamp == datetime(2026, 11, 26, 6, 5, 44, 123456,
                                       tzinfo=timezone(timedelta(hours=1)))
    assert event.fields == {"host.name": "db-2", "process.name": "sudo"}
    assert event.body == "pam_unix(sudo:auth): failure"


def test_rfc5424_structured_data_reaches_the_model_before_the_message() -> None:
    line = '<165>1 2026-11-26T06:00:00.5Z mail.example.org postfix 901 ID47 [a b="c\\]"] body text'
    event = UTC_PARSER.parse(line, 0.0)
    assert event.timestamp == datetime(2026, 11, 26, 6, 0, 0, 500000, tzinfo=UTC)
    assert event.fields == {"host.name": "mail.example.org", "process.name": "postfix",
                            "process.pid": 901}
    assert event.body == '[a b="c\\]"] body text'


def test_rfc5424_transport_only_structured_data_is_left_out_of_the_body() -> None:
    line = ('<34>1 2026-11-26T06:00:00Z h app - - [timeQuality tzKnown="1" isSynced="1"]'
            '[origin ip="192.0.2.1"][login@32473 src="203.0.113.9" user="a\\"b\\\\"] denied')
    event = UTC_PARSER.parse(line, 0.0)
    # The sender's own address (origin) must not read as the client's.
    assert event.body == '[login@32473 src="203.0.113.9" user="a\\"b\\\\"] denied'
    only_transport = UTC_PARSER.parse(
        '<34>1 2026-11-26T06:00:00Z h app - - [meta sequenceId="7"] hello', 0.0)
    assert only_transport.body == "hello"


def test_rfc5424_escaped_bracket_in_a_value_does_not_end_its_element() -> None:
    # A user name that spells `][timeQuality ...` stays inside its own element: it is
    # neither dropped as transport data nor read as a second element.
    element = '[x@1 user="a\\][timeQuality tzKnown=\\"1\\""]'
    event = UTC_PARSER.parse(f"<34>1 2026-11-26T06:00:00Z h app - - {element} msg", 0.0)
    assert event.body == f"{element} msg"


def test_journald_export_json_with_a_byte_array_message() -> None:
    line = ('{"__REALTIME_TIMESTAMP":"1764136800000000","_HOSTNAME":"h1",'
            '"SYSLOG_IDENTIFIER":"sshd","_PID":"77","MESSAGE":[104,105,255]}')
    event = UTC_PARSER.parse(line, 0.0)
    assert event.timestamp == datetime.fromtimestamp(1764136800, UTC)
    assert event.fields == {"host.name": "h1", "process.name": "sshd", "process.pid": 77}
    assert event.body == "hi\ufffd"


def test_generic_json_with_a_message_field() -> None:
    event = UTC_PARSER.parse(
        '{"time":"2026-01-02T03:04:05Z","host":"app-3","msg":"login failed user=bob"}', 0.0)
    assert event.timestamp == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert event.fields == {"host.name": "app-3"}
    assert event.body == "login failed user=bob"


def test_combined_access_log_fills_the_request_fields() -> None:
    line = ('2001:db8::7 - alice [10/Oct/2026:13:55:36 -0700] "POST /login?next=%2F HTTP/2.0" '
            '401 12 "https://x/" "curl/8.1"')
    event = UTC_PARSER.parse(line, 0.0)
    assert event.timestamp == datetime(2026, 10, 10, 13, 55, 36,
                                       tzinfo=timezone(timedelta(hours=-7)))
    assert event.fields == {
        "source.ip": "2001:db8::7",
        "user.name": "alice",
        "http.request.method": "POST",
        "url.original": "/login?next=%2F",
        "http.version": "2.0",
        "http.response.status_code": 401,
        "user_agent.original": "curl/8.1",
        "http.request.referrer": "https://x/",
    }
    assert event.body == line


def test_an_access_log_without_a_referrer_has_no_referrer_field() -> None:
    line = '203.0.113.9 - - [10/Oct/2026:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8.1"'
    assert "http.request.referrer" not in UTC_PARSER.parse(line, 0.0).fields


def test_access_log_client_that_is_not_an_ip_goes_to_source_address() -> None:
    line = 'scanner.example.net - - [10/Oct/2026:13:55:36 +0000] "\\x16\\x03\\x01" 400 0 "-" "-"'
    event = UTC_PARSER.parse(line, 0.0)
    assert event.fields == {"source.address": "scanner.example.net",
                            "http.response.status_code": 400}


@pytest.mark.parametrize("line", ["", "plain text line", "{not json", "<<<>>>", "\ufffd" * 50])
def test_unrecognised_lines_stay_raw(line: str) -> None:
    event = UTC_PARSER.parse(line, 12.5)
    assert event.body == line
    assert event.fields == {}
    assert event.timestamp is None
    assert event.event_time == 12.5  # arrival time is the fallback


def test_fields_known_from_the_source_win_over_the_header() -> None:
    event = UTC_PARSER.parse("Jan  1 00:00:00 header-host app: x", 0.0,
                             {"host.name": "from-journald"})
    assert event.fields["host.name"] == "from-journald"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022/03/01 12:57:58", datetime(2022, 3, 1, 12, 57, 58, tzinfo=UTC)),
        ("[2023-03-28 03:09:25,112]", datetime(2023, 3, 28, 3, 9, 25, 112000, tzinfo=UTC)),
        ("1700000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
        ("03/01/2022 10:00:00", None),  # day or month first: no guess
        ("not a time", None),
    ],
)
def test_timestamps_found_inside_messages_are_parsed_leniently(
    text: str, expected: datetime | None
) -> None:
    assert UTC_PARSER.loose_time(text) == expected


def test_structured_json_record_is_read_whole_and_well_known_keys_become_fields() -> None:
    line = ('{"t":{"$date":"2022-07-28T18:00:00.903+02:00"},"s":"I","c":"ACCESS","ctx":"conn1",'
            '"msg":"Authentication failed","attr":{"principalName":"root",'
            '"remote":"203.0.113.7:51234","error":"AuthenticationFailed"}}')
    event = UTC_PARSER.parse(line, 0.0)
    # The application's own fields ride beside its message: the analyzer reads them all.
    assert event.body == line
    assert event.fields == {"user.name": "root", "source.ip": "203.0.113.7"}


def test_json_record_without_a_message_gets_its_fields_and_epoch_time() -> None:
    line = ('{"level":"error","ts":1711741827.5,"logger":"http.log.access",'
            '"request":{"remote_ip":"2001:db8::7","method":"GET","uri":"/admin"},'
            '"status":401,"user_id":"","ip":"not-an-ip"}')
    event = UTC_PARSER.parse(line, 0.0)
    assert event.body == line
    assert event.timestamp == datetime.fromtimestamp(1711741827.5, UTC)
    assert event.fields == {"source.ip": "2001:db8::7", "http.request.method": "GET",
                            "url.original": "/admin", "http.response.status_code": 401}


def test_console_colour_codes_are_removed_from_the_body_but_kept_in_the_line() -> None:
    line = ("\x1b[33m[Nest] 6  - \x1b[39m08/04/2023 \x1b[33mWARN\x1b[39m Failed login attempt"
            " for user bob from ip address \x1b[1;31m176.171.169.54\x1b[0m")
    event = EnvelopeParser(UTC).parse(line, 0.0)
    assert "\x1b" not in event.body
    assert event.body.endswith("Failed login attempt for user bob from ip address 176.171.169.54")
    assert event.message == line


@pytest.mark.parametrize(("record", "address"), [
    ('{"eventName":"ConsoleLogin","sourceIPAddress":"198.51.100.4",'
     '"responseElements":{"ConsoleLogin":"Failure"}}', "198.51.100.4"),
    ('{"kind":"Event","verb":"create","sourceIPs":["192.0.2.9"],"user":{"username":"x"}}',
     "192.0.2.9"),
    ('{"event":"user.login","success":false,"addr.remote":"203.0.113.5:41230"}', "203.0.113.5"),
])
def test_cloud_and_cluster_audit_records_give_their_client_address(
        record: str, address: str) -> None:
    event = EnvelopeParser(UTC).parse(record, 0.0)
    assert event.fields["source.ip"] == address


def test_a_bare_iso_stamp_then_key_values_is_not_mistaken_for_a_syslog_header() -> None:
    line = "2022-02-13T12:14:26.588Z CLOSE host=::ffff:192.0.2.72 port=25804 fd=4 time=20.1"
    event = EnvelopeParser(UTC).parse(line, 0.0)
    assert event.body == "CLOSE host=::ffff:192.0.2.72 port=25804 fd=4 time=20.1"
    assert "host.name" not in event.fields and "process.name" not in event.fields
    assert event.timestamp is not None


def test_a_quoted_request_line_inside_any_message_gives_method_and_target() -> None:
    line = ('[2022-06-29 15:29:06 +1000] info [whostmgrd] 192.0.2.4 - bob "POST /login/?x=1'
            ' HTTP/1.1" FAILED LOGIN whostmgrd: user password incorrect')
    event = EnvelopeParser(UTC).parse(line, 0.0)
    assert event.fields["http.request.method"] == "POST"
    assert event.fields["url.original"] == "/login/?x=1"


def test_words_that_only_look_like_a_request_give_no_request_fields() -> None:
    event = EnvelopeParser(UTC).parse('status "see HTTP/1.1 spec" and GET /x HTTP/1.1', 0.0)
    assert "http.request.method" not in event.fields


def test_a_json_record_behind_a_syslog_header_gives_its_well_known_fields() -> None:
    line = ('2025-01-22T13:09:20.606136+01:00 dash-1 opensearch-dashboards[9400]: '
            '{"type":"response","method":"post","statusCode":401,"req":{"url":"/auth/login","method":"post",'
            '"remoteAddress":"192.0.2.41"}}')
    event = EnvelopeParser(UTC).parse(line, 0.0)
    assert event.fields["host.name"] == "dash-1"
    assert event.fields["source.ip"] == "192.0.2.41"
    assert event.fields["http.request.method"] == "POST"  # any case in JSON, upper in ECS
    assert event.fields["http.response.status_code"] == 401
    assert event.fields["url.original"] == "/auth/login"


def test_a_json_method_key_that_is_no_http_method_is_ignored() -> None:
    event = EnvelopeParser(UTC).parse('{"msg":"login","method":"password","user":"x"}', 0.0)
    assert "http.request.method" not in event.fields


def test_the_client_of_an_nginx_error_log_entry_is_the_source() -> None:
    line = ('2021/11/18 08:34:27 [error] 865#865: *1083 access forbidden by rule, client: '
            '198.51.100.77, server: example.com, request: "GET /.git/config HTTP/1.1", '
            'host: "example.com"')
    event = EnvelopeParser(UTC).parse(line, 0.0)
    assert event.fields["source.ip"] == "198.51.100.77"
    assert event.fields["url.original"] == "/.git/config"
    assert event.fields["http.version"] == "1.1"


def test_a_connection_arrow_gives_source_and_destination_with_ports() -> None:
    line = ("firewall,info drop input: in:ether1 proto TCP (SYN), 203.0.113.9:51514->"
            "192.0.2.1:23, len 40")
    event = EnvelopeParser(UTC).parse(line, 0.0)
    assert (event.fields["source.ip"], event.fields["source.port"]) == ("203.0.113.9", 51514)
    assert (event.fields["destination.ip"], event.fields["destination.port"]) == ("192.0.2.1", 23)
    # Not an arrow between two endpoints: no fields.
    other = EnvelopeParser(UTC).parse("state changed 1.2.3->1.2.4 at 10:00", 0.0)
    assert "source.ip" not in other.fields


def test_the_http_version_of_an_access_log_request_is_kept() -> None:
    line = '192.0.2.5 - - [10/Oct/2023:10:22:47 +0200] "GET / HTTP/1.2" 400 157 "-" "x"'
    event = EnvelopeParser(UTC).parse(line, 0.0)
    assert event.fields["http.version"] == "1.2"


def test_a_forged_client_in_an_nginx_error_message_loses_to_the_real_one() -> None:
    # The user name carries a fake suffix; nginx appends the real one at the end.
    line = ('2014/04/03 22:20:40 [error] 30708#0: *3 user "x, client: 127.0.0.1, server: t": '
            'was not found in "/etc/nginx/.htpasswd", client: 192.0.2.2, server: , '
            'request: "GET / HTTP/1.1", host: "localhost"')
    event = EnvelopeParser(UTC).parse(line, 0.0)
    assert event.fields["source.ip"] == "192.0.2.2"


def test_the_client_and_user_before_a_quoted_request_are_kept() -> None:
    line = ('[2022-06-29 13:40:15 +1000] info [cpaneld] 192.0.2.4 - root "POST /login/?x=1 '
            'HTTP/1.1" FAILED LOGIN cpaneld: root login is not permitted')
    event = EnvelopeParser(UTC).parse(line, 0.0)
    assert event.fields["source.ip"] == "192.0.2.4"
    assert event.fields["user.name"] == "root"
    anonymous = EnvelopeParser(UTC).parse('x 192.0.2.4 - - "GET / HTTP/1.1" 200', 0.0)
    assert "user.name" not in anonymous.fields
    not_an_address = EnvelopeParser(UTC).parse('said hello - bob "GET / HTTP/1.1"', 0.0)
    assert "user.name" not in not_an_address.fields


@pytest.mark.parametrize("line, body", [
    ("2024-01-01 10:00:00 upgrade libc6:amd64 2.36-9+deb12u3 2.36-9+deb12u4",
     "upgrade libc6:amd64 2.36-9+deb12u3 2.36-9+deb12u4"),
    ("2024-01-01 10:00:00 configure tzdata:all 2025b-0+deb12u1 <none>",
     "configure tzdata:all 2025b-0+deb12u1 <none>"),
])
def test_a_bare_iso_stamp_then_words_invents_no_host_and_program(line: str, body: str) -> None:
    # dpkg.log: `pkg:arch` is no syslog tag (a tag's colon comes before a space).
    event = UTC_PARSER.parse(line, 0.0)
    assert event.timestamp == datetime(2024, 1, 1, 10, 0, 0, tzinfo=UTC)
    assert event.fields == {}
    assert event.body == body


def test_a_bsd_stamp_keeps_a_tag_whose_colon_has_no_space_after_it() -> None:
    event = UTC_PARSER.parse("Feb  7 2005 15:10:42 gate CEF:0|Vendor|Product|1.0|100|x|5|", 0.0)
    assert event.fields == {"host.name": "gate", "process.name": "CEF"}


def test_sudo_user_pair_names_the_effective_user() -> None:
    event = UTC_PARSER.parse("Nov 26 06:05:44 db-2 sudo:    alice : TTY=pts/0 ; "
                             "PWD=/home/alice ; USER=root ; COMMAND=/bin/bash", 0.0)
    assert event.fields["user.effective.name"] == "root"


@pytest.mark.parametrize("line", [
    "Nov 26 06:05:44 db-2 sshd[1]: pam_unix(sshd:auth): authentication failure; "
    "logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7 RUSER=x",
    "Nov 26 06:05:44 db-2 app[1]: MYUSER=bob logged in",
])
def test_other_user_keys_name_no_effective_user(line: str) -> None:
    assert "user.effective.name" not in UTC_PARSER.parse(line, 0.0).fields


@pytest.mark.parametrize(("line", "stamp"), [
    ("[Tue Mar 05 22:30:39.475003 2024] [core:info] [pid 2001:tid 1392001] [client "
     "198.51.100.10:48177] AH00128: File does not exist: /var/www/html/favicon.ico",
     datetime(2024, 3, 5, 22, 30, 39, 475003, tzinfo=UTC)),
    ("[Sun Dec 04 04:47:44 2005] [error] [client 222.166.160.184] Directory index forbidden "
     "by rule: /var/www/html/", datetime(2005, 12, 4, 4, 47, 44, tzinfo=UTC)),
])
def test_an_apache_error_log_line_has_its_own_time(line: str, stamp: datetime) -> None:
    # Without it a replayed error log runs on arrival time: a day's lines in one second.
    event = UTC_PARSER.parse(line, 0.0)
    assert event.timestamp == stamp
    assert event.body == line


def test_a_syslog_header_behind_a_collectors_values_gives_the_fields() -> None:
    # A sequence number, the receipt time and the node, then the syslog header it received.
    line = "- 1700000000 2023.11.14 node7 Nov 14 22:13:20 node7 crond[2915]: session closed"
    event = UTC_PARSER.parse(line, 0.0)
    assert event.body == "session closed"
    assert event.fields == {"host.name": "node7", "process.name": "crond", "process.pid": 2915}
    assert event.timestamp is not None
    assert (event.timestamp.month, event.timestamp.day) == (11, 14)
    assert event.message == line


@pytest.mark.parametrize("line", [
    # Words (no value among them) before a syslog-looking part: a message that quotes one.
    "relayed from gate Nov 14 22:13:20 node7 crond: x",
    # More than a collector's few values before it.
    "1 2 3 4 5 Nov 14 22:13:20 node7 crond: x",
])
def test_a_syslog_header_after_words_is_the_message(line: str) -> None:
    event = UTC_PARSER.parse(line, 0.0)
    assert event.body == line
    assert event.fields == {}


@pytest.mark.parametrize(("line", "stamp"), [
    ("[2023-11-14 22:13:20,5] INFO app: worker started",
     datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)),
    ("[14-Nov-2023 22:13:20 UTC] PHP Warning: x", None),  # a notation that does not parse
    ("[2023-11-14 22:13:20] ERROR - worker failed",
     datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ("[2023-11-14 22:13:20] app.exe - example.org:443 open",  # a name and a dash too
     datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
])
def test_a_time_in_brackets_gives_the_time_and_leaves_the_body_whole(
        line: str, stamp: datetime | None) -> None:
    # The model reads such headers whole, as it was trained (the level, the logger).
    event = UTC_PARSER.parse(line, 0.0)
    assert event.body == line
    assert event.timestamp == stamp
    assert event.fields == {}


@pytest.mark.parametrize("line", [
    "[main] worker started",
    "[main] app.exe - worker started",
    "[pool 22:13:20 busy] worker started",  # a word that is no month, weekday or zone
    "[2023-11-14] worker started",  # no clock
])
def test_a_bracket_that_holds_no_time_stays_in_the_body(line: str) -> None:
    event = UTC_PARSER.parse(line, 0.0)
    assert event.body == line
    assert event.timestamp is None


@pytest.mark.parametrize("line", [
    # An application's header with a time in it: no host before the program's colon.
    "INF 4595 Wed Nov 11 16:29:42 2023: Session: opened",
    "CRIT myapp worker-25 Nov  5 19:20:38.465 admin[7]: Loaded configuration",
    # Bracketed parts are an application header's (`app[pid]`, `(logger)`).
    "myapp[7227] ERR (d.f.Resource) Nov 18 14:47:44 host 2015: Connection closed",
])
def test_an_application_header_with_a_bsd_time_is_no_collector_prefix(line: str) -> None:
    event = UTC_PARSER.parse(line, 0.0)
    assert event.body == line
    assert "process.name" not in event.fields
