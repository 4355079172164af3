"""Loading Sigma rules: files parsed and validated by pySigma, each rule compiled or
skipped with its file and reason.

pySigma (the reference implementation of the specification) reads the YAML,
checks the rule's structure, modifiers and condition, and gives the condition
tree; `match` compiles that tree, `mapping` the log source, `prefilter` the
literals. A rule that any of them cannot use (a parse error, an unknown log source,
a construct in-memory evaluation does not run) is listed as skipped with its
reason, never raised: one bad rule of a shared collection must not stop the others.
A missing file or folder is a configuration error, as for native rules.

Each usable rule also becomes a native `Rule` (single-event correlation, grouped
and suppressed as configured) so that the detector keeps its state, saves it and
builds its alerts like any other rule's. Correlation rules are compiled once every
file is read, since they name rules of any file (`correlation`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationConditionOperator, SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.filters import SigmaFilter
from sigma.rule import SigmaRule

from logsentry.core.errors import ConfigError
from logsentry.core.event import Event
from logsentry.detect.literals import Need
from logsentry.detect.rule import Rule
from logsentry.detect.sigma.aggregation import UNSPLIT_AGGREGATION, split_aggregations
from logsentry.detect.sigma.config import SigmaConfig
from logsentry.detect.sigma.correlation import (
    RANGE_KEY,
    CorrelationSpec,
    UnsupportedCorrelation,
    build_correlation,
)
from logsentry.detect.sigma.coverage import FieldWarning, rule_fields, unreadable_fields
from logsentry.detect.sigma.mapping import FieldMapper, LogSourceError, logsource_test
from logsentry.detect.sigma.match import UnsupportedRule, compile_conditions
from logsentry.detect.sigma.prefilter import found_means_match, required_literals

SUFFIXES = (".yml", ".yaml")
# Sigma levels -> logsentry severities.
SEVERITIES = {"informational": "low", "low": "low", "medium": "medium", "high": "high",
              "critical": "critical"}
_TECHNIQUE = re.compile(r"^t\d{4}(\.\d{3})?$")
_SLUG = re.compile(r"[^a-z0-9_.-]+")
# A rule's description in its alerts' summary, at most.
SUMMARY_DESCRIPTION_CHARS = 300

LogSourceKey = tuple[str | None, str | None, str | None]
_CONDITION_OPERATORS = frozenset(op.name.lower() for op in SigmaCorrelationConditionOperator)


@dataclass(frozen=True)
class SkippedRule:
    """A rule that is not run, and why."""

    path: str
    title: str
    reason: str


@dataclass
class SigmaRuleSpec:
    """One usable Sigma rule: what it is, how it matches, and its native form."""

    path: str
    sigma: SigmaRule
    rule: Rule
    predicate: Callable[[Event], bool]
    need: Need
    logsource_key: LogSourceKey
    logsource: Callable[[Event], bool] | None
    # Whether a literal of `need` found in an event's message is the rule's verdict
    # (plain keywords: `prefilter.found_means_match`).
    decided_by_literal: bool = False


@dataclass
class LoadedSigma:
    """Everything loaded from the configured Sigma paths."""

    rules: list[SigmaRuleSpec] = field(default_factory=list)
    correlations: list[CorrelationSpec] = field(default_factory=list)
    skipped: list[SkippedRule] = field(default_factory=list)
    # Fields of loaded rules that no event of their log source carries (`coverage`).
    warnings: list[FieldWarning] = field(default_factory=list)


def sigma_files(paths: list[Path]) -> list[Path]:
    """The Sigma rule files under `paths` (folders searched recursively, name order)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES
                                and p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise ConfigError(f"{path}: Sigma rule file or folder not found")
    return files


def load_sigma(config: SigmaConfig, paths: list[Path] | None = None) -> LoadedSigma:
    """Parse, validate and compile every Sigma rule of the configured paths (or `paths`)."""
    mapper = FieldMapper(config.field_targets())
    services = {name.lower(): tuple(programs) for name, programs in config.services.items()}
    loaded = LoadedSigma()
    seen: dict[str, str] = {}
    correlations: list[tuple[str, SigmaCorrelationRule]] = []
    for path in sigma_files(paths if paths is not None else [Path(p) for p in config.rules]):
        for item in _parse_file(path, loaded):
            if isinstance(item, SigmaCorrelationRule):
                correlations.append((str(path), item))
                continue
            spec = _compile(str(path), item, mapper, services, config, loaded)
            if spec is None:
                continue
            if spec.rule.id in seen:
                loaded.skipped.append(SkippedRule(
                    str(path), item.title, f"duplicate id {spec.rule.id} (also in "
                                           f"{seen[spec.rule.id]})"))
                continue
            seen[spec.rule.id] = str(path)
            loaded.rules.append(spec)
    _compile_correlations(correlations, mapper, config, loaded, seen)
    return loaded


