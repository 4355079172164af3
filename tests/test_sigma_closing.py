"""Sigma correlations decided when their window closes: upper bounds (`lt`, `lte`, `eq`,
`neq`, ranges) and the metric types (value_sum, value_avg, value_median,
value_percentile), in event time, with bounded and saved state.

Every rule here is written for these tests."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from logsentry.cli import main
from logsentry.core.alert import Alert, make_dedup_id
from logsentry.core.event import Event
from logsentry.detect.config import DetectionConfig
from logsentry.detect.detector import Detector
from logsentry.detect.sigma.config import SigmaConfig
from logsentry.detect.sigma.correlation import ClosingEngine, _numeric
from logsentry.detect.sigma.load import load_sigma
from tests.test_sigma_correlation import (
    CORRELATION_ID,
    EVENT_COUNT,
    PARSER,
    TEMPORAL,
    _correlation,
    _detector,
    _ids,
    _rules,
)

START = 1_633_000_000.0  # 30 Sep 2021 11:06:40 UTC: where _request's seconds count from
A, B, C, D, E = (f"203.0.113.{n}" for n in range(1, 6))


def _request(second: float, path: str = "/admin", ip: str = A, status: int = 404) -> Event:
    """An access-log request `second` seconds after START."""
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S", time.gmtime(START + second))
    line = (f'{ip} - - [{stamp} +0000] "GET {path} HTTP/1.1" {status} 162 "-" '
            f'"curl/7.68.0"')
    return PARSER.parse(line, START + second)


def _bounded(condition: str) -> str:
    """The event_count rule (admin probes per client within a minute) with `condition`."""
    return _correlation(EVENT_COUNT.replace("        gte: 3\n", condition))


def test_an_upper_bound_is_decided_by_the_tick_once_the_window_has_closed(
        tmp_path: Path) -> None:
    detector = _detector(_rules(tmp_path, _bounded("        lt: 3\n")))
    # Two probes from A (fewer than 3), four from B: nothing while the minute is open.
    events = [_request(0, ip=A), _request(10, ip=A)] + [
        _request(n, ip=B) for n in range(1, 5)]
    assert detector.process(events) == []
    assert detector.tick(time.time()) == []
    alerts = detector.tick(time.time() + 120)
    assert _ids(alerts) == [CORRELATION_ID]
    alert = alerts[0]
    assert alert.group == {"source.ip": A}
    assert alert.count == 2
    # The window's start and end; the id follows from the start (the same in a replay).
    assert (alert.start, alert.end) == (START, START + 60)
    assert alert.dedup_id == make_dedup_id(CORRELATION_ID, {"source.ip": A}, START)
    assert alert.message.startswith(
        "Sigma: Correlated: Probes then more. (2 events in 1m: lt 3, source.ip=203.0.113.1)")
    assert len(alert.events) == 2
    # Decided once: the next tick has nothing more.
    assert detector.tick(time.time() + 240) == []


def test_a_later_event_of_the_group_closes_its_window_first(tmp_path: Path) -> None:
    detector = _detector(_rules(tmp_path, _bounded("        lt: 3\n")))
    assert detector.process([_request(0), _request(10)]) == []
    # 70 s: the first window (two probes) is over; this probe opens the next one.
    alerts = detector.process([_request(70)])
    assert [(a.start, a.count) for a in alerts] == [(START, 2)]
    assert [(a.start, a.count) for a in detector.tick(time.time() + 120)] == [(START + 70, 1)]


def test_a_batch_closes_the_windows_its_time_has_passed(tmp_path: Path) -> None:
    """A replay ticks only at its end: the lines' own time (of events that a rule
    selects: here a login request of another client) closes windows meanwhile."""
    detector = _detector(_rules(tmp_path, _bounded("        lt: 3\n")))
    assert detector.process([_request(0, ip=A)]) == []
    alerts = detector.process([_request(61, "/login", ip=B)])
    assert [alert.group for alert in alerts if alert.rule_id == CORRELATION_ID] == [
        {"source.ip": A}]


@pytest.mark.parametrize(("condition", "alerting"), [
    ("        eq: 3\n", [C]),
    ("        neq: 3\n", [A, B, D, E]),
    ("        lte: 2\n", [A, B]),
    ("        gt: 1\n        lte: 3\n", [B, C]),
    ("        lt: 5\n        gte: 4\n", [D]),
])
def test_each_condition_holds_for_the_counts_it_names(
        tmp_path: Path, condition: str, alerting: list[str]) -> None:
    detector = _detector(_rules(tmp_path, _bounded(condition)))
    # A probes once, B twice ... E five times, all within the minute.
    events = [_request(n, ip=ip) for count, ip in enumerate((A, B, C, D, E), 1)
              for n in range(count)]
    alerts = detector.process(events) + detector.tick(time.time() + 120)
    assert sorted(alert.group["source.ip"] for alert in alerts) == alerting


def test_a_range_is_loaded_with_all_its_terms(tmp_path: Path) -> None:
    loaded = load_sigma(SigmaConfig(), [_rules(tmp_path, _bounded(
        "        gt: 1\n        lte: 3\n"))])
    assert not loaded.skipped
    (spec,) = loaded.correlations
    assert spec.bounds is not None and spec.bounds.text() == "gt 1 and lte 3"


def test_value_count_with_an_upper_bound_counts_distinct_values_at_the_close(
        tmp_path: Path) -> None:
    """One client fetching one admin page over and over, not many: fewer than 2 paths."""
    rule = _correlation("""\
    type: value_count
    rules: [admin_probe]
    group-by: [c-ip]
    timespan: 10m
    condition:
        lt: 2
        field: cs-uri-stem
