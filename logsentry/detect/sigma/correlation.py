"""Sigma correlation rules (Sigma 2.0 `correlation:`) on the detector's correlation engine.

A correlation rule counts the matches of the rules it names (by `name` or `id`) per
group (`group-by`) within `timespan`, in event time. Each type becomes one of the
native correlations, so its state is a `RuleEngine`'s like any rule's: grouped,
suppressed, expired, bounded by the detector's memory cap and saved:

- `event_count` -> threshold: `count` events of the named rules within the timespan;
- `value_count` -> distinct: `count` distinct values of `condition.field` (of several
  fields: distinct combinations of their values);
- `temporal` -> distinct over which named rule matched: that many of them, any order;
- `temporal_ordered` -> sequence: the named rules one after the other.

A threshold is reached while events arrive (`gte`, `gt`): the alert comes with the
event that reaches it. An upper bound (`lt`, `lte`, `eq`, `neq`, or a range such as
`gt` with `lte`) and the metric types (`value_sum`, `value_avg`, `value_percentile`,
`value_median`, whose figure may go down again) hold only once a window has closed:
those rules run in `ClosingEngine`, whose windows open at a group's first event and
are decided `timespan` later in event time (by the detector's tick, a later event of
the group, or the end of a finite input). A correlation rule may name correlation
rules (a chain): their alerts feed it (`SigmaRuleSet`).

The engine learns which named rule an event matched (`CorrelationEngine.via`) before
it is fed: the group-by aliases and the temporal types depend on it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count as counter
from typing import Any

import orjson
from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)

from logsentry.core.actions import ACTIONS
from logsentry.core.alert import Alert
from logsentry.core.event import Event
from logsentry.detect.group import (
    CONTAINER_BYTES,
    TIME_BYTES,
    VALUE_BYTES,
    GroupState,
    sample_event,
)
from logsentry.detect.rule import (
    Correlation,
    DistinctCorrelation,
    Rule,
    Selection,
    SequenceCorrelation,
    SequenceStep,
    ThresholdCorrelation,
)
from logsentry.detect.rule_state import RuleEngine, key_text, stable_hash
from logsentry.detect.sigma.mapping import FieldMapper

# A value of the event for the correlation, given which of the named rules it matched
# (its position among them).
ViaGetter = Callable[[Event, int], Any]

# The pseudo field a temporal correlation counts distinct values of: the named rules.
RULE_FIELD = "sigma.rule"

_OPERATORS = SigmaCorrelationConditionOperator
# The operators that can only be decided once a window has closed.
_UPPER = frozenset({_OPERATORS.LT, _OPERATORS.LTE, _OPERATORS.EQ, _OPERATORS.NEQ})
# The types whose figure is a statistic of a numeric field, decided at a window's close.
_METRICS = frozenset({SigmaCorrelationType.VALUE_SUM, SigmaCorrelationType.VALUE_AVG,
                      SigmaCorrelationType.VALUE_PERCENTILE, SigmaCorrelationType.VALUE_MEDIAN})
# The key a range condition (`gt: 100` with `lte: 200`, which the specification allows and
# pySigma 2.0 rejects) is kept under while pySigma reads the rule with one of its terms.
RANGE_KEY = "x-logsentry-condition"
# The pseudo field that holds a metric's figure in a closed window's alert summary.
VALUE_FIELD = "sigma.value"
# Values a window of value_percentile/value_median keeps, at most: past that, a uniform
# sample of them (each new value replaces a kept one with the right chance, decided by a
# hash of its position, so a replay keeps the same ones).
PERCENTILE_VALUES = 1000
# The bytes of a window's entry in its engine's heap of closing times (a tuple of three),
# counted in each group's size: the heap holds at most two entries a group.
HEAP_ENTRY_BYTES = 2 * 100


class UnsupportedCorrelation(ValueError):
    """A correlation rule that the engine cannot run (the reason it is skipped)."""


@dataclass
class CorrelationSpec:
    """One usable correlation rule and how the base rules' matches feed it."""

    path: str
    sigma: SigmaCorrelationRule
    rule: Rule
    # (source, position) per named rule: a match of that rule (an index of the loaded
    # rules) or an alert of that correlation rule (past them: the number of loaded rules
    # plus its index among the correlations) feeds this rule's engine with `via` =
    # position (a sequence step, a temporal value).
    feeds: tuple[tuple[int, int], ...]
    # event_count and value_count count an event once, whichever named rules it matched.
    once_per_event: bool
    group: list[ViaGetter]
    value: ViaGetter | None
    # Decided when a window closes (upper bounds, metrics): the condition, else None.
    bounds: Bounds | None = None
    # A metric type's statistic (`value_sum`...) and, for value_percentile, its percentile.
    metric: SigmaCorrelationType | None = None
    percentile: float = 50.0
    # temporal_ordered with a partial bound: the chain length that fires as events come
    # (a lower bound), or 1 for a window decided at its close; 0 for other types.
    ordered: int = 0


