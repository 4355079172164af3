"""Evaluate the default rule pack on the CrowdSec hub scenario tests.

Usage:

    .venv/bin/python bench/eval_crowdsec_scenarios.py [--data DATASETS/crowdsec]
        [--model DIR | --no-model] [--rules DIR] [--json out.json] [-v]

For every scenario test (`scenario.json`), `input.log` is replayed as the
daemon would see it: envelope parsing (`logsentry.envelope.EnvelopeParser`),
the analyzer (`logsentry.analysis.tagger.load_analyzer()`; `--no-model` skips it and
leaves every line's action `other`), then a fresh `Detector` with the pack.

Reported:
- on tests expecting alerts (`expected_overflows` > 0): the share of tests where
  every expected source is named by an alert (in the alert's group fields or its
  message), and the share of expected sources named; both also for the tests
  whose expected sources are all IP addresses (some CrowdSec scenarios name a
  process id, a user or an ARN instead);
- on tests expecting none (`expected_overflows` == 0): how many raised any alert.
Tests whose expected count is not asserted (null) are left out.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import time
from collections import Counter
from datetime import UTC
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from logsentry.analysis.base import Analyzer  # noqa: E402
from logsentry.core.alert import Alert  # noqa: E402
from logsentry.core.event import Event  # noqa: E402
from logsentry.detect.config import DetectionConfig  # noqa: E402
from logsentry.detect.detector import Detector  # noqa: E402
from logsentry.envelope import EnvelopeParser  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "crowdsec"
# Arrival time of the replayed lines (a line without its own timestamp gets
# this plus a millisecond per line): any fixed instant works.
RECEIVED = 1_750_000_000.0


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def load_tests(data: Path) -> list[dict[str, Any]]:
    tests = []
    for raw in (data / "tests.jsonl").read_text().splitlines():
        meta = json.loads(raw)
        if not meta.get("scenario_test"):
            continue
        folder = data / meta["test"]
        scenario = json.loads((folder / "scenario.json").read_text())
        expected = scenario.get("expected_overflows")
        sources: set[str] = set()
        for overflow in scenario.get("overflows") or []:
            sources.update(str(s) for s in overflow.get("sources") or [])
        tests.append({"name": meta["test"], "log_type": meta.get("log_type"),
                      "expected": expected, "sources": sorted(sources), "folder": folder})
    return tests


def replay(folder: Path, analyzer: Analyzer | None, detector: Detector) -> tuple[list[Alert],
                                                                                 list[Event]]:
    text = (folder / "input.log").read_bytes().decode("utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.strip()]
    parser = EnvelopeParser(tz=UTC)
    events = [parser.parse(line, RECEIVED + i * 0.001) for i, line in enumerate(lines)]
    for number, event in enumerate(events, 1):
        event.line = number
    if analyzer is not None:
        for begin in range(0, len(events), 64):
            chunk = events[begin:begin + 64]
            for event, analysis in zip(chunk, analyzer.analyze_batch([e.body for e in chunk]),
                                       strict=True):
                event.apply(analysis)
    # As `analyze --alerts` does: detection in event-time order.
    ordered = sorted(events, key=Detector.event_time)
    alerts: list[Alert] = []
    for begin in range(0, len(ordered), 512):
        alerts += detector.process(ordered[begin:begin + 512])
    alerts += detector.tick(time.time())
    return alerts, events


def named(source: str, alerts: list[Alert]) -> bool:
    """Whether an alert names `source` in its group fields or its message. An IPv4-mapped
    `::ffff:a.b.c.d` is the address `a.b.c.d` (logsentry reports that form; CrowdSec's
    parsers keep either, test by test)."""
    if source.lower().startswith("::ffff:") and source.count(".") == 3:
        source = source[len("::ffff:"):]
    for alert in alerts:
        if any(str(value) == source for value in alert.group.values()):
            return True
        if source in alert.message:
            return True
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model", help="model folder (default: the shipped model)")
    parser.add_argument("--no-model", action="store_true", help="envelope parsing only")
    parser.add_argument("--rules", action="append", default=[])
    parser.add_argument("--json", type=Path)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()

    analyzer: Analyzer | None = None
    if not args.no_model:
        from logsentry.analysis.tagger import load_analyzer

        analyzer = load_analyzer(args.model)
    # --rules replaces the shipped pack here: the scenarios are scored per rule set.
    config = DetectionConfig(pack="none" if args.rules else "default", extra_rules=args.rules)

    results = []
    for test in load_tests(args.data):
        if test["expected"] is None:
            continue
        detector = Detector.from_config(config, None)
        alerts, events = replay(test["folder"], analyzer, detector)
        found = {source: named(source, alerts) for source in test["sources"]}
        results.append({
            "test": test["name"], "log_type": test["log_type"], "expected": test["expected"],
            "sources": found, "alerts": len(alerts),
            "rules": sorted({a.rule_id for a in alerts}),
            "actions": dict(Counter(e.action for e in events).most_common(4)),
        })

    positive = [r for r in results if r["expected"] > 0 and r["sources"]]
    negative = [r for r in results if r["expected"] == 0]
    ip_only = [r for r in positive if all(is_ip(s) for s in r["sources"])]

    def share(rows: list[dict[str, Any]]) -> dict[str, Any]:
        tests_ok = sum(all(r["sources"].values()) for r in rows)
        sources = [v for r in rows for v in r["sources"].values()]
        return {"tests": len(rows), "tests_all_sources_named": tests_ok,
                "test_share": round(tests_ok / len(rows), 4) if rows else None,
                "sources": len(sources), "sources_named": sum(sources),
                "source_share": round(sum(sources) / len(sources), 4) if sources else None}

    summary = {
        "analyzer": "none" if analyzer is None else (args.model or "shipped model"),
        "expecting_alerts": share(positive),
        "expecting_alerts_ip_sources": share(ip_only),
        "expecting_none": {"tests": len(negative),
                           "with_false_alerts": sum(1 for r in negative if r["alerts"]),
                           "which": [r["test"] for r in negative if r["alerts"]]},
        "rules_firing": dict(Counter(rule for r in results for rule in r["rules"])),
    }
    if args.verbose:
        for row in results:
            missing = [s for s, ok in row["sources"].items() if not ok]
            good = not missing and (row["expected"] > 0 or not row["alerts"])
            status = "ok  " if good else "MISS"
            print(f"{status} {row['test']:42} expected={row['expected']} alerts={row['alerts']} "
                  f"rules={','.join(row['rules'])} missing={missing} actions={row['actions']}")
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "tests": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
