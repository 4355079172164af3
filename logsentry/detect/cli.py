"""`logsentry test-rules`: run the test cases kept beside each rule."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from logsentry.analysis.base import Analyzer
from logsentry.core.errors import ConfigError
from logsentry.detect.rule import DEFAULT_RULES_DIR, load_rules
from logsentry.detect.ruletest import RuleVerdict, run_rules


def register(subparsers: Any) -> None:
    """Add the `test-rules` subcommand to the main parser's subparsers."""
    parser = subparsers.add_parser(
        "test-rules",
        help="run the test cases of detection rules",
        description="Run the test cases kept in each rule file (events in, expected alerts "
                    "out, a negative case each) and print a verdict per rule. Exits 1 when "
                    "a rule fails or does not load.",
    )
    parser.add_argument("--rules", action="append", metavar="PATH",
                        help="rule file or folder (repeatable; default: the shipped pack)")
    parser.add_argument("--model", choices=("auto", "never"), default="auto",
                        help="run `lines:` cases through the model when it loads (default), "
                             "or skip them")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print every case, not only failures")
    parser.set_defaults(func=test_rules_command)


def test_rules_command(args: argparse.Namespace) -> int:
    """Entry point of `logsentry test-rules`; returns the exit status."""
    paths = [Path(p) for p in (args.rules or [])] or [DEFAULT_RULES_DIR]
    try:
        rules = load_rules(paths)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not rules:
        print(f"error: no rules found in {', '.join(str(p) for p in paths)}", file=sys.stderr)
        return 1
    needs_model = any(case.lines and not case.envelope_only
                      for rule in rules for case in rule.tests)
    analyzer = _analyzer() if args.model == "auto" and needs_model else None
    verbose = bool(args.verbose)

    def report(verdict: RuleVerdict) -> None:
        cases = len(verdict.cases)
        skipped = sum(c.skipped for c in verdict.cases)
        status = "PASS" if verdict.passed else "FAIL"
        note = f" ({skipped} skipped: no model)" if skipped else ""
        print(f"{status}  {verdict.rule_id}  {cases} case{'s' if cases != 1 else ''}{note}")
        for problem in verdict.problems:
            print(f"      {problem}")
        for case in verdict.cases:
            if not case.passed and not case.skipped:
                for problem in case.problems:
                    print(f"      case {case.case!r}: {problem}")
            elif verbose:
                print(f"      case {case.case!r}: {'skipped' if case.skipped else 'ok'}")

    verdicts = run_rules(rules, analyzer, report=report)
    failed = [v for v in verdicts if not v.passed]
    print(f"{len(verdicts) - len(failed)} of {len(verdicts)} rules passed")
    return 1 if failed else 0


def _analyzer() -> Analyzer | None:
    """The shipped model as analyzer, or None when it is not built or not installed."""
    try:
        from logsentry.analysis.tagger import load_analyzer
    except ImportError:
        return None
    try:
        return load_analyzer()
    except Exception as exc:  # a missing or broken model only skips `lines:` cases
        print(f"note: model not available, skipping `lines:` cases ({exc})", file=sys.stderr)
        return None