""")
    detector = _detector(_rules(tmp_path, rule))
    events = [_request(n, "/admin/a", ip=A) for n in range(5)] + [
        _request(n, f"/admin/{n}", ip=B) for n in range(5)]
    alerts = detector.process(events) + detector.tick(time.time() + 3600)
    assert [alert.group for alert in alerts] == [{"source.ip": A}]
    assert alerts[0].extra["distinct"] == {"url.path": 1}
    assert "1 value of url.path in 5 events in 10m: lt 2" in alerts[0].message


def test_temporal_with_an_upper_bound_finds_a_rule_without_the_other(tmp_path: Path) -> None:
    """A probe not followed by a config download within the minute (fewer than 2 rules)."""
    rule = _correlation(TEMPORAL + "    condition:\n        lt: 2\n")
    detector = _detector(_rules(tmp_path, rule))
    events = [_request(0, ip=A), _request(1, ip=B), _request(5, "/x.env", ip=B)]
    alerts = detector.process(events) + detector.tick(time.time() + 120)
    assert [alert.group for alert in alerts] == [{"source.ip": A}]


def test_temporal_ordered_with_an_upper_bound_finds_rules_not_in_their_order(
        tmp_path: Path) -> None:
    """A probe not followed by a config download within the minute: fewer than two of
    the rules in their order (a download before the probe is no such chain)."""
    ordered = TEMPORAL.replace("type: temporal", "type: temporal_ordered")
    detector = _detector(_rules(tmp_path, _correlation(ordered + "    condition:\n"
                                                                 "        lt: 2\n")))
    events = [_request(0, ip=A), _request(3, "/x.env", ip=A),
              _request(1, "/x.env", ip=B), _request(4, ip=B), _request(2, ip=C)]
    alerts = detector.process(events) + detector.tick(time.time() + 120)
    assert sorted(alert.group["source.ip"] for alert in alerts) == [B, C]


METRIC = """\
    type: {kind}
    rules: [admin_probe]
    group-by: [c-ip]
    timespan: 1m
    condition:
        {condition}
        field: sc-status
