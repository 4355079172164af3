"""Rule loading, validation errors and field conditions."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from logsentry.core.errors import ConfigError
from logsentry.core.event import Event
from logsentry.detect.condition import compile_field_map
from logsentry.detect.config import DetectionConfig
from logsentry.detect.detector import Detector
from logsentry.detect.literals import HYPERSCAN, MessageScanner, message_need
from logsentry.detect.rule import DEFAULT_RULES_DIR, Selection, load_rules, parse_rules
from logsentry.detect.rule_state import CompiledSelection
from logsentry.detect.selection import compile_matcher, narrow
from logsentry.detect.shaped import ShapedMatcher

MINIMAL = """
id: test.rule
title: Test
severity: low
summary: "x"
"""


def _event(action: str = "other", message: str = "m", **fields: object) -> Event:
    return Event(message=message, action=action, fields={k.replace("__", "."): v
                                                         for k, v in fields.items()})


def _selects(selection: dict[str, object], event: Event) -> bool:
    return CompiledSelection(Selection.model_validate(selection)).matches(event)


def test_a_rule_file_may_hold_one_rule_a_list_or_a_rules_key() -> None:
    assert [r.id for r in parse_rules(MINIMAL)] == ["test.rule"]
    listed = parse_rules(f"- {MINIMAL.strip().replace(chr(10), chr(10) + '  ')}")
    assert [r.id for r in listed] == ["test.rule"]
    keyed = parse_rules("rules:\n  - {id: a, title: A, severity: low, summary: s}\n"
                        "  - {id: b, title: B, severity: high, summary: s}\n")
    assert [r.id for r in keyed] == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (MINIMAL.replace("severity: low", "severity: extreme"), "rule test.rule: severity"),
        (MINIMAL + "select: {action: ssh_brute}\n", "unknown action 'ssh_brute'"),
        (MINIMAL + "select: {where: {url.original: {regex: '(unclosed'}}}\n", "invalid regex"),
        (MINIMAL + "select: {where: {source.ip: {cidr: 10.0.0.0/33}}}\n", "invalid CIDR"),
        (MINIMAL + "correlate: {type: threshold, count: 5}\n", "correlate.window"),
        (MINIMAL + "correlate: {type: threshold, count: 5, window: soon}\n", "not a duration"),
        (MINIMAL + "correlate: {type: teleport}\n", "correlate"),
        (MINIMAL + "attack: [Brute]\n", "ATT&CK technique"),
        (MINIMAL + "colour: red\n", "rule test.rule: colour: unknown key"),
        (MINIMAL.replace('summary: "x"', 'summary: "{count"'), "unbalanced"),
        (MINIMAL + "select: {where: {user.name: {}}}\n", "needs at least one"),
        (MINIMAL + "select: {any: [{}, {message: {contains: x}}]}\n", "empty field map"),
        (MINIMAL + "select: {not: [{}]}\n", "empty field map"),
        ("id: [\n", "invalid YAML"),
        (MINIMAL + "select: {where: {user.name: {equalz: 1}}}\n",
         "rule test.rule: select.where.user.name.equalz: unknown key"),
    ],
)
def test_bad_rules_raise_config_error_naming_file_rule_and_key(text: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_rules(text, "rules/bad.yaml")
    assert "rules/bad.yaml" in str(error.value)
    assert fragment in str(error.value)
    # One complaint per mistake, not one per member of a union type.
    assert "Input should be a valid" not in str(error.value) or "group_by" in str(error.value)


def test_a_bad_regex_reports_the_position_python_gives_in_the_pattern() -> None:
    with pytest.raises(ConfigError) as error:
        parse_rules(MINIMAL + "select: {where: {message: {regex: 'abc(def'}}}\n")
    assert "missing ), unterminated subpattern at position 3" in str(error.value)
    with pytest.raises(ConfigError) as error:
        parse_rules(MINIMAL + "select: {where: {message: {regex: '(?i)ab[c'}}}\n")
    assert "unterminated character set at position 6" in str(error.value)


def test_a_yaml_syntax_error_in_a_rule_file_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(MINIMAL + "select: {action: [ssh_login_failed}\n")
    with pytest.raises(ConfigError) as error:
        load_rules([path])
    assert f"{path}:6:" in str(error.value)
    assert "<unicode string>" not in str(error.value)


def test_an_unknown_action_lists_the_valid_ones_and_suggests_the_closest() -> None:
    from logsentry.core.actions import ACTIONS

    with pytest.raises(ConfigError) as error:
        parse_rules(MINIMAL + "select: {action: ssh_login_fail}\n", "rules/mine.yaml")
    message = str(error.value)
    assert "unknown action 'ssh_login_fail'. Did you mean 'ssh_login_failed'" in message
    assert "Valid actions: " + ", ".join(sorted(ACTIONS)) in message
    assert "actions.py" not in message


def test_detector_from_config_reports_a_bad_rule_file(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(MINIMAL)
    (tmp_path / "bad.yaml").write_text(MINIMAL.replace("test.rule", "other.rule")
                                       + "group_by: source.ip\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: rule other\.rule: group_by"):
        Detector.from_config(DetectionConfig(pack="none", extra_rules=[str(tmp_path)]), None)


def test_extra_rules_load_beside_the_default_pack_and_pack_none_leaves_it_out(
    tmp_path: Path,
) -> None:
    (tmp_path / "mine.yaml").write_text(MINIMAL)
    pack = {rule.id for rule in Detector.from_config(DetectionConfig(), None).rules}
    both = Detector.from_config(DetectionConfig(extra_rules=[str(tmp_path)]), None)
    assert {rule.id for rule in both.rules} == pack | {"test.rule"}
    alone = Detector.from_config(
        DetectionConfig(pack="none", extra_rules=[str(tmp_path)]), None)
    assert [rule.id for rule in alone.rules] == ["test.rule"]
    assert alone.loaded_summary() == f"{tmp_path} (1 rule)"


def test_the_pack_folder_named_again_in_extra_rules_is_loaded_once() -> None:
    detector = Detector.from_config(DetectionConfig(extra_rules=[str(DEFAULT_RULES_DIR)]), None)
    assert len(detector.loaded_from) == 1


def test_rules_without_an_explicit_pack_is_refused() -> None:
    with pytest.raises(ValueError, match="extra_rules"):
        DetectionConfig(rules=["/etc/logsentry/rules"])
    explicit = DetectionConfig(pack="none", rules=["/etc/logsentry/rules"])
    assert explicit.rule_paths() == ["/etc/logsentry/rules"]


def test_duplicate_rule_ids_across_files_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(MINIMAL)
    (tmp_path / "b.yaml").write_text(MINIMAL)
    with pytest.raises(ConfigError, match="duplicate id"):
        load_rules([tmp_path])


def test_missing_rule_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_rules([tmp_path / "nope"])


def test_action_category_and_outcome_select_on_the_vocabulary() -> None:
    assert _selects({"action": "ssh_login_failed"}, _event("ssh_login_failed"))
    assert not _selects({"action": "ssh_login_failed"}, _event("ssh_login_success"))
    failures = {"category": "authentication", "outcome": "failure"}
    assert _selects(failures, _event("mail_auth_failed"))
    assert not _selects(failures, _event("login_success"))
    assert not _selects(failures, _event("firewall_drop"))


def test_field_conditions_equals_in_contains_regex_like_and_exists() -> None:
    event = _event("web_request", "GET /a?id=1 HTTP/1.1", url__original="/a?id=1",
                   http__response__status_code=404, user__name="Root")
    assert _selects({"where": {"http.response.status_code": 404}}, event)
    assert _selects({"where": {"http.response.status_code": {"equals": "404"}}}, event)
    assert _selects({"where": {"user.name": ["admin", "Root"]}}, event)
    assert not _selects({"where": {"user.name": "root"}}, event)
    assert _selects({"where": {"user.name": {"equals": "root", "ignore_case": True}}}, event)
    assert _selects({"where": {"url.original": {"contains": ["?id="]}}}, event)
    assert _selects({"where": {"message": {"regex": r"^GET /a"}}}, event)
    assert _selects({"where": {"message": {"like": "GET <*> HTTP/1.1"}}}, event)
    assert not _selects({"where": {"message": {"like": "POST <*>"}}}, event)
    assert _selects({"where": {"source.ip": {"exists": False}}}, event)
    assert not _selects({"where": {"source.ip": {"exists": True}}}, event)


def test_numeric_comparisons_and_cidr() -> None:
    event = _event("firewall_drop", source__ip="::ffff:10.1.2.3", destination__port=8080)
    assert _selects({"where": {"destination.port": {"gte": 1024, "lt": 65536}}}, event)
    assert not _selects({"where": {"destination.port": {"gt": 8080}}}, event)
    assert _selects({"where": {"source.ip": {"cidr": ["10.0.0.0/8"]}}}, event)
    assert not _selects({"where": {"source.ip": {"cidr": "192.168.0.0/16"}}}, event)
    assert not _selects({"where": {"destination.port": {"cidr": "10.0.0.0/8"}}}, event)


def test_any_and_not_combine_field_maps() -> None:
    selection = {"any": [{"url.decoded": {"regex": "<script"}}, {"message": {"contains": "jndi"}}],
                 "not": [{"source.ip": {"cidr": "127.0.0.0/8"}}]}
    assert _selects(selection, _event(url__original="/x?q=%3Cscript%3E", source__ip="1.2.3.4"))
    assert _selects(selection, _event(message="${jndi:ldap://x}", source__ip="1.2.3.4"))
    assert not _selects(selection, _event(message="${jndi:ldap://x}", source__ip="127.0.0.1"))
    assert not _selects(selection, _event(message="hello", source__ip="1.2.3.4"))


def test_template_match_on_the_analyzer_template() -> None:
    event = _event(message="Failed password for root")
    event.template = "Failed password for <*> from <*> port <*>"
    assert _selects({"where": {"logsentry.template": {"like": "Failed password for <*>"}}}, event)
    assert not _selects({"where": {"logsentry.template": {"equals": "Accepted <*>"}}}, event)


def test_a_rule_can_ask_for_a_sure_reading_of_the_analyzer() -> None:
    selection = {"action": "intrusion_detected",
                 "where": {"logsentry.confidence": {"gte": 0.5}}}
    sure, unsure = _event("intrusion_detected"), _event("intrusion_detected")
    sure.confidence, unsure.confidence = 0.93, 0.30
    assert _selects(selection, sure)
    assert not _selects(selection, unsure)
    # The matcher compiled for many rules reads it the same way.
    match = compile_matcher([Selection.model_validate(selection)])
    assert match(sure) == [0] and match(unsure) == []


def test_a_decoded_record_action_is_certain_whatever_the_model_said() -> None:
    from logsentry.core.analysis import Analysis

    event = _event()
    event.decoded_action = "malware_detected"
    event.apply(Analysis(action="other", fields={}, template="t", confidence=0.2))
    assert (event.action, event.confidence) == ("malware_detected", 1.0)


def test_ignore_case_applies_to_every_text_test() -> None:
    event = _event(message="nginx: worker process exited on signal 11 (SIGSEGV)")
    for test in ({"regex": "sigsegv"}, {"contains": "sigsegv"}, {"equals": event.message.upper()},
                 {"like": "NGINX: <*>"}, {"in": [event.message.title()]}):
        assert _selects({"where": {"message": {**test, "ignore_case": True}}}, event), test
        assert not _selects({"where": {"message": test}}, event), test


def test_list_values_match_when_one_item_does() -> None:
    event = _event(tags=["a", "web"])
    assert _selects({"where": {"tags": "web"}}, event)
    assert not _selects({"where": {"tags": "db"}}, event)


def test_huge_hostile_values_are_scanned_only_up_to_a_cap() -> None:
    line = "A" * 2_000_000 + " union select"
    assert not _selects({"where": {"message": {"regex": "union select"}}}, _event(message=line))


def _oracle(selection: Selection, event: Event) -> bool:
    """A selection's verdict from the per-field closures (not the generated code)."""
    where = compile_field_map(selection.where)
    if where is not None and not where(event):
        return False
    alternatives = [p for p in (compile_field_map(m) for m in selection.any) if p is not None]
    if alternatives and not any(p(event) for p in alternatives):
        return False
    exclusions = [p for p in (compile_field_map(m) for m in selection.not_) if p is not None]
    return not any(p(event) for p in exclusions)


