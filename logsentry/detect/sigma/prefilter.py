"""Which Sigma rules can match a line, from the literal strings of all rules at once.

Most rules can only hold when some literal text occurs in the event: `CommandLine|
contains: wget` needs "wget" in the command line, so in the line or its fields. For
each rule the prefilter derives such a set (one of these must occur, lower-cased)
from its condition tree: AND needs what its most selective part needs, OR the union
of its parts' sets, a string value its longest piece of text between wildcards.
A rule with no such set (a regex, a CIDR, a NOT at the top, a number) is always a
candidate. All rules' literals go into one multi-literal matcher: one pass over the
event's text finds every literal present, whatever the number of rules, and only the
rules of those literals are evaluated. The matcher is Hyperscan's literal compiler
where the `hyperscan` package is installed (a third of the cost a line: 0.6 against 1.8
µs on mixed200k with 500 rules' 1,087 literals), else a pyahocorasick automaton.

The text searched is the message and every field value (list items one by one),
lower-cased (Hyperscan: its ASCII letters matched in any case): a value a rule can
test is in it (or, for a value cut from a field, such as a URL's query, inside it).

The detector asks for a whole batch at once (`scan_batch`): with Hyperscan, the
texts of the batch's events are scanned in one call, each match told to its event by
its offset. One call a line cost more than the scan itself (1.0 against 0.2 µs on
model-labelled ssh200k with 500 rules); a batch whose lines hold so many literal
occurrences that reporting them would cost more than scanning line by line is scanned
line by line (each literal then reported once a line, whatever its repeats). A batch
line's text leaves out the field values its ASCII message holds (and integers, unless
a literal is all digits): most often the message alone, with nothing to build, and
then a literal found is in the message, which decides a rule of plain keywords
without evaluating it (`found_means_match`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ahocorasick
from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
    ConditionValueExpression,
)
from sigma.types import SigmaExpansion, SigmaString, SpecialChars

from logsentry.core.event import Event
from logsentry.detect.literal_scan import HYPERSCAN, LiteralScan
from logsentry.detect.literals import Need, best_need, union_need
from logsentry.detect.sigma.mapping import FieldMapper

# Literals shorter than this occur in most lines: a rule needing one is better
# treated as always a candidate than found through them.
MIN_LITERAL = 3


def required_literals(trees: list[Any], mapper: FieldMapper) -> Need:
    """Literals one of which every event matching the conditions contains; None: no
    such set (the rule is always a candidate)."""
    return union_need([_need(tree, mapper) for tree in trees])


def _need(node: Any, mapper: FieldMapper) -> Need:
    if isinstance(node, ConditionAND):
        return best_need([_need(arg, mapper) for arg in node.args])
    if isinstance(node, ConditionOR):
        return union_need([_need(arg, mapper) for arg in node.args])
    if isinstance(node, ConditionNOT):
        return None
    if isinstance(node, ConditionFieldEqualsValueExpression):
        if not mapper.reads_only_fields(node.field):
            return None
        return _value_need(node.value)
    if isinstance(node, ConditionValueExpression):
        return _value_need(node.value)
    return None


def _value_need(value: Any) -> Need:
    if isinstance(value, SigmaExpansion):
        return union_need([_value_need(item) for item in value.values])
    if isinstance(value, SigmaString):
        pieces = [part for part in value.s if isinstance(part, str)]
        if not pieces:
            return None
        longest = max(pieces, key=len).lower()
        return frozenset({longest}) if len(longest) >= MIN_LITERAL else None
    return None


def found_means_match(trees: list[Any]) -> bool:
    """Whether the rule holds on every event whose message contains one of its literals:
    its conditions are keywords (case-insensitive plain text, found anywhere in the
    message), each its own literal. For such a rule a literal found in an event's
    message is its verdict (`scan_batch` tells when the message alone was searched)."""
    return bool(trees) and all(_plain_keywords(tree) for tree in trees)


def _plain_keywords(node: Any) -> bool:
    if isinstance(node, ConditionOR):
        return all(_plain_keywords(arg) for arg in node.args)
    if not isinstance(node, ConditionValueExpression) or type(node.value) is not SigmaString:
        return False  # a field, an AND, a NOT, a `cased` string, a regex, an expansion
    parts = list(node.value.s)
    while parts[:1] == [SpecialChars.WILDCARD_MULTI]:
        parts = parts[1:]
    while parts[-1:] == [SpecialChars.WILDCARD_MULTI]:
        parts = parts[:-1]
    # One piece of text, `*` at most around it (no `?`, no `*` inside, no placeholder):
    # the keyword holds exactly when its text occurs, and that text is its literal.
    return (len(parts) == 1 and isinstance(parts[0], str)
            and len(parts[0]) >= MIN_LITERAL)


def event_text(event: Event) -> str:
    """The text the literals are searched in: message and field values, lower-cased.

    A value that is in the message already is left out (most fields are cut from the
    line): shorter text, fewer repeated finds. Only an ASCII one: its lower-cased form
    is then in the lower-cased message too (lower-casing is not per character for
    all of Unicode: a final sigma depends on what follows it).
    """
    message = event.message
    parts = [message]
    for value in event.fields.values():
        if type(value) is str:
            if not (value.isascii() and value in message):
                parts.append(value)
        elif type(value) is list or type(value) is tuple:
            parts.extend(str(item) for item in value)
        else:
            parts.append(str(value))
    return "\n".join(parts).lower()


class Prefilter:
    """The rules (by index) that can match an event, from their required literals.

    `matcher` picks the literal matcher: "auto" (Hyperscan when installed), "hyperscan"
    or "pyahocorasick" (both give the same rules).
    """

    def __init__(self, needs: Sequence[Need], matcher: str = "auto") -> None:
        self.always: tuple[int, ...] = tuple(i for i, need in enumerate(needs) if need is None)
        by_literal: dict[str, list[int]] = {}
        for index, need in enumerate(needs):
            for literal in sorted(need or ()):
                by_literal.setdefault(literal, []).append(index)
        self.literals: list[str] = sorted(by_literal)
        self.rules_of: list[tuple[int, ...]] = [tuple(by_literal[literal])
                                                for literal in self.literals]
        # Event -> the numbers of the literals in its text (None: no literals at all).
        self.search: Callable[[Event], set[int]] | None = None
        self.matcher = "none"
        if self.literals:
            if matcher != "pyahocorasick" and HYPERSCAN is not None:
                self.search = _HyperscanSearch(self.literals)
                # The text of an integer is digits (and a sign): only a literal made of
                # those can be found in it.
                self.search.integers = any(set(literal) <= _INTEGER_CHARS
                                           for literal in self.literals)
                self.matcher = "hyperscan"
            elif matcher == "hyperscan":
                raise RuntimeError("the hyperscan package is not installed")
            else:
                self.search = _AutomatonSearch(self.literals)
                self.matcher = "pyahocorasick"

    def found(self, event: Event) -> Sequence[int]:
        """Indexes of the rules (not always candidates) whose literals occur in `event`,
        in rule order."""
        search = self.search
        if search is None:
            return ()
        found = search(event)
        if not found:
            return ()
        rules_of = self.rules_of
        if len(found) == 1:
            return rules_of[next(iter(found))]
        rules: set[int] = set()
        for number in found:
            rules.update(rules_of[number])
        return sorted(rules)

    def found_batch(self, events: Sequence[Event]) -> list[Sequence[int]]:
        """`found()` of each event of a batch, in order (one scan for all of them where
        the matcher allows)."""
        return self.scan_batch(events)[0]

    def scan_batch(self, events: Sequence[Event]) -> tuple[list[Sequence[int]], list[bool]]:
        """`found_batch()`, and for each event whether its message alone was searched
        (every field value is in it): then every literal found is in the message."""
        search = self.search
        if search is None:
            return [()] * len(events), [False] * len(events)
        if not isinstance(search, _HyperscanSearch):
            return [self.found(event) for event in events], [False] * len(events)
        rules_of = self.rules_of
        result: list[Sequence[int]] = []
        founds, alone = search.batch(events)
        for found in founds:
            if not found:
                result.append(())
            elif len(found) == 1:
                result.append(rules_of[next(iter(found))])
            else:
                rules: set[int] = set()
                for number in found:
                    rules.update(rules_of[number])
                result.append(sorted(rules))
        return result, alone

    def candidates(self, event: Event) -> Sequence[int]:
        """Indexes of the rules worth evaluating on `event`, in rule order: those always
        evaluated and those whose literals occur."""
        found = self.found(event)
        if not self.always:
            return found
        return sorted({*self.always, *found})


class _AutomatonSearch:
    """The literals' numbers found in a text, by a pyahocorasick automaton."""

    def __init__(self, literals: list[str]) -> None:
        automaton = ahocorasick.Automaton()
        for number, literal in enumerate(literals):
            automaton.add_word(literal, number)
        automaton.make_automaton()
        self.iter = automaton.iter

    def __call__(self, event: Event) -> set[int]:
        return {number for _, number in self.iter(event_text(event))}


