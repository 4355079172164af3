"""Which native rules can hold on a line, from the words they need in its message.

Many of the pack's rules need some text in the message (`message: {contains: "Relay
access denied"}`, a crash's keywords, a web request's ` HTTP/`): on every other line
their tests only fail, a substring search at a time, and an sshd line ran about forty
of them. Each rule's selection gives, where it can, a set of literals one of which every
message it holds on contains (`message_need`); all rules' literals go into one Hyperscan
database, and one scan of a batch's messages tells each line which literals it holds,
as a bitmask (`MessageScanner.scan`). The per-action matchers (`selection.compile_matcher`)
test a rule's mask against it before its own tests: a rule whose literals are absent is
skipped, one whose literals are present is tested in full as before. The scan is a
necessary condition only, so the rules give the same hits with it as without it: a
literal is found in any letter case, and a message that is not ASCII text is not
scanned (every rule is then tested), as lower-casing is not per character beyond ASCII.
A test that the line's action is one of some (`event.action: service_crash`) counts as
such a word too: a crash rule that also reads crash keywords is then skipped on a line
that is neither the action nor holds the keywords.

Without the `hyperscan` package (it is built for x86-64) there is no scanner and every
rule is tested, as before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from logsentry.core.event import Event
from logsentry.detect.condition import (
    FieldMap,
    FieldSpec,
    FieldTest,
    as_field_test,
    as_list,
    value_text,
)
from logsentry.detect.literal_scan import HYPERSCAN, LiteralScan
from logsentry.detect.rule import Selection

# The field names whose tests read `Event.message` itself (see selection._PLAIN_READS).
MESSAGE_FIELDS = frozenset({"message", "message.raw"})
# Literals shorter than this occur in too many lines to be worth finding (`()` and `${`
# are rare enough).
MIN_LITERAL = 2
# The field whose test on the action is decided as one of the line's words: `event.action`
# equal to `x` is the word ACTION_MARK + "x" (a NUL, which no message literal holds).
ACTION_FIELD = "event.action"
ACTION_MARK = "\0"
# A mask of every literal: what a line not scanned (or a caller that scans nothing) has.
ALL_FOUND = -1
# The messages scanned in one call, at most (bytes): long lines make no huge copy.
_SCAN_BYTES = 1 << 20
# Occurrences reported per line, at most, before a batch gives up scanning (its lines are
# then tested by every rule): each report costs a Python call.
_REPORTS_PER_LINE = 4
_REPORTS_EXTRA = 256

Need = frozenset[str] | None


def message_need(selection: Selection) -> Need:
    """Literals one of which the message of every event `selection` holds on contains
    (in some letter case); None when there is no such set."""
    needs = [_map_need(selection.where)]
    if selection.any:
        needs.append(union_need([_map_need(alternative) for alternative in selection.any]))
    return best_need(needs)


def message_literals(selection: Selection) -> set[str]:
    """Every literal a test of the message in `selection` could need: the needs of the
    selection narrowed to an event's shape (`selection.narrow`) are made of them."""
    literals: set[str] = set()
    for fields in (selection.where, *selection.any):
        for name, spec in fields.items():
            if name in MESSAGE_FIELDS:
                literals.update(_test_literals(spec))
            elif name == ACTION_FIELD:
                literals.update(_action_need(spec) or ())
    return literals


def _test_literals(spec: FieldSpec) -> set[str]:
    test = as_field_test(spec)
    needs = [_test_need(FieldTest.model_validate({key: value, "ignore_case": test.ignore_case}))
             for key, value in (("equals", test.equals), ("in", test.in_),
                                ("contains", test.contains), ("regex", test.regex))
             if value is not None]
    return {literal for need in needs for literal in need or ()}


def _map_need(fields: FieldMap) -> Need:
    return best_need([_test_need(spec) if name in MESSAGE_FIELDS else _action_need(spec)
                  for name, spec in fields.items()
                  if name in MESSAGE_FIELDS or name == ACTION_FIELD])


def _action_need(spec: FieldSpec) -> Need:
    """What a test of `event.action` needs: one of the actions its `equals` or `in` names,
    as the words ACTION_MARK + action (None for a case-insensitive test)."""
    test = as_field_test(spec)
    if test.exists is False or test.ignore_case:
        return None
    needs: list[Need] = []
    if test.equals is not None:
        needs.append(frozenset({ACTION_MARK + value_text(test.equals)}))
    if test.in_:
        needs.append(frozenset(ACTION_MARK + value_text(item) for item in test.in_))
    return best_need(needs)


def _test_need(spec: FieldSpec) -> Need:
    """What one test of the message needs: the text it compares (as the matcher folds
    it), for `equals`, `in` and `contains`; each of them must hold."""
    test = as_field_test(spec)
    if test.exists is False:
        return None  # holds on an absent (empty) message

    def norm(item: Any) -> str:
        return value_text(item).lower() if test.ignore_case else value_text(item)

    needs: list[Need] = []
    if test.equals is not None:
        needs.append(_literals([norm(test.equals)]))
    if test.in_ is not None:
        needs.append(_literals([norm(item) for item in test.in_]))
    if test.contains is not None:
        needs.append(_literals([norm(item) for item in as_list(test.contains)]))
    if test.regex is not None:
        needs.append(_regex_literals(as_list(test.regex)))
    return best_need(needs)