def _compile_correlations(
    items: list[tuple[str, SigmaCorrelationRule]], mapper: FieldMapper, config: SigmaConfig,
    loaded: LoadedSigma, seen: dict[str, str],
) -> None:
    """Compile the correlation rules against the rules they name (by id or name): loaded
    rules, and correlation rules compiled before them (a chain), in dependency order."""
    index: dict[str, int] = {}

    def known(rule: Any, position: int) -> None:
        if rule.name:
            index.setdefault(str(rule.name), position)
        if rule.id is not None:
            index[str(rule.id).lower()] = position

    for position, spec in enumerate(loaded.rules):
        known(spec.sigma, position)
    # The alert ids of what a reference resolves to: the rules, then the correlations.
    source_ids = [spec.rule.id for spec in loaded.rules]

    def source_of(reference: str) -> int | None:
        found = index.get(reference)
        return found if found is not None else index.get(reference.lower())

    # The correlations each one names, to compile those first.
    names: dict[str, int] = {}
    for number, (_, sigma) in enumerate(items):
        if sigma.name:
            names.setdefault(str(sigma.name), number)
        if sigma.id is not None:
            names[str(sigma.id).lower()] = number
    needs = [{names[key] for ref in sigma.rules or ()
              for key in (ref.reference, ref.reference.lower()) if key in names} - {number}
             for number, (_, sigma) in enumerate(items)]
    waiting = dict(enumerate(items))
    while waiting:
        ready = [number for number in waiting if not needs[number] & waiting.keys()]
        if not ready:  # each waits for another: a cycle
            for path, sigma in waiting.values():
                loaded.skipped.append(SkippedRule(
                    path, sigma.title, "it is part of a cycle of correlation rules naming "
                                       "each other"))
            return
        for number in ready:
            path, sigma = waiting.pop(number)
            correlation = _compile_correlation(path, sigma, source_of, source_ids, mapper,
                                               config, loaded, seen)
            if correlation is not None:
                known(sigma, len(source_ids))
                source_ids.append(correlation.rule.id)
                loaded.correlations.append(correlation)


def _compile_correlation(
    path: str, sigma: SigmaCorrelationRule, source_of: Callable[[str], int | None],
    source_ids: list[str], mapper: FieldMapper, config: SigmaConfig, loaded: LoadedSigma,
    seen: dict[str, str],
) -> CorrelationSpec | None:
    """One correlation rule compiled, or None when it is skipped (with its reason)."""
    def make_rule(*, correlate: Any, group_by: list[str], summary: str,
                  suppress: float | None = None) -> Rule:
        return native_rule(sigma, path, config, correlate=correlate, group_by=group_by,
                           summary=summary, suppress=suppress)

    try:
        correlation = build_correlation(path, sigma, source_of, source_ids, mapper, make_rule)
    except (UnsupportedCorrelation, SigmaError) as exc:
        loaded.skipped.append(SkippedRule(path, sigma.title, _reason(exc)))
        return None
    except ValidationError as exc:
        loaded.skipped.append(SkippedRule(path, sigma.title, f"cannot be an alert rule: "
                                                             f"{exc.errors()[0]['msg']}"))
        return None
    except Exception as exc:  # a pySigma or mapping surprise: skip this rule only
        loaded.skipped.append(SkippedRule(path, sigma.title, f"cannot compile: {_reason(exc)}"))
        return None
    if correlation.rule.id in seen:
        loaded.skipped.append(SkippedRule(
            path, sigma.title, f"duplicate id {correlation.rule.id} (also in "
                               f"{seen[correlation.rule.id]})"))
        return None
    seen[correlation.rule.id] = path
    return correlation


def _parse_file(path: Path, loaded: LoadedSigma) -> list[Any]:
    """The rules of one file that pySigma accepts; the others go to `loaded.skipped`."""
    try:
        text = path.read_text(encoding="utf-8")
        collection = SigmaCollection.from_dicts(
            [_split_range(doc) for doc in split_aggregations(list(yaml.safe_load_all(text)))],
            collect_errors=True,
            source=SigmaRuleLocation(path), resolve_references=False)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, SigmaError) as exc:
        loaded.skipped.append(SkippedRule(str(path), "", f"cannot read: {_reason(exc)}"))
        return []
    except Exception as exc:  # pySigma on odd input: skip the file, never crash
        loaded.skipped.append(SkippedRule(str(path), "", f"cannot parse: {_reason(exc)}"))
        return []
    usable: list[Any] = []
    for item in collection.rules:
        title = getattr(item, "title", "") or ""
        if item.errors:
            loaded.skipped.append(SkippedRule(str(path), title, _reason(item.errors[0])))
        elif isinstance(item, SigmaFilter):
            loaded.skipped.append(SkippedRule(str(path), title, "Sigma filters are not "
                                                                "supported"))
        else:
            usable.append(item)
    if not collection.rules and collection.errors:
        loaded.skipped.append(SkippedRule(str(path), "", _reason(collection.errors[0])))
    return usable


