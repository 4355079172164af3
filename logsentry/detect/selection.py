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
import math
import re
from collections.abc import Collection
from functools import partial
from typing import Any, Protocol, cast

from logsentry.core.actions import ACTIONS
from logsentry.core.event import Event
from logsentry.detect.condition import (
    FieldMap,
    FieldTest,
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
    regex_check_and_cache,
    value_text,
)
from logsentry.detect.literals import MessageScanner
from logsentry.detect.rule import Selection

# How the generated code reads each field once per event into a local (pure reads
# that cannot fail); anything else is `fields.get(name)`.
_PLAIN_READS = {
    "message": "event.message",
    "message.raw": "event.message",
    "event.action": "event.action",
    "logsentry.template": "event.template",
    "template": "event.template",
    "logsentry.confidence": "event.confidence",
    "log.source": "event.source",
}
# Fields derived from another read: computed on first use in an event, then reused
# by every rule of the function (`{}` is the local holding the base read).
_DERIVED_READS = {
    "url.decoded": ("url.original", "decode_percent({})"),
    "message.decoded": ("message", "decode_percent({})"),
    "event.outcome": ("event.action", "_OUTCOMES[{}]"),
}
_OUTCOMES = {name: info.outcome for name, info in ACTIONS.items()}
_MARKER = re.compile("\0(_d[0-9]+)\0")
# Integers this small compare with a float bound exactly as their float() does.
_EXACT_INT = 2**53


def _has_text_tests(test: FieldTest) -> bool:
    return any(x is not None for x in (test.equals, test.in_, test.contains, test.regex,
                                       test.like))


def _wanted_ints(test: FieldTest) -> list[frozenset[int]] | None:
    """For a test an int value can pass on its own (`equals`, `in` and bounds, no other
    text test): per `equals`/`in`, the ints whose decimal text it accepts. None when
    the test has another text test."""
    if any(x is not None for x in (test.contains, test.regex, test.like)):
        return None
    wanted = []
    for values in ([test.equals] if test.equals is not None else [],
                   test.in_ if test.in_ is not None else []):
        if values:
            texts = {value_text(v).lower() if test.ignore_case else value_text(v)
                     for v in values}
            # The text an int has is str(int): "401" only, never "0401" or "+401".
            wanted.append(frozenset(int(t) for t in texts if _is_int_text(t)))
    if test.in_ is not None and not test.in_:
        wanted.append(frozenset())  # `in: []` accepts nothing
    return wanted


def _is_int_text(text: str) -> bool:
    try:
        return str(int(text)) == text
    except ValueError:
        return False


class _Unset:
    """The value of a derived read not computed yet in this event."""


