"""One loaded rule at work: its compiled selection, its groups and its correlation."""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

import structlog

from logsentry.core.actions import ACTIONS
from logsentry.core.alert import Alert
from logsentry.core.event import Event
from logsentry.core.metrics import LINES_FAILED
from logsentry.detect.condition import (
    MAX_SCAN_CHARS,
    SPECIAL_FIELDS,
    as_field_test,
    as_list,
    combine_patterns,
    field_getter,
)
from logsentry.detect.group import (
    CONTAINER_BYTES,
    DISTINCT_BYTES,
    DISTINCT_CAP,
    GROUP_BASE_BYTES,
    KEY_ITEM_BYTES,
    SEEN_BYTES,
    TIME_BYTES,
    VALUE_BYTES,
    GroupKey,
    GroupState,
    SampleMemo,
    sample_ecs,
)
from logsentry.detect.group_table import GroupTable
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

if TYPE_CHECKING:
    from logsentry.detect.detector import Checkpoint

log = structlog.get_logger(__name__)


def event_failed(event: Event, stage: str, rule_id: str | None = None) -> None:
    """Count and log an event that `stage` (rule selection, a rule's state) failed on.

    Called from an `except` block, so the log carries the traceback: a bug or an odd
    input must cost that event, never stop detection or pass silently."""
    LINES_FAILED.labels(stage="detect").inc()
    if rule_id is None:
        log.exception(f"{stage} failed on an event", source=event.source, line=event.line)
    else:
        log.exception(f"{stage} failed on an event", rule=rule_id, source=event.source,
                      line=event.line)



class CompiledSelection:
    """A Selection as the set of actions it accepts plus a field predicate.

    The predicate is compiled on first use: a rule's own selection is matched by the
    detector's per-action matchers (`detect/shaped.py`), which compile it themselves,
    so compiling it here too only cost start-up time (0.1 to 0.2 s for the default pack).
    """

    __slots__ = ("_compiled", "_predicate", "_selection", "actions")

    def __init__(self, selection: Selection) -> None:
        self.actions = selection.actions()
        self._selection = selection
        self._predicate: Callable[[Event], bool] | None = None
        self._compiled = False

    @property
    def predicate(self) -> Callable[[Event], bool] | None:
        """The field part of the selection as one function; None when it has none."""
        if not self._compiled:
            self._predicate = compile_selection(self._selection)
            self._compiled = True
        return self._predicate

    @predicate.setter
    def predicate(self, predicate: Callable[[Event], bool] | None) -> None:
        self._predicate = predicate
        self._compiled = True

    def matches(self, event: Event) -> bool:
        if self.actions is not None and event.action not in self.actions:
            return False
        return self.predicate is None or self.predicate(event)


HASH_CACHE_SIZE = 4096
# The longest `{matched.F}` excerpt, in characters.
MATCH_EXCERPT_CHARS = 120


def stable_hash(text: str) -> int:
    """A 63-bit hash that is the same in every process (Python's hash() is salted).

    Two different 32-bit checksums side by side: C-fast, and collisions (a new
    value taken for a seen one) negligible at the per-group value cap.
    """
    data = text.encode("utf-8", "replace")
    return (zlib.crc32(data) << 31) ^ zlib.adler32(data)


