"""Application-log headers of the generator (`logsentry.train.data.app_headers`)."""

from __future__ import annotations

import random
import re

from logsentry.train.data.app_headers import app_header
from logsentry.train.data.envelopes import ENVELOPES, Body
from logsentry.train.data.synthetic import FAMILY_BY_NAME, render
from logsentry.train.data.template import Template, compile_template
from logsentry.train.data.values import Values
from logsentry.train.example import Example, ExampleBuilder

HEADER_LABELS = {"timestamp", "log.level", "log.logger", "process.thread.name", "process.pid",
                 "process.name", "host.name"}


def headers(n: int, seed: int) -> list[Example]:
    v = Values(random.Random(seed))
    out = []
    for _ in range(n):
        b = ExampleBuilder()
        app_header(b, Body("", [], "myapp", None), v)
        b.const("Login failed for ").var("bob", "user.name")
        out.append(b.build("login_failed", "test"))
    return out


def test_every_header_part_carries_its_label_and_nothing_else_of_the_header_does() -> None:
    for example in headers(2000, 3):
        example.validate()
        message = example.text.index("Login failed for ")
        header_spans = [s for s in example.spans if s.end <= message]
        assert header_spans, example.text
        assert {s.label for s in header_spans} <= HEADER_LABELS | {"variable"}
        for span in header_spans:
            value = example.text[span.start:span.end]
            # The span is the value: no brackets, quotes or separators around it.
            assert value == value.strip(" []()<>:|-=") or value.endswith(")"), (
                example.text, value)
        # Outside the spans the header is punctuation, spaces and keys (`pid=`).
        rest = "".join(c for i, c in enumerate(example.text[:message])
                       if not any(s.start <= i < s.end for s in header_spans))
        assert re.fullmatch(r"[\s\[\]()<>:|,#=\-\w]*", rest), example.text


def test_headers_vary_in_notation_parts_and_order() -> None:
    examples = headers(3000, 5)
    stamps = {re.sub(r"\d", "0", e.text[s.start:s.end])
              for e in examples for s in e.spans if s.label == "timestamp"}
    levels = {e.text[s.start:s.end] for e in examples for s in e.spans if s.label == "log.level"}
    orders = {tuple(s.label for s in e.spans if s.label in HEADER_LABELS) for e in examples}
    assert len(stamps) > 60
    assert {"INFO", "Info", "info", "I", "WARN", "WARNING", "ERROR", "ERR", "DEBUG", "DBG",
            "TRACE", "FATAL", "CRITICAL", "NOTICE"} <= levels
    assert len(orders) > 60
    assert any(re.fullmatch(r"(?:\w+\.)+[A-Z]\w+", e.text[s.start:s.end])
               for e in examples for s in e.spans if s.label == "log.logger")
    assert any(re.fullmatch(r"\w+\.go:\d+", e.text[s.start:s.end])
               for e in examples for s in e.spans if s.label == "log.logger")


def test_the_same_seed_gives_the_same_headers() -> None:
    assert [e.text for e in headers(200, 11)] == [e.text for e in headers(200, 11)]
    assert [e.text for e in headers(200, 11)] != [e.text for e in headers(200, 12)]


def test_file_and_json_families_draw_application_headers_and_syslog_families_do_not() -> None:
    assert "app_header" in {name for name, _, _ in ENVELOPES["file"]}
    assert "app_header" in {name for name, _, _ in ENVELOPES["json"]}
    assert "app_header" not in {name for name, _, _ in ENVELOPES["syslog"]}
    family = next(f for f in FAMILY_BY_NAME.values() if f.style == "file")
    rendered = render(family, Values(random.Random(1)), envelope="app_header")
    rendered.example.validate()
    assert rendered.example.spans[0].label in HEADER_LABELS


def test_a_level_or_thread_slot_without_a_role_is_labelled_as_a_header_part() -> None:
    source = "{level} [{thread}] done"
    template = Template(source, compile_template(source))
    b = ExampleBuilder()
    template.render(b, Values(random.Random(2)), None, [])
    assert [s.label for s in b.spans] == ["log.level", "process.thread.name"]
