"""Sigma correlation rules (event_count, value_count, temporal, temporal_ordered) on the
detector's correlation engine: thresholds in event time per group, the base rules'
own alerts, skipped constructs, state bounded by the memory cap and saved.

Every rule here is written for these tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest
import structlog

from logsentry.cli import main
from logsentry.core.alert import Alert
from logsentry.core.event import Event
from logsentry.detect.detector import Detector
from logsentry.detect.sigma.config import SigmaConfig
from logsentry.detect.sigma.load import load_sigma
from logsentry.detect.sigma.ruleset import SigmaRuleSet
from logsentry.envelope import EnvelopeParser

PARSER = EnvelopeParser(tz=UTC)


@pytest.fixture(autouse=True)
def _logs_back_to_defaults() -> Iterator[None]:
    """main() points the logs at the stderr of its test, which pytest closes after it:
    later tests' logs (the memory cap's warning) must not go there."""
    yield
    structlog.reset_defaults()


BASE_RULES = """\
title: Admin page probe
id: 3c1d0e2f-1111-4a00-8000-000000000001
name: admin_probe
logsource: {category: webserver}
detection:
    sel:
        cs-uri-stem|startswith: '/admin'
    condition: sel
level: low
---
title: Login form request
id: 3c1d0e2f-1111-4a00-8000-000000000002
name: login_request
logsource: {category: webserver}
detection:
    sel:
        cs-uri-stem: '/login'
    condition: sel
level: low
---
title: Config file download
id: 3c1d0e2f-1111-4a00-8000-000000000003
name: config_download
logsource: {category: webserver}
detection:
    sel:
        cs-uri-stem|endswith: '.env'
    condition: sel
level: medium
"""


def _correlation(body: str, *, title: str = "Correlated", level: str = "high",
                 extra: str = "") -> str:
    return (f"title: {title}\nid: 3c1d0e2f-2222-4a00-8000-000000000001\n"
            "description: Probes then more.\n"
            f"tags:\n    - attack.discovery\n    - attack.t1595.003\n{extra}"
            f"correlation:\n{body}level: {level}\n")


def _rules(tmp_path: Path, *correlations: str) -> Path:
    folder = tmp_path / "sigma"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "base.yml").write_text(BASE_RULES)
    for number, text in enumerate(correlations):
        (folder / f"correlation{number}.yml").write_text(text)
    return folder


def _detector(folder: Path, **kwargs: object) -> Detector:
    loaded = load_sigma(SigmaConfig(), [folder])
    assert not loaded.skipped, loaded.skipped
    return Detector([], sigma=SigmaRuleSet(loaded), **kwargs)  # type: ignore[arg-type]


def _request(second: int, path: str, ip: str = "203.0.113.9") -> Event:
    """An access-log request `second` seconds after 11:00:00."""
    minute, sec = divmod(second, 60)
    hour, minute = divmod(minute, 60)
    line = (f'{ip} - - [30/Sep/2021:{11 + hour:02d}:{minute:02d}:{sec:02d} +0000] '
            f'"GET {path} HTTP/1.1" 404 162 "-" "curl/7.68.0"')
    return PARSER.parse(line, 1_700_000_000.0 + second)


def _ids(alerts: list[Alert]) -> list[str]:
    return [alert.rule_id for alert in alerts]


CORRELATION_ID = "3c1d0e2f-2222-4a00-8000-000000000001"
EVENT_COUNT = """\
    type: event_count
    rules:
        - admin_probe
    group-by:
        - c-ip
    timespan: 1m
    condition:
        gte: 3
