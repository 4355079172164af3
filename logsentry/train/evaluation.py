"""Evaluation on the real datasets of `../shared/datasets`, whatever of them is present.

- fail2ban sample logs: offense recall and false-positive rate (a line is an
  offense when its action's outcome is `failure` or its category contains
  `intrusion_detection`; the truth is the sample's `match`), and host accuracy
  (labelled offense lines whose `source.ip` or `source.address` equals `host`);
- CrowdSec parser tests: exact-match accuracy per field;
- Loghub: grouping accuracy of the templates per system and on average, on the
  `Content` column (the message alone) and on the raw lines of `<System>_2k.log`, header
  and all, as a daemon tails them (envelope parsing, then the model, as `logsentry
  analyze` labels a line).

Every figure is reported on all families and on named subsets of them, the
held-out splits of `data.splits` (`validation`, `sealed`), which are the honest
ones; micro over lines and macro over families. A subset named `sealed`, and the
whole (`all`, which holds the sealed families too), keep aggregates only: no line,
no family name, no per-family figure of theirs leaves `evaluate`.
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logsentry.analysis.base import Analyzer
from logsentry.core.actions import ACTIONS
from logsentry.core.analysis import Analysis
from logsentry.train.data.real import CROWDSEC_FIELDS, datasets_root
from logsentry.train.example import Example


def is_offense(action: str) -> bool:
    """A line fail2ban would count: failed outcome or an intrusion-detection category."""
    info = ACTIONS.get(action, ACTIONS["other"])
    return info.outcome == "failure" or "intrusion_detection" in info.category


@dataclass(slots=True)
class Fail2banRecord:
    family: str  # "fail2ban:<filter>"
    line: str
    match: bool
    host: str | None


@dataclass(slots=True)
class CrowdsecRecord:
    family: str  # "crowdsec:<test>"
    line: str
    expected: dict[str, str]  # ECS name -> expected text


@dataclass(slots=True)
class LoghubRecord:
    family: str  # "loghub:<System>"
    content: str
    event_id: str
    raw: str | None = None  # the line of `<System>_2k.log`, when that file is there


def read_fail2ban(root: Path) -> list[Fail2banRecord]:
    out: list[Fail2banRecord] = []
    for path in sorted((root / "fail2ban").glob("*.jsonl")):
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if not raw.strip():
                continue
            doc = json.loads(raw)
            host = doc.get("host")
            out.append(Fail2banRecord(
                f"fail2ban:{doc.get('family') or path.stem}", str(doc["line"]), bool(doc["match"]),
                str(host) if host is not None else None))
    return out


def read_crowdsec(root: Path) -> list[CrowdsecRecord]:
    out: list[CrowdsecRecord] = []
    for path in sorted((root / "crowdsec").glob("*/expected.jsonl")):
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if not raw.strip():
                continue
            doc = json.loads(raw)
            if not doc.get("parsed", True):
                continue
            expected: dict[str, str] = {}
            for source in ("parsed_fields", "meta"):  # meta wins: it is what scenarios read
                values = doc.get(source) or {}
                for name, ecs in CROWDSEC_FIELDS.items():
                    if values.get(name) not in (None, ""):
                        expected[ecs] = str(values[name])
            if expected:
                out.append(CrowdsecRecord(f"crowdsec:{path.parent.name}", str(doc["line"]),
                                          expected))
    return out


def read_loghub(root: Path) -> list[LoghubRecord]:
    out: list[LoghubRecord] = []
    for path in sorted((root / "loghub").glob("*/*_2k.log_structured.csv")):
        system = path.parent.name
        with path.open(encoding="utf-8", errors="replace", newline="") as handle:
            rows = list(csv.DictReader(handle))
        raw = read_raw_lines(path.with_name(path.name.removesuffix("_structured.csv")))
        if raw is not None and len(raw) != len(rows):
            raw = None  # not the same lines: no raw figure rather than a wrong one
        for i, row in enumerate(rows):
            out.append(LoghubRecord(f"loghub:{system}", row["Content"], row["EventId"],
                                    raw[i] if raw is not None else None))
    return out


def read_raw_lines(path: Path) -> list[str] | None:
    """The lines of a log file as the file source reads them: split at newlines only (not
    at the other characters `str.splitlines` takes), a carriage return before the newline
    dropped, invalid bytes replaced. None when the file is not there."""
    if not path.is_file():
        return None
    lines = path.read_bytes().decode("utf-8", errors="replace").split("\n")
    if lines and not lines[-1]:
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def grouping_accuracy(predicted: Sequence[str], truth: Sequence[str]) -> float:
    """Share of lines whose predicted group has exactly the lines of their true group."""
    if not truth:
        return 0.0
    by_pred: dict[str, set[int]] = defaultdict(set)
    by_true: dict[str, set[int]] = defaultdict(set)
    for i, (p, t) in enumerate(zip(predicted, truth, strict=True)):
        by_pred[p].add(i)
        by_true[t].add(i)
    correct = 0
    for group in by_true.values():
        first = next(iter(group))
        if by_pred[predicted[first]] == group:
            correct += len(group)
    return correct / len(truth)


@dataclass(slots=True)
class Labelled:
    """What `analyze` reports about one line: action and ECS fields as text."""

    action: str
    fields: dict[str, str]
    template: str


def label_lines(
    analyzer: Analyzer, lines: Sequence[str], envelope: bool, batch: int = 256,
) -> list[Labelled]:
    """Label lines as `logsentry analyze` does: with `envelope`, parse the envelope first,
    run the analyzer on the body and merge (envelope fields win); else analyze raw lines."""
    if not envelope:
        return [Labelled(a.action, dict(a.fields), a.template)
                for a in analyze_all(analyzer, lines, batch)]
    from logsentry.envelope import EnvelopeParser

    parser = EnvelopeParser()
    events = [parser.parse(line, 0.0) for line in lines]
    results = analyze_all(analyzer, [event.body for event in events], batch)
    out: list[Labelled] = []
    for event, analysis in zip(events, results, strict=True):
        event.apply(analysis)
        out.append(Labelled(event.action, {k: str(v) for k, v in event.fields.items()},
                            event.template))
    return out


def _batched(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for begin in range(0, len(items), size):
        yield items[begin:begin + size]


def analyze_all(analyzer: Analyzer, lines: Sequence[str], batch: int = 256) -> list[Analysis]:
    out: list[Analysis] = []
    for chunk in _batched(lines, batch):
        out.extend(analyzer.analyze_batch(list(chunk)))
    return out


@dataclass(slots=True)
class Report:
    """All figures of one evaluation run (JSON-ready)."""

    datasets: str
    held_out: list[str]
    envelope: bool
    subsets: list[str] = field(default_factory=list)
    fail2ban: dict[str, Any] = field(default_factory=dict)
    crowdsec: dict[str, Any] = field(default_factory=dict)
    loghub: dict[str, Any] = field(default_factory=dict)
    # Grouping accuracy on the raw lines (`<System>_2k.log`), header and all.
    loghub_raw: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"datasets": self.datasets, "held_out": self.held_out, "envelope": self.envelope,
                "fail2ban": self.fail2ban, "crowdsec": self.crowdsec, "loghub": self.loghub,
                "loghub_raw": self.loghub_raw}


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def fail2ban_figures(records: Sequence[Fail2banRecord], results: Sequence[Labelled]) -> dict[
        str, Any]:
    pos = neg = tp = fp = host_n = host_ok = 0
    # fail2ban's sample logs test a filter in several modes: the same text can be a
    # non-match in one mode and a match in another (dovecot's aggressive mode). No single
    # answer per line gets both records right; such negatives are counted apart.
    matched = {record.line for record in records if record.match}
    contradicted = fp_contradicted = 0
    misses: list[str] = []
    for record, analysis in zip(records, results, strict=True):
        offense = is_offense(analysis.action)
        if record.match:
            pos += 1
            tp += offense
            if not offense and len(misses) < 5:
                misses.append(record.line[:160])
        else:
            neg += 1
            fp += offense
            if record.line in matched:
                contradicted += 1
                fp_contradicted += offense
        if record.match and record.host is not None:
            host_n += 1
            found = {analysis.fields.get("source.ip"), analysis.fields.get("source.address")}
            host_ok += record.host in found
    return {"lines": len(records), "offenses": pos, "recall": _ratio(tp, pos),
            "fpr": _ratio(fp, neg), "negatives": neg,
            "negatives_matched_elsewhere": contradicted,
            "fpr_without_them": _ratio(fp - fp_contradicted, neg - contradicted),
            "host_accuracy": _ratio(host_ok, host_n),
            "host_lines": host_n, "missed_examples": misses}


def crowdsec_figures(records: Sequence[CrowdsecRecord], results: Sequence[Labelled]) -> dict[
        str, Any]:
    total: Counter[str] = Counter()
    right: Counter[str] = Counter()
    for record, analysis in zip(records, results, strict=True):
        for name, value in record.expected.items():
            total[name] += 1
            right[name] += analysis.fields.get(name) == value
    return {name: {"accuracy": _ratio(right[name], total[name]), "n": total[name]}
            for name in CROWDSEC_FIELDS.values() if total[name]}


def loghub_figures(records: Sequence[LoghubRecord], results: Sequence[Labelled]) -> dict[
        str, Any]:
    by_system: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for record, analysis in zip(records, results, strict=True):
        predicted, truth = by_system[record.family]
        predicted.append(analysis.template)
        truth.append(record.event_id)
    systems = {name: round(grouping_accuracy(p, t), 4) for name, (p, t) in
               sorted(by_system.items())}
    average = round(sum(systems.values()) / len(systems), 4) if systems else None
    return {"systems": systems, "average": average}


def _subset(records: Sequence[Any], families: set[str]) -> list[int]:
    return [i for i, r in enumerate(records) if r.family in families]


def macro_figures(records: Sequence[Any], results: Sequence[Labelled],
                  figures: Callable[[Sequence[Any], Sequence[Labelled]], dict[str, Any]],
                  ) -> dict[str, Any]:
    """The mean over families of each number `figures` gives per family (nested one level
    deep, as CrowdSec's per-field accuracies), ignoring families where it is undefined."""
    by_family: dict[str, list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        by_family[record.family].append(i)
    sums: dict[str, list[float]] = defaultdict(list)
    for chosen in by_family.values():
        per = figures([records[i] for i in chosen], [results[i] for i in chosen])
        for key, value in sealed_view(per).items():
            if isinstance(value, dict):
                for inner, number in value.items():
                    if isinstance(number, float):
                        sums[f"{key}.{inner}"].append(number)
            elif isinstance(value, float):
                sums[key].append(value)
    return {key: round(sum(values) / len(values), 4) for key, values in sorted(sums.items())}


SEALED_SUBSET = "sealed"
"""The subset name whose figures stay aggregate: what a sealed report may show."""


def sealed_view(figures: dict[str, Any]) -> dict[str, Any]:
    """`figures` without anything that shows a line or names a family."""
    hidden = {"missed_examples", "systems"}
    return {key: value for key, value in figures.items() if key not in hidden}


def evaluate(
    analyzer: Analyzer, subsets: Mapping[str, Iterable[str]], root: Path | None = None,
    progress: Callable[[str], None] | None = None, envelope: bool = True,
) -> Report:
    """Run every present dataset through `analyzer`; figures on all lines and on each named
    subset of families (e.g. `{"held_out": HELD_OUT, "unseen": HELD_OUT_UNSEEN}`).

    fail2ban and CrowdSec lines go through envelope parsing first when `envelope` (as in
    `logsentry analyze`); Loghub's `Content` column is already a message body."""
    say = progress or (lambda _m: None)
    root = root or datasets_root()
    named = {name: set(families) for name, families in subsets.items()}
    shown = [families for name, families in named.items() if name != SEALED_SUBSET]
    report = Report(str(root), sorted(set().union(*shown)), envelope)

    def split(records: Sequence[Any], results: Sequence[Labelled],
              figures: Callable[[Sequence[Any], Sequence[Labelled]], dict[str, Any]],
              ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, families in named.items():
            chosen = _subset(records, families)
            part = ([records[i] for i in chosen], [results[i] for i in chosen])
            micro, macro = figures(*part), macro_figures(*part, figures)
            if name == SEALED_SUBSET:
                out[name] = {**sealed_view(micro), "macro": macro,
                             "families": len({r.family for r in part[0]})}
            else:
                out[name] = {**micro, "macro": macro}
                out[f"{name}_families"] = sorted({r.family for r in part[0]})
        # Every family, sealed ones included: aggregates only.
        out["all"] = {**sealed_view(figures(records, results)), "macro": macro_figures(
            records, results, figures)}
        return out

    if (root / "fail2ban").is_dir():
        records = read_fail2ban(root)
        say(f"fail2ban: {len(records)} lines")
        results = label_lines(analyzer, [r.line for r in records], envelope)
        report.fail2ban = split(records, results, fail2ban_figures)
    if (root / "crowdsec").is_dir():
        cs_records = read_crowdsec(root)
        say(f"crowdsec: {len(cs_records)} events")
        results = label_lines(analyzer, [r.line for r in cs_records], envelope)
        report.crowdsec = split(cs_records, results, crowdsec_figures)
    if (root / "loghub").is_dir():
        lh_records = read_loghub(root)
        say(f"loghub: {len(lh_records)} lines")
        results = label_lines(analyzer, [r.content for r in lh_records], False)
        report.loghub = split(lh_records, results, loghub_figures)
        raw_records = [r for r in lh_records if r.raw is not None]
        if raw_records:
            say(f"loghub raw lines: {len(raw_records)} lines")
            results = label_lines(analyzer, [r.raw or "" for r in raw_records], envelope)
            report.loghub_raw = split(raw_records, results, loghub_figures)
    report.subsets = [*named, "all"]
    return report


def format_report(report: Report) -> str:
    """A readable summary of a report."""
    mode = "envelope parsing + model on the body" if report.envelope else "model on raw lines"
    lines = [f"datasets: {report.datasets} ({mode})"]
    for part in report.subsets:
        lines.append(f"== {part} ==")
        f2b = report.fail2ban.get(part)
        if f2b:
            lines.append(
                f"fail2ban: recall {f2b['recall']} fpr {f2b['fpr']} host accuracy"
                f" {f2b['host_accuracy']} ({f2b['offenses']} offenses, {f2b['negatives']}"
                f" negatives, {f2b['lines']} lines; fpr {f2b['fpr_without_them']} without the"
                f" {f2b['negatives_matched_elsewhere']} negatives whose text is a match in"
                f" another filter mode)")
            macro = f2b["macro"]
            lines.append(
                f"fail2ban macro over families: recall {macro.get('recall')} fpr"
                f" {macro.get('fpr')} host accuracy {macro.get('host_accuracy')}")
        cs = report.crowdsec.get(part)
        if cs:
            fields = {name: v for name, v in cs.items() if isinstance(v, dict) and "n" in v}
            lines.append("crowdsec: " + ", ".join(
                f"{name} {v['accuracy']} (n={v['n']})" for name, v in fields.items()))
            lines.append("crowdsec macro over families: " + ", ".join(
                f"{name} {cs['macro'].get(f'{name}.accuracy')}" for name in fields))
        lh = report.loghub.get(part)
        if lh and lh.get("average") is not None:
            shown = ", ".join(f"{name.split(':', 1)[1]} {ga}"
                              for name, ga in lh.get("systems", {}).items())
            lines.append(f"loghub GA average over systems {lh['average']}"
                         + (f": {shown}" if shown else ""))
        raw = report.loghub_raw.get(part)
        if raw and raw.get("average") is not None:
            shown = ", ".join(f"{name.split(':', 1)[1]} {ga}"
                              for name, ga in raw.get("systems", {}).items())
            lines.append(f"loghub GA on raw lines, average over systems {raw['average']}"
                         + (f": {shown}" if shown else ""))
    return "\n".join(lines)


def example_metrics(analyzer: Analyzer, examples: Sequence[Example]) -> dict[str, Any]:
    """Entity micro precision/recall/F1 (exact text, first mention per role), action accuracy
    and template exact match of `analyzer` on labelled examples."""
    results = analyze_all(analyzer, [e.text for e in examples])
    tp = fp = fn = 0
    actions_right = actions_n = 0
    per_role: dict[str, Counter[str]] = defaultdict(Counter)
    for example, analysis in zip(examples, results, strict=True):
        gold = gold_fields(example)
        for name, value in analysis.fields.items():
            if gold.get(name) == value:
                tp += 1
                per_role[name]["tp"] += 1
            else:
                fp += 1
                per_role[name]["fp"] += 1
        for name, value in gold.items():
            if analysis.fields.get(name) != value:
                fn += 1
                per_role[name]["fn"] += 1
        if example.action_known:
            actions_n += 1
            actions_right += analysis.action == example.action
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    roles = {}
    for name, c in sorted(per_role.items()):
        p_den, r_den = c["tp"] + c["fp"], c["tp"] + c["fn"]
        p = c["tp"] / p_den if p_den else 0.0
        r = c["tp"] / r_den if r_den else 0.0
        roles[name] = round(2 * p * r / (p + r), 4) if p + r else 0.0
    return {"examples": len(examples), "entity_precision": round(precision, 4),
            "entity_recall": round(recall, 4), "entity_f1": round(f1, 4),
            "action_accuracy": _ratio(actions_right, actions_n), "role_f1": roles}


def gold_fields(example: Example) -> dict[str, str]:
    """The fields an analyzer should output for `example` (first mention of each role)."""
    fields: dict[str, str] = {}
    if not example.roles_known:
        return fields
    for span in example.spans:
        if span.label in ("variable", "timestamp") or span.label in fields:
            continue
        fields[span.label] = example.text[span.start:span.end]
    return fields