@dataclass(frozen=True)
class Bounds:
    """A condition on a closed window's figure: every (operator, number) term holds."""

    terms: tuple[tuple[SigmaCorrelationConditionOperator, float], ...]

    def holds(self, figure: float) -> bool:
        for op, number in self.terms:
            if op is _OPERATORS.GTE:
                ok = figure >= number
            elif op is _OPERATORS.GT:
                ok = figure > number
            elif op is _OPERATORS.LTE:
                ok = figure <= number
            elif op is _OPERATORS.LT:
                ok = figure < number
            elif op is _OPERATORS.EQ:
                ok = figure == number
            else:
                ok = figure != number
            if not ok:
                return False
        return True

    def text(self) -> str:
        """`gt 100 and lte 200`."""
        return " and ".join(f"{op.name.lower()} {_number(number)}" for op, number in self.terms)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def build_correlation(
    path: str, sigma: SigmaCorrelationRule, base_of: Callable[[str], int | None],
    base_ids: list[str], mapper: FieldMapper, make_rule: Callable[..., Rule],
) -> CorrelationSpec:
    """The spec of one correlation rule; UnsupportedCorrelation says why it cannot run.

    `base_of` resolves a rule reference (name or id) to the index of what it names: a
    loaded rule, or (past them) a correlation rule compiled before this one (a chain);
    `base_ids` are their alert ids; `make_rule(correlate=, group_by=, summary=,
    suppress=)` builds the native rule with the correlation rule's metadata.
    """
    kind = sigma.type
    condition = sigma.condition
    if not isinstance(condition, SigmaCorrelationCondition):
        raise UnsupportedCorrelation(
            "a boolean condition over its rules (pySigma's extended condition, "
            f"{condition.expression!r}) is in no released Sigma specification (a proposal "
            "for a later one gives it no settled meaning for temporal_ordered): not run")
    references = [ref.reference for ref in sigma.rules or ()]
    bases: list[int] = []
    for reference in references:
        index = base_of(reference)
        if index is None:
            raise UnsupportedCorrelation(
                f"it names rule {reference!r}, which is not loaded (absent or skipped)")
        bases.append(index)
    if not bases:
        raise UnsupportedCorrelation("it names no rule")
    terms = _terms(sigma, condition)
    closing = kind in _METRICS or any(op in _UPPER for op, _ in terms)
    threshold = 1 if closing else _threshold(terms)
    # Positions: the distinct named rules (in order) or, for an ordered correlation of
    # all its rules, its steps, a rule named twice in a row being one step of two events.
    steps: list[tuple[int, int]] = []  # (base index, events)
    # temporal_ordered with a bound other than all its rules: the condition tests how
    # many of them matched in their order (the longest chain, `extend_chain`).
    ordered = kind is SigmaCorrelationType.TEMPORAL_ORDERED and (
        closing or threshold < len(bases))
    if ordered:
        if len(set(bases)) != len(bases):
            raise UnsupportedCorrelation(
                f"temporal_ordered with condition {Bounds(terms).text()} names a rule twice: "
                "a count of distinct rules in order cannot count it twice")
        positions = list(bases)
    elif kind is SigmaCorrelationType.TEMPORAL_ORDERED:
        for index in bases:
            if steps and steps[-1][0] == index:
                steps[-1] = (index, steps[-1][1] + 1)
            else:
                steps.append((index, 1))
        positions = [index for index, _ in steps]
    else:
        positions = list(dict.fromkeys(bases))
    window = float(sigma.timespan.seconds)
    names, group = _group_by(sigma, bases, positions, base_of, mapper)
    value: ViaGetter | None = None
    summary_count = "{count} events"
    correlate: Correlation
    if kind is SigmaCorrelationType.EVENT_COUNT or kind in _METRICS:
        correlate = ThresholdCorrelation(type="threshold", count=threshold, window=window)
        if kind in _METRICS:
            field, get = _one_field(kind, condition, mapper)
            value = lambda event, via: get(event)  # noqa: E731 - a getter like the others
            statistic = {SigmaCorrelationType.VALUE_SUM: "sum",
                         SigmaCorrelationType.VALUE_AVG: "average",
                         SigmaCorrelationType.VALUE_MEDIAN: "median"}.get(kind)
            if statistic is None:
                statistic = f"percentile {_number(_percentile(condition))}"
            summary_count = f"{statistic} of {field} {{{VALUE_FIELD}}} in {{count}} events"
    elif kind is SigmaCorrelationType.VALUE_COUNT:
        field, get = _value_fields(condition, mapper)
        value = lambda event, via: get(event)  # noqa: E731 - a getter like the others
        correlate = DistinctCorrelation(type="distinct", field=field, count=threshold,
                                        window=window)
        summary_count = f"{{distinct.{field}}} values of {field} in {{count}} events"
    elif kind is SigmaCorrelationType.TEMPORAL:
        if not closing and threshold > len(positions):
            raise UnsupportedCorrelation(
                f"the condition asks for {threshold} of {len(positions)} rules")
        rule_ids = [base_ids[index] for index in positions]
        value = lambda event, via: rule_ids[via]  # noqa: E731
        correlate = DistinctCorrelation(type="distinct", field=RULE_FIELD, count=threshold,
                                        window=window)
        summary_count = f"rules {{values.{RULE_FIELD}}} in {{count}} events"
    elif ordered:
        if threshold > len(positions):
            raise UnsupportedCorrelation(
                f"the condition asks for {threshold} of {len(positions)} rules")
        # The native threshold's state holds the count and samples; the chains are the
        # engine's (`CorrelationEngine._ordered`, `ClosingEngine._collect`).
        correlate = ThresholdCorrelation(type="threshold", count=threshold, window=window)
        summary_count = ("{count} events, rules in order" if closing
                         else f"{threshold} of {len(positions)} rules in order in "
                              "{count} events")
    elif kind is SigmaCorrelationType.TEMPORAL_ORDERED:
        if len(steps) < 2 and steps[0][1] < 2:
            raise UnsupportedCorrelation("temporal_ordered needs at least two events in order")
        if threshold != len(bases):
            raise UnsupportedCorrelation(
                "temporal_ordered runs with all its rules in order (condition gte: "
                f"{len(bases)}), not {threshold}")
        if len(steps) == 1:  # one rule, named several times: that many of its events
            correlate = ThresholdCorrelation(type="threshold", count=steps[0][1],
                                             window=window)
        else:
            correlate = SequenceCorrelation(type="sequence", window=window, steps=[
                SequenceStep(name=base_ids[index], select=Selection(), count=count)
                for index, count in steps])
    else:
        raise UnsupportedCorrelation(f"correlation type {kind.name.lower()} is not supported")
    bounds: Bounds | None = None
    if closing:
        # Decided at the window's close: the condition and the timespan are in the summary
        # (and so in the rule's fingerprint: a changed bound starts its state afresh).
        bounds = Bounds(terms)
        summary_count += f" in {sigma.timespan.spec}: {bounds.text()}"
    feeds = tuple((index, position) for position, index in enumerate(positions))
    if kind is SigmaCorrelationType.TEMPORAL_ORDERED and len(steps) == 1:
        feeds = ((steps[0][0], 0),)
    groups = ", ".join(f"{name}={{{name}}}" for name in names)
    # A closing window is a finding of its own: the next window of the group is not
    # suppressed (its count would miss the events meanwhile).
    rule = make_rule(correlate=correlate, group_by=names,
                     summary=f"({summary_count}{', ' + groups if groups else ''})",
                     suppress=0.0 if closing else None)
    once = kind is not SigmaCorrelationType.TEMPORAL and (
        kind is not SigmaCorrelationType.TEMPORAL_ORDERED or len(steps) == 1)
    return CorrelationSpec(path, sigma, rule, feeds, once, group, value, bounds,
                           kind if kind in _METRICS else None,
                           _percentile(condition) if kind in _METRICS else 50.0,
                           threshold if ordered else 0)


