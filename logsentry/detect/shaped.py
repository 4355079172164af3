"""Selection functions specialised to the fields an event has.

Most of the pack's rules read every line (web attacks, crash keywords, a
defence's wording) but need a field most lines lack: a URL, a status code, a
source address. On an event without it such a rule cannot hold, yet the
general matcher still reads and tests its fields for every line. An event's
*shape* (which of the fields the rules read it has) decides that up front, so
each shape gets its own matcher with only the rules that can hold on it; on a
typical system line that leaves a handful of keyword tests out of thirty rules.

Shapes are few (the envelope's and the model's field sets) but a decoded record
can bring keys of its own, so both caches are bounded: the key tuples are
forgotten when too many, and past `MAX_SHAPES` compiled shapes new ones use the
general matcher (correct, only slower).
"""

from __future__ import annotations

from collections.abc import Iterable

from logsentry.core.event import Event
from logsentry.detect.literals import MessageScanner
from logsentry.detect.rule import Selection
from logsentry.detect.selection import Matcher, compile_matcher, event_field_key

# Matchers compiled per shape, at most (each a few kilobytes of code).
MAX_SHAPES = 256
# Key tuples (an event's field names in order) remembered, at most.
MAX_KEY_TUPLES = 4096


class ShapedMatcher:
    """The selections of one action's rules, compiled once per event shape.

    The hot path (`Detector.process`) looks an event's field names up in `by_keys`
    itself and calls `specialise` only on a miss; both give a function returning
    the indexes of the selections the event passes, as `compile_matcher`'s does.
    """

    def __init__(self, selections: list[Selection],
                 scanner: MessageScanner | None = None) -> None:
        self.selections = selections
        # The literals found in messages, which gate the selections (`detect/literals.py`).
        self.scanner = scanner
        # The matcher for any shape, compiled only once `MAX_SHAPES` shapes are: every
        # event gets its shape's own matcher until then.
        self._general: Matcher | None = None
        # The `Event.fields` keys any of the selections reads: the rest of an
        # event's keys do not change what can hold.
        self.read_keys = frozenset(
            key for selection in selections
            for field_map in (selection.where, *selection.any, *selection.not_)
            for key in map(event_field_key, field_map) if key is not None)
        self.by_keys: dict[tuple[str, ...], Matcher] = {}
        self._by_shape: dict[frozenset[str], Matcher] = {}

    @property
    def general(self) -> Matcher:
        """The matcher of every selection, for events of any shape."""
        if self._general is None:
            self._general = compile_matcher(self.selections, scanner=self.scanner)
        return self._general

    def specialise(self, keys: Iterable[str]) -> Matcher:
        """The matcher for events with these `fields` keys (remembered under them)."""
        names = tuple(keys)
        shape = self.read_keys.intersection(names)
        match = self._by_shape.get(shape)
        if match is None:
            if len(self._by_shape) >= MAX_SHAPES:
                match = self.general
            else:
                match = self._by_shape[shape] = compile_matcher(self.selections, shape,
                                                                 self.scanner)
        if len(self.by_keys) >= MAX_KEY_TUPLES:
            self.by_keys.clear()
        self.by_keys[names] = match
        return match

    def __call__(self, event: Event, found: int = -1) -> list[int]:
        """The indexes of the selections `event` passes (as the hot path finds them);
        `found`: the literals its message holds (see `compile_matcher`)."""
        match = self.by_keys.get(tuple(event.fields)) or self.specialise(event.fields)
        return match(event, found)
