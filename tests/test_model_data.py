"""The synthetic training-data generator: determinism, exact spans, coverage."""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
from pathlib import Path

import pytest

from logsentry.core.actions import ACTIONS
from logsentry.train.data import synthetic
from logsentry.train.data.cli import register_data
from logsentry.train.data.envelopes import ENVELOPES
from logsentry.train.data.template import TemplateError, compile_template, json_escape, make_family
from logsentry.train.data.values import ODD_USERS, Values
from logsentry.train.example import Example, ExampleError, Span

JSON_ENVELOPES = {"journald_json", "docker_json"}


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _expected_text(value: str, family_escapes: bool, envelope: str) -> str:
    text = json_escape(value) if family_escapes else value
    return json_escape(text) if envelope in JSON_ENVELOPES else text


def _assert_chosen_values_are_spans(rendered: synthetic.Rendered) -> None:
    """The slots' values appear, in order and exactly, as consecutive spans of the example."""
    example = rendered.example
    family = synthetic.FAMILY_BY_NAME[example.family]
    want = [(role, _expected_text(value, family.escape_json, rendered.envelope))
            for role, value in rendered.chosen if value]
    got = [(s.label, example.text[s.start:s.end]) for s in example.spans]
    assert want, rendered.template
    for i in range(len(got) - len(want) + 1):
        if got[i:i + len(want)] == want:
            return
    raise AssertionError(f"{rendered.template!r}: spans {got} do not contain {want}")


def test_same_seed_gives_identical_examples() -> None:
    first = [e.to_dict() for e in synthetic.generate(800, seed=7)]
    second = [e.to_dict() for e in synthetic.generate(800, seed=7)]
    assert first == second


def test_different_seeds_give_different_examples() -> None:
    a = [e.text for e in synthetic.generate(200, seed=1)]
    b = [e.text for e in synthetic.generate(200, seed=2)]
    assert len(set(a) & set(b)) < 20


def test_generate_honours_n_and_family_filter() -> None:
    examples = synthetic.generate(300, seed=3, families={"openssh", "ufw"})
    assert len(examples) == 300
    assert {e.family for e in examples} == {"openssh", "ufw"}
    assert synthetic.generate(0, seed=3) == []
    with pytest.raises(KeyError):
        synthetic.generate(5, seed=3, families={"no-such-family"})


def test_at_least_forty_families_all_generated() -> None:
    names = synthetic.family_names()
    assert len(names) >= 40
    seen = {e.family for e in synthetic.generate(12_000, seed=11)}
    assert seen == set(names)


def test_every_action_of_the_vocabulary_is_produced() -> None:
    produced = {e.action for e in synthetic.generate(20_000, seed=5)}
    assert produced == set(ACTIONS)


def test_every_family_produces_every_action_it_declares() -> None:
    v = Values(random.Random(17))
    for family in synthetic.FAMILIES:
        actions = {synthetic.render(family, v).example.action for _ in range(400)}
        assert actions == family.actions(), family.name


def test_every_template_renders_valid_spans_equal_to_the_chosen_values() -> None:
    v = Values(random.Random(23))
    for family in synthetic.FAMILIES:
        for event in family.events:
            for template in event.templates:
                for envelope, _, _ in ENVELOPES[family.style]:
                    single = type(family)(family.name, family.group, family.programs, family.style,
                                          (type(event)(event.action, (template,), 1.0),),
                                          family.escape_json, (1.0,))
                    rendered = synthetic.render(single, v, envelope)
                    rendered.example.validate()
                    if rendered.chosen:
                        _assert_chosen_values_are_spans(rendered)


def test_header_spans_label_timestamp_host_program_and_pid() -> None:
    v = Values(random.Random(2))
    rendered = synthetic.render(synthetic.FAMILY_BY_NAME["openssh"], v, "rfc3164")
    labels = [s.label for s in rendered.example.spans]
    assert labels[:3] == ["timestamp", "host.name", "process.name"]
    body_only = synthetic.render(synthetic.FAMILY_BY_NAME["openssh"], v, "bare").example
    assert not {"timestamp", "host.name"} & {s.label for s in body_only.spans[:1]}


def test_both_bare_bodies_and_enveloped_lines_are_generated() -> None:
    examples = synthetic.generate(3000, seed=9, families={"openssh"})
    starts = {e.text.split(" ", 1)[0] for e in examples}
    assert any(s.startswith(("Failed", "Invalid", "Accepted", "pam_unix")) for s in starts)
    assert any(e.text.startswith("{\"__REALTIME_TIMESTAMP\"") for e in examples)
    assert any(e.text.startswith("<") and ">1 " in e.text[:8] for e in examples)  # RFC 5424


