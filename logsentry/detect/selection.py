"""A rule's selection compiled into one generated Python function.

Every rule's selection runs on every event of the actions it names, so its
cost is the detection stage's cost. Nested closures (a predicate per map, per
field, per getter) spent most of it in Python calls; here the whole selection
becomes one function with the field reads inlined, calling out only for the
value tests themselves (`condition.build_check`). Only names and values the
rule file gives reach the generated source, and only through `repr()`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import partial
from typing import Any, cast

from logsentry.analysis.actions import ACTIONS
from logsentry.detect.condition import (
    FieldMap,
    Predicate,
    as_field_test,
    as_list,
    build_check,
    combine_patterns,
    compile_field_test,
    decode_percent,
    in_networks,
    like_regex,
    lowered,
    numeric_check,
    regex_check,
    value_text,
)
from logsentry.detect.rule import Selection
from logsentry.event import Event

# How the generated code reads each special field; anything else is `fields.get(name)`.
_SPECIAL_READS = {
    "message": "event.message",
    "message.raw": "event.message",
    "event.action": "event.action",
    "logsentry.template": "event.template",
    "template": "event.template",
    "log.source": "event.source",
    "url.decoded": 'decode_percent(fields.get("url.original"))',
    "message.decoded": "decode_percent(event.message)",
}
_OUTCOMES = {name: info.outcome for name, info in ACTIONS.items()}


class _Builder:
    """Collects the generated expression's helpers (checks, sets) in a namespace."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {
            "decode_percent": decode_percent, "value_text": value_text, "lowered": lowered,
            "_ABSENT": (None, ""), "_OUTCOMES": _OUTCOMES,
        }
        self.counter = 0

    def bind(self, value: Any) -> str:
        self.counter += 1
        name = f"_h{self.counter}"
        self.namespace[name] = value
        return name

    def read(self, name: str) -> str | None:
        if name in _SPECIAL_READS:
            return _SPECIAL_READS[name]
        if name == "event.outcome":
            return "_OUTCOMES[event.action]"
        if name == "event.category":
            return None  # multi-valued: left to the closure predicate
        return f"fields.get({name!r})"

    def field(self, name: str, spec: Any) -> str:
        test = as_field_test(spec)
        read = self.read(name)
        if read is None:
            return f"{self.bind(compile_field_test(name, test))}(event)"
        if test.exists is False or build_check(test) is None:
            # Presence only; `exists: false` with value tests holds only when absent.
            op = "in" if test.exists is False else "not in"
            return f"({read} {op} _ABSENT)"
        self.counter += 1
        value, text = f"_v{self.counter}", f"_t{self.counter}"
        fold = test.ignore_case
        # Multi-valued values (lists) take the general path; text tests run inline.
        multi = self.bind(build_check(test))
        tests: list[str] = []
        if any(x is not None for x in (test.equals, test.in_, test.contains, test.regex,
                                       test.like)):
            tests.append(f"(({text} := ({value} if type({value}) is str "
                         f"else value_text({value}))) is not None)")
            if fold:
                tests.append(f"(({text} := lowered({text})) is not None)")

        def norm(item: Any) -> str:
            return value_text(item).lower() if fold else value_text(item)

        if test.equals is not None:
            tests.append(f"{text} == {norm(test.equals)!r}")
        if test.in_ is not None:
            tests.append(f"{text} in {self.bind(frozenset(norm(i) for i in test.in_))}")
        if test.contains is not None:
            needles = [norm(n) for n in as_list(test.contains)]
            tests.append("(" + " or ".join(f"{n!r} in {text}" for n in needles) + ")")
        patterns = as_list(test.regex) + [like_regex(p) for p in as_list(test.like)]
        if patterns:
            # Whole lines are nearly always unique: caching their verdicts only churns.
            check = regex_check(combine_patterns(patterns, fold),
                                not name.startswith("message"))
            tests.append(f"{self.bind(check)}({text})")
        if test.cidr is not None:
            networks = [ipaddress.ip_network(n, strict=False) for n in as_list(test.cidr)]
            tests.append(f"{self.bind(partial(in_networks, networks=networks))}({value})")
        for op in ("gt", "gte", "lt", "lte"):
            bound = getattr(test, op)
            if bound is not None:
                tests.append(f"{self.bind(numeric_check(op, bound))}({value})")
        inline = " and ".join(tests)
        return (f"(({value} := {read}) is not None and {value} != '' and "
                f"({multi}({value}) if type({value}) is list or type({value}) is tuple "
                f"else ({inline})))")

    def field_map(self, fields: FieldMap) -> str | None:
        parts = [self.field(name, spec) for name, spec in fields.items()]
        if not parts:
            return None
        return "(" + " and ".join(parts) + ")"


def _selection_expression(selection: Selection, builder: _Builder) -> str | None:
    parts: list[str] = []
    where = builder.field_map(selection.where)
    if where is not None:
        parts.append(where)
    alternatives = [e for e in (builder.field_map(m) for m in selection.any) if e is not None]
    if alternatives:
        parts.append("(" + " or ".join(alternatives) + ")")
    exclusions = [e for e in (builder.field_map(m) for m in selection.not_) if e is not None]
    if exclusions:
        parts.append("not (" + " or ".join(exclusions) + ")")
    return " and ".join(parts) if parts else None


def _define(source: str, builder: _Builder, name: str) -> Any:
    exec(compile(source, "<rule selection>", "exec"), builder.namespace)
    function = builder.namespace[name]
    function.__doc__ = source  # what it does, for debugging a rule
    return function


def compile_selection(selection: Selection) -> Predicate | None:
    """One function testing the field part (where/any/not) of a selection; None if empty."""
    builder = _Builder()
    expression = _selection_expression(selection, builder)
    if expression is None:
        return None
    source = ("def select(event):\n"
              "    fields = event.fields\n"
              f"    return bool({expression})\n")
    return cast(Predicate, _define(source, builder, "select"))


Matcher = Callable[[Event], list[int]]


def compile_matcher(selections: list[Selection]) -> Matcher:
    """One function returning the indexes of the selections an event passes, in order.

    The detector builds one per action over the rules that can select it: one
    call per event instead of one per rule.
    """
    builder = _Builder()
    lines = ["def match(event):", "    fields = event.fields", "    hits = []"]
    for index, selection in enumerate(selections):
        expression = _selection_expression(selection, builder)
        if expression is None:
            lines.append(f"    hits.append({index})")
        else:
            lines.append(f"    if {expression}:")
            lines.append(f"        hits.append({index})")
    lines.append("    return hits")
    return cast(Matcher, _define("\n".join(lines) + "\n", builder, "match"))
