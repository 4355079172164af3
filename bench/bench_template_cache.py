"""Agreement and cost of the analyzer's template cache.

Runs every line of the evaluation data (fail2ban sample lines, CrowdSec parser-test lines,
Loghub's 16 x 2,000 messages, read through `logsentry.train.evaluation`) and the bench
corpora (ssh200k, mixed200k and the fresh-values corpus of `bench/fresh_values.py`)
through the analyzer in file order, cold caches, batches of the pipeline's size, three
ways:

- `model`: no cache at all, the network labels every line (evaluation data only, unless
  `--uncached-corpora`);
- `structure`: exact-text and structure caches, no template cache (the engine before it);
- `template`: all three caches (the engine's default).

and reports, per origin, the share of lines whose action, fields, template (and all
three) agree between `template` and its references, the network's lines per line of each,
and for Loghub the grouping accuracy of each. Lines go through the envelope first, as in
`logsentry analyze` (Loghub's Content column is already a message body).

Lines of the sealed evaluation families are only counted: no line of theirs is printed
(`--show` prints disagreements of the other families).

    .venv/bin/python bench/bench_template_cache.py [--corpora /tmp/logsentry-bench-data]
        [--shape kind|shape] [--show 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

BATCH = 64  # the pipeline's default analysis.max_batch
# The order in which make_corpora.sh concatenates Loghub's systems into mixed200k.log.
MIXED_SYSTEMS = ("Android", "Apache", "BGL", "HDFS", "HPC", "Hadoop", "HealthApp", "Linux",
                 "Mac", "OpenSSH", "OpenStack", "Proxifier", "Spark", "Thunderbird", "Windows",
                 "Zookeeper")


def corpus_families(name: str, count: int) -> list[str]:
    """The Loghub family of each line of a bench corpus (ssh200k and the fresh-values
    corpus are OpenSSH; mixed200k is the 16 systems' 2,000 lines each, in turn), so the
    sealed families' lines are never shown."""
    if name == "mixed200k":
        return [f"loghub:{MIXED_SYSTEMS[(i % 32_000) // 2_000]}" for i in range(count)]
    return ["loghub:OpenSSH"] * count


def label(analyzer: Any, lines: Sequence[str], envelope: bool) -> tuple[list[Any], float]:
    from logsentry.train.evaluation import label_lines

    started = time.perf_counter()
    out = label_lines(analyzer, lines, envelope, batch=BATCH)
    return out, time.perf_counter() - started


def agreement(ours: Sequence[Any], reference: Sequence[Any], indexes: Sequence[int],
              ) -> dict[str, float]:
    """Shares of `indexes` whose action, fields, template (and all) agree."""
    n = len(indexes) or 1
    action = sum(ours[i].action == reference[i].action for i in indexes)
    fields = sum(ours[i].fields == reference[i].fields for i in indexes)
    template = sum(ours[i].template == reference[i].template for i in indexes)
    every = sum(ours[i].action == reference[i].action and ours[i].fields == reference[i].fields
                and ours[i].template == reference[i].template for i in indexes)
    return {"lines": len(indexes), "action": round(action / n, 5),
            "fields": round(fields / n, 5), "template": round(template / n, 5),
            "all": round(every / n, 5)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", type=Path, default=Path(
        os.environ.get("BENCH_DATA", "/tmp/logsentry-bench-data")))
    parser.add_argument("--shape", choices=("kind", "shape", "vocab", "input"), default="input",
                        help="what a variable position must share with the cached piece")
    parser.add_argument("--template-cache-size", type=int, default=None)
    parser.add_argument("--no-corpora", action="store_true", help="evaluation data only")
    parser.add_argument("--uncached-corpora", action="store_true",
                        help="also run the bench corpora with no cache at all (slow)")
    parser.add_argument("--show", type=int, default=0,
                        help="print this many disagreements (never of a sealed family)")
    parser.add_argument("--only", nargs="*", help="origins to run (default: all)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from fresh_values import write_fresh

    from logsentry.analysis.tagger.artifacts import load_model
    from logsentry.analysis.tagger.inference import ModelAnalyzer, configure_threads
    from logsentry.analysis.tagger.location import default_model_dir
    from logsentry.train.data.real import datasets_root
    from logsentry.train.data.splits import SEALED, split_of
    from logsentry.train.evaluation import (
        grouping_accuracy,
        read_crowdsec,
        read_fail2ban,
        read_loghub,
    )

    configure_threads(1)
    loaded = load_model(default_model_dir())

    def make(mode: str) -> ModelAnalyzer:
        if mode == "model":
            return ModelAnalyzer(loaded, cache_size=0)
        if mode == "structure":
            return ModelAnalyzer(loaded, cache_size=100_000, template_cache_size=0)
        return ModelAnalyzer(loaded, cache_size=100_000, template_shape=args.shape,
                             template_cache_size=args.template_cache_size)

    root = datasets_root()
    # name, lines, families, envelope
    origins: list[tuple[str, list[str], list[str], bool]] = []
    fail2ban = read_fail2ban(root)
    origins.append(("fail2ban", [r.line for r in fail2ban], [r.family for r in fail2ban], True))
    crowdsec = read_crowdsec(root)
    origins.append(("crowdsec", [r.line for r in crowdsec], [r.family for r in crowdsec], True))
    loghub = read_loghub(root)
    origins.append(("loghub", [r.content for r in loghub], [r.family for r in loghub], False))
    truth = {r.family: [] for r in loghub}  # type: dict[str, list[str]]
    for record in loghub:
        truth[record.family].append(record.event_id)
    if not args.no_corpora:
        fresh = args.corpora / "fresh200k.log"
        if not fresh.exists():
            write_fresh(args.corpora / "ssh200k.log", fresh)
        for name in ("ssh200k", "mixed200k", "fresh200k"):
            lines = (args.corpora / f"{name}.log").read_text(
                encoding="utf-8", errors="replace").splitlines()
            origins.append((name, lines, corpus_families(name, len(lines)), True))

    if args.only:
        origins = [origin for origin in origins if origin[0] in args.only]
    report: dict[str, Any] = {"shape": args.shape}
    shown = 0
    for name, lines, families, envelope in origins:
        corpus = name.endswith("200k")
        modes = ["structure", "template"]
        if not corpus or args.uncached_corpora:
            modes.insert(0, "model")
        out: dict[str, Any] = {"lines": len(lines)}
        results: dict[str, list[Any]] = {}
        for mode in modes:
            analyzer = make(mode)
            results[mode], seconds = label(analyzer, lines, envelope)
            stats = analyzer.cache_stats()
            out[mode] = {"seconds": round(seconds, 2),
                         "model_lines_per_line": round(stats["model_lines"] / len(lines), 4),
                         "template_hits": stats["template_hits"],
                         "templates": stats["template_size"]}
        everything = list(range(len(lines)))
        ours = results["template"]
        for reference in modes[:-1]:
            out[f"template_vs_{reference}"] = agreement(ours, results[reference], everything)
        if "model" in results:
            out["structure_vs_model"] = agreement(results["structure"], results["model"],
                                                  everything)
        # Aggregates by split of the evaluation (the sealed families: counts only).
        by_split: dict[str, list[int]] = defaultdict(list)
        for i, family in enumerate(families):
            by_split[split_of(family)].append(i)
        out[f"template_vs_{modes[0]}_by_split"] = {
            split: agreement(ours, results[modes[0]], indexes)
            for split, indexes in sorted(by_split.items())}
        if name == "loghub":
            for mode in modes:
                grouped: dict[str, list[str]] = defaultdict(list)
                for family, result in zip(families, results[mode], strict=True):
                    grouped[family].append(result.template)
                out[f"grouping_accuracy_{mode}"] = round(statistics.mean(
                    grouping_accuracy(grouped[f], truth[f]) for f in truth), 4)
        reference_mode = modes[0]
        for i in everything:
            if shown >= args.show:
                break
            if families[i] in SEALED:
                continue
            a, b = ours[i], results[reference_mode][i]
            if (a.action, a.fields, a.template) != (b.action, b.fields, b.template):
                shown += 1
                print(f"--- {families[i]}: {lines[i][:300]!r}\n  {reference_mode}: "
                      f"{b.action} {b.fields} {b.template!r}\n  template: {a.action} "
                      f"{a.fields} {a.template!r}", file=sys.stderr)
        report[name] = out
        print(f"{name}: {json.dumps(out)}", file=sys.stderr)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