# A regex that is only an alternation of plain text (`Timeout before authentication|
# ssh_dispatch_run_fatal`), case-insensitive or not: one of its pieces is in what it matches.
_PLAIN_ALTERNATION = re.compile(r"(?:\(\?i\))?[^.^$*+?{}\[\]\\|()]+(?:\|[^.^$*+?{}\[\]\\|()]+)*")


def _regex_literals(patterns: list[str]) -> Need:
    """What one of `patterns` needs (they are searched as one alternation): the pieces of
    patterns that are plain alternations of ASCII text; None if one is anything else (an
    ASCII piece: a case-insensitive regex folds beyond ASCII, the Kelvin sign to "k")."""
    pieces: list[str] = []
    for pattern in patterns:
        if not pattern.isascii() or not _PLAIN_ALTERNATION.fullmatch(pattern):
            return None
        pieces += pattern.removeprefix("(?i)").split("|")
    return _literals(pieces)


def _literals(texts: list[str]) -> Need:
    """The texts as a need; None if one of them is too short to find (or holds a NUL, the
    scan's separator), or there are none."""
    if not texts or any(len(text) < MIN_LITERAL or "\0" in text for text in texts):
        return None
    return frozenset(texts)


def union_need(needs: list[Need]) -> Need:
    """What one of several alternatives needs: every literal of theirs; None (no need)
    if one of them needs none."""
    if not needs or any(need is None for need in needs):
        return None
    return frozenset().union(*[need for need in needs if need is not None])


def best_need(needs: list[Need]) -> Need:
    """Of the needs of parts that must all hold, the most selective: longest shortest
    literal, then fewest literals."""
    known = [need for need in needs if need is not None]
    if not known:
        return None
    return max(known, key=lambda need: (min(map(len, need)), -len(need)))


class MessageScanner:
    """Finds the rules' literals in a batch's messages: per line, a bitmask of those found
    (its action's word included).

    `bits` gives each literal its bit; `gate()` a need's mask.
    """

    def __init__(self, literals: set[str]) -> None:
        ordered = sorted(literals)
        self.bits = {literal: 1 << number for number, literal in enumerate(ordered)}
        # Per action a rule names, its word's bit (no scan needed for those).
        self._action_bits = {literal[len(ACTION_MARK):]: bit
                             for literal, bit in self.bits.items()
                             if literal.startswith(ACTION_MARK)}
        words = [literal for literal in ordered if not literal.startswith(ACTION_MARK)]
        self._bit_of = [self.bits[word] for word in words]
        self._search = LiteralScan(words) if words else None

    @classmethod
    def for_selections(cls, selections: Sequence[Selection]) -> MessageScanner | None:
        """A scanner of the literals of `selections` (None: no Hyperscan, or no selection
        tests the message for any)."""
        if HYPERSCAN is None:
            return None
        literals = set().union(*[message_literals(selection) for selection in selections])
        return cls(literals) if literals else None

    def gate(self, selection: Selection) -> int:
        """The mask of the literals one of which `selection` needs in the message (0: it
        needs none that this scanner finds: always tested)."""
        need = message_need(selection)
        if not need or any(literal not in self.bits for literal in need):
            return 0
        return sum(self.bits[literal] for literal in need)

    def scan(self, events: Sequence[Event]) -> list[int]:
        """The mask of the literals found in each event's message (ALL_FOUND for a message
        that is not ASCII text), by one scan of the batch's messages at a time."""
        action_bits = self._action_bits
        masks = [0] * len(events)
        texts: list[str] = []
        lines: list[int] = []  # the event of each text
        ends: list[int] = []  # the end offset of each text in the scanned data
        total = 0
        for index, event in enumerate(events):
            message = event.message
            action = event.action
            if (type(message) is not str or not message.isascii()
                    or type(action) is not str):
                masks[index] = ALL_FOUND
                continue
            if action_bits:
                masks[index] = action_bits.get(action, 0)
            if self._search is None:
                continue
            texts.append(message)
            lines.append(index)
            total += len(message)
            ends.append(total)
            total += 1  # the separator
            if total >= _SCAN_BYTES:
                self._scan_texts(texts, lines, ends, masks)
                texts, lines, ends, total = [], [], [], 0
        if texts:
            self._scan_texts(texts, lines, ends, masks)
        return masks

    def _scan_texts(self, texts: list[str], lines: list[int], ends: list[int],
                    masks: list[int]) -> None:
        """Scan `texts` (ASCII) in one call and mark each line's literals; lines with too
        many occurrences to report are tested by every rule."""
        assert self._search is not None
        budget = _REPORTS_PER_LINE * len(texts) + _REPORTS_EXTRA
        matches = self._search.found_in_texts("\0".join(texts).encode("ascii"), ends, budget)
        if matches is None:
            for line in lines:
                masks[line] = ALL_FOUND
            return
        bits = self._bit_of
        for text, number in matches:
            masks[lines[text]] |= bits[number]