def test_one_matcher_for_many_rules_agrees_with_each_rule_alone_on_odd_values() -> None:
    # Rules sharing reads (decoded URL, lowered message, the same words searched),
    # numeric bounds, lists and non-text values: the generated matcher, which reads
    # and computes each once per event, must give each rule's own verdict.
    selections = [Selection.model_validate(s) for s in (
        {"where": {"code": {"gte": 400, "lt": 500}, "source.ip": {"exists": True}}},
        {"where": {"code": {"gt": 2**60}}},
        {"where": {"code": {"gt": 400, "lte": 499}}},
        {"any": [{"url.decoded": {"regex": "(?i)union\\s+select"}},
                 {"url.original": {"exists": False}, "message": {"contains": [" HTTP/", "GET "]},
                  "message.decoded": {"regex": "etc/passwd"}}]},
        {"any": [{"url.decoded": {"contains": "<script"}},
                 {"message": {"contains": [" HTTP/"]}, "user.name": {"equals": "root"}}]},
        {"where": {"message": {"contains": ["segfault", "core dump"], "ignore_case": True},
                   "message.raw": {"regex": "(?i)segfault at"}}},
        {"where": {"message": {"contains": ["${", "jndi"], "ignore_case": True}}},
        {"where": {"user.name": {"in": ["Root", "admin"], "ignore_case": True}},
         "not": [{"source.ip": {"cidr": "10.0.0.0/8"}}]},
        {"where": {"code": {"equals": 404}, "event.outcome": "failure"}},
        {"where": {"user.name": {"like": "a<*>n"}, "code": {"exists": False}}},
        {"where": {"event.category": "web"}},
        # Decoded reads on their own (a URL that is a number, a list, empty), absent
        # ones, and a negated decoded test: the field's kind is read once per event.
        {"where": {"url.decoded": {"in": ["/x?q=<script>", "404"]}}},
        {"where": {"url.decoded": {"exists": False}, "message.decoded": {"contains": "PASSWD",
                                                                         "ignore_case": True}}},
        {"where": {"message": {"exists": True}},
         "not": [{"url.decoded": {"regex": "script|select"}}, {"code": {"in": [404, "200"]}}]},
        {"where": {"source.ip": {"exists": False}, "user.name": {"exists": True}}},
        # Needs of the literal scan: equals, in, a plain regex alternation, a negation.
        {"where": {"message": {"regex": "(?i)Timeout before|fatal_run"}}},
        {"where": {"message": {"in": ["plain", "core dump in x"]}}},
        {"where": {"message": {"exists": False, "contains": "x"}}},
        {"where": {"message": {"contains": "\u212a"}}},
        {"where": {"message": {"contains": "\u212aill", "ignore_case": True}}},
        {"any": [{"event.action": "service_crash", "user.name": {"exists": True}},
                 {"message": {"contains": ["segfault", "core dump"], "ignore_case": True}}]},
        {"where": {"event.action": {"in": ["web_request", "other"]},
                   "message": {"contains": "GET "}}},
    )]
    values = [None, "", "root", "ROOT", "admin", 404, 404.0, 200, 400, 499, 500, True, False, 2**61,
              2**53 + 1, -(2**53) - 1, "404", "4e2", ["x", "root"], ("admin",), [], "10.1.2.3",
              "192.0.2.1", "%27%20UNION%20SELECT%20", "/x?q=%3Cscript%3E", "a..n", 1.5]
    messages = ["", "GET /../../etc/passwd HTTP/1.1", "kernel: SegFault at 0 ip",
                "core dump in x", "${JNDI:ldap://x}", "plain", "GET /%2e%2e/etc/passwd",
                "GET /%2E%2E/ETC/PASSWD", "TIMEOUT BEFORE auth", "x fatal_run",
                "\u212aill -9 core dump", "kill", "KILL \u00e9", "SEGFAULT AT 0 \u03a3"]
    rng = random.Random(3)
    matcher = compile_matcher(selections)
    # The same selections specialised per shape (which fields an event has), with
    # field orders and an unread field varying: the same verdicts.
    shaped = ShapedMatcher(selections)
    # And tested only where the literals they need are in the message (a batch's scan).
    scanner = MessageScanner.for_selections(selections)
    gated = ShapedMatcher(selections, scanner)
    for index in range(3000):
        names = ["code", "source.ip", "url.original", "user.name", "unread.field"]
        rng.shuffle(names)
        fields = {n: v for n in names if (v := rng.choice(values)) is not None}
        event = Event(message=rng.choice(messages), fields=fields,
                      action=rng.choice(["web_request", "ssh_login_failed", "other",
                                         "service_crash"]))
        expected = [i for i, s in enumerate(selections) if _oracle(s, event)]
        assert matcher(event) == expected, (index, event)
        assert shaped(event) == expected, (index, event)
        if scanner is not None:
            found = scanner.scan([event])[0]
            assert gated(event, found) == expected, (index, event)


