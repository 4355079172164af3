"""Real-data converters on made-up, format-faithful fixtures (never the shared datasets)."""

from __future__ import annotations

from pathlib import Path

import pytest

from logsentry.train.data import real, splits
from logsentry.train.example import Example

FIXTURES = Path(__file__).parent / "fixtures" / "datasets"


def _entities(example: Example) -> dict[str, list[str]]:
    return example.entities()


def test_missing_datasets_give_no_examples(tmp_path: Path) -> None:
    assert real.real_examples(tmp_path / "absent") == []
    assert real.training_examples(seed=1, root=tmp_path / "absent") == []
    assert real.load_fail2ban(tmp_path) == []


def test_datasets_root_follows_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGSENTRY_DATASETS", str(FIXTURES))
    assert real.datasets_root() == FIXTURES
    assert real.real_examples()  # reads the fixtures through the default root


def test_fail2ban_offense_lines_get_host_user_and_failure_action() -> None:
    examples = real.fail2ban_examples(FIXTURES)
    for example in examples:
        example.validate()
        assert example.origin == "fail2ban" and not example.spans_complete
    full = [e for e in examples if e.text.startswith("Mar  3 10:11:12")]
    assert len(full) == 1
    first = full[0]
    assert first.family == "fail2ban:sshd"
    assert first.action == "ssh_login_failed" and first.action_known
    ents = _entities(first)
    assert ents["source.ip"] == ["198.51.100.77"]
    assert ents["user.name"] == ["oper"]
    assert ents["timestamp"] == ["Mar  3 10:11:12"]
    assert ents["host.name"] == ["gate"] and ents["process.name"] == ["sshd"]
    assert ents["process.pid"] == ["4242"]


def test_fail2ban_body_variant_is_cut_exactly_after_the_syslog_header() -> None:
    examples = real.fail2ban_examples(FIXTURES)
    body = [e for e in examples if e.text.startswith("Failed password for invalid user oper")]
    assert len(body) == 1
    assert _entities(body[0]) == {"user.name": ["oper"], "source.ip": ["198.51.100.77"]}


def test_fail2ban_labels_ipv6_and_hostnames_and_invalid_users() -> None:
    examples = {e.text: e for e in real.fail2ban_examples(FIXTURES)}
    ipv6 = examples["Invalid user zz9 from 2001:db8:4::17 port 5022"]
    assert ipv6.action == "invalid_user"
    assert _entities(ipv6)["source.ip"] == ["2001:db8:4::17"]
    named = examples["error: PAM: Authentication failure for root from bad.example.net"]
    assert _entities(named)["source.address"] == ["bad.example.net"]
    assert _entities(named)["user.name"] == ["root"]


def test_fail2ban_user_inside_other_words_is_not_labelled() -> None:
    examples = real.fail2ban_examples(FIXTURES)
    line = [e for e in examples
            if e.text.endswith("198.51.100.8 port 1 ssh2") and e.text.startswith("Failed")]
    # "user" occurs once as a whole token; the header and "password" do not contain it as a token.
    assert _entities(line[0])["user.name"] == ["user"]


def test_fail2ban_non_matching_lines_have_unknown_action() -> None:
    examples = real.fail2ban_examples(FIXTURES)
    accepted = [e for e in examples if "Accepted publickey" in e.text]
    assert accepted and all(not e.action_known for e in accepted)
    login = [e for e in examples if "imap-login: Login" in e.text and e.text.startswith("Mar")]
    assert _entities(login[0])["source.ip"] == ["192.0.2.45"]


def test_fail2ban_action_follows_filter_and_line() -> None:
    assert real.fail2ban_action("nginx-limit-req", "limiting requests") == "rate_limited"
    sasl = "warning: unknown[1.2.3.4]: SASL LOGIN authentication failed"
    assert real.fail2ban_action("postfix", sasl) == "mail_auth_failed"
    reject = "NOQUEUE: reject: RCPT from x[1.2.3.4]: 554"
    assert real.fail2ban_action("postfix", reject) == "mail_rejected"
    failed = "Failed password for invalid user x from 1.2.3.4"
    assert real.fail2ban_action("sshd", failed) == "ssh_login_failed"
    assert real.fail2ban_action("sshd", "Invalid user x from 1.2.3.4") == "invalid_user"
    assert real.fail2ban_action("apache-auth", "user x not found") == "web_auth_failed"
    assert real.fail2ban_action("some-new-filter", "whatever") == "login_failed"