"""


def test_event_count_fires_at_the_threshold_within_the_timespan_per_group(
        tmp_path: Path) -> None:
    detector = _detector(_rules(tmp_path, _correlation(EVENT_COUNT)))
    # Two probes from one address, one from another: below the threshold for each.
    assert detector.process([_request(0, "/admin"), _request(1, "/admin/x"),
                             _request(2, "/admin", ip="198.51.100.7")]) == []
    alerts = detector.process([_request(3, "/admin/y")])
    assert _ids(alerts) == [CORRELATION_ID]
    alert = alerts[0]
    assert alert.count == 3
    assert alert.group == {"source.ip": "203.0.113.9"}
    assert alert.severity == "high"
    assert alert.techniques == ["T1595.003"]
    assert "attack.discovery" in alert.tags
    assert alert.message.startswith("Sigma: Correlated: Probes then more. (3 events, "
                                    "source.ip=203.0.113.9)")
    events = alert.to_ecs()["logsentry"]["events"]
    assert [e["url"]["original"] for e in events] == ["/admin", "/admin/x", "/admin/y"]


def test_event_count_does_not_fire_on_events_further_apart_than_the_timespan(
        tmp_path: Path) -> None:
    detector = _detector(_rules(tmp_path, _correlation(EVENT_COUNT)))
    assert detector.process([_request(0, "/admin"), _request(40, "/admin"),
                             _request(80, "/admin"), _request(120, "/admin")]) == []
    assert _ids(detector.process([_request(121, "/admin")])) == [CORRELATION_ID]


def test_gt_needs_one_more_event_than_its_count(tmp_path: Path) -> None:
    detector = _detector(_rules(tmp_path, _correlation(
        EVENT_COUNT.replace("gte: 3", "gt: 3"))))
    assert detector.process([_request(n, "/admin") for n in range(3)]) == []
    assert _ids(detector.process([_request(3, "/admin")])) == [CORRELATION_ID]


def test_named_rules_raise_no_alert_of_their_own_unless_generate(tmp_path: Path) -> None:
    """`generate: false` (the default) keeps a named rule's own alerts back; another rule
    of the file that no correlation names alerts as before."""
    detector = _detector(_rules(tmp_path, _correlation(EVENT_COUNT)))
    assert detector.process([_request(0, "/admin")]) == []
    assert _ids(detector.process([_request(1, "/backup.env")])) == [
        "3c1d0e2f-1111-4a00-8000-000000000003"]
    loud = _detector(_rules(tmp_path / "loud", _correlation(
        EVENT_COUNT + "    generate: true\n")))
    assert _ids(loud.process([_request(0, "/admin")])) == [
        "3c1d0e2f-1111-4a00-8000-000000000001"]


def test_an_event_matching_two_named_rules_counts_once(tmp_path: Path) -> None:
    detector = _detector(_rules(tmp_path, _correlation(
        EVENT_COUNT.replace("        - admin_probe\n",
                            "        - admin_probe\n        - config_download\n"))))
    # Each of these is an admin probe and a config download.
    assert detector.process([_request(0, "/admin/.env"), _request(1, "/admin/.env")]) == []
    assert _ids(detector.process([_request(2, "/x.env")])) == [CORRELATION_ID]


def test_value_count_counts_distinct_values_of_its_field(tmp_path: Path) -> None:
    value_count = """\
    type: value_count
    rules:
        - admin_probe
    group-by:
        - c-ip
    timespan: 10m
    condition:
        gte: 3
        field: cs-uri-stem
"""
    detector = _detector(_rules(tmp_path, _correlation(value_count)))
    assert detector.process([_request(0, "/admin/a"), _request(1, "/admin/a"),
                             _request(2, "/admin/b"), _request(3, "/admin/b")]) == []
    alerts = detector.process([_request(4, "/admin/c")])
    assert _ids(alerts) == [CORRELATION_ID]
    assert alerts[0].extra["distinct"] == {"url.path": 3}
    assert "3 values of url.path" in alerts[0].message


TEMPORAL = """\
    type: temporal
    rules:
        - admin_probe
        - 3c1d0e2f-1111-4a00-8000-000000000003
    group-by:
        - c-ip
    timespan: 1m