"""


@pytest.mark.parametrize(("kind", "condition", "value"), [
    ("value_sum", "gte: 1000", 1212.0),         # 200 + 404 + 404 + 204
    ("value_avg", "gt: 300", 303.0),
    ("value_median", "eq: 204", 204.0),          # the lower middle of 200 204 404 404
    ("value_percentile", "gte: 404\n        percentile: 75", 404.0),
])
def test_metric_types_test_their_statistic_of_the_field_at_the_close(
        tmp_path: Path, kind: str, condition: str, value: float) -> None:
    rule = _correlation(METRIC.format(kind=kind, condition=condition))
    detector = _detector(_rules(tmp_path, rule))
    statuses = {A: [200, 404, 404, 204], B: [200, 200, 204, 200]}
    events = [_request(n, ip=ip, status=status) for ip, codes in statuses.items()
              for n, status in enumerate(codes)]
    assert detector.process(events) == []
    alerts = detector.tick(time.time() + 120)
    assert [alert.group for alert in alerts] == [{"source.ip": A}]
    assert alerts[0].extra["value"] == value
    assert f"of http.response.status_code {value:g} in 4 events in 1m" in alerts[0].message


def test_a_percentile_over_many_values_keeps_a_bounded_sample(tmp_path: Path) -> None:
    rule = _correlation(METRIC.format(kind="value_median", condition="gte: 0"))
    detector = _detector(_rules(tmp_path, rule))
    events = [_request(n / 100, ip=A, status=200 + n % 100) for n in range(3000)]
    for start in range(0, len(events), 512):
        detector.process(events[start:start + 512])
    engine = next(e for e in detector.engines if isinstance(e, ClosingEngine))
    (group,) = engine.groups.values()
    assert group.times is not None and len(group.times) == 1000
    (alert,) = detector.tick(time.time() + 120)
    assert alert.count == 3000
    assert 240 <= alert.extra["value"] <= 260  # the true median is 249


def test_replaying_the_lines_decides_the_windows_raised_live(tmp_path: Path) -> None:
    folder = _rules(tmp_path, _bounded("        lt: 3\n"))
    seconds = [0, 5, 30, 70, 75, 80, 200, 400, 430]
    lines = [_request(s) for s in seconds]

    def summary(alerts: list[Alert]) -> list[tuple[str, float, float, int, str]]:
        return sorted((a.rule_id, a.start, a.end, a.count, a.dedup_id) for a in alerts)

    live = _detector(folder)
    raised = [alert for event in lines for alert in live.process([event])]
    raised += live.close_all_windows()
    replay = _detector(folder)
    assert summary(replay.process(lines) + replay.close_all_windows()) == summary(raised)
    # Windows from 200 (one probe) and 400 (two); those from 0 and 70 had three.
    assert [(a.start - START, a.count) for a in sorted(raised, key=lambda a: a.start)] == [
        (200.0, 1), (400.0, 2)]


def test_an_open_window_survives_a_restart(tmp_path: Path) -> None:
    folder = _rules(tmp_path, _bounded("        lt: 3\n"))
    detector = _detector(folder, state_path=tmp_path / "detection.json")
    assert detector.process([_request(0), _request(1)]) == []
    detector.save_state()
    again = _detector(folder, state_path=tmp_path / "detection.json")
    again.restore_state()
    alerts = again.tick(time.time() + 120)
    assert [(a.start, a.count) for a in alerts] == [(START, 2)]


def test_open_windows_are_bounded_by_the_memory_cap(tmp_path: Path) -> None:
    detector = _detector(_rules(tmp_path, _bounded("        lt: 3\n")),
                         memory_cap_bytes=256 * 1024)
    events = [_request(n % 60, ip=f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
              for n in range(20_000)]
    for start in range(0, len(events), 512):
        detector.process(events[start:start + 512])
    engine = next(e for e in detector.engines if isinstance(e, ClosingEngine))
    assert detector.memory_bytes <= detector.memory_cap_bytes
    assert detector.evictions > 0
    # The heap of closing times holds at most two entries a live group (and a few).
    assert len(engine.heap) <= 2 * len(engine.groups) + 65


@pytest.mark.parametrize(("body", "reason"), [
    (TEMPORAL.replace("type: temporal", "type: temporal_ordered").replace(
        "        - admin_probe\n", "        - admin_probe\n        - admin_probe\n")
     + "    condition:\n        lt: 2\n", "temporal_ordered with condition lt 2 names a rule"),
    (EVENT_COUNT.replace("        gte: 3\n", "        gt: 1\n        lte: many\n"),
     "condition lte: 'many' is not a number"),
])
def test_bounded_correlations_the_engine_cannot_run_are_skipped_with_a_reason(
        tmp_path: Path, body: str, reason: str) -> None:
    loaded = load_sigma(SigmaConfig(), [_rules(tmp_path, _correlation(body))])
    assert loaded.correlations == []
    assert [s.reason for s in loaded.skipped] and loaded.skipped[0].reason.startswith(
        reason), loaded.skipped


def test_sigma_test_prints_windows_the_end_of_the_log_closed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _rules(tmp_path, _bounded("        lt: 3\n"))
    log = tmp_path / "access.log"
    log.write_text(_request(0).message + "\n" + _request(1).message + "\n")
    assert main(["sigma", "test", str(folder), str(log), "--model", "never"]) == 0
    out = capsys.readouterr().out
    assert (f"    end  {CORRELATION_ID}  Correlated\n"
            "         Sigma: Correlated: Probes then more. (2 events in 1m: lt 3, "
            "source.ip=203.0.113.1)") in out


def test_analyze_decides_the_open_windows_at_the_end_of_its_input(tmp_path: Path) -> None:
    folder = _rules(tmp_path, _bounded("        lt: 3\n"))
    log = tmp_path / "access.log"
    log.write_text(_request(0).message + "\n")
    (tmp_path / "none.yaml").write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "logsentry.cli", "analyze", "--no-model", "--format", "jsonl",
         "--rules", str(tmp_path / "none.yaml"), "--sigma", str(folder), str(log)],
        capture_output=True, timeout=120)
    assert CORRELATION_ID.encode() in result.stdout, result.stderr


@pytest.mark.parametrize("value", [10**400, "1e999", "nan", "12abc", True, None, ["1"]])
def test_a_metric_ignores_values_that_are_not_finite_numbers(value: object) -> None:
    assert _numeric(value) is None


def test_a_metric_reads_numbers_and_numeric_text() -> None:
    assert [_numeric(v) for v in (3, 2.5, " 42 ", "-1e3")] == [3.0, 2.5, 42.0, -1000.0]


def test_an_open_window_survives_a_reload(tmp_path: Path) -> None:
    folder = _rules(tmp_path, _bounded("        lt: 3\n"))
    config = DetectionConfig(pack="none", sigma=SigmaConfig(rules=[str(folder)]))
    detector = Detector.from_config(config, None)
    assert detector.process([_request(0), _request(1)]) == []
    fresh = detector.reload(config)
    assert [(a.start, a.count) for a in fresh.tick(time.time() + 120)] == [(START, 2)]
