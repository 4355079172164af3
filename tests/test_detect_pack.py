"""The shipped rule pack passes its own cases; `logsentry test-rules` reports verdicts."""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from logsentry.core.errors import ConfigError
from logsentry.core.event import Event
from logsentry.core.metrics import LINES_FAILED
from logsentry.detect.cli import test_rules_command as run_test_rules
from logsentry.detect.config import DetectionConfig
from logsentry.detect.detector import Detector
from logsentry.detect.rule import DEFAULT_RULES_DIR, load_rules
from logsentry.detect.ruletest import case_events, run_rules

REPO = Path(__file__).resolve().parents[1]

FAILING = """
id: t.wrong
title: A rule whose case expects too much
severity: low
select: {action: ssh_login_failed}
group_by: [source.ip]
correlate: {type: threshold, count: 3, window: 1m}
summary: "{count} from {source.ip}"
tests:
  - name: expects an alert at two events
    events:
      - {action: ssh_login_failed, source.ip: 1.2.3.4, repeat: 2}
    expect:
      - {source.ip: 1.2.3.4}
  - name: negative
    events: []
    expect: []
"""


def _args(*rules: Path) -> argparse.Namespace:
    return argparse.Namespace(rules=[str(r) for r in rules] or None, model="never",
                              verbose=False)


def _detection_failures() -> float:
    return LINES_FAILED.labels(stage="detect")._value.get()


def test_every_shipped_rule_passes_its_cases() -> None:
    rules = load_rules([DEFAULT_RULES_DIR])
    failed_before = _detection_failures()
    verdicts = run_rules(rules)
    # Detection swallows (counts, logs) its own errors: none may have happened.
    assert _detection_failures() == failed_before
    failures = {v.rule_id: v.problems + [p for c in v.cases for p in c.problems]
                for v in verdicts if not v.passed}
    assert failures == {}
    assert len(rules) >= 25


def test_every_shipped_rule_has_a_positive_and_a_negative_case() -> None:
    for rule in load_rules([DEFAULT_RULES_DIR]):
        assert any(case.expect for case in rule.tests), rule.id
        assert any(not case.expect for case in rule.tests), rule.id


def test_the_pack_covers_the_issue_list() -> None:
    ids = {rule.id for rule in load_rules([DEFAULT_RULES_DIR])}
    required = {
        "auth.ssh-brute-force", "auth.mail-brute-force", "auth.service-brute-force",
        "auth.web-login-brute-force", "auth.password-spraying", "auth.user-enumeration",
        "auth.success-after-failures", "auth.root-login", "priv.sudo-auth-failure",
        "priv.new-root-user", "iam.user-created", "iam.user-deleted", "iam.user-changed",
        "iam.group-changed", "web.scan-4xx", "web.sqli", "web.xss", "web.path-traversal",
        "web.command-injection", "web.log4shell", "web.shellshock",
        "web.sensitive-file-probe", "net.port-scan", "sys.service-crash", "sys.new-template",
    }
    assert required <= ids


def test_the_pack_covers_the_crowdsec_hub_behaviours() -> None:
    # The generic rules added for CrowdSec's scenario tests (rules/README.md).
    ids = {rule.id for rule in load_rules([DEFAULT_RULES_DIR])}
    assert {
        "auth.multi-account-failures", "net.defence-block", "net.refused-by-access-rules",
        "net.tarpit-connections", "web.basic-auth-brute-force",
        "web.wordpress-user-enumeration", "web.cache-bypass-flood", "mail.relay-attempt",
        "mail.helo-rejected", "mail.infected-message",
    } <= ids


def test_a_failing_case_fails_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "wrong.yaml").write_text(FAILING)
    assert run_test_rules(_args(tmp_path)) == 1
    out = capsys.readouterr().out
    assert "FAIL  t.wrong" in out
    assert "expects an alert at two events" in out
    assert "0 of 1 rules passed" in out