def _split_range(doc: Any) -> Any:
    """A correlation rule whose condition is a range (`gt: 100` and `lte: 200`, as the
    specification allows) with one of its terms for pySigma, which reads one only; the
    whole condition goes under RANGE_KEY, where `correlation` finds it."""
    if not isinstance(doc, dict):
        return doc
    correlation = doc.get("correlation")
    if not isinstance(correlation, dict):
        return doc
    condition = correlation.get("condition")
    if not isinstance(condition, dict):
        return doc
    terms = {key: value for key, value in condition.items() if key in _CONDITION_OPERATORS}
    if len(terms) < 2:
        return doc
    first = next(iter(terms))
    rest = {key: value for key, value in condition.items() if key not in terms}
    return {**doc, RANGE_KEY: terms,
            "correlation": {**correlation, "condition": {first: terms[first], **rest}}}


def _compile(
    path: str, sigma: SigmaRule, mapper: FieldMapper, services: dict[str, tuple[str, ...]],
    config: SigmaConfig, loaded: LoadedSigma,
) -> SigmaRuleSpec | None:
    logsource = sigma.logsource
    key: LogSourceKey = (logsource.product, logsource.category, logsource.service)
    try:
        test = logsource_test(*key, services)
        trees = [condition.parse() for condition in sigma.detection.parsed_condition]
        predicate = compile_conditions(trees, mapper)
        need = required_literals(trees, mapper)
        rule = native_rule(sigma, path, config)
    except (LogSourceError, UnsupportedRule, SigmaError) as exc:
        loaded.skipped.append(SkippedRule(path, sigma.title, _reason(exc)))
        return None
    except ValidationError as exc:
        loaded.skipped.append(SkippedRule(path, sigma.title, f"cannot be an alert rule: "
                                                             f"{exc.errors()[0]['msg']}"))
        return None
    except Exception as exc:  # a pySigma or mapping surprise: skip this rule only
        loaded.skipped.append(SkippedRule(path, sigma.title, f"cannot compile: {_reason(exc)}"))
        return None
    loaded.warnings.extend(
        FieldWarning(path, sigma.title, name, targets)
        for name, targets in unreadable_fields(rule_fields(trees), mapper, *key))
    return SigmaRuleSpec(path, sigma, rule, predicate, need, key, test,
                         need is not None and found_means_match(trees))


def _reason(exc: BaseException) -> str:
    """An error's message without pySigma's absolute file path suffix."""
    text = (exc.args[0] if isinstance(exc, SigmaError) and exc.args
            and isinstance(exc.args[0], str) else str(exc))
    if isinstance(exc, SigmaError) and "pipe syntax" in text:
        return UNSPLIT_AGGREGATION  # what split_aggregations() could not turn into one
    return " ".join(text.split()) or type(exc).__name__


def rule_id(sigma: Any, path: str) -> str:
    """The alert's rule id: the Sigma id (a UUID), else `sigma.` and the file's name."""
    if sigma.id is not None:
        return str(sigma.id).lower()
    base = sigma.name or Path(path).stem
    return "sigma." + (_SLUG.sub("-", str(base).lower()).strip("-.") or "rule")


def techniques(sigma: Any) -> list[str]:
    """ATT&CK technique ids of the `attack.tNNNN[.NNN]` tags."""
    found = []
    for tag in sigma.tags:
        if tag.namespace == "attack" and _TECHNIQUE.match(tag.name.lower()):
            technique = tag.name.upper()
            if technique not in found:
                found.append(technique)
    return found


def summary_template(sigma: Any, where: str = "[{host.name|log.source}]") -> str:
    """`title: description [host]` (or `where`), with braces of the rule's text made
    harmless."""
    description = " ".join((sigma.description or "").split())
    if len(description) > SUMMARY_DESCRIPTION_CHARS:
        description = description[:SUMMARY_DESCRIPTION_CHARS - 3] + "..."
    text = sigma.title if not description else f"{sigma.title}: {description}"
    text = text.replace("{", "(").replace("}", ")")
    return f"Sigma: {text} {where}"


def native_rule(sigma: Any, path: str, config: SigmaConfig, *, correlate: Any = None,
                group_by: list[str] | None = None, summary: str | None = None,
                suppress: float | None = None) -> Rule:
    """The native rule whose state and alerts the Sigma rule uses (a correlation rule's
    with its `correlate`, `group_by`, the end of its `summary` and its `suppress`, when
    not the configured one)."""
    extra: dict[str, Any] = {}
    if correlate is not None:
        extra["correlate"] = correlate
    level = str(sigma.level).lower() if sigma.level is not None else "medium"
    return Rule(
        id=rule_id(sigma, path),
        title=sigma.title or Path(path).stem,
        description=sigma.description or "",
        severity=SEVERITIES.get(level, "medium"),  # type: ignore[arg-type]
        attack=techniques(sigma),
        tags=["sigma", *(str(tag) for tag in sigma.tags)],
        group_by=list(config.group_by) if group_by is None else group_by,
        suppress=config.suppress if suppress is None else suppress,
        summary=summary_template(sigma) if summary is None else summary_template(sigma,
                                                                                 summary),
        **extra,
    )