class RuleEngine:
    """Correlates the events one rule selects, group by group.

    `groups` is ordered by last touch (oldest first, see GroupTable), which makes both
    expiry and the detector's LRU eviction cheap pops from the front.
    """

    def __init__(self, rule: Rule, max_samples: int) -> None:
        self.rule = rule
        self.fingerprint = rule.fingerprint()
        self.selection = CompiledSelection(rule.select)
        self.max_samples = max_samples
        self.groups = GroupTable()
        self.group_getters = [field_getter(name) for name in rule.group_by]
        corr = rule.correlate
        self.correlation = corr
        # `{matched.F}` in the summary: the rule's regexes on field F, compiled on first use.
        self._match_patterns: dict[str, re.Pattern[str] | None] = {}
        self.steps: list[tuple[CompiledSelection, int]] = []
        if isinstance(corr, SequenceCorrelation):
            self.steps = [(CompiledSelection(step.select), step.count) for step in corr.steps]
        self.first_seen = isinstance(corr, FirstSeenCorrelation)
        # Per action, the steps that can match it and their field predicates: the
        # action part of every step is decided once here, not on every event.
        self.step_plan: dict[str, list[tuple[int, Callable[[Event], bool] | None]]] = {
            action: [(index, step.predicate) for index, (step, _) in enumerate(self.steps)
                     if step.actions is None or action in step.actions]
            for action in ACTIONS
        } if self.steps else {}
        # Correlation parameters, read on every event.
        self.window = 0.0
        self.count = 0
        if isinstance(corr, ThresholdCorrelation | DistinctCorrelation | SequenceCorrelation):
            self.window = corr.window
        if isinstance(corr, ThresholdCorrelation | DistinctCorrelation):
            self.count = corr.count
        # Values a first-seen rule hashed lately (templates repeat endlessly).
        self.hashes: dict[str, int] = {}
        self.value_getter: Callable[[Event], Any] | None = None
        # The value field when it is a plain ECS field, read straight from `Event.fields`.
        self.value_field: str | None = None
        # Or the analyzer's template (what a new-message rule looks at).
        self.value_is_template = False
        if isinstance(corr, DistinctCorrelation | FirstSeenCorrelation):
            self.value_getter = field_getter(corr.field)
            self.value_field = None if corr.field in SPECIAL_FIELDS else corr.field
            self.value_is_template = corr.field in ("logsentry.template", "template")
        # Fields whose distinct values the summary shows ({distinct.x}, {values.x}).
        tracked: set[str] = set()
        for name in rule.placeholders():
            for prefix in ("distinct.", "values."):
                if name.startswith(prefix):
                    tracked.add(name[len(prefix):])
        if isinstance(corr, DistinctCorrelation):
            tracked.discard(corr.field)  # `values` already holds them
        # (name, the plain field to read or None, the getter for special fields)
        self.tracked = [(name, None if name in SPECIAL_FIELDS else name, field_getter(name))
                        for name in sorted(tracked)]
        self.retention = _retention(rule)
        # Plain ECS group fields are read straight from `Event.fields`.
        self.plain_group_fields: tuple[str, ...] | None = (
            None if SPECIAL_FIELDS & set(rule.group_by) else tuple(rule.group_by))
        # The one plain group field, when that is all the key is (most rules).
        self.key_field: str | None = (
            self.plain_group_fields[0]
            if self.plain_group_fields is not None and len(self.plain_group_fields) == 1
            else None)
        # Estimated bytes of this rule's groups (`GroupState.size` summed).
        self.memory_bytes = 0
        # What every group of this rule costs before its contents.
        self.base_bytes = GROUP_BASE_BYTES + KEY_ITEM_BYTES * len(rule.group_by)
        # The sample of the event being fed, shared with the other rules it hits;
        # the detector gives all its engines one memo and clears it after a batch.
        self.memo = SampleMemo()
        # The detector's checkpoint being written, if any: a group it holds is
        # preserved before its first change (copy-on-write).
        self.cow: Checkpoint | None = None
        self.correlate: Callable[[Event, float, GroupState], Alert | None]
        if isinstance(corr, ThresholdCorrelation):
            self.correlate = self._threshold
        elif isinstance(corr, DistinctCorrelation):
            self.correlate = self._distinct
        elif isinstance(corr, SequenceCorrelation):
            self.correlate = self._sequence
        elif isinstance(corr, FirstSeenCorrelation):
            self.correlate = self._first_seen
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
                return value if type(value) is str and value else key_text(value)
            # key_text() of each value, inline for the common cases (a non-empty string,
            # an absent field): Sigma rules group by four fields on every event they feed.
            get = fields.get
            return tuple([
                value if type(value := get(name)) is str and value
                else None if value is None else key_text(value)
                for name in plain])
        if len(self.group_getters) == 1:
            return key_text(self.group_getters[0](event))
        return tuple([key_text(get(event)) for get in self.group_getters])

    def key_values(self, key: GroupKey) -> tuple[str | None, ...]:
        """The group values of a key, as `GroupState.key` holds them."""
        return key if isinstance(key, tuple) else (key,)

    def dict_key(self, values: tuple[str | None, ...]) -> GroupKey:
        """The inverse of `key_values`."""
        return values[0] if len(self.rule.group_by) == 1 else values

    def feed(self, event: Event, when: float, seq: int,
             key_of: tuple[GroupKey] | None = None) -> Alert | None:
        """Feed one selected event (already matched) to its group; an alert or None.

        Finds or opens the group, marks it touched (`seq`: the detector's arrival
        counter, the LRU order), correlates (or counts the event if the group is
        suppressed) and keeps `memory_bytes` up to date. `key_of` holds the event's
        `group_key()` when the caller has it already (rules grouped alike).
        """
        name = self.key_field
        if key_of is not None:
            key: GroupKey = key_of[0]
        elif name is not None:
            key = event.fields.get(name)
            if type(key) is not str or not key:
                key = key_text(key)
        else:
            key = self.group_key(event)
        groups = self.groups
        shard = groups.single
        if shard is None:
            shard = groups.shards[hash(key) & groups.mask]
        group = shard.get(key)
        cow = self.cow
        if group is None:
            group = GroupState(key, when)
            groups[key] = group
            if cow is not None:
                group.snap = cow.generation  # opened after the checkpoint: not in it
        else:
            shard.move_to_end(key)
            if cow is not None and group.snap != cow.generation:
                cow.preserve(self, group)
        group.touched = seq
        if when > group.last:
            group.last = when
        if self.first_seen:
            if group.size:
                # Most events of a first-seen rule carry a known value and change
                # nothing: answer those here, and skip re-estimating the group.
                seen = group.seen
                if seen is not None and group.learn_until:
                    field = self.value_field
                    if field is not None:
                        value = event.fields.get(field)
                    elif self.value_is_template:
                        value = event.template
                    else:
                        assert self.value_getter is not None
                        value = self.value_getter(event)
                    if type(value) is not str or not value:
                        value = key_text(value)
                    if value is None:
                        return None
                    digest = self.hashes.get(value)
                    if digest is not None and digest in seen:
                        return None
                known = len(seen) if seen is not None else 0
                alert = self._first_seen(event, when, group)
                if alert is None:
                    seen = group.seen
                    if (len(seen) if seen is not None else 0) == known:
                        return None
            else:
                alert = self._first_seen(event, when, group)
        elif group.suppressed_until > when:
            # Suppressed: count the event for the next alert, correlate nothing.
            group.suppressed += 1
            return None
        else:
            alert = self.correlate(event, when, group)
        # group.estimate_bytes(), inline (the key's part is the rule's constant).
        size = self.base_bytes + group.extra_bytes
        times = group.times
        if times:
            size += TIME_BYTES * len(times) + CONTAINER_BYTES
        values = group.values
        if values:
            size += VALUE_BYTES * len(values) + CONTAINER_BYTES
        seen = group.seen
        if seen:
            size += SEEN_BYTES * len(seen) + CONTAINER_BYTES
        self.memory_bytes += size - group.size
        group.size = size
        return alert

    def process(self, event: Event, when: float, group: GroupState) -> Alert | None:
        """Feed one selected event (already matched) to a given group; an alert or None.

        `feed()` does the same after finding the group (suppression included).
        """
        cow = self.cow
        if cow is not None and group.snap != cow.generation:
            cow.preserve(self, group)
        group.last = max(group.last, when)
        if not self.first_seen and group.suppressed_until > when:
            # Suppressed: count the event for the next alert, correlate nothing.
            group.suppressed += 1
            return None
        try:
            return self.correlate(event, when, group)
        finally:
            self.memo.clear()

    def _value(self, event: Event) -> str | None:
        """The text of a distinct/first-seen rule's field (None when absent)."""
        field = self.value_field
        if field is not None:
            value = event.fields.get(field)
            if type(value) is str and value:
                return value
            return key_text(value)
        assert self.value_getter is not None
        return key_text(self.value_getter(event))

    def _single(self, event: Event, when: float, group: GroupState) -> Alert | None:
        self._remember(event, group, when)
        return self._fire(event, group, when)

    def _threshold(self, event: Event, when: float, group: GroupState) -> Alert | None:
        cutoff = when - self.window
        times = group.times
        if times and times[-1] < cutoff:
            group.reset_window()  # the old window lapsed entirely
            times = None
        if times is None:
            times = (when,)
        else:
            lapsed = 0
            while lapsed < len(times) and times[lapsed] < cutoff:
                lapsed += 1
            times = (times[lapsed:] if lapsed else times) + (when,)
        group.times = times
        self._remember(event, group, when)
        if len(times) >= self.count:
            return self._fire(event, group, times[0])
        return None

    def _distinct(self, event: Event, when: float, group: GroupState) -> Alert | None:
        field = self.value_field
        if field is not None:  # _value(), inline
            value = event.fields.get(field)
            if type(value) is not str or not value:
                value = key_text(value)
        else:
            value = self._value(event)
        if value is None:
            return None
        window = self.window
        values = group.values
        if values and max(values.values()) < when - window:
            group.reset_window()
            values = None
        if values is None:
            values = group.values = {}
        latest = values.get(value)
        # max(latest, when), as max() picks (`latest` on a tie, or when unordered).
        values[value] = when if latest is None or when > latest else latest
        self._remember(event, group, when)
        if len(values) >= self.count:
            cutoff = when - window
            for stale in [v for v, t in values.items() if t < cutoff]:
                del values[stale]
            if len(values) >= self.count:
                return self._fire(event, group, min(values.values()))
        return None

    def _sequence(self, event: Event, when: float, group: GroupState) -> Alert | None:
        counts = group.step_counts
        if counts is None:
            counts = group.step_counts = (0,) * len(self.steps)
        if counts[0] and when - group.first > self.window:
            group.reset_window()
            counts = group.step_counts = (0,) * len(self.steps)
        plan = self.step_plan.get(event.action)
        matched: list[int] = []
        if plan is None:  # an action outside the vocabulary (never from the pipeline)
            matched = [i for i, (step, _) in enumerate(self.steps) if step.matches(event)]
        else:
            for i, predicate in plan:
                if predicate is None or predicate(event):
                    matched.append(i)
        if not matched:
            return None
        step = group.step
        if step in matched:
            index = step
        else:
            index = -1
            for i in matched:
                if i < step and i > index:
                    index = i
            if index < 0:
                return None  # a later step before its turn: not part of this sequence
        if index == 0 and counts[0] == 0:
            group.first = when
        count = counts[index] + 1
        group.step_counts = (*counts[:index], count, *counts[index + 1:])
        self._remember(event, group, when)
        if index == step and count >= self.steps[index][1]:
            group.step = step = step + 1
            if step == len(self.steps):
                return self._fire(event, group, group.first)
        return None

    def _first_seen(self, event: Event, when: float, group: GroupState) -> Alert | None:
        value = self._value(event)
        if value is None:
            return None
        corr = self.correlation
        assert isinstance(corr, FirstSeenCorrelation)
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
        max_samples = self.max_samples
        if max_samples:
            samples = group.samples
            if samples is None or len(samples) < max_samples:
                memo = self.memo
                sample = memo.sample if memo.event is event else memo.get(event)
                if samples is None:
                    group.samples = (sample,)
                    group.extra_bytes += memo.size + CONTAINER_BYTES
                else:
                    group.samples = (*samples, sample)
                    group.extra_bytes += memo.size
        if not self.tracked:
            return
        fields = event.fields
        for name, field, get in self.tracked:
            value = fields.get(field) if field is not None else get(event)
            if type(value) is not str or not value:
                value = key_text(value)
                if value is None:
                    continue
            distinct = group.distinct
            if distinct is None:
                distinct = group.distinct = {}
                group.extra_bytes += CONTAINER_BYTES
            seen = distinct.get(name)
            if seen is None:
                distinct[name] = {value: None}
                group.extra_bytes += CONTAINER_BYTES + DISTINCT_BYTES
            elif len(seen) < DISTINCT_CAP and value not in seen:
                seen[value] = None
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
            if name.startswith("matched."):
                return self._matched(event, name[len("matched."):])
            for prefix in ("distinct.", "values."):
                if name.startswith(prefix):
                    field = name[len(prefix):]
                    if isinstance(self.correlation, DistinctCorrelation) and (
                            field == self.correlation.field):
                        tracked: Collection[str] = group.values or {}
                        cap = 10**9
                    else:
                        tracked = (group.distinct or {}).get(field, ())
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

    def _matched(self, event: Event, name: str) -> str | None:
        """`{matched.F}`: the part of field F where the rule's regex on F matched, quoted and
        bounded (the payload of a Log4Shell line, not the whole line)."""
        pattern = self._match_patterns.get(name)
        if pattern is None:
            patterns = [p for fields in (self.rule.select.where, *self.rule.select.any)
                        for f, spec in fields.items() if f == name
                        for p in as_list(as_field_test(spec).regex)]
            pattern = self._match_patterns[name] = combine_patterns(patterns) if patterns \
                else None
        value = field_getter(name)(event)
        if pattern is None or not isinstance(value, str):
            return None
        found = pattern.search(value, 0, MAX_SCAN_CHARS)
        if found is None:
            return None
        # From the match to the end of its word: a payload runs to a space or a quote.
        end = found.end()
        while end < len(value) and end - found.start() < MATCH_EXCERPT_CHARS \
                and value[end] not in ' \t"\'':
            end += 1
        excerpt = value[found.start():min(end, found.start() + MATCH_EXCERPT_CHARS)]
        return f'"{excerpt}…"' if end - found.start() >= MATCH_EXCERPT_CHARS else f'"{excerpt}"'

    def restored(self) -> None:
        """Called once `groups` were filled from outside (a restore, a reload)."""

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


def key_text(value: Any) -> str | None:
    if type(value) is str:
        return value or None
    if value is None or value == "":
        return None
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value)
    return str(value)