def _terms(sigma: SigmaCorrelationRule, condition: SigmaCorrelationCondition,
           ) -> tuple[tuple[SigmaCorrelationConditionOperator, float], ...]:
    """The condition's terms: the one pySigma read, or all of a range (`RANGE_KEY`)."""
    ranged = sigma.custom_attributes.get(RANGE_KEY)
    if not isinstance(ranged, dict):
        return ((condition.op, float(condition.count)),)
    terms = []
    for name, number in ranged.items():
        if type(number) not in (int, float) or not math.isfinite(number):
            raise UnsupportedCorrelation(f"condition {name}: {number!r} is not a number")
        terms.append((SigmaCorrelationConditionOperator[str(name).upper()], float(number)))
    return tuple(terms)


def _threshold(terms: tuple[tuple[SigmaCorrelationConditionOperator, float], ...]) -> int:
    """The count that fires, from `gte`/`gt` terms (at least 1)."""
    wanted = 1
    for op, count in terms:
        if op is _OPERATORS.GTE:
            wanted = max(wanted, math.ceil(count))
        elif op is _OPERATORS.GT:
            wanted = max(wanted, math.floor(count) + 1)
        else:  # never here: an upper bound makes the rule a closing one
            raise UnsupportedCorrelation(f"condition {op.name.lower()}")
    return wanted


