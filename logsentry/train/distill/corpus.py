"""The data of a distillation run: a labelled set and a larger unlabelled corpus.

Labelled: synthetic examples of the generator plus the real training examples of
`../shared/datasets` (fail2ban and CrowdSec lines of training families, and a
sample of the Loghub training systems). Unlabelled: raw real lines of the
*training* families only (Loghub raw logs with their headers, fail2ban samples,
CrowdSec test lines) and freshly generated lines whose labels are dropped. No
line of a held-out family (`data.splits.HELD_OUT`) ever enters either set.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from logsentry.train.data.real import datasets_root, training_examples
from logsentry.train.data.splits import HELD_OUT
from logsentry.train.data.synthetic import generate
from logsentry.train.evaluation import read_crowdsec, read_fail2ban
from logsentry.train.example import Example


@dataclass(slots=True)
class CorpusSizes:
    """How much of each kind of data one run uses."""

    synthetic: int = 6000
    loghub_labelled: int = 1000
    unlabelled_real: int = 4000
    unlabelled_generated: int = 2000


@dataclass(slots=True)
class Corpus:
    labelled: list[Example]
    unlabelled: list[str]
    unlabelled_origins: dict[str, int]


def real_raw_lines(root: Path | None = None) -> list[tuple[str, str]]:
    """`(family, line)` of every raw real line of a training (not held-out) family."""
    root = root or datasets_root()
    out: list[tuple[str, str]] = []
    if (root / "fail2ban").is_dir():
        out += [(r.family, r.line) for r in read_fail2ban(root)]
    if (root / "crowdsec").is_dir():
        out += [(r.family, r.line) for r in read_crowdsec(root)]
    for path in sorted((root / "loghub").glob("*/*_2k.log")):
        family = f"loghub:{path.parent.name}"
        text = path.read_text(encoding="utf-8", errors="replace")
        out += [(family, line) for line in text.splitlines() if line.strip()]
    return [(family, line) for family, line in out if family not in HELD_OUT]


def build_corpus(seed: int, sizes: CorpusSizes, root: Path | None = None) -> Corpus:
    """The labelled set and the unlabelled corpus of a run, reproducible from `seed`."""
    rng = random.Random(seed)
    labelled = generate(sizes.synthetic, seed)
    real = [e for e in training_examples(seed=seed, root=root) if e.family not in HELD_OUT]
    annotated = [e for e in real if e.origin in ("fail2ban", "crowdsec")]
    loghub = [e for e in real if e.origin == "loghub"]
    rng.shuffle(loghub)
    labelled += annotated + loghub[:sizes.loghub_labelled]
    rng.shuffle(labelled)
    raw = real_raw_lines(root)
    rng.shuffle(raw)
    picked = raw[:sizes.unlabelled_real]
    origins: dict[str, int] = {}
    for family, _ in picked:
        key = family.split(":", 1)[0]
        origins[key] = origins.get(key, 0) + 1
    # Another seed than the labelled set's: new lines, not copies.
    generated = [e.text for e in generate(sizes.unlabelled_generated, seed + 7919)]
    origins["generated"] = len(generated)
    unlabelled = [line for _, line in picked] + generated
    rng.shuffle(unlabelled)
    return Corpus(labelled, unlabelled, origins)