"""


def test_temporal_fires_when_every_named_rule_matched_in_any_order(tmp_path: Path) -> None:
    detector = _detector(_rules(tmp_path, _correlation(TEMPORAL)))
    # Many of one rule are not enough; the other one, within the minute, is.
    assert detector.process([_request(0, "/config.env"), _request(1, "/x.env")]) == []
    alerts = detector.process([_request(30, "/admin")])
    assert _ids(alerts) == [CORRELATION_ID]
    assert alerts[0].count == 3
    # Out of the timespan: no alert (another address, its own group).
    other = "198.51.100.7"
    assert detector.process([_request(100, "/admin", ip=other),
                             _request(200, "/x.env", ip=other)]) == []


def test_temporal_ordered_fires_only_in_the_named_order(tmp_path: Path) -> None:
    ordered = TEMPORAL.replace("type: temporal", "type: temporal_ordered")
    detector = _detector(_rules(tmp_path, _correlation(ordered)))
    first, second = "203.0.113.1", "203.0.113.2"
    # The config download before the probe: not the order named.
    assert detector.process([_request(0, "/x.env", ip=first),
                             _request(1, "/admin", ip=first)]) == []
    assert detector.process([_request(2, "/admin", ip=second)]) == []
    alerts = detector.process([_request(3, "/x.env", ip=second)])
    assert _ids(alerts) == [CORRELATION_ID]
    assert alerts[0].group == {"source.ip": second}


def test_a_rule_named_twice_in_a_row_is_two_events_of_that_step(tmp_path: Path) -> None:
    ordered = TEMPORAL.replace("type: temporal", "type: temporal_ordered").replace(
        "        - admin_probe\n", "        - admin_probe\n        - admin_probe\n")
    detector = _detector(_rules(tmp_path, _correlation(ordered)))
    assert detector.process([_request(0, "/admin"), _request(1, "/x.env")]) == []
    assert _ids(detector.process([_request(2, "/admin"), _request(3, "/y.env")])) == [
        CORRELATION_ID]


ORDERED_TWO_OF_THREE = """\
    type: temporal_ordered
    rules:
        - admin_probe
        - login_request
        - config_download
    group-by:
        - c-ip
    timespan: 1m
    condition:
        gte: 2
"""


def test_temporal_ordered_with_a_partial_bound_counts_rules_matched_in_their_order(
        tmp_path: Path) -> None:
    """`gte: 2` of three rules: any two of them, one after the other in the named order
    (the count of rules in order, as the specification has temporal_ordered count)."""
    detector = _detector(_rules(tmp_path, _correlation(ORDERED_TWO_OF_THREE)))
    first, second, third = "203.0.113.1", "203.0.113.2", "203.0.113.3"
    # Out of order: the download, then the probe.
    assert detector.process([_request(0, "/x.env", ip=first),
                             _request(1, "/admin", ip=first)]) == []
    # In order, the second rule skipped: the probe, then the download.
    alerts = detector.process([_request(2, "/admin", ip=second),
                               _request(4, "/login", ip=third),
                               _request(5, "/y.env", ip=second)])
    assert _ids(alerts) == [CORRELATION_ID]
    assert alerts[0].group == {"source.ip": second}
    assert alerts[0].start == _request(2, "/admin").event_time
    assert "2 of 3 rules in order in 2 events" in alerts[0].message
    # Further apart than the timespan: no chain.
    assert detector.process([_request(100, "/y.env", ip=third)]) == []


def test_one_event_matching_two_ordered_rules_does_not_follow_itself(tmp_path: Path) -> None:
    """A request both rules match (`/admin/.env`) is one event, not a chain of two."""
    detector = _detector(_rules(tmp_path, _correlation(ORDERED_TWO_OF_THREE)))
    assert detector.process([_request(0, "/admin/.env")]) == []
    assert _ids(detector.process([_request(1, "/z.env")])) == [CORRELATION_ID]


def test_group_by_aliases_read_each_named_rule_s_own_field(tmp_path: Path) -> None:
    """The probe's client and the address in the login request's query are one group."""
    aliased = """\
    type: temporal
    rules:
        - admin_probe
        - login_request
    aliases:
        peer:
            admin_probe: c-ip
            login_request: cs-uri-query
    group-by:
        - peer
    timespan: 1m
