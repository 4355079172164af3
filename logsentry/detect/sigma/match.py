"""A Sigma rule's detection, evaluated in memory: its condition tree as predicates.

pySigma parses a rule and its condition (`sigma.conditions`): after its
post-processing the tree holds AND, OR and NOT over leaves that test one field
against one value (`ConditionFieldEqualsValueExpression`) or the whole event
against a keyword (`ConditionValueExpression`); selections, `1 of`/`all of`,
value lists and modifiers are already resolved into that form, and each value
carries its modifiers' effect in its type (a SigmaString with wildcards for
`contains`, a SigmaRegularExpression with flags for `re|i`, a SigmaCIDRExpression
for `cidr`, a SigmaExpansion for `windash` and `base64offset`...). Here every node
becomes a closure; nothing is generated as source text.

Matching follows the specification: strings compare case-insensitively unless
`cased`, `*` and `?` are wildcards over the whole value, regular expressions are
case-sensitive unless `i` and search anywhere, keywords search the message. A list
field (process arguments, tags) holds when one of its items does.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
    SpecialChars,
)

from logsentry.core.event import Event
from logsentry.detect.condition import (
    MAX_SCAN_CHARS,
    Predicate,
    all_predicates,
    any_predicate,
    in_networks,
    lowered,
    regex_check,
    value_text,
)
from logsentry.detect.sigma.mapping import FieldMapper, Getter

Check = Callable[[Any], bool]

_RE_FLAGS = {
    SigmaRegularExpressionFlag.IGNORECASE: re.IGNORECASE,
    SigmaRegularExpressionFlag.MULTILINE: re.MULTILINE,
    SigmaRegularExpressionFlag.DOTALL: re.DOTALL,
}


class UnsupportedRule(ValueError):
    """A construct of a rule that in-memory evaluation cannot run (the reason it is skipped)."""


def compile_conditions(trees: list[Any], mapper: FieldMapper) -> Predicate:
    """One predicate for a rule's conditions (several conditions: any of them)."""
    if not trees:
        raise UnsupportedRule("the rule has no condition")
    predicates = [compile_node(tree, mapper) for tree in trees]
    return predicates[0] if len(predicates) == 1 else any_predicate(predicates)


def compile_node(node: Any, mapper: FieldMapper) -> Predicate:
    """The predicate of one node of a post-processed condition tree."""
    if isinstance(node, ConditionAND):
        # Cheap tests first: an AND stops at its first false part, and a CIDR or regex
        # test after a status comparison runs on the few events that pass it.
        return all_predicates(
            [compile_node(arg, mapper) for arg in sorted(node.args, key=node_cost)])
    if isinstance(node, ConditionOR):
        return _compile_or(node.args, mapper)
    if isinstance(node, ConditionNOT):
        inner = compile_node(node.args[0], mapper)
        return lambda event: not inner(event)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return compile_field(mapper.getter(node.field), node.value, mapper)
    if isinstance(node, ConditionValueExpression):
        return compile_keyword(node.value)
    raise UnsupportedRule(f"condition element {type(node).__name__} is not supported")


# -- OR of plain strings ---------------------------------------------------------------

# How a plain string (no `?`, `*` only at its ends) compares with a value's text.
_EQUALS, _PREFIX, _SUFFIX, _CONTAINS = range(4)
_STAR = SpecialChars.WILDCARD_MULTI


def _compile_or(args: Any, mapper: FieldMapper) -> Predicate:
    """An OR, with its plain-string tests of one field (or keywords: of the message)
    merged into one predicate: the value read and lower-cased once, then set membership,
    `startswith`/`endswith` of a tuple and substring tests (a list of values in a rule,
    `Image|endswith: [...]`, is such an OR)."""
    groups: dict[str | None, list[tuple[int, str]]] = {}
    others: list[Any] = []
    for arg in args:
        merged = _plain_test(arg)
        if merged is None:
            others.append(arg)
        else:
            field, kind, piece = merged
            groups.setdefault(field, []).append((kind, piece))
    predicates: list[Predicate] = []
    for arg in args:  # the original order for what is not merged, each group once
        merged = _plain_test(arg)
        if merged is None:
            predicates.append(compile_node(arg, mapper))
            continue
        tests = groups.pop(merged[0], None)
        if tests is None:
            continue  # its group is compiled already
        if len(tests) == 1:
            predicates.append(compile_node(arg, mapper))
        elif merged[0] is None:
            predicates.append(_merged_keywords(_plain_check(tests)))
        else:
            predicates.append(_merged_field(mapper.getter(merged[0]), _plain_check(tests)))
    return any_predicate(predicates)


