"""Benchmark of Sigma rule selection: cost per line with many rules loaded.

Usage:

    .venv/bin/python bench/bench_sigma.py [--corpus $BENCH_DATA/mixed200k.log]
        [--rules 500] [--lines 200000] [--runs 3] [--model] [--json out.json]

The rules are templated (no public rule is copied): process-creation rules on
command lines and images, web server rules on query strings and user agents,
keyword rules over syslog services, a few regex and CIDR rules (which the
prefilter cannot narrow), and some whose words occur in the corpus (authentication
failures, session openings, errors) so that full evaluation runs too. The
corpus's lines go through envelope parsing once (and, with `--model`, the shipped
model, as in the daemon: its fields lengthen the text the prefilter searches); then
`SigmaRuleSet.matches` over every event is timed
(best of `--runs`), for `--rules` rules and for a tenth of them, and
`Detector.process` (selection and the rules' state, batches of 512) with the Sigma
rules and without any rule. Reported: microseconds per line of each, the rules per
line the prefilter names by their literals (the rules it cannot narrow are evaluated
on the lines of their log source), and the matches.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from logsentry.core.event import Event  # noqa: E402
from logsentry.detect.detector import Detector  # noqa: E402
from logsentry.detect.sigma.config import SigmaConfig  # noqa: E402
from logsentry.detect.sigma.load import load_sigma  # noqa: E402
from logsentry.detect.sigma.ruleset import SigmaRuleSet  # noqa: E402
from logsentry.envelope import EnvelopeParser  # noqa: E402

DEFAULT_CORPUS = Path(os.environ.get("BENCH_DATA", "/tmp/logsentry-bench-data")) / \
    "mixed200k.log"
TOOLS = ["nmap", "masscan", "hydra", "socat", "ncat", "chisel", "ligolo", "pspy", "linpeas",
         "mimipenguin", "xmrig", "kinsing", "tsunami", "gsocket", "frp", "rclone"]
# Words of the corpus (so some rules really match and are evaluated in full).
COMMON = ["authentication failure", "session opened for user", "Failed password",
          "Invalid user", "error", "connection closed", "POSSIBLE BREAK-IN ATTEMPT",
          "Received disconnect", "check pass; user unknown", "kernel: "]


def rule_yaml(n: int) -> str:
    """Rule number n of the templated set."""
    kind = n % 10
    tool = TOOLS[n % len(TOOLS)]
    head = f"title: Bench rule {n}\nid: 00000000-0000-4000-8000-{n:012d}\nlevel: medium\n"
    if kind < 4:
        return head + (
            "logsource: {product: linux, category: process_creation}\n"
            "detection:\n"
            f"  sel_img:\n    Image|endswith: ['/{tool}', '/{tool}{n}']\n"
            f"  sel_cli:\n    CommandLine|contains: ['--{tool}-opt{n}', ' -x{n}z ']\n"
            "  filter:\n    User: backup\n"
            "  condition: 1 of sel_* and not filter\n")
    if kind < 7:
        return head + (
            "logsource: {category: webserver}\n"
            "detection:\n"
            f"  sel:\n    cs-uri-query|contains|all: ['param{n}=', '{tool}']\n"
            f"  agent:\n    cs-user-agent|startswith: '{tool}-scanner/{n}'\n"
            "  condition: sel or agent\n")
    if kind < 9:
        phrase = COMMON[n % len(COMMON)] if n % 20 == 8 else f"{tool} daemon fault {n}"
        service = ("\n  service: sshd" if n % 3 == 0 else "")
        return head + (
            f"logsource:\n  product: linux{service}\n"
            "detection:\n"
            f"  keywords:\n    - '{phrase}'\n    - '*{tool} panic code {n}*'\n"
            "  condition: keywords\n")
    if n % 20 == 9:
        return head + (
            "logsource: {category: webserver}\n"
            "detection:\n"
            f"  sel:\n    cs-uri-query|re: '(?i)id=[0-9]+{n}(and|or)'\n"
            "  condition: sel\n")
    return head + (
        "logsource: {category: webserver}\n"
        "detection:\n"
        f"  sel:\n    c-ip|cidr: '10.{n % 256}.0.0/16'\n    sc-status|gte: 500\n"
        "  condition: sel\n")


def write_rules(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(count):
        (folder / f"bench_{n:04d}.yml").write_text(rule_yaml(n))


def parse_corpus(path: Path, lines: int) -> list[Event]:
    parser = EnvelopeParser(tz=UTC)
    events = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle):
            if number >= lines:
                break
            event = parser.parse(raw.rstrip(b"\n").decode("utf-8", "replace"),
                                 1.7e9 + number * 0.001)
            event.line = number + 1
            events.append(event)
    return events


def label(events: list[Event]) -> None:
    """Label the events with the shipped model, as the daemon does."""
    from logsentry.analysis.tagger import load_analyzer

    analyzer = load_analyzer()
    for offset in range(0, len(events), 512):
        batch = events[offset:offset + 512]
        for event, analysis in zip(batch, analyzer.analyze_batch([e.body for e in batch]),
                                   strict=True):
            event.apply(analysis)


def time_matches(rules: SigmaRuleSet, events: list[Event], runs: int) -> tuple[float, int]:
    best = float("inf")
    hits = 0
    for _ in range(runs):
        matches = rules.matches
        start = time.process_time()
        hits = 0
        for event in events:
            if matches(event):
                hits += 1
        best = min(best, time.process_time() - start)
    return best / len(events) * 1e6, hits


def candidates_per_line(rules: SigmaRuleSet, events: list[Event]) -> float:
    return sum(len(rules.prefilter.found(e)) for e in events) / len(events)


def time_detector(detector_of: Any, events: list[Event], runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        detector = detector_of()
        start = time.process_time()
        for offset in range(0, len(events), 512):
            detector.process(events[offset:offset + 512])
        best = min(best, time.process_time() - start)
    return best / len(events) * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--rules", type=int, default=500)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--model", action="store_true",
                        help="label the lines with the shipped model first")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = {"corpus": args.corpus.name, "rules": args.rules,
                               "model": args.model}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "rules"
        write_rules(folder, args.rules)
        small = Path(tmp) / "small"
        write_rules(small, max(1, args.rules // 10))
        start = time.perf_counter()
        loaded = load_sigma(SigmaConfig(), [folder])
        results["load_seconds"] = round(time.perf_counter() - start, 2)
        results["loaded"] = len(loaded.rules)
        results["skipped"] = [s.reason for s in loaded.skipped]
        rules = SigmaRuleSet(loaded)
        few = SigmaRuleSet(load_sigma(SigmaConfig(), [small]))
    results["always_candidates"] = len(rules.prefilter.always)
    results["literals"] = len(rules.prefilter.literals)
    start = time.perf_counter()
    events = parse_corpus(args.corpus, args.lines)
    results["lines"] = len(events)
    results["envelope_us_per_line"] = round((time.perf_counter() - start) / len(events) * 1e6,
                                            2)
    if args.model:
        label(events)
    us, hits = time_matches(rules, events, args.runs)
    results["selection_us_per_line"] = round(us, 3)
    results["lines_matched"] = hits
    results["literal_candidates_per_line"] = round(candidates_per_line(rules, events), 3)
    us_few, hits_few = time_matches(few, events, args.runs)
    results["selection_us_per_line_tenth_of_rules"] = round(us_few, 3)
    results["lines_matched_tenth_of_rules"] = hits_few
    results["detector_us_per_line_no_rules"] = round(
        time_detector(lambda: Detector([]), events, args.runs), 3)
    results["detector_us_per_line_sigma"] = round(
        time_detector(lambda: Detector([], sigma=rules), events, args.runs), 3)
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