def test_a_rule_is_tested_only_on_lines_whose_message_holds_a_literal_it_needs() -> None:
    def need(selection: dict[str, object]) -> frozenset[str] | None:
        return message_need(Selection.model_validate(selection))

    assert need({"where": {"message": {"contains": ["Relay", "Helo"]}}}) == {"Relay", "Helo"}
    assert need({"where": {"message": {"contains": "SegFault", "ignore_case": True}}}) == {
        "segfault"}
    assert need({"where": {"message.raw": {"regex": "(?i)Timeout before|fatal"}}}) == {
        "Timeout before", "fatal"}
    # What need not be in the message: a regex that is more than plain text, a test that
    # holds on an empty message, an alternative without words, a one-letter word.
    assert need({"where": {"message": {"regex": "fail(ed)?"}}}) is None
    assert need({"where": {"message": {"exists": False, "contains": "x"}}}) is None
    assert need({"any": [{"message": {"contains": "abc"}}, {"user.name": "root"}]}) is None
    assert need({"where": {"message": {"contains": ["abc", "x"]}}}) is None
    # The line's action counts as a word: a crash read by the analyzer, or crash words.
    assert need({"any": [{"event.action": "service_crash", "process.name": {"exists": True}},
                         {"message": {"contains": "segfault"}}]}) == {"\0service_crash",
                                                                      "segfault"}
    # Of the tests that must all hold, the most selective.
    assert need({"where": {"message": {"contains": "GET "}},
                 "any": [{"message": {"contains": "union select"}},
                         {"message": {"contains": "sleep("}}]}) == {"union select", "sleep("}
    if HYPERSCAN is None:
        pytest.skip("the hyperscan package is not installed")
    relay = Selection.model_validate({"where": {"message": {"contains": "Relay access"}}})
    scanner = MessageScanner.for_selections([relay])
    assert scanner is not None
    lines = [Event(message="postfix: RELAY ACCESS denied"), Event(message="sshd: Failed"),
             Event(message="Relay access d\u00e9nied")]
    found = scanner.scan(lines)
    # Found in any letter case; a line that is not ASCII is not scanned (every rule tested).
    assert found[0] != 0 and found[1] == 0 and found[2] == -1
    match = ShapedMatcher([relay], scanner)
    assert match(lines[0], found[0]) == []  # found, then tested in full: the case differs
    assert match(Event(message="Relay access denied"), found[0]) == [0]
    assert match(Event(message="Relay access denied"), found[1]) == []  # not tested
    crash = Selection.model_validate({"any": [{"event.action": "service_crash"},
                                              {"message": {"contains": "segfault"}}]})
    scanner = MessageScanner.for_selections([crash])
    assert scanner is not None
    lines = [Event(message="x", action="service_crash"), Event(message="x SEGFAULT"),
             Event(message="x", action="other")]
    found = scanner.scan(lines)
    assert found[0] != 0 and found[1] != 0 and found[2] == 0