def _one_field(kind: SigmaCorrelationType, condition: SigmaCorrelationCondition,
               mapper: FieldMapper) -> tuple[str, Callable[[Event], Any]]:
    """The ECS name and getter of the condition's `field` (one of them)."""
    fieldref = condition.fieldref
    if isinstance(fieldref, list):
        if len(fieldref) != 1:
            raise UnsupportedCorrelation(
                f"{kind.name.lower()} over several fields: the specification gives a "
                "metric of several fields no meaning (value_count's distinct combinations "
                "have one)")
        fieldref = fieldref[0]
    if fieldref is None:  # pySigma requires it for these types
        raise UnsupportedCorrelation(f"{kind.name.lower()} without a field")
    return mapper.targets(fieldref)[0], mapper.getter(fieldref)


def _value_fields(condition: SigmaCorrelationCondition, mapper: FieldMapper,
                  ) -> tuple[str, Callable[[Event], Any]]:
    """value_count's field, or its fields: several count distinct combinations of their
    values (an event lacking one of them counts none), each combination the JSON list of
    the values' texts; the name is the ECS names joined by `+`."""
    fieldref = condition.fieldref
    if not isinstance(fieldref, list) or len(fieldref) < 2:
        return _one_field(SigmaCorrelationType.VALUE_COUNT, condition, mapper)
    names = "+".join(mapper.targets(name)[0] for name in fieldref)
    getters = [mapper.getter(name) for name in fieldref]

    def combination(event: Event) -> str | None:
        texts = []
        for get in getters:
            text = key_text(get(event))
            if text is None:
                return None
            texts.append(text)
        return orjson.dumps(texts).decode()

    return names, combination


def _percentile(condition: SigmaCorrelationCondition) -> float:
    """value_percentile's percentile (0 to 100); the median's is 50."""
    if condition.percentile is None:
        return 50.0
    if not 0 <= condition.percentile <= 100:
        raise UnsupportedCorrelation(f"percentile {condition.percentile} is not within 0-100")
    return float(condition.percentile)


