"""Correlation types, suppression, summaries and the alert schema."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from logsentry.core.alert import Alert
from logsentry.core.event import Event
from logsentry.core.metrics import LINES_FAILED
from logsentry.detect.detector import Detector
from logsentry.detect.rule import parse_rules

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC).timestamp()


@pytest.fixture(autouse=True)
def _no_detection_errors() -> Iterator[None]:
    """Detection counts and logs its own exceptions; in these tests there must be none."""
    before = LINES_FAILED.labels(stage="detect")._value.get()
    yield
    assert LINES_FAILED.labels(stage="detect")._value.get() == before


def _rule(text: str) -> Detector:
    return Detector(parse_rules(text))


def _ev(action: str, at: float, message: str = "line", **fields: Any) -> Event:
    return Event(message=message, action=action, received=T0 + at + 1000,
                 timestamp=datetime.fromtimestamp(T0 + at, UTC),
                 fields={k.replace("__", "."): v for k, v in fields.items()})


BRUTE = """
id: t.brute
title: SSH brute force
severity: high
attack: [T1110.001]
tags: [auth]
select: {action: ssh_login_failed}
group_by: [source.ip, host.name]
correlate: {type: threshold, count: 5, window: 2m}
suppress: 10m
summary: "SSH brute force: {count} failed logins for {distinct.user.name} users from \\
  {source.ip} on {host.name} in {duration}"
"""


def test_threshold_fires_once_at_the_count_with_the_human_summary() -> None:
    detector = _rule(BRUTE)
    events = [_ev("ssh_login_failed", i * 6, source__ip="203.0.113.7", host__name="web-1",
                  user__name=f"user{i % 3}") for i in range(5)]
    alerts = detector.process(events[:4])
    assert alerts == []
    [alert] = detector.process(events[4:])
    assert alert.message == ("SSH brute force: 5 failed logins for 3 users from 203.0.113.7 "
                             "on web-1 in 24 seconds")
    assert alert.count == 5
    assert alert.group == {"source.ip": "203.0.113.7", "host.name": "web-1"}
    assert alert.start == T0 and alert.end == T0 + 24


def test_threshold_window_is_event_time_not_arrival() -> None:
    detector = _rule(BRUTE)
    # Five failures arriving in one batch but stamped 1 minute apart: over 2 minutes.
    events = [_ev("ssh_login_failed", i * 60, source__ip="1.2.3.4") for i in range(5)]
    assert detector.process(events) == []


def test_groups_are_separate() -> None:
    detector = _rule(BRUTE)
    events = [_ev("ssh_login_failed", i, source__ip=f"10.0.0.{i % 2}") for i in range(8)]
    assert detector.process(events) == []


def test_suppression_counts_repeats_and_carries_them_into_the_next_alert() -> None:
    detector = _rule(BRUTE)
    burst = [_ev("ssh_login_failed", i, source__ip="1.2.3.4") for i in range(12)]
    [first] = detector.process(burst)
    assert first.suppressed == 0
    later = [_ev("ssh_login_failed", 900 + i, source__ip="1.2.3.4") for i in range(5)]
    [second] = detector.process(later)
    assert second.count == 5
    assert second.suppressed == 7
    assert second.to_ecs()["logsentry"]["suppressed"] == 7
    assert first.dedup_id != second.dedup_id


def test_distinct_count_fires_on_many_values_not_many_events() -> None:
    detector = _rule("""
id: t.spray
title: Spraying
severity: high
select: {category: authentication, outcome: failure}
group_by: [source.ip]
correlate: {type: distinct, field: user.name, count: 4, window: 10m}
summary: "{distinct.user.name} users from {source.ip}: {values.user.name}"
""")
    same_user = [_ev("login_failed", i, source__ip="1.2.3.4", user__name="admin")
                 for i in range(10)]
    assert detector.process(same_user) == []
    users = [_ev("login_failed", 20 + i, source__ip="1.2.3.4", user__name=name)
             for i, name in enumerate(["bob", "carol", "dave"])]
    [alert] = detector.process(users)
    assert alert.message == "4 users from 1.2.3.4: admin, bob, carol, dave"
    assert alert.to_ecs()["logsentry"]["distinct"] == {"user.name": 4}


def test_distinct_values_outside_the_window_do_not_count() -> None:
    detector = _rule("""