class _Builder:
    """Collects the generated function's helpers (checks, sets) in a namespace and
    the reads it shares between rules: each field is read once per event, each
    derived value (decoded, lowered) computed once, on first use."""

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {
            "decode_percent": decode_percent, "value_text": value_text, "lowered": lowered,
            "_ABSENT": (None, ""), "_OUTCOMES": _OUTCOMES, "_UNSET": _Unset(),
        }
        self.counter = 0
        # read expression -> local, in order of first use
        self.eager: dict[str, str] = {}
        # derived expression -> local, computed on first use
        self.lazy: dict[str, str] = {}
        self.uses: dict[str, int] = {}
        # expression about a read -> local, computed once per event after the reads:
        # the type and presence tests every rule repeats on a field (`type(x) is str`,
        # `x != ''`) cost one local load per rule instead of a call and a compare.
        self.flags: dict[str, str] = {}

    def bind(self, value: Any) -> str:
        self.counter += 1
        name = f"_h{self.counter}"
        self.namespace[name] = value
        return name

    def _local(self, table: dict[str, str], expression: str, prefix: str) -> str:
        name = table.get(expression)
        if name is None:
            self.counter += 1
            name = table[expression] = f"{prefix}{self.counter}"
        return name

    def read(self, name: str) -> str | None:
        """An expression for the field's value in this event (None: multi-valued)."""
        if name in _DERIVED_READS:
            base_name, template = _DERIVED_READS[name]
            base = self.read(base_name)
            assert base is not None
            return self.derived(template.format(base))
        if name == "event.category":
            return None  # multi-valued: left to the closure predicate
        expression = _PLAIN_READS.get(name, f"fields.get({name!r})")
        return self._local(self.eager, expression, "_r")

    def flag(self, expression: str) -> str:
        """A local holding `expression` (about plain reads only), computed once per event."""
        return self._local(self.flags, expression, "_f")

    def derived(self, expression: str) -> str:
        """`expression`, computed once per event on first use (a marker that `function`
        replaces: by the expression itself where the function uses it only once)."""
        local = self._local(self.lazy, expression, "_d")
        self.uses[local] = self.uses.get(local, 0) + 1
        return f"\0{local}\0"

    def function(self, header: str, body: list[str]) -> str:
        """The generated function's source: the shared reads first, then `body`."""
        shared = [local for local in self.lazy.values() if self.uses[local] > 1]
        lines = [header, "    fields = event.fields"]
        lines += [f"    {local} = {expression}" for expression, local in self.eager.items()]
        lines += [f"    {local} = {expression}" for expression, local in self.flags.items()]
        if shared:
            lines.append("    _U = _UNSET")
            lines.append("    " + " = ".join(shared) + " = _U")
        source = "\n".join([*lines, *body]) + "\n"
        expressions = {local: expression for expression, local in self.lazy.items()}

        def expand(match: re.Match[str]) -> str:
            local = match.group(1)
            expression = _MARKER.sub(expand, expressions[local])
            if self.uses[local] > 1:
                return f"({local} if {local} is not _U else ({local} := {expression}))"
            return f"({expression})"

        return _MARKER.sub(expand, source)

    def field(self, name: str, spec: Any) -> str:
        test = as_field_test(spec)
        read = self.read(name)
        if read is None:
            return f"{self.bind(compile_field_test(name, test))}(event)"
        if test.exists is False or build_check(test) is None:
            # Presence only; `exists: false` with value tests holds only when absent.
            if not read.isidentifier():  # a derived read, computed on first use
                op = "in" if test.exists is False else "not in"
                return f"({read} {op} _ABSENT)"
            present = self.flag(f"{read} not in _ABSENT")
            return f"(not {present})" if test.exists is False else present
        if _DERIVED_READS.get(name, ("", ""))[1] == "decode_percent({})":
            # decode_percent() gives None for anything but text and non-empty text for
            # non-empty text: the value tests run on the decoded text only where the
            # field itself is non-empty text (most lines have no URL: one local read).
            base = self.read(_DERIVED_READS[name][0])
            assert base is not None and base.isidentifier()
            base_kind = self.flag(f"({base} != '') if type({base}) is str else None")
            self.counter += 1
            value = f"_v{self.counter}"
            inline = " and ".join(self._value_tests(test, name, value, value, None))
            return f"({base_kind} and ({value} := {read}) != '' and {inline})"
        # A plain read's kind, once per event: True for non-empty text, False for
        # empty text, None for anything else (a number, a list, None).
        kind = (self.flag(f"({read} != '') if type({read}) is str else None")
                if read.isidentifier() else None)
        if read.isidentifier():
            value = read
        else:  # a derived read: into a temporary, as the tests use it several times
            self.counter += 1
            value = f"_v{self.counter}"
            read = f"({value} := {read})"
        # Text (nearly every value) is tested on itself; another single value (a
        # number) on its text, as the rule's value is; a list of values (or tuple)
        # by the general check, which holds when it holds for one of them.
        self.counter += 1
        scalar_text = f"_t{self.counter}"
        scalar = self._value_tests(test, name, value, scalar_text, f"value_text({value})")
        multi = f"{self.bind(build_check(test))}({value})"
        general = (f"({value} is not None and {value} != '' and ({multi} if type({value}) is "
                   f"list or type({value}) is tuple else ({' and '.join(scalar)})))")
        inline = " and ".join(self._value_tests(test, name, value, value, None))
        bounds = [(op, getattr(test, op)) for op in ("gt", "gte", "lt", "lte")
                  if getattr(test, op) is not None]
        wanted = _wanted_ints(test)
        # (Only for rules whose values are numbers: text values keep the str test first.)
        if wanted is not None and all(wanted) and test.cidr is None and all(
                math.isfinite(b) and abs(b) < _EXACT_INT for _, b in bounds):
            # Numbers only (a status code): an int compares inline, as float() would
            # for a bound, and as its decimal text would for `equals`/`in`.
            symbols = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
            compares = [f"{value} {symbols[op]} {float(b)!r}" for op, b in bounds]
            for ints in wanted:
                if len(ints) == 1:
                    compares.append(f"{value} == {next(iter(ints))!r}")
                else:
                    compares.append(f"{value} in {self.bind(ints)}")
            compare = " and ".join(compares)
            if kind is not None:
                exact = self.flag(
                    f"type({read}) is int and -{_EXACT_INT} <= {read} <= {_EXACT_INT}")
                return (f"(({compare}) if {exact} else "
                        f"(({inline}) if {kind} else ({kind} is None and {general})))")
            return (f"(({compare}) if type({read}) is int and "
                    f"-{_EXACT_INT} <= {value} <= {_EXACT_INT} else "
                    f"({value} != '' and ({inline}) if type({value}) is str else {general}))")
        if kind is not None:
            # `(v != '' and inline) if type(v) is str else general`, with the kind read once.
            return f"(({inline}) if {kind} else ({kind} is None and {general}))"
        return f"(({value} != '' and {inline}) if type({read}) is str else {general})"

    def _value_tests(self, test: FieldTest, name: str, value: str, text: str,
                     make_text: str | None) -> list[str]:
        """The tests of one field on one value: text tests on `text` (made by
        `make_text` into that temporary first, unless the value is its own text),
        address and number tests on `value`."""
        fold = test.ignore_case
        tests: list[str] = []
        if _has_text_tests(test):
            if make_text is not None:
                tests.append(f"(({text} := {make_text}) is not None)")
                if fold:
                    tests.append(f"(({text} := lowered({text})) is not None)")
            elif fold:
                text = (self.derived(f"{value}.lower()") if value.startswith("_r")
                        else f"lowered({value})")
                uses = (len(as_list(test.contains)) + (test.equals is not None)
                        + (test.in_ is not None) + bool(test.regex or test.like))
                if uses > 1:  # into a temporary, computed once for all the tests
                    self.counter += 1
                    folded = f"_t{self.counter}"
                    tests.append(f"(({folded} := {text}) is not None)")
                    text = folded

        def norm(item: Any) -> str:
            return value_text(item).lower() if fold else value_text(item)

        if test.equals is not None:
            tests.append(f"{text} == {norm(test.equals)!r}")
        if test.in_ is not None:
            tests.append(f"{text} in {self.bind(frozenset(norm(i) for i in test.in_))}")
        if test.contains is not None:
            needles = [norm(n) for n in as_list(test.contains)]
            if text.startswith("_r"):
                # A field's own text: rules often look for the same words in it
                # (" HTTP/" in the message): each search once per event.
                found = [self.derived(f"{n!r} in {text}") for n in needles]
            else:
                found = [f"{n!r} in {text}" for n in needles]
            tests.append("(" + " or ".join(found) + ")")
        patterns = as_list(test.regex) + [like_regex(p) for p in as_list(test.like)]
        if patterns:
            # Whole lines are nearly always unique: caching their verdicts only churns.
            cached = not name.startswith("message")
            check, cache = regex_check_and_cache(combine_patterns(patterns, fold), cached)
            if cached:
                # The cache lookup inline, the check (which fills it) on a miss.
                self.counter += 1
                verdict = f"_c{self.counter}"
                tests.append(f"({verdict} if ({verdict} := {self.bind(cache)}.get({text}))"
                             f" is not None else {self.bind(check)}({text}))")
            else:
                tests.append(f"{self.bind(check)}({text})")
        if test.cidr is not None:
            networks = [ipaddress.ip_network(n, strict=False) for n in as_list(test.cidr)]
            tests.append(f"{self.bind(partial(in_networks, networks=networks))}({value})")
        for op in ("gt", "gte", "lt", "lte"):
            bound = getattr(test, op)
            if bound is not None:
                tests.append(f"{self.bind(numeric_check(op, bound))}({value})")
        return tests

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
    source = builder.function("def select(event):", [f"    return bool({expression})"])
    return cast(Predicate, _define(source, builder, "select"))