def test_a_shape_leaves_out_the_rules_that_need_a_field_it_lacks() -> None:
    web = Selection.model_validate({"where": {"url.decoded": {"contains": "../"}}})
    fallback = Selection.model_validate({"any": [
        {"url.decoded": {"regex": "union select"}},
        {"url.original": {"exists": False}, "message": {"contains": " HTTP/"}}]})
    absent_ok = Selection.model_validate({"where": {"source.ip": {"exists": False}}})
    # No URL: the URL rule cannot hold, the other keeps only its message alternative.
    assert narrow(web, frozenset()) is None
    narrowed = narrow(fallback, frozenset())
    assert narrowed is not None and len(narrowed.any) == 1
    # What the shape decides is left out: an absent field's `exists: false` holds.
    assert narrow(absent_ok, frozenset()) == Selection()
    either = Selection.model_validate({"any": [{"user.name": {"exists": False}},
                                               {"message": {"contains": "x"}}]})
    assert narrow(either, frozenset()) == Selection()  # the first alternative holds
    excluded = Selection.model_validate({"not": [{"user.name": {"exists": False}}]})
    assert narrow(excluded, frozenset()) is None
    shaped = ShapedMatcher([web, fallback, absent_ok])
    line = Event(message="GET /../x HTTP/1.1", fields={"process.name": "nginx"})
    assert shaped(line) == [1, 2]
    assert shaped(Event(message="GET /../x HTTP/1.1",
                        fields={"url.original": "/../x", "source.ip": "192.0.2.1"})) == [0]
    # Fields no rule reads do not make a new shape: one compiled matcher serves both.
    shaped(Event(message="x", fields={"process.name": "sshd", "host.name": "h"}))
    assert len(shaped._by_shape) == 2