id: t.scan
title: Port scan
severity: medium
select: {action: firewall_drop}
group_by: [source.ip]
correlate: {type: distinct, field: destination.port, count: 3, window: 1m}
summary: "scan"
""")
    events = [_ev("firewall_drop", i * 45, source__ip="1.2.3.4", destination__port=i)
              for i in range(5)]
    assert detector.process(events) == []


SEQUENCE = """
id: t.seq
title: Success after failures
severity: high
select: {category: authentication}
group_by: [source.ip]
correlate:
  type: sequence
  window: 10m
  steps:
    - {select: {outcome: failure}, count: 3}
    - {select: {outcome: success}}
summary: "{user.name} in from {source.ip} after {count} events"
"""


def test_sequence_fires_when_steps_happen_in_order() -> None:
    detector = _rule(SEQUENCE)
    events = [_ev("ssh_login_failed", i, source__ip="1.2.3.4", user__name="deploy")
              for i in range(3)]
    events.append(_ev("ssh_login_success", 10, source__ip="1.2.3.4", user__name="deploy"))
    [alert] = detector.process(events)
    assert alert.message == "deploy in from 1.2.3.4 after 4 events"
    assert len(alert.events) == 4


def test_sequence_ignores_wrong_order_and_lapsed_windows() -> None:
    detector = _rule(SEQUENCE)
    success_first = [_ev("ssh_login_success", 0, source__ip="1.2.3.4")] + [
        _ev("ssh_login_failed", 1 + i, source__ip="1.2.3.4") for i in range(3)]
    assert detector.process(success_first) == []
    detector = _rule(SEQUENCE)
    lapsed = [_ev("ssh_login_failed", i, source__ip="1.2.3.4") for i in range(3)]
    lapsed.append(_ev("ssh_login_success", 3600, source__ip="1.2.3.4"))
    assert detector.process(lapsed) == []


def test_first_seen_learns_per_group_then_alerts_on_new_values() -> None:
    detector = _rule("""