def event_field_key(name: str) -> str | None:
    """The key of `Event.fields` a test of field `name` reads (a derived field's base:
    `url.original` for `url.decoded`); None for what the event holds elsewhere and
    always has (message, action, template, category)."""
    base = _DERIVED_READS[name][0] if name in _DERIVED_READS else name
    if base in _PLAIN_READS or base == "event.category":
        return None
    return base


def _narrow_map(fields: FieldMap, present: Collection[str]) -> FieldMap | None:
    """A field map for events whose `fields` has only the keys `present`: None if it
    cannot hold on them (on an absent field every test fails but `exists: false`),
    else without its tests on absent fields (`exists: false`, which always hold)."""
    narrowed: FieldMap = {}
    for name, spec in fields.items():
        key = event_field_key(name)
        if key is None or key in present:
            narrowed[name] = spec
        elif as_field_test(spec).exists is not False:
            return None
    return narrowed


def narrow(selection: Selection, present: Collection[str]) -> Selection | None:
    """`selection` for events whose `fields` has only the keys `present`, with what
    the shape decides left out; None if the selection cannot hold on such events."""
    where = _narrow_map(selection.where, present)
    if where is None:
        return None
    alternatives = [m for m in (_narrow_map(a, present) for a in selection.any) if m is not None]
    if selection.any and not alternatives:
        return None
    if any(not m for m in alternatives):
        alternatives = []  # one alternative always holds: so does `any`
    exclusions = [m for m in (_narrow_map(n, present) for n in selection.not_) if m is not None]
    if any(not m for m in exclusions):
        return None  # an exclusion that always holds
    return selection.model_copy(update={"where": where, "any": alternatives,
                                        "not_": exclusions})


