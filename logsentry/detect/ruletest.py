"""Running the test cases kept beside each rule (`logsentry test-rules`).

Each case feeds its events to a fresh detector holding only its rule and
compares the alerts with `expect`: every expected alert must be matched by one
alert and no alert may be left over. Cases given as `lines:` need an analyzer
(the model) and are skipped without one, unless they are `envelope_only`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from logsentry.analysis.base import Analyzer
from logsentry.core.actions import ACTIONS
from logsentry.core.alert import Alert
from logsentry.core.analysis import INTEGER_FIELDS
from logsentry.core.event import Event
from logsentry.detect.detector import Detector
from logsentry.detect.duration import parse_duration
from logsentry.detect.rule import Rule, RuleCase

# Where a case's clock starts: a fixed instant, so cases are reproducible.
CASE_START = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
_EVENT_KEYS = {"action", "message", "template", "confidence", "at", "repeat", "every"}
_ALERT_KEYS = {"count", "min_count", "suppressed", "message_contains", "severity"}
_INDEX = re.compile(r"\{i\}")


@dataclass
class CaseResult:
    rule_id: str
    case: str
    passed: bool
    skipped: bool = False
    problems: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)


@dataclass
class RuleVerdict:
    rule_id: str
    cases: list[CaseResult]
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems and all(c.passed or c.skipped for c in self.cases)


def case_events(case: RuleCase) -> list[Event]:
    """The events of a case's `events:` list, with their times filled in."""
    events: list[Event] = []
    clock = CASE_START - 1.0
    for spec in case.events:
        repeat = int(spec.get("repeat", 1))
        every = parse_duration(spec.get("every", 1))
        if "at" in spec:
            clock = _case_time(spec["at"])
        else:
            clock += 1.0
        for i in range(repeat):
            when = clock + i * every
            events.append(_case_event(spec, i, when, len(events) + 1))
        clock += (repeat - 1) * every
    return events


def _case_time(value: Any) -> float:
    if isinstance(value, str) and value[:1].isdigit() and "-" in value:
        stamp = datetime.fromisoformat(value)
        return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
    return CASE_START + parse_duration(value)


def _case_event(spec: dict[str, Any], index: int, when: float, line: int) -> Event:
    def fill(value: Any) -> Any:
        return _INDEX.sub(str(index), value) if isinstance(value, str) else value

    action = str(spec.get("action", "other"))
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    fields: dict[str, Any] = {}
    for name, value in spec.items():
        if name in _EVENT_KEYS:
            continue
        value = fill(value)
        if name in INTEGER_FIELDS and isinstance(value, str) and value.isdigit():
            value = int(value)
        fields[name] = value
    message = fill(spec.get("message")) or " ".join(f"{k}={v}" for k, v in fields.items())
    return Event(
        message=str(message), source="test-rules", line=line, received=when,
        timestamp=datetime.fromtimestamp(when, UTC), body=str(message), fields=fields,
        action=action, template=str(fill(spec.get("template", ""))),
        # A case's event is a reading of the analyzer's: a sure one unless it says.
        confidence=float(spec.get("confidence", 1.0)),
    )


def line_events(lines: list[str], analyzer: Analyzer | None) -> list[Event]:
    """Raw lines through envelope parsing and the analyzer (if any), as the daemon
    sees them."""
    from logsentry.envelope import EnvelopeParser

    parser = EnvelopeParser(tz=UTC)
    events = [parser.parse(line, CASE_START + i) for i, line in enumerate(lines)]
    for number, event in enumerate(events, 1):
        event.line = number
    if analyzer is not None:
        for event, analysis in zip(events, analyzer.analyze_batch([e.body for e in events]),
                                   strict=True):
            event.apply(analysis)
    return events


def run_case(rule: Rule, case: RuleCase, analyzer: Analyzer | None) -> CaseResult:
    """Run one case against a fresh detector holding only `rule`."""
    result = CaseResult(rule.id, case.name, passed=False)
    try:
        events = case_events(case)
        if case.lines:
            if case.envelope_only:
                events += line_events(case.lines, None)
            elif analyzer is None:
                result.skipped = True
                result.problems.append("lines need an analyzer (model not available)")
                return result
            else:
                events += line_events(case.lines, analyzer)
    except (ValueError, TypeError) as exc:
        result.problems.append(f"bad case: {exc}")
        return result
    # A rule shipped disabled (opt-in) is tested all the same.
    detector = Detector([rule if rule.enabled else rule.model_copy(update={"enabled": True})])
    alerts = detector.process(events)
    result.alerts = alerts
    result.problems = compare_alerts(case.expect, alerts)
    result.passed = not result.problems
    return result


def compare_alerts(expected: list[dict[str, Any]], alerts: list[Alert]) -> list[str]:
    """What differs between expected and raised alerts (empty: they agree)."""
    problems: list[str] = []
    left = list(alerts)
    for want in expected:
        match = next((a for a in left if _alert_matches(want, a)), None)
        if match is None:
            got = "; ".join(_describe(a) for a in alerts) or "no alerts"
            problems.append(f"expected an alert like {want}, got: {got}")
        else:
            left.remove(match)
    for extra in left:
        problems.append(f"unexpected alert: {_describe(extra)}")
    return problems


def _alert_matches(want: dict[str, Any], alert: Alert) -> bool:
    if "count" in want and alert.count != want["count"]:
        return False
    if "min_count" in want and alert.count < want["min_count"]:
        return False
    if "suppressed" in want and alert.suppressed != want["suppressed"]:
        return False
    if "severity" in want and alert.severity != want["severity"]:
        return False
    if "message_contains" in want and str(want["message_contains"]) not in alert.message:
        return False
    for name, value in want.items():
        if name in _ALERT_KEYS:
            continue
        if str(alert.group.get(name)) != str(value):
            return False
    return True


def _describe(alert: Alert) -> str:
    return f"[{alert.rule_id} count={alert.count} {alert.group}] {alert.message}"


def run_rule(rule: Rule, analyzer: Analyzer | None, require_cases: bool = True) -> RuleVerdict:
    """All cases of one rule; a shipped rule also needs a positive and a negative case."""
    verdict = RuleVerdict(rule.id, [run_case(rule, case, analyzer) for case in rule.tests])
    if require_cases:
        if not any(case.expect for case in rule.tests):
            verdict.problems.append("no positive case (a case expecting an alert)")
        if not any(not case.expect for case in rule.tests):
            verdict.problems.append("no negative case (a case with `expect: []`)")
    return verdict


def run_rules(
    rules: list[Rule], analyzer: Analyzer | None = None, require_cases: bool = True,
    report: Callable[[RuleVerdict], None] | None = None,
) -> list[RuleVerdict]:
    """Verdicts for every rule, reported one by one as they finish."""
    verdicts = []
    for rule in rules:
        verdict = run_rule(rule, analyzer, require_cases)
        if report is not None:
            report(verdict)
        verdicts.append(verdict)
    return verdicts