def test_crowdsec_fields_become_spans_and_log_type_the_action() -> None:
    examples = real.crowdsec_examples(FIXTURES)
    for example in examples:
        example.validate()
    ssh = [e for e in examples if e.family == "crowdsec:sshd-made-up"]
    assert len(ssh) == 2  # the event expected to be dropped is not an example
    assert ssh[0].action == "invalid_user"
    assert _entities(ssh[0])["source.ip"] == ["198.51.100.200"]
    assert _entities(ssh[0])["user.name"] == ["mallory"]
    assert ssh[1].action == "ssh_login_failed"


def test_crowdsec_http_fields_are_located_exactly_once_each() -> None:
    examples = [e for e in real.crowdsec_examples(FIXTURES) if e.family == "crowdsec:nginx-made-up"]
    first = _entities(examples[0])
    assert first["url.original"] == ["/index.php?id=404"]
    assert first["http.response.status_code"] == ["404"]
    assert first["http.request.method"] == ["GET"]
    assert first["user_agent.original"] == ["curl/8.5.0"]
    status_span = next(s for s in examples[0].spans if s.label == "http.response.status_code")
    assert examples[0].text[status_span.start - 2:status_span.start] == '" '
    # A "-" user agent is a placeholder, not an entity to find in the line.
    assert "user_agent.original" not in _entities(examples[1])
    assert not examples[0].action_known  # http_access-log names no action


def test_loghub_templates_align_to_variable_spans() -> None:
    examples = {e.text: e for e in real.loghub_examples(FIXTURES)}
    assert "template mismatch line" not in examples  # a template that does not fit is skipped
    conn = examples["Connection from 10.1.2.3 closed after 17 ms"]
    assert conn.family == "loghub:Demo" and conn.origin == "loghub"
    assert not conn.roles_known and not conn.action_known and conn.spans_complete
    assert _entities(conn) == {"variable": ["10.1.2.3", "17"]}
    disk = examples["disk sda1 at 93% usage, threshold 90%"]
    assert _entities(disk)["variable"] == ["sda1", "93", "90"]
    assert examples["job  finished"].spans == []  # an empty wildcard makes no span


def test_align_template_never_lets_a_wildcard_swallow_the_next_constant() -> None:
    assert real.align_template("a <*> b <*>", "a x b y b z") == [(2, 3), (6, 11)]
    assert real.align_template("no wildcard", "no wildcard") == []
    assert real.align_template("no wildcard", "other") is None


def test_held_out_families_never_reach_training() -> None:
    train = real.training_examples(seed=3, root=FIXTURES)
    families = {e.family for e in train}
    assert "fail2ban:dovecot" not in families  # dovecot is held out (independent tier)
    assert "fail2ban:sshd" in families
    assert not families & real.HELD_OUT
    assert splits.held_out_tier("fail2ban:dovecot") == "independent"
    assert splits.held_out_tier("fail2ban:monit") == "unseen"
    assert splits.held_out_tier("fail2ban:sshd") is None


def test_unseen_held_out_software_has_no_synthetic_family() -> None:
    from logsentry.train.data.synthetic import FAMILIES

    programs = {p.split("/")[0].lower() for f in FAMILIES for p in f.programs}
    programs |= {f.name for f in FAMILIES}
    for name in splits.HELD_OUT_FAIL2BAN_UNSEEN | splits.HELD_OUT_CROWDSEC_UNSEEN:
        stem = name.split("-")[0].lower()
        assert stem not in programs, name


def test_list_families_reports_synthetic_and_real_with_splits() -> None:
    listed = real.list_families(FIXTURES)
    assert listed["openssh"]["origin"] == "synthetic"
    assert listed["fail2ban:sshd"]["split"] == "train"
    assert listed["fail2ban:dovecot"]["split"] == "held_out:independent"
    assert listed["loghub:Demo"]["count"] == 4


def test_malformed_records_are_skipped_and_logged(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "fail2ban"
    folder.mkdir()
    good = ('{"family": "sshd", "line": "Invalid user q from 192.0.2.9", "match": true,'
            ' "host": "192.0.2.9", "host_in_line": true}')
    (folder / "sshd.jsonl").write_text(f"{good}\n{{not json\n[1, 2]\n\n", encoding="utf-8")
    with caplog.at_level("WARNING"):
        records = real.load_fail2ban(tmp_path)
    assert [r.line for r in records] == ["Invalid user q from 192.0.2.9"]
    assert "skipped 2 malformed record(s)" in caplog.text