def _group_by(
    sigma: SigmaCorrelationRule, bases: list[int], positions: list[int],
    base_of: Callable[[str], int | None], mapper: FieldMapper,
) -> tuple[list[str], list[ViaGetter]]:
    """The group fields' names (ECS names where the mapping gives one) and getters."""
    aliases = sigma.aliases.aliases if sigma.aliases is not None else {}
    names: list[str] = []
    getters: list[ViaGetter] = []
    for name in sigma.group_by or ():
        alias = aliases.get(name)
        if alias is None:
            get = mapper.getter(name)
            names.append(mapper.targets(name)[0])
            getters.append(lambda event, via, get=get: get(event))  # type: ignore[misc]
            continue
        per_position: list[Callable[[Event], Any] | None] = [None] * len(positions)
        firsts = set()
        for reference, field in alias.mapping.items():
            index = base_of(reference.reference)
            if index is None or index not in bases:
                raise UnsupportedCorrelation(
                    f"alias {name!r} names rule {reference.reference!r}, which the "
                    f"correlation does not")
            firsts.add(mapper.targets(field)[0])
            for position, base in enumerate(positions):
                if base == index:
                    per_position[position] = mapper.getter(field)
        if any(get is None for get in per_position):
            raise UnsupportedCorrelation(f"alias {name!r} does not name every rule")
        names.append(firsts.pop() if len(firsts) == 1 else name)
        getters.append(lambda event, via, per=per_position: per[via](event))  # type: ignore[misc]
    return names, getters


def extend_chain(chains: dict[str, float], before: dict[str, float], position: int,
                 when: float, cutoff: float) -> tuple[int, float]:
    """Chains of named rules matched in their order, extended by an event of the rule at
    `position` at time `when`; the length of the longest chain it ends and its start.

    `chains` maps "P:N" to the latest start of a chain of N rules in order whose last
    event is one of the rule at position P; `before` is what it held before this event
    (an event matching several of the rules must not follow itself). A chain that
    started before `cutoff` no longer counts, and is dropped. At most positions x
    positions entries: the state stays bounded by the number of named rules.
    """
    found = {1: when}
    for key, start in before.items():
        if start < cutoff:
            continue
        previous, _, size = key.partition(":")
        if int(previous) < position:
            grown = int(size) + 1
            if start > found.get(grown, -math.inf):
                found[grown] = start
    for stale in [key for key, start in chains.items() if start < cutoff]:
        del chains[stale]
    for length, start in found.items():
        key = f"{position}:{length}"
        if start > chains.get(key, -math.inf):
            chains[key] = start
    longest = max(found)
    return longest, found[longest]


def longest_chain(chains: dict[str, float] | None) -> int:
    """The length of the longest chain of `extend_chain`'s state (0: none)."""
    return max((int(key.partition(":")[2]) for key in chains or ()), default=0)


class CorrelationEngine(RuleEngine):
    """A native engine whose group values, counted value and sequence steps depend on
    which named rule matched the event (`via`), set by `feed_via`."""

    def __init__(self, spec: CorrelationSpec, max_samples: int) -> None:
        super().__init__(spec.rule, max_samples)
        self.via = 0
        self.group_getters = [self._bind(get) for get in spec.group]
        self.plain_group_fields = None
        self.key_field = None
        if spec.value is not None:
            self.value_field = None
            self.value_getter = self._bind(spec.value)
        if self.steps:
            for position, (step, _) in enumerate(self.steps):
                step.predicate = self._at(position)
            plan = [(i, step.predicate) for i, (step, _) in enumerate(self.steps)]
            self.step_plan = dict.fromkeys(ACTIONS, plan)
        self.ordered = spec.ordered
        # The chains before the event being fed, for a second named rule it matches.
        self._chain_of: tuple[Event | None, GroupState | None] = (None, None)
        self._chain_before: dict[str, float] = {}
        if spec.ordered:
            self.correlate = self._ordered

    def _bind(self, get: ViaGetter) -> Callable[[Event], Any]:
        return lambda event: get(event, self.via)

    def _at(self, position: int) -> Callable[[Event], bool]:
        return lambda event: self.via == position

    def feed_via(self, event: Event, when: float, seq: int, via: int) -> Alert | None:
        """`feed()`, for an event that matched the named rule at position `via`."""
        self.via = via
        return self.feed(event, when, seq)

    def _chain(self, event: Event, group: GroupState, when: float, cutoff: float,
               ) -> tuple[int, float]:
        """`extend_chain` on the group's chains (kept in `group.values`)."""
        chains = group.values
        if chains is None:
            chains = group.values = {}
        if self._chain_of[0] is not event or self._chain_of[1] is not group:
            self._chain_of = (event, group)
            self._chain_before = dict(chains)
        return extend_chain(chains, self._chain_before, self.via, when, cutoff)

    def _ordered(self, event: Event, when: float, group: GroupState) -> Alert | None:
        """temporal_ordered with a lower bound short of all its rules: fires once that
        many of them matched in their order within the timespan."""
        cutoff = when - self.window
        if group.values and max(group.values.values()) < cutoff:
            group.reset_window()  # every chain lapsed
        length, start = self._chain(event, group, when, cutoff)
        self._remember(event, group, when)
        if length >= self.ordered:
            return self._fire(event, group, start)
        return None


