"""The teacher, the control and the distilled model of a full training run, side by side.

    .venv/bin/python bench/compare_distilled.py --work /tmp/logsentry-distill \\
        --control models/logsentry-tagger --distilled DIR [--json out.json]

`--control` is `logsentry model train` without `--teacher`, `--distilled` the same
command with `--teacher WORK` (same seed, data and labelled batches). Every model is
measured the same way as `logsentry model distill` measures its students: the held-out
report (`distill.measure.held_out_report`, envelope parsing first) and unique lines per
second on the same Loghub message bodies (no cache, batches of 64). The teacher is
timed on the first `--teacher-lines` bodies: it is slow.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/logsentry-distill"))
    parser.add_argument("--control", type=Path, default=REPO / "models" / "logsentry-tagger")
    parser.add_argument("--distilled", type=Path, required=True)
    parser.add_argument("--lines", type=int, default=3000)
    parser.add_argument("--teacher-lines", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from logsentry.analysis.tagger.artifacts import load_model
    from logsentry.analysis.tagger.inference import ModelAnalyzer, configure_threads
    from logsentry.analysis.tagger.location import files_size
    from logsentry.train.distill.analyzer import teacher_analyzer
    from logsentry.train.distill.measure import (
        held_out_datasets,
        held_out_report,
        lines_per_second,
        summary,
        unique_bodies,
    )
    from logsentry.train.network import parameter_count

    configure_threads(args.threads)
    datasets = held_out_datasets(args.work / "held_out_datasets")
    bodies = unique_bodies(max(args.lines, args.teacher_lines))
    rows: dict[str, dict[str, Any]] = {}

    def measure(name: str, analyzer: Any, fresh: Any, parameters: int, size: int,
                lines: int) -> None:
        row: dict[str, Any] = {"parameters": parameters, "file_bytes": size}
        row["lines_per_s"] = round(lines_per_second(fresh(), bodies[:lines]), 1)
        row["held_out"] = summary(held_out_report(analyzer, datasets).to_dict())
        rows[name] = row
        print(name, json.dumps(row), flush=True)

    teacher_dir = args.work / "teacher"
    teacher = teacher_analyzer(teacher_dir)
    measure("teacher", teacher, lambda: teacher_analyzer(teacher_dir, cache_size=0),
            parameter_count(teacher.teacher),
            sum(f.stat().st_size for f in teacher_dir.rglob("*") if f.is_file()),
            args.teacher_lines)
    for name, folder in (("control", args.control), ("distilled", args.distilled)):
        loaded = load_model(folder)
        measure(name, ModelAnalyzer(loaded),
                lambda loaded=loaded: ModelAnalyzer(loaded, cache_size=0),
                loaded.network.parameters, files_size(folder), args.lines)
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