def test_entity_spans_have_the_shape_of_their_role() -> None:
    for example in synthetic.generate(6000, seed=13):
        for span in example.spans:
            text = example.text[span.start:span.end]
            assert text.strip() == text or span.label == "user.name", (example.text, span)
            if span.label in ("source.ip", "destination.ip"):
                assert _is_ip(text), (example.text, text)
            elif span.label == "source.address":
                assert not _is_ip(text), (example.text, text)
            elif span.label in ("source.port", "destination.port", "process.pid"):
                assert text.isdigit(), (example.family, text)
            elif span.label == "http.response.status_code":
                assert len(text) == 3 and text.isdigit(), (example.family, text)


class _HostileValues(Values):
    """Every user name and user agent is an attacker's odd string."""

    def user(self) -> str:
        return self.pick(ODD_USERS)

    def plain_user(self) -> str:
        return self.pick(ODD_USERS)

    def user_agent(self) -> str:
        return self.pick(('"; DROP TABLE x; --', "Mozilla/5.0 \u202e\u0000", "ü\\\"x", "${jndi:ldap://a/b}"))


def test_attacker_controlled_odd_values_still_give_exact_spans() -> None:
    v = _HostileValues(random.Random(31))
    checked = 0
    for family in synthetic.FAMILIES:
        for envelope, _, _ in ENVELOPES[family.style]:
            for _ in range(15):
                rendered = synthetic.render(family, v, envelope)
                rendered.example.validate()
                if rendered.chosen:
                    _assert_chosen_values_are_spans(rendered)
                    checked += 1
                text = rendered.example.text
                if text.startswith("{") and text.endswith("}"):
                    json.loads(text)  # hostile values must not break JSON documents
    assert checked > 1000


def test_json_envelopes_stay_valid_json_with_hostile_bodies() -> None:
    v = _HostileValues(random.Random(4))
    for _ in range(200):
        rendered = synthetic.render(synthetic.FAMILY_BY_NAME["openssh"], v, "journald_json")
        doc = json.loads(rendered.example.text)
        users = [val for role, val in rendered.chosen if role == "user.name"]
        for user in users:
            assert user in doc["MESSAGE"]


def test_example_round_trips_through_json_and_validation_rejects_bad_spans() -> None:
    example = synthetic.generate(1, seed=1)[0]
    again = Example.from_dict(json.loads(json.dumps(example.to_dict())))
    assert again == example
    bad = Example("abc", [Span(0, 2, "user.name"), Span(1, 3, "variable")], "other", "x")
    with pytest.raises(ExampleError):
        bad.validate()
    with pytest.raises(ExampleError):
        Example("abc", [Span(0, 9, "variable")], "other", "x").validate()
    with pytest.raises(ExampleError):
        Example("abc", [Span(0, 1, "nonsense")], "other", "x").validate()
    with pytest.raises(ExampleError):
        Example("abc", [], "no_such_action", "x").validate()


def test_template_errors_are_caught_at_definition() -> None:
    with pytest.raises(TemplateError):
        compile_template("user {no_such_generator:user}")
    with pytest.raises(TemplateError):
        compile_template("user {user:no_such_role}")
    with pytest.raises(TemplateError):
        compile_template("unclosed {user")
    with pytest.raises(TemplateError):
        make_family("x", "g", ("p",), "syslog", {"not_an_action": ["x"]})
    pieces = compile_template("{{literal}} {|a {ip:sip}|b}")
    assert pieces[0] == "{literal} "


def test_cli_dumps_jsonl_that_loads_back(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    register_data(parser.add_subparsers())
    out = tmp_path / "data.jsonl"
    args = parser.parse_args(["data", "--n", "50", "--seed", "4", "--out", str(out)])
    assert args.func(args) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 50
    loaded = [Example.from_dict(json.loads(line)) for line in lines]
    for example in loaded:
        example.validate()
    assert [e.to_dict() for e in loaded] == [e.to_dict() for e in synthetic.generate(50, 4)]


def test_generation_does_not_depend_on_hash_randomisation() -> None:
    import os
    import subprocess
    import sys

    code = ("import hashlib, json\n"
            "from logsentry.train.data.synthetic import generate\n"
            "names = {'openssh', 'generic_auth', 'json_app'}\n"
            "docs = [e.to_dict() for e in generate(400, 21, names)]\n"
            "print(hashlib.sha256(json.dumps(docs).encode()).hexdigest())\n")
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True, timeout=60)
        digests.add(out.stdout.strip())
    assert len(digests) == 1
