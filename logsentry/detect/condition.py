"""Field conditions of a rule, compiled once into fast predicates over events.

A rule names fields in flat ECS form (`source.ip`, `url.original`). A few
names reach the event's own attributes instead of `Event.fields`:
`message` (the raw line), `event.action`, `event.outcome`, `event.category`,
`logsentry.template`, `logsentry.confidence` and `log.source`.
`message.raw` is `message` again, so one field map can test the message twice
(a cheap `contains` first, then a `regex`). `url.decoded` and `message.decoded` are
`url.original` and the message with percent-encoding undone (twice, against
double encoding) and '+' read as a space, for payload patterns.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, unquote_plus

from pydantic import ConfigDict, Field, field_validator, model_validator

from logsentry.core.config_base import StrictModel
from logsentry.core.event import Event

# Longest prefix of a value that regex/contains/like conditions look at:
# every line is attacker-controlled and a long one must not cost seconds.
MAX_SCAN_CHARS = 8192

Predicate = Callable[[Event], bool]
Getter = Callable[[Event], Any]


# Names `field_getter` reads from somewhere else than `Event.fields` under that name.
SPECIAL_FIELDS = frozenset({
    "message", "message.raw", "event.action", "event.outcome", "event.category",
    "logsentry.template", "template", "logsentry.confidence", "log.source", "url.decoded",
    "message.decoded",
})


def field_getter(name: str) -> Getter:
    """A function reading field `name` of an event (None when absent)."""
    if name in ("message", "message.raw"):
        return lambda event: event.message
    if name == "event.action":
        return lambda event: event.action
    if name == "event.outcome":
        return lambda event: event.outcome
    if name == "event.category":
        return lambda event: event.category
    if name in ("logsentry.template", "template"):
        return lambda event: event.template or None
    if name == "logsentry.confidence":
        return lambda event: event.confidence
    if name == "log.source":
        return lambda event: event.source
    if name == "url.decoded":
        return lambda event: decode_percent(event.fields.get("url.original"))
    if name == "message.decoded":
        return lambda event: decode_percent(event.message)
    return lambda event: event.fields.get(name)


# The last value decoded and its result: the rules that look at one event's
# decoded message run one after another, so one entry saves all but one decode.
# One tuple, replaced whole: a reader in another thread sees a matching pair.
_last_decoded: tuple[str | None, str | None] = (None, None)


def decode_percent(value: Any) -> str | None:
    """`value` with percent-encoding undone twice and '+' as a space (None if not text)."""
    global _last_decoded
    if not isinstance(value, str):
        return None
    last = _last_decoded
    if value is last[0]:
        return last[1]
    text = value[:MAX_SCAN_CHARS]
    if "%" in text or "+" in text:
        text = unquote_plus(unquote(text))
    _last_decoded = (value, text)
    return text


_last_lowered: tuple[str | None, str] = (None, "")


def lowered(text: str) -> str:
    """`text.lower()`, remembering the last one: rules testing one message in turn
    with `ignore_case` lower it once."""
    global _last_lowered
    last = _last_lowered
    if text is last[0]:
        return last[1]
    low = text.lower()
    _last_lowered = (text, low)
    return low


class FieldTest(StrictModel):
    """Tests on one field; all given tests must hold.

    `equals`/`in` compare text (numbers as their decimal text), `contains`,
    `regex` and `like` (a template with `<*>` or `*` wildcards) match text,
    `cidr` addresses, `gt`/`gte`/`lt`/`lte` numbers; `exists: false` holds
    when the field is absent.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    equals: str | int | float | bool | None = None
    in_: list[str | int | float] | None = Field(default=None, alias="in")
    contains: str | list[str] | None = None
    regex: str | list[str] | None = None
    like: str | list[str] | None = None
    cidr: str | list[str] | None = None
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    exists: bool | None = None
    ignore_case: bool = False
    # Set by compilation, not by rules: cache regex verdicts per value (worth it
    # for URLs and user agents, which repeat; not for whole lines, which do not).
    cache_verdicts: bool = Field(default=False, exclude=True)

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: str | list[str] | None) -> str | list[str] | None:
        for pattern in as_list(value):
            try:
                # Alone first: inside the alternation combine_patterns builds,
                # Python's error position would point into the wrapper.
                re.compile(pattern)
                combine_patterns([pattern])
            except re.error as exc:
                raise ValueError(f"invalid regex {pattern!r}: {exc}") from None
        return value

    @field_validator("cidr")
    @classmethod
    def _cidr_parses(cls, value: str | list[str] | None) -> str | list[str] | None:
        for network in as_list(value):
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError as exc:
                raise ValueError(f"invalid CIDR {network!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> FieldTest:
        if not self.model_fields_set - {"ignore_case", "cache_verdicts"}:
            raise ValueError("a field test needs at least one of equals, in, contains, "
                             "regex, like, cidr, gt, gte, lt, lte, exists")
        return self


FieldSpec = FieldTest | str | int | float | bool | list[str | int | float]
# field name -> test; every entry must hold.
FieldMap = dict[str, FieldSpec]


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_GLOBAL_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")


def combine_patterns(patterns: list[str], ignore_case: bool = False) -> re.Pattern[str]:
    """One alternation of `patterns`; a leading `(?i)` applies to its own pattern only."""
    parts = []
    for pattern in patterns:
        match = _GLOBAL_FLAGS.match(pattern)
        if match:
            parts.append(f"(?{match.group(1)}:{pattern[match.end():]})")
        else:
            parts.append(f"(?:{pattern})")
    return re.compile("|".join(parts), re.IGNORECASE if ignore_case else 0)


def like_regex(pattern: str) -> str:
    parts = re.split(r"<\*>|\*", pattern)
    return "^" + "(?s:.*?)".join(re.escape(part) for part in parts) + "$"


def as_field_test(spec: FieldSpec) -> FieldTest:
    """The FieldTest a shorthand stands for (scalar: equals, list: in)."""
    if isinstance(spec, FieldTest):
        return spec
    if isinstance(spec, list):
        return FieldTest.model_validate({"in": spec})
    return FieldTest(equals=spec)


def build_check(spec: FieldTest) -> Callable[[Any], bool] | None:
    """One function applying every value test of `spec` to a present value; None
    when `spec` only tests presence. A list or tuple value passes when one item does."""
    fold = spec.ignore_case
    checks: list[Callable[[Any], bool]] = []

    def norm(value: Any) -> str:
        text = value if type(value) is str else value_text(value)
        return text.lower() if fold else text

    if spec.equals is not None:
        wanted = norm(spec.equals)
        checks.append(lambda value: norm(value) == wanted)
    if spec.in_ is not None:
        allowed = frozenset(norm(item) for item in spec.in_)
        checks.append(lambda value: norm(value) in allowed)
    if spec.contains is not None:
        needles = tuple(norm(item) for item in as_list(spec.contains))

        def contains(value: Any) -> bool:
            text = norm(value)[:MAX_SCAN_CHARS]
            for needle in needles:  # noqa: SIM110 - faster than any() here
                if needle in text:
                    return True
            return False

        checks.append(contains)
    patterns = as_list(spec.regex) + [like_regex(p) for p in as_list(spec.like)]
    if patterns:
        # One alternation per field: one scan of the value, not one per pattern.
        checks.append(regex_check(combine_patterns(patterns, fold), spec.cache_verdicts))
    if spec.cidr is not None:
        networks = [ipaddress.ip_network(n, strict=False) for n in as_list(spec.cidr)]
        checks.append(lambda value: in_networks(value, networks))
    for op, bound in (("gt", spec.gt), ("gte", spec.gte), ("lt", spec.lt), ("lte", spec.lte)):
        if bound is not None:
            checks.append(numeric_check(op, bound))
    if not checks:
        return None
    check = _all_of(checks)

    def check_value(value: Any) -> bool:
        if type(value) is tuple or type(value) is list:
            # Multi-valued fields (event.category): a test holds if it holds for one value.
            for item in value:  # noqa: SIM110 - faster than any() here
                if check(item):
                    return True
            return False
        return check(value)

    return check_value


def compile_field_test(name: str, spec: FieldSpec) -> Predicate:
    """A predicate for one `field: test` entry of a rule."""
    test = as_field_test(spec)
    if not name.startswith("message"):
        test = test.model_copy(update={"cache_verdicts": True})
    get = field_getter(name)
    exists = test.exists
    check = build_check(test)
    if check is None:
        # Presence tests only: the common `field: {exists: ...}`, kept lean.
        if exists is False:
            return lambda event: get(event) in (None, "")
        return lambda event: get(event) not in (None, "")

    def predicate(event: Event) -> bool:
        value = get(event)
        if value is None or value == "":
            return exists is False
        if exists is False:
            return False
        return check(value)

    return predicate


def _all_of(checks: list[Callable[[Any], bool]]) -> Callable[[Any], bool]:
    if not checks:
        return lambda value: True
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda value: first(value) and second(value)

    def every(value: Any) -> bool:
        for check in checks:  # noqa: SIM110 - faster than all() here
            if not check(value):
                return False
        return True

    return every


# Values up to this long have their regex verdicts cached: URLs, user agents and
# templates repeat a lot, and a cache hit costs a dict lookup instead of a scan.
_CACHED_VALUE_CHARS = 512
_REGEX_CACHE_SIZE = 8192


def regex_check(pattern: re.Pattern[str], cached: bool) -> Callable[[Any], bool]:
    """A function telling whether `pattern` occurs in a value's text (see below)."""
    return regex_check_and_cache(pattern, cached)[0]


def regex_check_and_cache(
    pattern: re.Pattern[str], cached: bool
) -> tuple[Callable[[Any], bool], dict[str, bool]]:
    """A regex check and its verdict cache (text -> verdict), which generated code
    reads inline before calling the check on a miss (the check fills the cache)."""
    cache: dict[str, bool] = {}

    def check(value: Any) -> bool:
        text = value if type(value) is str else value_text(value)
        if not cached or len(text) > _CACHED_VALUE_CHARS:
            return pattern.search(text[:MAX_SCAN_CHARS]) is not None
        verdict = cache.get(text)
        if verdict is None:
            verdict = pattern.search(text) is not None
            if len(cache) >= _REGEX_CACHE_SIZE:
                cache.clear()  # crude but bounded; refills with what is current
            cache[text] = verdict
        return verdict

    return check, cache


def in_networks(
    value: Any, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> bool:
    try:
        address = ipaddress.ip_address(value_text(value).strip("[]").split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        mapped: ipaddress.IPv4Address | ipaddress.IPv6Address = address.ipv4_mapped
        return any(mapped in net or address in net for net in networks)
    return any(address in net for net in networks)


def numeric_check(op: str, bound: float) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        if isinstance(value, bool):
            return False
        try:
            number = float(value)
        except (TypeError, ValueError):
            return False
        if op == "gt":
            return number > bound
        if op == "gte":
            return number >= bound
        if op == "lt":
            return number < bound
        return number <= bound

    return check


def compile_field_map(fields: FieldMap) -> Predicate | None:
    """All entries of a `field: test` mapping must hold; None for an empty mapping."""
    predicates = [compile_field_test(name, spec) for name, spec in fields.items()]
    if not predicates:
        return None
    return all_predicates(predicates)


def all_predicates(predicates: list[Predicate]) -> Predicate:
    """A predicate holding when all of `predicates` hold (in order, short-circuit)."""
    if len(predicates) == 1:
        return predicates[0]
    if len(predicates) == 2:
        first, second = predicates
        return lambda event: first(event) and second(event)

    def every(event: Event) -> bool:
        for predicate in predicates:  # noqa: SIM110 - hot path
            if not predicate(event):
                return False
        return True

    return every


def any_predicate(predicates: list[Predicate]) -> Predicate:
    """A predicate holding when one of `predicates` holds (in order, short-circuit)."""
    if len(predicates) == 1:
        return predicates[0]

    def some(event: Event) -> bool:
        for predicate in predicates:  # noqa: SIM110 - hot path
            if predicate(event):
                return True
        return False

    return some
