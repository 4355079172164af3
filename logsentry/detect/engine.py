"""One loaded rule at work: its compiled selection, its groups and its correlation."""

from __future__ import annotations

import zlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from logsentry.alert import Alert
from logsentry.detect.condition import field_getter
from logsentry.detect.group import (
    CONTAINER_BYTES,
    DISTINCT_BYTES,
    DISTINCT_CAP,
    GroupState,
    sample_bytes,
    sample_ecs,
    sample_of,
)
from logsentry.detect.rule import (
    DistinctCorrelation,
    FirstSeenCorrelation,
    Rule,
    Selection,
    SequenceCorrelation,
    ThresholdCorrelation,
)
from logsentry.detect.selection import compile_selection
from logsentry.detect.summary import (
    describe_duration,
    distinct_text,
    iso,
    render_summary,
    values_text,
)
from logsentry.event import Event

# A group's key in `RuleEngine.groups`: the value itself for a rule grouped by one
# field (a str is never tracked by the garbage collector and needs no tuple per
# event), else the tuple of values. `GroupState.key` is always the tuple.
GroupKey = str | None | tuple[str | None, ...]


class CompiledSelection:
    """A Selection as the set of actions it accepts plus a field predicate."""

    __slots__ = ("actions", "predicate")

    def __init__(self, selection: Selection) -> None:
        self.actions = selection.actions()
        self.predicate = compile_selection(selection)

    def matches(self, event: Event) -> bool:
        if self.actions is not None and event.action not in self.actions:
            return False
        return self.predicate is None or self.predicate(event)


HASH_CACHE_SIZE = 4096


def stable_hash(text: str) -> int:
    """A 63-bit hash that is the same in every process (Python's hash() is salted).

    Two different 32-bit checksums side by side: C-fast, and collisions (a new
    value taken for a seen one) negligible at the per-group value cap.
    """
    data = text.encode("utf-8", "replace")
    return (zlib.crc32(data) << 31) ^ zlib.adler32(data)