class ClosingEngine(CorrelationEngine):
    """A correlation decided when its window closes: upper bounds and metrics.

    A group's window opens at its first event and closes `timespan` later in event
    time; then its figure (the events, the distinct values, the named rules that
    matched, or the metric) is tested and the window is over, alert or not. A window
    closes when an event of the group comes after it, or when `close_windows` is
    called with a later time (the detector's tick and its batches; the end of a
    finite input). The alert's start is the window's (its id is the same in a
    replay), its end the window's end. Windows are found by a heap of closing times,
    its stale entries (a window closed by a later event, a group evicted) dropped as
    they come up, and the heap rebuilt when they are more than the live ones.

    State, all in the group: `count` and `samples` as for native rules; `values`: the
    distinct values (value_count, temporal) with their last time, or `{"sum": s}`
    (value_sum, value_avg); `times`: the field's values (value_percentile,
    value_median), at most PERCENTILE_VALUES.
    """

    def __init__(self, spec: CorrelationSpec, max_samples: int) -> None:
        super().__init__(spec, max_samples)
        assert spec.bounds is not None
        self.bounds = spec.bounds
        self.metric = spec.metric
        self.percentile = spec.percentile
        self.counts_values = spec.value is not None and spec.metric is None
        self.heap: list[tuple[float, int, Any]] = []
        self._pushes = counter()
        self.base_bytes += HEAP_ENTRY_BYTES
        self.correlate = self._collect

    def expired(self, group: GroupState, watermark: float) -> bool:
        # A window still open is decided first (close_windows), never dropped.
        return not group.count and super().expired(group, watermark)

    def restored(self) -> None:
        """Index the windows of groups put in place from outside (a restore, a reload)."""
        self.heap = [(group.first + self.window, next(self._pushes), key)
                     for key, group in self.groups.items() if group.count]
        heapq.heapify(self.heap)

    def _collect(self, event: Event, when: float, group: GroupState) -> Alert | None:
        """Add the event to its group's window (closing a window it comes after first)."""
        alert = None
        if group.count and when >= group.first + self.window:
            alert = self._close(group)
        sample: float | str | None = None
        if self.metric is not None:
            sample = _numeric(self.value_getter(event) if self.value_getter else None)
            if sample is None:
                return alert  # no number to add up: not part of the window
        elif self.counts_values:
            assert self.value_getter is not None
            sample = self.value_getter(event)
            sample = sample if type(sample) is str and sample else key_text(sample)
            if sample is None:
                return alert
        if not group.count:
            self._index(group, when + self.window)
        if self.ordered:  # the window bounds the chains: none lapses within it
            self._chain(event, group, when, -math.inf)
            self._remember(event, group, when)
            return alert
        self._remember(event, group, when)
        if self.metric is None:
            if sample is not None:
                values = group.values
                if values is None:
                    values = group.values = {}
                assert isinstance(sample, str)
                latest = values.get(sample)
                values[sample] = when if latest is None or when > latest else latest
        elif self.metric in (SigmaCorrelationType.VALUE_SUM, SigmaCorrelationType.VALUE_AVG):
            assert isinstance(sample, float)
            total = group.values.get("sum", 0.0) if group.values else 0.0
            group.values = {"sum": total + sample}
        else:
            assert isinstance(sample, float)
            kept = group.times or ()
            if len(kept) < PERCENTILE_VALUES:
                group.times = (*kept, sample)
            else:  # a uniform sample of the window's values (reservoir sampling)
                slot = stable_hash(f"{group.count}") % group.count
                if slot < PERCENTILE_VALUES:
                    group.times = (*kept[:slot], sample, *kept[slot + 1:])
        return alert

    def _index(self, group: GroupState, end: float) -> None:
        heap = self.heap
        if len(heap) > 2 * len(self.groups) + 64:
            self.restored()  # mostly stale entries: rebuild from the open windows
        heapq.heappush(heap, (end, next(self._pushes), group.group_key))

    def close_windows(self, now: float) -> list[tuple[Alert, Event]]:
        """Decide every window that has closed by event time `now`: the alerts, each with
        the window's last event (its sample; a bare event when none are kept)."""
        alerts: list[tuple[Alert, Event]] = []
        heap = self.heap
        groups = self.groups
        window = self.window
        while heap and heap[0][0] <= now:
            end, _, key = heapq.heappop(heap)
            group = groups.get(key)
            if group is None or not group.count or group.first + window != end:
                continue  # evicted, or that window was closed by a later event
            cow = self.cow
            if cow is not None and group.snap != cow.generation:
                cow.preserve(self, group)
            closed = self._decide(group)
            self._resize(group)
            if closed is not None:
                alerts.append(closed)
        return alerts

    def _close(self, group: GroupState) -> Alert | None:
        """Decide the group's window and start afresh; the alert when the figure holds."""
        closed = self._decide(group)
        return closed[0] if closed is not None else None

    def _decide(self, group: GroupState) -> tuple[Alert, Event] | None:
        """`_close`, with the window's last event beside its alert."""
        figure = self._figure(group)
        if figure is None or not self.bounds.holds(figure):
            group.reset_window()
            return None
        samples = group.samples
        event = sample_event(samples[-1]) if samples else Event("")
        if self.metric is not None:
            event.fields[VALUE_FIELD] = _number(round(figure, 6))
        end = group.first + self.window
        alert = self._fire(event, group, group.first)
        alert.end = end
        if self.metric is not None:
            alert.extra["value"] = figure
        return alert, event

    def _figure(self, group: GroupState) -> float | None:
        """What the condition tests: the count, distinct values or the metric."""
        metric = self.metric
        if self.ordered:
            return float(longest_chain(group.values))
        if metric is None:
            return float(len(group.values or ()) if self.counts_values else group.count)
        if metric is SigmaCorrelationType.VALUE_SUM:
            return (group.values or {}).get("sum", 0.0)
        if metric is SigmaCorrelationType.VALUE_AVG:
            return (group.values or {}).get("sum", 0.0) / group.count if group.count else None
        kept = sorted(group.times or ())
        if not kept:
            return None
        # The nearest-rank percentile: the smallest value with at least p% at or below it
        # (the median of an even number is the lower middle one).
        rank = max(1, math.ceil(self.percentile / 100 * len(kept)))
        return kept[rank - 1]

    def _resize(self, group: GroupState) -> None:
        """Re-estimate a group changed outside `feed` (as `feed` does inline)."""
        size = self.base_bytes + group.extra_bytes
        if group.times:
            size += TIME_BYTES * len(group.times) + CONTAINER_BYTES
        if group.values:
            size += VALUE_BYTES * len(group.values) + CONTAINER_BYTES
        self.memory_bytes += size - group.size
        group.size = size


def _numeric(value: Any) -> float | None:
    """A field's value as a finite number (numbers and numeric text), else None."""
    if type(value) is bool:
        return None
    try:
        if isinstance(value, int | float):
            number = float(value)
        elif isinstance(value, str):
            number = float(value.strip())
        else:
            return None
    except (ValueError, OverflowError):  # not a number; an integer past a float's range
        return None
    return number if math.isfinite(number) else None