"""
    detector = _detector(_rules(tmp_path, _correlation(aliased)))
    assert detector.process([_request(0, "/admin", ip="198.51.100.7"),
                             _request(1, "/login?198.51.100.8", ip="203.0.113.9")]) == []
    alerts = detector.process([_request(2, "/login?198.51.100.7", ip="203.0.113.9")])
    assert _ids(alerts) == [CORRELATION_ID]
    assert alerts[0].group == {"peer": "198.51.100.7"}


@pytest.mark.parametrize(("body", "reason"), [
    (EVENT_COUNT.replace("admin_probe", "no_such_rule"),
     "it names rule 'no_such_rule', which is not loaded"),
    (EVENT_COUNT.replace("event_count", "value_sum").replace(
        "gte: 3", "gte: 3\n        field: [sc-status, c-ip]"),
     "value_sum over several fields: the specification gives a metric of several "
     "fields no meaning"),
    ("    type: temporal\n    rules: [admin_probe, config_download]\n    group-by: [c-ip]\n"
     "    timespan: 1m\n    condition: admin_probe and not config_download\n",
     "a boolean condition over its rules (pySigma's extended condition, 'admin_probe and "
     "not config_download') is in no released Sigma specification"),
    (TEMPORAL.replace("timespan: 1m", "timespan: 1m\n    condition:\n        gte: 3"),
     "the condition asks for 3 of 2 rules"),
])
def test_correlations_the_engine_cannot_run_are_skipped_with_a_reason(
        tmp_path: Path, body: str, reason: str) -> None:
    loaded = load_sigma(SigmaConfig(), [_rules(tmp_path, _correlation(body))])
    assert [spec.rule.title for spec in loaded.rules] == [
        "Admin page probe", "Login form request", "Config file download"]
    assert loaded.correlations == []
    assert len(loaded.skipped) == 1
    assert loaded.skipped[0].reason.startswith(reason), loaded.skipped[0].reason


MANY_PROBES = """\
title: Many probes
id: 3c1d0e2f-3333-4a00-8000-000000000001
name: many_probes
correlation:
    type: event_count
    rules: [admin_probe]
    group-by: [c-ip]
    timespan: 1m
    condition: {gte: 3}