class Matcher(Protocol):
    """The indexes of the selections an event passes, in order. `found`: the mask of the
    literals its message holds (`detect/literals.py`); the default, every bit set, tests
    every selection."""

    def __call__(self, event: Event, found: int = -1) -> list[int]: ...


def compile_matcher(selections: list[Selection],
                    present: Collection[str] | None = None,
                    scanner: MessageScanner | None = None) -> Matcher:
    """One function returning the indexes of the selections an event passes, in order.

    The detector builds one per action over the rules that can select it: one
    call per event instead of one per rule, each field read once for all of them.
    With `present`, the function is only for events whose `fields` has just those
    keys (`ShapedMatcher`): selections that cannot hold on them are left out. With
    `scanner`, a selection whose message needs one of some literals (as narrowed to
    `present`) is tested only when one of them is in `found`.
    """
    builder = _Builder()
    body = ["    hits = []"]
    for index, original in enumerate(selections):
        selection = original if present is None else narrow(original, present)
        if selection is None:
            continue
        expression = _selection_expression(selection, builder)
        gate = scanner.gate(selection) if scanner is not None else 0
        if gate:
            # `&` binds before `and`: the mask first, the selection's tests if it holds.
            expression = f"found & {gate}" if expression is None else (
                f"found & {gate} and {expression}")
        if expression is None:
            body.append(f"    hits.append({index})")
        else:
            body.append(f"    if {expression}:")
            body.append(f"        hits.append({index})")
    body.append("    return hits")
    return cast(Matcher, _define(builder.function("def match(event, found=-1):", body),
                                 builder, "match"))
