"""Sigma correlation rules (Sigma 2.0 `correlation:`) on the detector's correlation engine.

A correlation rule counts the matches of the rules it names (by `name` or `id`) per
group (`group-by`) within `timespan`, in event time. Each type becomes one of the
native correlations, so its state is a `RuleEngine`'s like any rule's: grouped,
suppressed, expired, bounded by the detector's memory cap and saved:

- `event_count` -> threshold: `count` events of the named rules within the timespan;
- `value_count` -> distinct: `count` distinct values of `condition.field`;
- `temporal` -> distinct over which named rule matched: that many of them, any order;
- `temporal_ordered` -> sequence: the named rules one after the other.

A threshold is reached while events arrive (`gte`, `gt`); an upper bound (`lt`,
`lte`, `eq`, `neq`) holds only once a window has closed, which detection in event
time as lines arrive does not wait for: such rules are skipped with that reason, as
are correlations of correlations and the metric types (`value_sum`...).

The engine learns which named rule an event matched (`CorrelationEngine.via`) before
it is fed: the group-by aliases and the temporal types depend on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sigma.correlations import (
    SigmaCorrelationCondition,
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaCorrelationType,
)

from logsentry.core.actions import ACTIONS
from logsentry.core.alert import Alert
from logsentry.core.event import Event
from logsentry.detect.rule import (
    Correlation,
    DistinctCorrelation,
    Rule,
    Selection,
    SequenceCorrelation,
    SequenceStep,
    ThresholdCorrelation,
)
from logsentry.detect.rule_state import RuleEngine
from logsentry.detect.sigma.mapping import FieldMapper

# A value of the event for the correlation, given which of the named rules it matched
# (its position among them).
ViaGetter = Callable[[Event, int], Any]

# The pseudo field a temporal correlation counts distinct values of: the named rules.
RULE_FIELD = "sigma.rule"

_OPERATORS = SigmaCorrelationConditionOperator


class UnsupportedCorrelation(ValueError):
    """A correlation rule that the engine cannot run (the reason it is skipped)."""


@dataclass
class CorrelationSpec:
    """One usable correlation rule and how the base rules' matches feed it."""

    path: str
    sigma: SigmaCorrelationRule
    rule: Rule
    # (base rule index, position) per named rule: a match of that base rule feeds
    # this rule's engine with `via` = position (a sequence step, a temporal value).
    feeds: tuple[tuple[int, int], ...]
    # event_count and value_count count an event once, whichever named rules it matched.
    once_per_event: bool
    group: list[ViaGetter]
    value: ViaGetter | None


