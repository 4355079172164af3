"""The fail2ban negatives a model flags as offenses, on TRAINING families only.

The false-positive rate is what users meet first on normal logs; reading which lines
raise it tells what the generator lacks. Only training families may be read that way:
a line of a validation or sealed family is never printed here, whatever is asked
(`training_only` refuses them), so the held-out figures stay honest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from logsentry.analysis.base import Analyzer
from logsentry.core.errors import LogsentryError
from logsentry.train.data.splits import split_of
from logsentry.train.evaluation import Fail2banRecord, is_offense, label_lines


class HeldOutFamilyError(LogsentryError):
    """A held-out (validation or sealed) family was asked for where only training
    families may be read."""


@dataclass(frozen=True, slots=True)
class FlaggedNegative:
    family: str
    action: str
    line: str


@dataclass(slots=True)
class TrainingFalsePositives:
    negatives: int
    flagged: list[FlaggedNegative]
    negatives_by_family: Counter[str]

    @property
    def fpr(self) -> float | None:
        return round(len(self.flagged) / self.negatives, 4) if self.negatives else None

    def by_family(self) -> Counter[str]:
        return Counter(item.family for item in self.flagged)

    def by_action(self) -> Counter[str]:
        return Counter(item.action for item in self.flagged)


def training_only(records: Sequence[Fail2banRecord], families: Sequence[str] = (),
                  ) -> list[Fail2banRecord]:
    """The records of training families (of `families` when given). Raises
    `HeldOutFamilyError` when `families` names a held-out one; held-out records are
    dropped silently otherwise (they are simply not this tool's to read)."""
    wanted = set(families)
    refused = sorted(name for name in wanted if split_of(name) != "train")
    if refused:
        raise HeldOutFamilyError(
            f"held-out families may not be read: {len(refused)} asked for")
    return [r for r in records if split_of(r.family) == "train"
            and (not wanted or r.family in wanted)]


def training_false_positives(analyzer: Analyzer, records: Sequence[Fail2banRecord],
                             envelope: bool = True) -> TrainingFalsePositives:
    """Label the negatives of `records` (training families only) as `analyze` would and
    keep the ones read as offenses."""
    negatives = [r for r in training_only(records) if not r.match]
    results = label_lines(analyzer, [r.line for r in negatives], envelope)
    flagged = [FlaggedNegative(r.family, labelled.action, r.line)
               for r, labelled in zip(negatives, results, strict=True)
               if is_offense(labelled.action)]
    return TrainingFalsePositives(len(negatives), flagged,
                                  Counter(r.family for r in negatives))


def format_false_positives(found: TrainingFalsePositives, show_lines: bool = True) -> str:
    lines = [f"training families: {len(found.flagged)} of {found.negatives} negatives read as"
             f" offenses (fpr {found.fpr})"]
    lines.append("by action: " + ", ".join(f"{a} {n}" for a, n in found.by_action().most_common()))
    flagged = found.by_family()
    for family, total in sorted(found.negatives_by_family.items()):
        lines.append(f"  {family}: {flagged.get(family, 0)}/{total}")
    if show_lines:
        for item in found.flagged:
            lines.append(f"{item.family}\t{item.action}\t{item.line}")
    return "\n".join(lines)
