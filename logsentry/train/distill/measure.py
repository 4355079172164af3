"""The figures of the model card table, measured the same way for every model.

- validation evaluation: `evaluation.evaluate` on the validation split of the
  held-out families only (a copy of `../shared/datasets` restricted to
  `data.splits.VALIDATION`: the slow teacher labels no line whose figures are not
  reported, and no sealed line at all), lines envelope-parsed first as in `analyze`;
- speed: unique Loghub message bodies, no cache, batches of 64, 2 threads;
- size: parameters and bytes on disk.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from logsentry.analysis.base import Analyzer
from logsentry.train.data.real import datasets_root
from logsentry.train.data.splits import VALIDATION
from logsentry.train.evaluation import Report, evaluate

SPEED_BATCH = 64  # the pipeline's default analysis.max_batch, as bench/bench_model.py


def held_out_datasets(target: Path, root: Path | None = None) -> Path:
    """`target` made a copy of the datasets restricted to the validation families (links
    for folders, filtered files for fail2ban's per-filter JSON lines)."""
    root = root or datasets_root()
    if (target / ".complete").is_file():
        return target
    target.mkdir(parents=True, exist_ok=True)
    f2b = target / "fail2ban"
    f2b.mkdir(exist_ok=True)
    for path in sorted((root / "fail2ban").glob("*.jsonl")):
        kept = []
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if raw.strip():
                doc = json.loads(raw)
                if f"fail2ban:{doc.get('family') or path.stem}" in VALIDATION:
                    kept.append(raw)
        if kept:
            (f2b / path.name).write_text("\n".join(kept) + "\n", encoding="utf-8")
    for kind in ("crowdsec", "loghub"):
        (target / kind).mkdir(exist_ok=True)
        for folder in sorted((root / kind).iterdir()) if (root / kind).is_dir() else []:
            link = target / kind / folder.name
            if folder.is_dir() and f"{kind}:{folder.name}" in VALIDATION and not link.exists():
                link.symlink_to(folder.resolve(), target_is_directory=True)
    (target / ".complete").write_text("", encoding="utf-8")
    return target


def held_out_report(analyzer: Analyzer, root: Path,
                    progress: Callable[[str], None] | None = None) -> Report:
    """The evaluation to decide on: the validation split of the held-out families."""
    return evaluate(analyzer, {"validation": VALIDATION}, root, progress=progress,
                    envelope=True)


def unique_bodies(count: int, root: Path | None = None) -> list[str]:
    """Distinct message bodies of the Loghub raw logs (envelope parsed), shuffled by seed 1."""
    from logsentry.envelope import EnvelopeParser

    root = root or datasets_root()
    parser = EnvelopeParser()
    lines: list[str] = []
    for path in sorted((root / "loghub").glob("*/*_2k.log")):
        lines += path.read_text(encoding="utf-8", errors="replace").splitlines()
    bodies = sorted({parser.parse(line, 0.0).body for line in lines})
    random.Random(1).shuffle(bodies)
    return bodies[:count]


def lines_per_second(analyzer: Analyzer, lines: list[str]) -> float:
    """Throughput of `analyzer` over `lines` in batches of `SPEED_BATCH` (after a warm-up)."""
    analyzer.analyze_batch(lines[:SPEED_BATCH])
    started = time.perf_counter()
    for begin in range(0, len(lines), SPEED_BATCH):
        analyzer.analyze_batch(lines[begin:begin + SPEED_BATCH])
    return len(lines) / (time.perf_counter() - started)


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The held-out headline figures of a report: offense recall/FPR/F1 and host accuracy
    (fail2ban), CrowdSec field accuracies and their mean, Loghub GA average."""
    out: dict[str, Any] = {}
    f2b = report.get("fail2ban", {}).get("validation") or {}
    if f2b:
        recall, fpr = f2b.get("recall"), f2b.get("fpr")
        pos, neg = int(f2b.get("offenses", 0)), int(f2b.get("negatives", 0))
        tp = round((recall or 0.0) * pos)
        fp = round((fpr or 0.0) * neg)
        precision = tp / (tp + fp) if tp + fp else 0.0
        r = tp / pos if pos else 0.0
        out["fail2ban_recall"] = recall
        out["fail2ban_fpr"] = fpr
        out["fail2ban_offense_f1"] = round(2 * precision * r / (precision + r), 4) \
            if precision + r else 0.0
        out["fail2ban_host_accuracy"] = f2b.get("host_accuracy")
    cs = report.get("crowdsec", {}).get("validation") or {}
    if cs:
        fields = {name: v["accuracy"] for name, v in cs.items()
                  if isinstance(v, dict) and "accuracy" in v}
        out["crowdsec_fields"] = fields
        values = [v for v in fields.values() if v is not None]
        out["crowdsec_mean_accuracy"] = round(sum(values) / len(values), 4) if values else None
    lh = report.get("loghub", {}).get("validation") or {}
    if lh:
        out["loghub_ga"] = lh.get("average")
    return out
