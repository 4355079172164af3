"""Speed and size of the distillation run's models, side by side, on this machine.

    .venv/bin/python bench/bench_distill.py --out DIR [--work /tmp/logsentry-distill]
        [--lines 3000] [--teacher-lines 400] [--threads 2] [--json out.json]

`DIR` is the `--out` folder of `logsentry model distill`. Every student is timed
on the same unique Loghub message bodies (no cache, batches of 64), float32 as
inference runs it; the teacher (from `--work`) on the first `--teacher-lines` of them. The
held-out quality figures are in `DIR/report.json` (written by the run itself).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

STUDENTS = ("student-control", "student-distilled", "student-pruned", "student-compressed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/logsentry-distill"))
    parser.add_argument("--lines", type=int, default=3000)
    parser.add_argument("--teacher-lines", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reference", type=Path, default=REPO / "models" / "logsentry-tagger")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from logsentry.analysis.tagger.artifacts import load_model
    from logsentry.analysis.tagger.inference import ModelAnalyzer, configure_threads
    from logsentry.analysis.tagger.location import files_size
    from logsentry.train.distill.measure import lines_per_second, unique_bodies
    from logsentry.train.network import parameter_count

    configure_threads(args.threads)
    bodies = unique_bodies(max(args.lines, args.teacher_lines))
    results: dict[str, Any] = {"threads": args.threads, "lines": args.lines}
    folders = {name: args.out / name for name in STUDENTS}
    folders["shipped"] = args.reference
    for name, folder in folders.items():
        if not (folder / "model.safetensors").is_file():
            continue
        loaded = load_model(folder)
        entry: dict[str, Any] = {"parameters": loaded.network.parameters,
                                 "file_bytes": files_size(folder)}
        speed = lines_per_second(ModelAnalyzer(loaded, cache_size=0), bodies[:args.lines])
        entry["fp32_lines_per_s"] = round(speed, 1)
        results[name] = entry
        print(name, entry, flush=True)
    teacher_dir = args.work / "teacher"
    if (teacher_dir / "teacher.json").is_file():
        from logsentry.train.distill.analyzer import teacher_analyzer

        teacher = teacher_analyzer(teacher_dir, cache_size=0)
        entry = {"parameters": parameter_count(teacher.teacher),
                 "file_bytes": sum(f.stat().st_size for f in teacher_dir.rglob("*")
                                   if f.is_file()),
                 "fp32_lines_per_s": round(lines_per_second(
                     teacher, bodies[:args.teacher_lines]), 1)}
        results["teacher"] = entry
        print("teacher", entry, flush=True)
        distilled = results.get("student-compressed") or results.get("student-distilled")
        if distilled:
            results["speedup_vs_teacher"] = round(
                distilled["fp32_lines_per_s"] / entry["fp32_lines_per_s"], 1)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