def test_shapes_past_the_cap_use_the_general_matcher(monkeypatch: pytest.MonkeyPatch) -> None:
    import logsentry.detect.shaped as shaped_module

    monkeypatch.setattr(shaped_module, "MAX_SHAPES", 1)
    monkeypatch.setattr(shaped_module, "MAX_KEY_TUPLES", 2)
    rule = Selection.model_validate({"where": {"user.name": {"exists": True}}})
    other = Selection.model_validate({"where": {"source.ip": {"exists": True}}})
    shaped = ShapedMatcher([rule, other])
    assert shaped(Event(message="m", fields={"user.name": "root"})) == [0]
    # A second shape: no new compiled matcher, the general one, still right.
    assert shaped(Event(message="m", fields={"source.ip": "192.0.2.1"})) == [1]
    assert shaped(Event(message="m", fields={"source.ip": "192.0.2.1", "user.name": "a"})) == [0, 1]
    assert len(shaped._by_shape) == 1
    assert len(shaped.by_keys) <= 2


def test_an_event_a_rule_fails_on_is_counted_and_logged_and_detection_goes_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import structlog

    from logsentry.core.metrics import LINES_FAILED
    from logsentry.detect.rule_state import RuleEngine

    detector = Detector(parse_rules(MINIMAL + "select: {action: ssh_login_failed}\n"))
    feed = RuleEngine.feed

    def feed_failing_on_odd(self: RuleEngine, event: Event, *args: object) -> object:
        if event.message == "odd":
            raise ValueError("a bug")
        return feed(self, event, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(RuleEngine, "feed", feed_failing_on_odd)
    before = LINES_FAILED.labels(stage="detect")._value.get()
    with structlog.testing.capture_logs() as logs:
        alerts = detector.process([_event("ssh_login_failed", "odd"),
                                   _event("ssh_login_failed", "fine")])
    assert [a.rule_id for a in alerts] == ["test.rule"]
    assert LINES_FAILED.labels(stage="detect")._value.get() == before + 1
    (failed,) = [r for r in logs if r["event"] == "detection failed on an event"]
    assert failed["rule"] == "test.rule" and failed["log_level"] == "error"