class _HyperscanSearch:
    """The literals' numbers found in an event's text, by Hyperscan: its UTF-8 bytes, each
    literal reported once, ASCII letters of any case (a text that is all ASCII, most
    lines, is not lower-cased first; another is). One line's text holds the message and
    every field value; a batch's lines leave out what the message holds (`batch`)."""

    def __init__(self, literals: list[str]) -> None:
        self.one = LiteralScan(literals, single_match=True)
        # A batch's scan reports every occurrence (a single match would report a literal
        # once for the whole batch): a second database, without it.
        self.every = LiteralScan(literals)
        # Whether a literal could be found in an integer's text (see batch()).
        self.integers = True

    def __call__(self, event: Event) -> set[int]:
        # Lone surrogates (a JSON value's escapes) pass as their own bytes: no literal
        # of a YAML rule holds one.
        return self.one.found(_text(event).encode("utf-8", "surrogatepass"))

    def batch(self, events: Sequence[Event]) -> tuple[list[set[int] | None], list[bool]]:
        """The literals' numbers found in each event's text (None: none), by one scan of
        the texts of many lines at once (up to _BATCH_SCAN_BYTES of them: long lines do
        not make one huge copy of a batch); and whether each event's text was its
        message alone.

        The text of an event whose message is ASCII leaves out the field values the
        message holds (most fields are cut from the line: the envelope's header, the
        model's entities), and integers when no literal could be found in their digits:
        the message alone, most often, with no text to build. (An ASCII message holds a
        value's lower-cased form wherever it holds the value; a non-ASCII one need not,
        and its text is built whole, as for one line.)"""
        found: list[set[int] | None] = [None] * len(events)
        alone = [False] * len(events)
        integers = self.integers
        texts: list[str] = []
        ends: list[int] = []  # each text's end offset (in bytes) in the data, plus one
        total = first = 0
        for index, event in enumerate(events):
            message = event.message
            if message.isascii():
                parts: list[str] | None = None
                for value in event.fields.values():  # a loop: cheaper per line
                    kind = type(value)
                    if kind is str:
                        if value in message:
                            continue
                        part = value
                    elif kind is int:
                        if not integers:
                            continue
                        part = str(value)
                    else:
                        part = _value_text(value)
                    if parts is None:
                        parts = [message, part]
                    else:
                        parts.append(part)
                if parts is None:
                    text = message
                    alone[index] = True
                    total += len(text) + 1
                else:
                    text = "\n".join(parts)
                    if text.isascii():
                        total += len(text) + 1
                    else:
                        text = text.lower()
                        total += len(text.encode("utf-8", "surrogatepass")) + 1
            else:
                text = _text(event)
                total += len(text.encode("utf-8", "surrogatepass")) + 1
            texts.append(text)
            ends.append(total)
            if total >= _BATCH_SCAN_BYTES:
                self._scan_texts(texts, ends, found, first)
                texts, ends, total, first = [], [], 0, index + 1
        if texts:
            self._scan_texts(texts, ends, found, first)
        return found, alone

    def _scan_texts(self, texts: list[str], ends: list[int], found: list[set[int] | None],
                    first: int) -> None:
        """Scan `texts` (the lines from `first` on), NUL-separated, in one call; a match is
        its line's by its end offset."""
        # Reporting an occurrence costs a Python call: past this many (lines full of
        # one literal), the lines are scanned one by one instead.
        budget = _BATCH_REPORTS_PER_LINE * len(texts) + _BATCH_REPORTS_EXTRA
        matches = self.every.found_in_texts(
            "\0".join(texts).encode("utf-8", "surrogatepass"), ends, budget)
        if matches is None:
            for index, text in enumerate(texts, first):
                found[index] = self.one.found(text.encode("utf-8", "surrogatepass")) or None
            return
        for at, number in matches:
            numbers = found[first + at]
            if numbers is None:
                found[first + at] = {number}
            else:
                numbers.add(number)


# The characters of an integer's text.
_INTEGER_CHARS = frozenset("0123456789-")
# The text of the lines scanned in one call, at most (past it, the next call).
_BATCH_SCAN_BYTES = 1 << 20
# Literal occurrences a batch's scan reports, at most, per line and in all besides.
_BATCH_REPORTS_PER_LINE = 4
_BATCH_REPORTS_EXTRA = 256


def _text(event: Event) -> str:
    """The text Hyperscan searches: message and field values, NL-separated, lower-cased
    only when not all ASCII (Hyperscan matches ASCII letters in any case)."""
    parts = [event.message]
    append = parts.append
    for value in event.fields.values():  # a loop, not a comprehension: cheaper per line
        if type(value) is str:
            append(value)
        elif type(value) is int:
            append(str(value))
        else:
            append(_value_text(value))
    text = "\n".join(parts)
    return text if text.isascii() else text.lower()


def _value_text(value: Any) -> str:
    if type(value) is list or type(value) is tuple:
        return "\n".join([str(item) for item in value])
    return str(value)