def test_a_rule_without_a_negative_case_fails(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    text = FAILING.replace("repeat: 2", "repeat: 3").split("  - name: negative")[0]
    (tmp_path / "r.yaml").write_text(text)
    assert run_test_rules(_args(tmp_path)) == 1
    assert "no negative case" in capsys.readouterr().out


def test_an_invalid_rule_file_fails_with_its_name(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yaml").write_text(FAILING.replace("severity: low", "severity: loud"))
    assert run_test_rules(_args(tmp_path)) == 1
    assert "bad.yaml: rule t.wrong: severity" in capsys.readouterr().err


def test_case_events_repeat_with_index_and_spacing() -> None:
    from logsentry.detect.rule import RuleCase

    case = RuleCase(name="c", events=[
        {"action": "invalid_user", "user.name": "u{i}", "source.port": "22", "repeat": 3,
         "every": "10s"},
        {"action": "ssh_login_success", "at": "1h"},
    ])
    events = case_events(case)
    assert [e.fields.get("user.name") for e in events] == ["u0", "u1", "u2", None]
    assert events[0].fields["source.port"] == 22
    assert events[1].event_time - events[0].event_time == 10
    assert events[3].event_time - events[0].event_time == 3600


def test_cli_subprocess_runs_the_shipped_pack() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "logsentry.cli", "test-rules", "--model", "never"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS  auth.ssh-brute-force" in result.stdout
    assert " rules passed" in result.stdout


LINES_RULE = """
id: t.lines
title: Lines
severity: low
select: {where: {url.original: {contains: "/.env"}}}
group_by: [source.ip]
summary: "{source.ip} asked for {url.original}"
tests:
  - name: envelope only
    envelope_only: true
    lines:
      - '192.0.2.1 - - [09/Jun/2022:12:22:05 +0200] "GET /.env HTTP/1.1" 404 4 "-" "x"'
    expect:
      - {source.ip: 192.0.2.1, message_contains: "asked for /.env"}
  - name: needs the model
    lines:
      - 'Jun  9 12:22:05 h sshd[1]: Failed password for root from 192.0.2.1 port 1 ssh2'
    expect: []
"""


def test_lines_cases_run_through_envelope_parsing_or_are_skipped_without_a_model() -> None:
    from logsentry.detect.rule import parse_rules
    from logsentry.detect.ruletest import run_rule

    [rule] = parse_rules(LINES_RULE)
    verdict = run_rule(rule, analyzer=None, require_cases=False)
    envelope, model = verdict.cases
    assert envelope.passed and not envelope.skipped
    assert envelope.alerts[0].group == {"source.ip": "192.0.2.1"}
    assert model.skipped and not model.passed
    assert verdict.passed


def _template_events(host: str) -> list[Event]:
    start = datetime(2024, 3, 1, tzinfo=UTC)
    # Four new templates a day for ten days.
    return [Event(f"line {n}", timestamp=start + timedelta(hours=6 * n),
                  template=f"new kind {n} <*>", fields={"host.name": host}) for n in range(40)]


def test_new_templates_raise_nothing_unless_the_rule_is_enabled() -> None:
    # A package upgrade brings dozens of new templates: first-seen templates are opt-in.
    quiet = Detector.from_config(DetectionConfig(), None)
    assert [a.rule_id for a in quiet.process(_template_events("web-1"))] == []
    on = Detector.from_config(DetectionConfig(enable=["sys.new-template"]), None)
    raised = [a for a in on.process(_template_events("web-1")) if a.rule_id == "sys.new-template"]
    # Learning for a week, then a digest: one alert a day at most, counting the rest.
    assert len(raised) == 3
    assert [a.suppressed for a in raised] == [0, 3, 3]


def test_enable_and_disable_name_loaded_rules_only() -> None:
    off = Detector.from_config(DetectionConfig(disable=["auth.ssh-brute-force"]), None)
    assert "auth.ssh-brute-force" not in {e.rule.id for e in off.engines}
    with pytest.raises(ConfigError, match=r"no loaded rule has the id sys\.new-templates"):
        Detector.from_config(DetectionConfig(enable=["sys.new-templates"]), None)
    with pytest.raises(ConfigError, match="named in both"):
        Detector.from_config(DetectionConfig(enable=["web.xss"], disable=["web.xss"]), None)