class RuleEngine:
    """Correlates the events one rule selects, group by group.

    `groups` is ordered by last touch (oldest first), which makes both expiry
    and the detector's LRU eviction cheap pops from the front.
    """

    def __init__(self, rule: Rule, max_samples: int) -> None:
        self.rule = rule
        self.fingerprint = rule.fingerprint()
        self.selection = CompiledSelection(rule.select)
        self.max_samples = max_samples
        self.groups: OrderedDict[GroupKey, GroupState] = OrderedDict()
        self.group_getters = [field_getter(name) for name in rule.group_by]
        corr = rule.correlate
        self.correlation = corr
        self.steps: list[tuple[CompiledSelection, int]] = []
        if isinstance(corr, SequenceCorrelation):
            self.steps = [(CompiledSelection(step.select), step.count) for step in corr.steps]
        self.first_seen = isinstance(corr, FirstSeenCorrelation)
        # Values a first-seen rule hashed lately (templates repeat endlessly).
        self.hashes: dict[str, int] = {}
        self.value_getter: Callable[[Event], Any] | None = None
        if isinstance(corr, DistinctCorrelation | FirstSeenCorrelation):
            self.value_getter = field_getter(corr.field)
        # Fields whose distinct values the summary shows ({distinct.x}, {values.x}).
        tracked: set[str] = set()
        for name in rule.placeholders():
            for prefix in ("distinct.", "values."):
                if name.startswith(prefix):
                    tracked.add(name[len(prefix):])
        if isinstance(corr, DistinctCorrelation):
            tracked.discard(corr.field)  # `values` already holds them
        self.tracked = [(name, field_getter(name)) for name in sorted(tracked)]
        self.retention = _retention(rule)
        # Plain ECS group fields are read straight from `Event.fields`.
        special = {"message", "message.raw", "event.action", "event.outcome", "event.category",
                   "logsentry.template", "template", "log.source", "url.decoded",
                   "message.decoded"}
        self.plain_group_fields: tuple[str, ...] | None = (
            None if special & set(rule.group_by) else tuple(rule.group_by))
        self.correlate: Callable[[Event, float, GroupState], Alert | None]
        if isinstance(corr, ThresholdCorrelation):
            self.correlate = self._threshold
        elif isinstance(corr, DistinctCorrelation):
            self.correlate = lambda e, w, g: self._distinct(corr, e, w, g)
        elif isinstance(corr, SequenceCorrelation):
            self.correlate = lambda e, w, g: self._sequence(corr, e, w, g)
        elif isinstance(corr, FirstSeenCorrelation):
            self.correlate = lambda e, w, g: self._first_seen(corr, e, w, g)
        else:
            self.correlate = self._single

    @property
    def actions(self) -> frozenset[str] | None:
        """Actions this rule can match (None: any); the detector indexes rules by them."""
        base = self.selection.actions
        if not self.steps:
            return base
        union: set[str] = set()
        for step, _ in self.steps:
            if step.actions is None:
                return base
            union |= step.actions
        return frozenset(union) if base is None else base & union

    def group_key(self, event: Event) -> GroupKey:
        """The key of the event's group in `groups` (see GroupKey)."""
        plain = self.plain_group_fields
        if plain is not None:
            fields = event.fields
            if len(plain) == 1:
                value = fields.get(plain[0])
                return value if type(value) is str and value else _key_text(value)
            return tuple([_key_text(fields.get(name)) for name in plain])
        if len(self.group_getters) == 1:
            return _key_text(self.group_getters[0](event))
        return tuple([_key_text(get(event)) for get in self.group_getters])

    def key_values(self, key: GroupKey) -> tuple[str | None, ...]:
        """The group values of a key, as `GroupState.key` holds them."""
        return key if isinstance(key, tuple) else (key,)

    def dict_key(self, values: tuple[str | None, ...]) -> GroupKey:
        """The inverse of `key_values`."""
        return values[0] if len(self.rule.group_by) == 1 else values

    def process(self, event: Event, when: float, group: GroupState) -> Alert | None:
        """Feed one selected event (already matched) to its group; an alert or None.

        The detector's hot path does the same inline (suppression included).
        """
        group.last = max(group.last, when)
        if not self.first_seen and group.suppressed_until > when:
            # Suppressed: count the event for the next alert, correlate nothing.
            group.suppressed += 1
            return None
        return self.correlate(event, when, group)

    def _single(self, event: Event, when: float, group: GroupState) -> Alert | None:
        self._remember(event, group, when)
        return self._fire(event, group, when)

    def _threshold(self, event: Event, when: float, group: GroupState) -> Alert | None:
        corr = self.correlation
        assert isinstance(corr, ThresholdCorrelation)
        cutoff = when - corr.window
        if group.times and group.times[-1] < cutoff:
            group.reset_window()  # the old window lapsed entirely
        times = group.times
        if times is None:
            times = group.times = []
        while times and times[0] < cutoff:
            times.pop(0)
        times.append(when)
        self._remember(event, group, when)
        if len(times) >= corr.count:
            return self._fire(event, group, times[0])
        return None

    def _distinct(
        self, corr: DistinctCorrelation, event: Event, when: float, group: GroupState
    ) -> Alert | None:
        assert self.value_getter is not None
        value = _key_text(self.value_getter(event))
        if value is None:
            return None
        if group.values and max(group.values.values()) < when - corr.window:
            group.reset_window()
        values = group.values
        if values is None:
            values = group.values = {}
        values[value] = max(values.get(value, when), when)
        self._remember(event, group, when)
        if len(values) >= corr.count:
            cutoff = when - corr.window
            for stale in [v for v, t in values.items() if t < cutoff]:
                del values[stale]
            if len(values) >= corr.count:
                return self._fire(event, group, min(values.values()))
        return None

    def _sequence(
        self, corr: SequenceCorrelation, event: Event, when: float, group: GroupState
    ) -> Alert | None:
        counts = group.step_counts
        if counts is None:
            counts = group.step_counts = [0] * len(self.steps)
        if counts[0] and when - group.first > corr.window:
            group.reset_window()
            counts = group.step_counts = [0] * len(self.steps)
        matched = [i for i, (step, _) in enumerate(self.steps) if step.matches(event)]
        if not matched:
            return None
        if group.step in matched:
            index = group.step
        else:
            earlier = [i for i in matched if i < group.step]
            if not earlier:
                return None  # a later step before its turn: not part of this sequence
            index = max(earlier)
        if index == 0 and counts[0] == 0:
            group.first = when
        counts[index] += 1
        self._remember(event, group, when)
        if index == group.step and counts[index] >= self.steps[index][1]:
            group.step += 1
            if group.step == len(self.steps):
                return self._fire(event, group, group.first)
        return None

    def _first_seen(
        self, corr: FirstSeenCorrelation, event: Event, when: float, group: GroupState
    ) -> Alert | None:
        assert self.value_getter is not None
        value = _key_text(self.value_getter(event))
        if value is None:
            return None
        if not group.learn_until:
            group.learn_until = group.first + corr.learn
        digest = self.hashes.get(value)
        if digest is None:
            digest = stable_hash(value)
            if len(self.hashes) >= HASH_CACHE_SIZE:
                self.hashes.clear()  # bounded; refills with what is current
            self.hashes[value] = digest
        seen = group.seen
        if seen is None:
            seen = group.seen = set()
        elif digest in seen:
            return None
        if len(seen) >= corr.max_values:
            # A group with this many values has no "rare" ones: stop alerting on it.
            return None
        seen.add(digest)
        if when < group.learn_until:
            return None
        if group.suppressed_until > when:
            group.suppressed += 1
            return None
        group.reset_window()
        self._remember(event, group, when)
        return self._fire(event, group, when, extra_group={corr.field: value})

    def _remember(self, event: Event, group: GroupState, when: float) -> None:
        if group.count == 0:
            group.first = when
        group.count += 1
        samples = group.samples
        if self.max_samples and (samples is None or len(samples) < self.max_samples):
            sample = sample_of(event)
            group.extra_bytes += sample_bytes(sample)
            if samples is None:
                group.samples = (sample,)
                group.extra_bytes += CONTAINER_BYTES
            else:
                group.samples = (*samples, sample)
        for name, get in self.tracked:
            value = _key_text(get(event))
            if value is not None:
                if group.distinct is None:
                    group.distinct = {}
                    group.extra_bytes += CONTAINER_BYTES
                seen = group.distinct.get(name)
                if seen is None:
                    seen = group.distinct[name] = set()
                    group.extra_bytes += CONTAINER_BYTES
                if len(seen) < DISTINCT_CAP and value not in seen:
                    seen.add(value)
                    group.extra_bytes += DISTINCT_BYTES

    def _fire(
        self, event: Event, group: GroupState, start: float,
        extra_group: dict[str, str] | None = None,
    ) -> Alert:
        rule = self.rule
        end = max(group.last, start)
        start = min(start, group.first) if group.count else start
        fields: dict[str, Any] = {
            name: value for name, value in zip(rule.group_by, group.key, strict=True)
            if value is not None
        }
        if extra_group:
            fields.update(extra_group)
        count = group.count or 1
        distinct_counts: dict[str, int] = {
            name: len(values) for name, values in (group.distinct or {}).items()}
        if isinstance(self.correlation, DistinctCorrelation):
            distinct_counts[self.correlation.field] = len(group.values or ())
        suppressed = group.suppressed

        def lookup(name: str) -> Any:
            if name == "count":
                return count
            if name == "suppressed":
                return suppressed
            if name == "total":
                return count + suppressed
            if name == "duration":
                return describe_duration(end - start)
            if name == "start":
                return iso(start)
            if name == "end":
                return iso(end)
            if name == "rule.id":
                return rule.id
            if name == "rule.title":
                return rule.title
            if name == "severity":
                return rule.severity
            for prefix in ("distinct.", "values."):
                if name.startswith(prefix):
                    field = name[len(prefix):]
                    if isinstance(self.correlation, DistinctCorrelation) and (
                            field == self.correlation.field):
                        tracked: set[str] | dict[str, float] = group.values or {}
                        cap = 10**9
                    else:
                        tracked = (group.distinct or {}).get(field, set())
                        cap = DISTINCT_CAP
                    if prefix == "values.":
                        return values_text(tracked) or None
                    return distinct_text(tracked, cap)
            if name in fields:
                return fields[name]
            return field_getter(name)(event)

        alert = Alert(
            rule_id=rule.id,
            rule_name=rule.title,
            severity=rule.severity,
            message=render_summary(rule.summary, lookup),
            start=start,
            end=end,
            count=count,
            group=fields,
            techniques=list(rule.attack),
            tags=list(rule.tags),
            events=[sample_ecs(s) for s in group.samples or ()],
            suppressed=suppressed,
            extra={"distinct": distinct_counts} if distinct_counts else {},
        )
        group.alerts += 1
        group.suppressed = 0
        group.suppressed_until = end + rule.suppress if rule.suppress else 0.0
        group.reset_window()
        return alert

    def expired(self, group: GroupState, watermark: float) -> bool:
        """Whether a group holds nothing that could still matter at event time `watermark`."""
        return (group.last + self.retention < watermark
                and group.suppressed_until <= watermark)


def _retention(rule: Rule) -> float:
    corr = rule.correlate
    if isinstance(corr, FirstSeenCorrelation):
        return corr.retain
    if isinstance(corr, ThresholdCorrelation | DistinctCorrelation | SequenceCorrelation):
        return max(corr.window, rule.suppress)
    return rule.suppress


def _key_text(value: Any) -> str | None:
    if type(value) is str:
        return value or None
    if value is None or value == "":
        return None
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(value)