def _plain_test(node: Any) -> tuple[str | None, int, str] | None:
    """(field, or None for a keyword; comparison; lower-cased text) of a node that is a
    plain case-insensitive string test; None for anything else."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        field: str | None = node.field
        anywhere = False
    elif isinstance(node, ConditionValueExpression):
        field, anywhere = None, True
    else:
        return None
    value = node.value
    if not isinstance(value, SigmaString) or isinstance(value, SigmaCasedString):
        return None
    try:
        parts = string_parts(value)
    except UnsupportedRule:
        return None  # compiled alone, it says why
    if anywhere:
        parts = [_STAR, *parts, _STAR]
    while len(parts) > 1 and parts[0] is _STAR and parts[1] is _STAR:
        parts = parts[1:]
    while len(parts) > 1 and parts[-1] is _STAR and parts[-2] is _STAR:
        parts = parts[:-1]
    start = parts[:1] == [_STAR]
    end = len(parts) > 1 and parts[-1] is _STAR
    middle = parts[(1 if start else 0):(len(parts) - 1 if end else len(parts))]
    if not middle:
        text = ""
    elif len(middle) == 1 and isinstance(middle[0], str):
        text = middle[0].lower()
    else:
        return None
    if not text and (start or end):
        return None  # `*`: compiled alone
    kind = (_CONTAINS if start and end else _SUFFIX if start else _PREFIX if end
            else _EQUALS)
    return field, kind, text


def _plain_check(tests: list[tuple[int, str]]) -> Check:
    """A check of lower-cased text against plain-string tests (any of them)."""
    equals = frozenset(piece for kind, piece in tests if kind == _EQUALS)
    prefixes = tuple(piece for kind, piece in tests if kind == _PREFIX)
    suffixes = tuple(piece for kind, piece in tests if kind == _SUFFIX)
    contains = tuple(piece for kind, piece in tests if kind == _CONTAINS)

    def check(text: str) -> bool:
        if text in equals:
            return True
        if prefixes and text.startswith(prefixes):
            return True
        if suffixes and text.endswith(suffixes):
            return True
        for piece in contains:  # noqa: SIM110 - hot path
            if piece in text:
                return True
        return False

    return check


def _merged_keywords(check: Check) -> Predicate:
    return lambda event: check(lowered(event.message))


def _merged_field(get: Getter, check: Check) -> Predicate:
    def predicate(event: Event) -> bool:
        found = get(event)
        if found is None:
            return False
        if type(found) is list or type(found) is tuple:
            for item in found:  # noqa: SIM110 - hot path
                if item is not None and check(lowered(_text(item))):
                    return True
            return False
        return check(lowered(_text(found)))

    return predicate


def node_cost(node: Any) -> int:
    """A rough relative cost of evaluating a node (ordering an AND's parts by it)."""
    if isinstance(node, ConditionAND | ConditionOR):
        return sum(node_cost(arg) for arg in node.args)
    if isinstance(node, ConditionNOT):
        return node_cost(node.args[0])
    if isinstance(node, ConditionValueExpression):
        return 8  # a search of the message
    if not isinstance(node, ConditionFieldEqualsValueExpression):
        return 8
    return _value_cost(node.value)


def _value_cost(value: Any) -> int:
    if isinstance(value, SigmaExpansion):
        return sum(_value_cost(item) for item in value.values)
    if isinstance(value, SigmaNull | SigmaExists | SigmaBool | SigmaNumber
                  | SigmaCompareExpression):
        return 1
    if isinstance(value, SigmaString):
        return 2 if value.contains_special() else 1
    return 4  # a regex, a CIDR, a field reference


# -- field tests ------------------------------------------------------------------


def compile_field(get: Getter, value: SigmaType, mapper: FieldMapper) -> Predicate:
    """`field: value` as a predicate: absence, presence and references first, then a value
    check applied to the field's value (to one of its items for a list)."""
    if isinstance(value, SigmaNull):
        return lambda event: _absent(get(event))
    if isinstance(value, SigmaExists):
        wanted = bool(value.exists)
        return lambda event: (not _absent(get(event))) is wanted
    if isinstance(value, SigmaExpansion):
        return any_predicate([compile_field(get, item, mapper) for item in value.values])
    if isinstance(value, SigmaFieldReference):
        return _field_reference(get, mapper.getter(value.field), value)
    check = value_check(value)

    def predicate(event: Event) -> bool:
        found = get(event)
        if found is None:
            return False
        if type(found) is list or type(found) is tuple:
            for item in found:  # noqa: SIM110 - hot path
                if item is not None and check(item):
                    return True
            return False
        return check(found)

    return predicate


def _absent(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == ()


def _field_reference(get: Getter, other: Getter, ref: SigmaFieldReference) -> Predicate:
    """`fieldref`: the field's text equals (starts, ends with) the other field's."""

    def predicate(event: Event) -> bool:
        mine, theirs = get(event), other(event)
        if _absent(mine) or _absent(theirs):
            return False
        text, wanted = value_text(mine).lower(), value_text(theirs).lower()
        if ref.starts_with:
            return text.startswith(wanted)
        if ref.ends_with:
            return text.endswith(wanted)
        return text == wanted

    return predicate


def value_check(value: SigmaType) -> Check:
    """A function telling whether one present value matches a Sigma value."""
    if isinstance(value, SigmaString):  # SigmaCasedString too
        return string_check(value, cased=isinstance(value, SigmaCasedString))
    if isinstance(value, SigmaBool):
        return _bool_check(bool(value.boolean))
    if isinstance(value, SigmaTimestampPart):
        raise UnsupportedRule("timestamp part modifiers (minute, hour...) are not supported")
    if isinstance(value, SigmaNumber):
        return _number_check(value.number)
    if isinstance(value, SigmaRegularExpression):
        # Verdicts of short values cached: query strings and agents repeat.
        return regex_check(compile_regex(value), cached=True)
    if isinstance(value, SigmaCIDRExpression):
        return _cidr_check([value.network])
    if isinstance(value, SigmaCompareExpression):
        return _compare_check(value.op, value.number.number)
    raise UnsupportedRule(f"value type {type(value).__name__} is not supported")


# Verdicts kept per CIDR test (addresses repeat; parsing one is the cost), and the
# longest text cached (anything longer is no address).
_CIDR_CACHE_SIZE = 4096
_CIDR_CACHED_CHARS = 64


def _cidr_check(networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> Check:
    cache: dict[str, bool] = {}

    def check(found: Any) -> bool:
        text = _text(found)
        verdict = cache.get(text)
        if verdict is None:
            verdict = in_networks(text, networks)
            if len(text) <= _CIDR_CACHED_CHARS:
                if len(cache) >= _CIDR_CACHE_SIZE:
                    cache.clear()  # bounded; refills with the addresses seen now
                cache[text] = verdict
        return verdict

    return check


def _text(value: Any) -> str:
    return value if type(value) is str else value_text(value)


def compile_regex(value: SigmaRegularExpression) -> re.Pattern[str]:
    flags = 0
    for flag in value.flags:
        flags |= _RE_FLAGS[flag]
    source = str(value.regexp)
    try:
        return re.compile(source, flags)
    except re.error as exc:
        raise UnsupportedRule(f"regular expression {source!r} is not valid in Python: "
                              f"{exc}") from None


def _bool_check(wanted: bool) -> Check:
    text = "true" if wanted else "false"

    def check(found: Any) -> bool:
        if isinstance(found, bool):
            return found is wanted
        return _text(found).strip().lower() == text

    return check


def _number_check(number: int | float) -> Check:
    text = value_text(number)

    def check(found: Any) -> bool:
        if isinstance(found, bool):
            return False
        if isinstance(found, int | float):
            return bool(found == number)
        found_text = _text(found).strip()
        if found_text == text:
            return True
        try:
            return float(found_text) == number
        except ValueError:
            return False

    return check


def _compare_check(op: CompareOperators, bound: int | float) -> Check:
    def check(found: Any) -> bool:
        if isinstance(found, bool):
            return False
        try:
            number = float(found)
        except (TypeError, ValueError):
            return False
        if op is CompareOperators.LT:
            return number < bound
        if op is CompareOperators.LTE:
            return number <= bound
        if op is CompareOperators.GT:
            return number > bound
        if op is CompareOperators.GTE:
            return number >= bound
        return number != bound

    return check


# -- strings ------------------------------------------------------------------------


def string_parts(value: SigmaString) -> list[str | SpecialChars]:
    """The value's parts: text and wildcards (placeholders are unsupported)."""
    parts: list[str | SpecialChars] = []
    for part in value.s:
        if isinstance(part, Placeholder):
            raise UnsupportedRule(f"placeholder %{part.name}% needs a processing pipeline")
        parts.append(part)
    return parts


def string_check(value: SigmaString, *, cased: bool, anywhere: bool = False) -> Check:
    """Whether a value's text matches a Sigma string: whole value, `*` and `?` wildcards,
    case-insensitive unless `cased`. `anywhere`: the string may occur inside the text
    (keywords)."""
    parts = string_parts(value)
    if anywhere:
        if not parts or parts[0] is not SpecialChars.WILDCARD_MULTI:
            parts.insert(0, SpecialChars.WILDCARD_MULTI)
        if parts[-1] is not SpecialChars.WILDCARD_MULTI:
            parts.append(SpecialChars.WILDCARD_MULTI)
    if not cased:
        parts = [p.lower() if isinstance(p, str) else p for p in parts]
    fold: Callable[[str], str] = (lambda text: text) if cased else lowered
    if SpecialChars.WILDCARD_SINGLE in parts:
        pattern = _wildcard_regex(parts)
        return lambda found: pattern.fullmatch(fold(_text(found)[:MAX_SCAN_CHARS])) is not None
    return _glob_check(parts, fold)


def _wildcard_regex(parts: list[str | SpecialChars]) -> re.Pattern[str]:
    pieces = []
    for part in parts:
        if part is SpecialChars.WILDCARD_MULTI:
            pieces.append(".*")
        elif part is SpecialChars.WILDCARD_SINGLE:
            pieces.append(".")
        else:
            pieces.append(re.escape(str(part)))
    return re.compile("".join(pieces), re.DOTALL)


def _glob_check(parts: list[str | SpecialChars], fold: Callable[[str], str]) -> Check:
    """Literal text and `*` only: equality, prefix, suffix, substring, or the pieces in
    order (each found after the previous one: linear, no backtracking)."""
    if not parts:
        return lambda found: fold(_text(found)) == ""
    # Adjacent `*` are one; the pieces are the text between them.
    anchored_start = parts[0] is not SpecialChars.WILDCARD_MULTI
    anchored_end = parts[-1] is not SpecialChars.WILDCARD_MULTI
    merged: list[str] = []
    previous_text = False
    for part in parts:
        if isinstance(part, str):
            if previous_text:
                merged[-1] += part
            else:
                merged.append(part)
            previous_text = True
        else:
            previous_text = False
    pieces = merged
    if not pieces:
        return lambda found: True  # "*" (or an empty value with wildcards)
    if len(pieces) == 1 and SpecialChars.WILDCARD_MULTI not in parts:
        exact = pieces[0]
        return lambda found: fold(_text(found)) == exact
    if len(pieces) == 1:
        piece = pieces[0]
        if anchored_start and not anchored_end:
            return lambda found: fold(_text(found)).startswith(piece)
        if anchored_end and not anchored_start:
            return lambda found: fold(_text(found)).endswith(piece)
        if not anchored_start and not anchored_end:
            return lambda found: piece in fold(_text(found))

    def in_order(found: Any) -> bool:
        text = fold(_text(found))
        start, end = 0, len(text)
        middle = pieces
        if anchored_start:
            if not text.startswith(pieces[0]):
                return False
            start = len(pieces[0])
            middle = middle[1:]
        if anchored_end:
            last = pieces[-1]
            if not text.endswith(last) or len(text) - len(last) < start:
                return False
            end = len(text) - len(last)
            middle = middle[:-1]
        for piece in middle:
            at = text.find(piece, start, end)
            if at < 0:
                return False
            start = at + len(piece)
        return True

    return in_order


# -- keywords -------------------------------------------------------------------------


def compile_keyword(value: SigmaType) -> Predicate:
    """A keyword (a value without a field): searched in the message."""
    if isinstance(value, SigmaExpansion):
        return any_predicate([compile_keyword(item) for item in value.values])
    if isinstance(value, SigmaString):
        check = string_check(value, cased=isinstance(value, SigmaCasedString), anywhere=True)
        return lambda event: check(event.message)
    if isinstance(value, SigmaRegularExpression):
        pattern = compile_regex(value)
        return lambda event: pattern.search(event.message[:MAX_SCAN_CHARS]) is not None
    if isinstance(value, SigmaNumber | SigmaBool):
        text = value_text(value.number if isinstance(value, SigmaNumber) else value.boolean)
        return lambda event: text in lowered(event.message)
    raise UnsupportedRule(f"keyword of type {type(value).__name__} is not supported")