def build_correlation(
    path: str, sigma: SigmaCorrelationRule, base_of: Callable[[str], int | None],
    base_ids: list[str], mapper: FieldMapper, make_rule: Callable[..., Rule],
) -> CorrelationSpec:
    """The spec of one correlation rule; UnsupportedCorrelation says why it cannot run.

    `base_of` resolves a rule reference (name or id) to a loaded base rule's index;
    `base_ids` are those rules' alert ids; `make_rule(correlate=, group_by=, summary=)`
    builds the native rule with the correlation rule's metadata.
    """
    kind = sigma.type
    if kind not in (SigmaCorrelationType.EVENT_COUNT, SigmaCorrelationType.VALUE_COUNT,
                    SigmaCorrelationType.TEMPORAL, SigmaCorrelationType.TEMPORAL_ORDERED):
        raise UnsupportedCorrelation(f"correlation type {kind.name.lower()} is not supported")
    condition = sigma.condition
    if not isinstance(condition, SigmaCorrelationCondition):
        raise UnsupportedCorrelation("extended (boolean) correlation conditions are not "
                                     "supported")
    references = [ref.reference for ref in sigma.rules or ()]
    bases: list[int] = []
    for reference in references:
        index = base_of(reference)
        if index is None:
            raise UnsupportedCorrelation(
                f"it names rule {reference!r}, which is not loaded (absent, skipped or a "
                f"correlation rule)")
        bases.append(index)
    if not bases:
        raise UnsupportedCorrelation("it names no rule")
    # Positions: the distinct named rules (in order) or, for an ordered correlation,
    # its steps, a rule named twice in a row being one step of two events.
    steps: list[tuple[int, int]] = []  # (base index, events)
    if kind is SigmaCorrelationType.TEMPORAL_ORDERED:
        for index in bases:
            if steps and steps[-1][0] == index:
                steps[-1] = (index, steps[-1][1] + 1)
            else:
                steps.append((index, 1))
        positions = [index for index, _ in steps]
    else:
        positions = list(dict.fromkeys(bases))
    threshold = _threshold(condition)
    window = float(sigma.timespan.seconds)
    names, group = _group_by(sigma, bases, positions, base_of, mapper)
    value: ViaGetter | None = None
    summary_count = "{count} events"
    correlate: Correlation
    if kind is SigmaCorrelationType.EVENT_COUNT:
        correlate = ThresholdCorrelation(type="threshold", count=threshold, window=window)
    elif kind is SigmaCorrelationType.VALUE_COUNT:
        fieldref = condition.fieldref
        if isinstance(fieldref, list):
            if len(fieldref) != 1:
                raise UnsupportedCorrelation("value_count over several fields is not supported")
            fieldref = fieldref[0]
        assert fieldref is not None  # pySigma requires it for value_count
        field = mapper.targets(fieldref)[0]
        get = mapper.getter(fieldref)
        value = lambda event, via: get(event)  # noqa: E731 - a getter like the others
        correlate = DistinctCorrelation(type="distinct", field=field, count=threshold,
                                        window=window)
        summary_count = f"{{distinct.{field}}} values of {field} in {{count}} events"
    elif kind is SigmaCorrelationType.TEMPORAL:
        if threshold > len(positions):
            raise UnsupportedCorrelation(
                f"the condition asks for {threshold} of {len(positions)} rules")
        rule_ids = [base_ids[index] for index in positions]
        value = lambda event, via: rule_ids[via]  # noqa: E731
        correlate = DistinctCorrelation(type="distinct", field=RULE_FIELD, count=threshold,
                                        window=window)
        summary_count = f"rules {{values.{RULE_FIELD}}} in {{count}} events"
    else:
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
    feeds = tuple((index, position) for position, index in enumerate(positions))
    if kind is SigmaCorrelationType.TEMPORAL_ORDERED and len(steps) == 1:
        feeds = ((steps[0][0], 0),)
    groups = ", ".join(f"{name}={{{name}}}" for name in names)
    rule = make_rule(correlate=correlate, group_by=names,
                     summary=f"({summary_count}{', ' + groups if groups else ''})")
    once = kind in (SigmaCorrelationType.EVENT_COUNT, SigmaCorrelationType.VALUE_COUNT) or (
        kind is SigmaCorrelationType.TEMPORAL_ORDERED and len(steps) == 1)
    return CorrelationSpec(path, sigma, rule, feeds, once, group, value)


def _threshold(condition: SigmaCorrelationCondition) -> int:
    """The count that fires, from `gte`/`gt` (at least 1)."""
    count = condition.count
    if condition.op is _OPERATORS.GTE:
        wanted = int(count) if float(count).is_integer() else int(count) + 1
    elif condition.op is _OPERATORS.GT:
        wanted = int(count) + 1
    else:
        raise UnsupportedCorrelation(
            f"condition {condition.op.name.lower()}: an upper bound holds only once a window "
            f"has closed; gte and gt are run")
    return max(1, wanted)


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

    def _bind(self, get: ViaGetter) -> Callable[[Event], Any]:
        return lambda event: get(event, self.via)

    def _at(self, position: int) -> Callable[[Event], bool]:
        return lambda event: self.via == position

    def feed_via(self, event: Event, when: float, seq: int, via: int) -> Alert | None:
        """`feed()`, for an event that matched the named rule at position `via`."""
        self.via = via
        return self.feed(event, when, seq)