id: t.new
title: New template
severity: low
select: {where: {logsentry.template: {exists: true}}}
group_by: [host.name]
correlate: {type: first_seen, field: logsentry.template, learn: 1d}
suppress: 0
summary: "new on {host.name}: {logsentry.template}"
""")

    def templated(at: float, host: str, template: str) -> Event:
        event = _ev("other", at, host__name=host)
        event.template = template
        return event

    assert detector.process([templated(0, "a", "x <*>"), templated(100, "a", "y <*>")]) == []
    day2 = [templated(90000, "a", "x <*>"), templated(90001, "a", "z <*>"),
            templated(90002, "b", "q <*>")]  # host b is new: it learns first
    [alert] = detector.process(day2)
    assert alert.group == {"host.name": "a", "logsentry.template": "z <*>"}
    assert alert.message == "new on a: z <*>"
    assert detector.process([templated(90003, "a", "z <*>")]) == []


def test_alert_round_trips_through_ecs_with_contributing_events() -> None:
    detector = _rule(BRUTE)
    events = [_ev("ssh_login_failed", i, f"Failed password for root from 1.2.3.4 #{i}",
                  source__ip="1.2.3.4", user__name="root") for i in range(5)]
    [alert] = detector.process(events)
    doc = alert.to_ecs()
    assert doc["event"]["kind"] == "alert"
    assert doc["event"]["severity"] == 73
    assert doc["logsentry"]["severity"] == "high"
    assert doc["rule"] == {"id": "t.brute", "name": "SSH brute force"}
    assert doc["threat"]["technique"]["id"] == ["T1110.001"]
    assert doc["source"]["ip"] == "1.2.3.4"
    assert doc["logsentry"]["count"] == 5
    contributing = doc["logsentry"]["events"]
    assert [e["message"] for e in contributing] == [e.message for e in events]
    assert contributing[0]["event"]["action"] == "ssh_login_failed"
    again = Alert.from_ecs(doc)
    assert again.to_ecs() == doc


def test_only_the_first_few_events_are_carried() -> None:
    detector = Detector(parse_rules(BRUTE.replace("count: 5", "count: 50")), max_samples=3)
    [alert] = detector.process([_ev("ssh_login_failed", i * 0.1, source__ip="1.2.3.4")
                                for i in range(50)])
    assert alert.count == 50
    assert len(alert.events) == 3


def test_a_future_timestamp_falls_back_to_arrival_time() -> None:
    event = Event(message="x", received=T0, timestamp=datetime(2099, 1, 1, tzinfo=UTC))
    assert Detector.event_time(event) == T0
    replayed = Event(message="x", received=T0, timestamp=datetime(2001, 1, 1, tzinfo=UTC))
    assert Detector.event_time(replayed) == datetime(2001, 1, 1, tzinfo=UTC).timestamp()


def test_events_the_rule_does_not_select_leave_no_state() -> None:
    detector = _rule(BRUTE)
    detector.process([_ev("ssh_login_success", i, source__ip=f"10.0.{i}.1") for i in range(100)])
    assert detector.group_count == 0
    assert detector.memory_bytes == 0


PAIR = """
id: t.pair
title: Pair
severity: low
select: {action: ssh_login_failed}
group_by: [source.ip]
correlate: {type: threshold, count: 2, window: 1m}
summary: "{count}"
"""

FIRST = """
id: t.first
title: First
severity: low
select: {action: ssh_login_failed}
group_by: [source.ip]
summary: "{user.name}"
"""


def test_rules_hit_by_one_event_keep_the_same_sample_and_a_changed_event_a_new_one() -> None:
    detector = Detector(parse_rules(PAIR) + parse_rules(FIRST))
    event = _ev("ssh_login_failed", 0, "first text", source__ip="1.2.3.4", user__name="a")
    [single] = detector.process([event])
    pair = detector.engines[0].groups["1.2.3.4"]
    assert pair.samples is not None and pair.samples[0][0] == "first text"
    assert single.events[0]["message"] == "first text"
    # The caller reuses the event object for another line: its new content is sampled.
    event.message = "second text"
    event.timestamp = datetime.fromtimestamp(T0 + 1, UTC)
    event.fields["user.name"] = "b"
    alerts = {alert.rule_id: alert for alert in detector.process([event])}
    assert [e["message"] for e in alerts["t.pair"].events] == ["first text", "second text"]
    assert alerts["t.pair"].events[1]["user"]["name"] == "b"


def test_numeric_equals_and_in_compare_ints_as_their_text_would() -> None:
    from logsentry.detect.condition import FieldTest, compile_field_test
    from logsentry.detect.rule import Selection
    from logsentry.detect.selection import compile_selection

    specs: list[Any] = [
        401, "401", 401.0, "0401", [401, 403], ["401", "x", 403.0], [], {"in": [401], "lt": 402},
        {"equals": 401, "in": [401, 500]}, {"equals": 401, "in": [500]}, {"equals": True},
        {"equals": -5}, {"in": ["+401", "4_01", " 401"]},
    ]
    values: list[Any] = [401, 403, 500, -5, 0, True, False, 401.0, 401.5, "401", "0401", "+401",
                         [401], (500, 401), None, "", 2**60, -(2**60)]
    for spec in specs:
        select = compile_selection(Selection.model_validate({"where": {"status": spec}}))
        assert select is not None
        closure = compile_field_test(
            "status", FieldTest.model_validate(spec) if isinstance(spec, dict) else spec)
        for value in values:
            event = Event(message="m", fields={"status": value})
            assert select(event) == closure(event), (spec, value)


def test_a_summary_placeholder_with_alternatives_takes_the_first_with_a_value() -> None:
    from logsentry.detect.summary import render_summary

    values = {"event.provider": "Microsoft-Windows-Security-Auditing", "count": 6}
    text = render_summary("Brute force on {process.name|event.provider}: {count} ({user.name})",
                          values.get)
    # A missing value drops its clause, the parenthesis here.
    assert text == "Brute force on Microsoft-Windows-Security-Auditing: 6"
    assert render_summary("{process.name|event.provider}", {"process.name": "sshd"}.get) == "sshd"
