"""`logsentry sigma test RULES LOG`: which Sigma rule matches which line, for rule authors."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

from logsentry.analysis.base import Analyzer
from logsentry.core.alert import Alert
from logsentry.core.event import Event

# Lines labelled by the analyzer at once.
BATCH_LINES = 512


def register(subparsers: Any) -> None:
    """Add the `sigma` subcommand (with `test`) to the main parser's subparsers."""
    parser = subparsers.add_parser("sigma", help="work with Sigma rules",
                                   description="Sigma rules (docs/sigma.md).")
    sub = parser.add_subparsers(dest="sigma_command", required=True, metavar="COMMAND")
    test = sub.add_parser(
        "test", help="print which Sigma rule matches which line of a log",
        description="Load Sigma rules (files or folders), run every line of LOG through "
                    "envelope parsing and the model (as the daemon does) and print each "
                    "match: line number, rule id, title and the line (for a correlation "
                    "rule, its alert's summary at the line that completed it, or at "
                    "'end' for a window that the end of the log closed). Then a "
                    "count per rule, and the skipped rules with their reasons. Exits 1 "
                    "when a rule is skipped or none loads.")
    test.add_argument("rules", type=Path, help="Sigma rule file or folder")
    test.add_argument("log", type=Path, help="log file ('-': stdin)")
    test.add_argument("--model", choices=("auto", "never"), default="auto",
                      help="label lines with the model when it loads (default), or only "
                           "parse their envelope")
    test.set_defaults(func=sigma_test_command)


def sigma_test_command(args: argparse.Namespace) -> int:
    """Entry point of `logsentry sigma test`; returns the exit status."""
    from logsentry.detect.detector import Detector
    from logsentry.detect.sigma.config import SigmaConfig
    from logsentry.detect.sigma.report import print_skipped, printable
    from logsentry.detect.sigma.ruleset import SigmaRuleSet

    if str(args.log) != "-" and not args.log.is_file():
        print(f"error: {args.log}: not a readable file", file=sys.stderr)
        return 2
    sigma = SigmaRuleSet.from_config(SigmaConfig(), [args.rules])
    assert sigma is not None
    analyzer = _analyzer() if args.model == "auto" else None
    counts = [0] * len(sigma.rules)
    # Correlation rules need their state: a detector runs them, in the lines' time.
    detector = Detector([], sigma=sigma) if sigma.matching < len(sigma.rules) else None
    correlations = {rule.id: index for index, rule in enumerate(sigma.rules)
                    if index >= sigma.matching}
    out = sys.stdout

    def correlated(where: str, alerts: list[Alert]) -> None:
        for alert in alerts:
            index = correlations.get(alert.rule_id, -1)
            if index >= 0:
                counts[index] += 1
                out.write(f"{where:>7}  {alert.rule_id}  {printable(alert.rule_name)}\n"
                          f"         {printable(alert.message)}\n")

    for event in _events(args.log, analyzer):
        for index in sigma.matches(event):
            counts[index] += 1
            rule = sigma.rules[index]
            out.write(f"{event.line:>7}  {rule.id}  {printable(rule.title)}\n"
                      f"         {printable(event.message)}\n")
        if detector is not None:
            correlated(str(event.line), detector.process([event]))
    if detector is not None:
        # Windows decided at their close: the log is over, so are they.
        correlated("end", detector.close_all_windows())
    out.write(f"\n{len(sigma.rules)} rules loaded, {len(sigma.skipped)} skipped\n")
    for rule, count in zip(sigma.rules, counts, strict=True):
        out.write(f"{count:>7}  {rule.id}  {printable(rule.title)}\n")
    print_skipped(sigma, out)
    return 1 if sigma.skipped or not sigma.rules else 0


def _events(path: Path, analyzer: Analyzer | None) -> Iterator[Event]:
    """The log's lines as events: envelope parsed, labelled when there is an analyzer."""
    from logsentry.envelope import EnvelopeParser

    parser = EnvelopeParser(tz=UTC)
    stream = sys.stdin.buffer if str(path) == "-" else path.open("rb")
    try:
        batch: list[Event] = []
        for number, raw in enumerate(stream, 1):
            event = parser.parse(raw.rstrip(b"\r\n").decode("utf-8", "replace"), 0.0)
            event.line = number
            batch.append(event)
            if len(batch) >= BATCH_LINES:
                yield from _labelled(batch, analyzer)
                batch = []
        yield from _labelled(batch, analyzer)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _labelled(events: list[Event], analyzer: Analyzer | None) -> list[Event]:
    if analyzer is not None and events:
        for event, analysis in zip(events, analyzer.analyze_batch([e.body for e in events]),
                                   strict=True):
            event.apply(analysis)
    return events


def _analyzer() -> Analyzer | None:
    from logsentry.detect.cli import _analyzer as shipped_model

    return shipped_model()