"""


def test_a_correlation_of_a_correlation_follows_the_alerts_of_the_inner_one(
        tmp_path: Path) -> None:
    """Many probes, then a config download (the specification's example of a chain); the
    outer rule is read first, the inner one compiled before it all the same."""
    outer = _correlation("""\
    type: temporal_ordered
    rules: [many_probes, config_download]
    group-by: [c-ip]
    timespan: 5m
""")
    detector = _detector(_rules(tmp_path, outer, MANY_PROBES))
    # Two probes and a download: the inner rule did not fire, so neither does the outer.
    assert detector.process([_request(0, "/admin"), _request(1, "/admin"),
                             _request(2, "/x.env")]) == []
    # The third probe completes the inner rule (no alert of its own: generate is false).
    assert detector.process([_request(3, "/admin")]) == []
    alerts = detector.process([_request(60, "/y.env")])
    assert _ids(alerts) == [CORRELATION_ID]
    assert alerts[0].group == {"source.ip": "203.0.113.9"}
    assert detector.sigma is not None
    assert detector.sigma.notes[-2:] == [
        "event_count of admin_probe; no alerts of its own (named by correlations)",
        "temporal_ordered of many_probes, config_download"]


def test_a_correlation_of_a_window_decided_at_its_close_is_fed_at_the_close(
        tmp_path: Path) -> None:
    """Two lone probes (fewer than 2 in a minute) within the hour."""
    lone = MANY_PROBES.replace("name: many_probes", "name: lone_probe").replace(
        "{gte: 3}", "{lt: 2}")
    outer = _correlation("""\
    type: event_count
    rules: [lone_probe]
    group-by: [c-ip]
    timespan: 1h
    condition: {gte: 2}
""")
    detector = _detector(_rules(tmp_path, lone, outer))
    assert detector.process([_request(0, "/admin"), _request(120, "/admin/x")]) == []
    alerts = detector.close_all_windows()
    assert _ids(alerts) == [CORRELATION_ID]
    assert alerts[0].count == 2


def test_correlations_naming_each_other_are_skipped_as_a_cycle(tmp_path: Path) -> None:
    first = MANY_PROBES.replace("[admin_probe]", "[second]").replace(
        "name: many_probes", "name: first")
    second = _correlation(EVENT_COUNT.replace("admin_probe", "first"), extra="name: second\n")
    loaded = load_sigma(SigmaConfig(), [_rules(tmp_path, first, second)])
    assert loaded.correlations == []
    assert [s.reason for s in loaded.skipped] == [
        "it is part of a cycle of correlation rules naming each other"] * 2


def test_correlation_state_is_bounded_by_the_memory_cap(tmp_path: Path) -> None:
    detector = _detector(_rules(tmp_path, _correlation(EVENT_COUNT)),
                         memory_cap_bytes=256 * 1024)
    # One probe from each of 20,000 addresses: 20,000 open groups, none at its threshold.
    events = [_request(n % 60, "/admin", ip=f"10.{n // 65536}.{n // 256 % 256}.{n % 256}")
              for n in range(20_000)]
    for start in range(0, len(events), 512):
        assert detector.process(events[start:start + 512]) == []
    assert detector.memory_bytes <= detector.memory_cap_bytes
    assert detector.evictions > 0
    assert detector.group_count < 20_000


def test_replaying_the_lines_gives_the_alerts_raised_live(tmp_path: Path) -> None:
    """Windows run on the lines' own time: one batch read long after the fact (a replay)
    and the lines one at a time as they come raise the same alerts."""
    folder = _rules(tmp_path, _correlation(EVENT_COUNT),
                    _correlation(TEMPORAL, title="Probe and download").replace(
                        "-000000000001\n", "-000000000002\n", 1))
    seconds = [0, 5, 50, 70, 75, 80, 200, 201, 230, 400, 401, 402]
    paths = ["/admin", "/a.env", "/admin", "/admin", "/admin", "/b.env", "/admin", "/admin",
             "/admin", "/admin/x", "/admin/y", "/admin/z"]
    lines = [_request(s, p) for s, p in zip(seconds, paths, strict=True)]

    def summary(alerts: list[Alert]) -> list[tuple[str, float, float, int]]:
        return [(a.rule_id, a.start, a.end, a.count) for a in alerts]

    live = _detector(folder)
    raised = [alert for event in lines for alert in live.process([event])]
    replay = _detector(folder)
    for event in lines:
        event.received = 1_800_000_000.0  # read much later, all at once
    assert summary(replay.process(lines)) == summary(raised)
    assert sorted(_ids(raised)) == [CORRELATION_ID, "3c1d0e2f-2222-4a00-8000-000000000002"]


def test_correlation_state_survives_a_restart(tmp_path: Path) -> None:
    folder = _rules(tmp_path, _correlation(EVENT_COUNT))
    detector = _detector(folder, state_path=tmp_path / "detection.json")
    assert detector.process([_request(0, "/admin"), _request(1, "/admin")]) == []
    detector.save_state()
    again = _detector(folder, state_path=tmp_path / "detection.json")
    again.restore_state()
    assert _ids(again.process([_request(2, "/admin")])) == [CORRELATION_ID]


def test_check_config_lists_correlation_rules(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _rules(tmp_path, _correlation(EVENT_COUNT))
    config = tmp_path / "config.yaml"
    config.write_text(f"detection:\n  sigma:\n    rules: [{folder}]\n")
    assert main(["check-config", "--config", str(config)]) == 0
    err = capsys.readouterr().err
    assert "# sigma: 4 rules loaded, 0 skipped" in err
    assert (f"# sigma loaded: {CORRELATION_ID} high 'Correlated' ({folder}/correlation0.yml)"
            " event_count of admin_probe") in err
    assert ("# sigma loaded: 3c1d0e2f-1111-4a00-8000-000000000001 low 'Admin page probe' "
            f"({folder}/base.yml) no alerts of its own (named by correlations)") in err


def test_sigma_test_prints_the_line_that_completes_a_correlation(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _rules(tmp_path, _correlation(EVENT_COUNT))
    log = tmp_path / "access.log"
    log.write_text("".join(_request(n, "/admin").message + "\n" for n in range(4)))
    assert main(["sigma", "test", str(folder), str(log), "--model", "never"]) == 0
    out = capsys.readouterr().out
    assert (f"      3  {CORRELATION_ID}  Correlated\n"
            "         Sigma: Correlated: Probes then more. (3 events, source.ip=203.0.113.9)"
            ) in out
    assert f"      1  {CORRELATION_ID}  Correlated" in out  # the count per rule


SIGMA1_COUNT = """\
title: Many admin probes (Sigma 1)
id: 3c1d0e2f-3333-4a00-8000-000000000001
logsource: {category: webserver}
level: high
detection:
    sel:
        cs-uri-stem|startswith: '/admin'
    timeframe: 1m
    condition: sel | count() by c-ip > 2
"""

SIGMA1_GLOBAL = """\
action: global
title: Paths probed from one address (Sigma 1)
logsource: {category: webserver}
level: medium
detection:
    sel:
        cs-uri-stem|startswith: '/admin'
    timeframe: 1m
---
id: 3c1d0e2f-3333-4a00-8000-000000000002
detection:
    condition: sel | count(cs-uri-stem) by c-ip >= 2
---
id: 3c1d0e2f-3333-4a00-8000-000000000003
detection:
    condition: sel | near other
"""


def test_sigma_1_aggregations_run_as_correlation_rules(tmp_path: Path) -> None:
    folder = tmp_path / "sigma"
    folder.mkdir()
    (folder / "count.yml").write_text(SIGMA1_COUNT)
    (folder / "global.yml").write_text(SIGMA1_GLOBAL)
    loaded = load_sigma(SigmaConfig(), [folder])
    # `near` has no correlation type: skipped, saying what runs.
    assert [(Path(s.path).name, s.reason) for s in loaded.skipped] == [
        ("global.yml", "a Sigma 1 aggregation (`| count() ...`) runs as a correlation rule "
                       "only with a `timeframe` and count(), sum() or avg() compared with a "
                       "number")]
    ruleset = SigmaRuleSet(loaded)
    assert sorted(c.sigma.type.name.lower() for c in loaded.correlations) == [
        "event_count", "value_count"]
    detector = Detector([], sigma=ruleset)
    # The searches raise no alert of their own; the counts fire as they are exceeded.
    assert detector.process([_request(0, "/admin"), _request(1, "/admin"),
                             _request(2, "/admin", ip="198.51.100.7")]) == []
    alerts = detector.process([_request(3, "/admin/x")])
    assert sorted(_ids(alerts)) == ["3c1d0e2f-3333-4a00-8000-000000000001",
                                    "3c1d0e2f-3333-4a00-8000-000000000002"]
    count = next(a for a in alerts if a.rule_id.endswith("0001"))
    assert count.count == 3 and count.group == {"source.ip": "203.0.113.9"}
    assert count.severity == "high"
    assert count.message.startswith("Sigma: Many admin probes (Sigma 1)")
    # Further apart than the timeframe, three probes are no count of three.
    assert detector.process([_request(second, "/admin", ip="192.0.2.1")
                             for second in (300, 370, 440)]) == []


def test_value_count_over_several_fields_counts_distinct_combinations(tmp_path: Path) -> None:
    body = EVENT_COUNT.replace("event_count", "value_count").replace(
        "gte: 3", "gte: 3\n        field: [cs-uri-stem, sc-status]")
    detector = _detector(_rules(tmp_path, _correlation(body)))
    # Two paths, the first one twice: two combinations; a third path makes three.
    assert detector.process([_request(0, "/admin/a"), _request(1, "/admin/b"),
                             _request(2, "/admin/a")]) == []
    alerts = detector.process([_request(3, "/admin/c")])
    assert _ids(alerts) == [CORRELATION_ID]
    assert alerts[0].message.startswith(
        "Sigma: Correlated: Probes then more. (3 values of url.path+http.response.status_code "
        "in 4 events, source.ip=203.0.113.9)")
