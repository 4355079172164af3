"""The rule format: pydantic models of one rule file, and loading with clear errors.

The format is documented in rules/README.md. Loading validates everything up
front (field tests compile, actions exist in the vocabulary, summary
placeholders are well-formed) and names file, rule id and key on error.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import yaml
from pydantic import BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from logsentry.core.actions import ACTIONS
from logsentry.core.config_base import StrictModel, describe_yaml_error
from logsentry.core.errors import ConfigError
from logsentry.detect.config import DetectionConfig
from logsentry.detect.duration import parse_duration

from .condition import FieldMap, FieldTest

RULES_DIR_ENV = "LOGSENTRY_RULES_DIR"


def default_rules_dir() -> Path:
    """The default pack: `$LOGSENTRY_RULES_DIR`, else `rules/` beside the package (a
    source checkout), else `<prefix>/share/logsentry/rules` (an installed package)."""
    env = os.environ.get(RULES_DIR_ENV)
    if env:
        return Path(env)
    source_tree = Path(__file__).resolve().parents[2] / "rules"
    if source_tree.is_dir():
        return source_tree
    return Path(sys.prefix) / "share" / "logsentry" / "rules"


DEFAULT_RULES_DIR = default_rules_dir()

Severity = Literal["low", "medium", "high", "critical"]
Duration = Annotated[float, BeforeValidator(parse_duration)]
OneOrMany = str | list[str]

_CATEGORIES = frozenset(c for info in ACTIONS.values() for c in info.category)
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
# libyaml's safe loader, where PyYAML was built with it: the same documents, and reading the
# shipped pack takes some 30 ms of CPU instead of 370 (every `analyze` and daemon start).
_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RULE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")


def _unknown(what: str, name: str, known: Iterable[str]) -> str:
    """`unknown action 'x'; did you mean 'y'? valid actions: ...` (the whole list: the
    message is all a rule author sees, rules/README.md explains each)."""
    valid = sorted(known)
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    plural = "categories" if what == "category" else f"{what}s"
    return f"unknown {what} {name!r}.{hint} Valid {plural}: {', '.join(valid)}"


def _listify(value: OneOrMany | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


class Selection(StrictModel):
    """Which events a rule (or a sequence step) looks at; every given part must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    action: OneOrMany | None = None
    category: OneOrMany | None = None
    outcome: OneOrMany | None = None
    where: FieldMap = Field(default_factory=dict)
    # At least one of these field maps must hold entirely.
    any: list[FieldMap] = Field(default_factory=list)
    # None of these field maps may hold entirely.
    not_: list[FieldMap] = Field(default_factory=list, alias="not")

    @field_validator("any", "not_")
    @classmethod
    def _no_empty_alternative(cls, value: list[FieldMap]) -> list[FieldMap]:
        # An empty map holds for every event: in `any` it would make the whole list hold,
        # in `not` exclude everything; either way the other maps are meaningless.
        if any(not fields for fields in value):
            raise ValueError("an empty field map in `any` or `not` holds for every event; "
                             "remove it")
        return value

    @field_validator("action")
    @classmethod
    def _known_actions(cls, value: OneOrMany | None) -> OneOrMany | None:
        for name in _listify(value):
            if name not in ACTIONS:
                raise ValueError(_unknown("action", name, ACTIONS))
        return value

    @field_validator("category")
    @classmethod
    def _known_categories(cls, value: OneOrMany | None) -> OneOrMany | None:
        for name in _listify(value):
            if name not in _CATEGORIES:
                raise ValueError(_unknown("category", name, _CATEGORIES))
        return value

    @field_validator("outcome")
    @classmethod
    def _known_outcomes(cls, value: OneOrMany | None) -> OneOrMany | None:
        for name in _listify(value):
            if name not in ("success", "failure", "unknown"):
                raise ValueError(f"unknown outcome {name!r}; use success, failure or unknown")
        return value

    def actions(self) -> frozenset[str] | None:
        """The actions this selection can match, from action/category/outcome; None: any."""
        if self.action is None and self.category is None and self.outcome is None:
            return None
        names = set(_listify(self.action)) if self.action is not None else set(ACTIONS)
        if self.category is not None:
            wanted = set(_listify(self.category))
            names = {n for n in names if wanted & set(ACTIONS[n].category)}
        if self.outcome is not None:
            outcomes = set(_listify(self.outcome))
            names = {n for n in names if ACTIONS[n].outcome in outcomes}
        return frozenset(names)


class SingleCorrelation(StrictModel):
    """Every matching event is an alert (subject to suppression)."""

    type: Literal["single"] = "single"


class ThresholdCorrelation(StrictModel):
    """`count` matching events of one group within `window`."""

    type: Literal["threshold"]
    count: int = Field(ge=1)
    window: Duration = Field(gt=0)


class DistinctCorrelation(StrictModel):
    """`count` distinct values of `field` in one group within `window`."""

    type: Literal["distinct"]
    field: str
    count: int = Field(ge=1)
    window: Duration = Field(gt=0)


class SequenceStep(StrictModel):
    """One step of a sequence: `count` events matching `select`."""

    name: str = ""
    select: Selection
    count: int = Field(default=1, ge=1)


class SequenceCorrelation(StrictModel):
    """Steps in order, for one group, all within `window` of the first event."""

    type: Literal["sequence"]
    window: Duration = Field(gt=0)
    steps: list[SequenceStep] = Field(min_length=2)


class FirstSeenCorrelation(StrictModel):
    """A value of `field` never seen for the group, once the group is past `learn`.

    Learning runs per group (from its first event), so a new host or a group
    evicted by the memory cap learns again rather than alerting on everything.
    """

    type: Literal["first_seen"]
    field: str
    learn: Duration = Field(default=86400.0, ge=0)
    # A group not seen for this long is forgotten (and learns again).
    retain: Duration = Field(default=30 * 86400.0, gt=0)
    max_values: int = Field(default=10_000, ge=1)


Correlation = Annotated[
    SingleCorrelation | ThresholdCorrelation | DistinctCorrelation
    | SequenceCorrelation | FirstSeenCorrelation,
    Field(discriminator="type"),
]


class RuleCase(StrictModel):
    """A test case kept beside a rule: events (ECS field dicts) or raw lines in, alerts out.

    An event dict holds `action`, optionally `message`, `template`, `at` (seconds
    after the case's start, or an ISO time), `repeat` and `every` (copies `every`
    seconds apart), and ECS fields in flat dotted form. `expect` lists the alerts,
    each a dict of `count`, `min_count`, `suppressed`, `message_contains`, `severity`
    and alert fields (group fields such as `source.ip`); an empty list is a negative case.
    `lines` are raw log lines, run through envelope parsing and the model (the case is
    skipped without one) or, with `envelope_only`, through envelope parsing alone.
    """

    name: str
    events: list[dict[str, Any]] = Field(default_factory=list)
    lines: list[str] = Field(default_factory=list)
    # Lines through envelope parsing only (no analyzer): for rules that select on
    # what the envelope gives (access-log requests), the case needs no model.
    envelope_only: bool = False
    expect: list[dict[str, Any]] = Field(default_factory=list)


class Rule(StrictModel):
    """One detection rule."""

    id: str
    title: str
    description: str = ""
    severity: Severity
    attack: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    enabled: bool = True
    select: Selection = Selection()
    correlate: Correlation = SingleCorrelation()
    group_by: list[str] = Field(default_factory=list)
    # No new alert for the same group within this period; events meanwhile are
    # counted and carried into the next alert.
    suppress: Duration = Field(default=600.0, ge=0)
    summary: str
    tests: list[RuleCase] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id_format(cls, value: str) -> str:
        if not _RULE_ID.match(value):
            raise ValueError("rule ids are lower-case letters, digits, '.', '_' and '-'")
        return value

    @field_validator("attack")
    @classmethod
    def _technique_ids(cls, value: list[str]) -> list[str]:
        for technique in value:
            if not _TECHNIQUE.match(technique):
                raise ValueError(f"{technique!r} is not an ATT&CK technique id (T1110, T1110.001)")
        return value

    @field_validator("summary")
    @classmethod
    def _summary_braces(cls, value: str) -> str:
        rest = _PLACEHOLDER.sub("", value)
        if "{" in rest or "}" in rest:
            raise ValueError("unbalanced '{' or '}' in summary template")
        for name in _PLACEHOLDER.findall(value):
            if not name.strip():
                raise ValueError("empty placeholder {} in summary template")
        return value

    def placeholders(self) -> list[str]:
        return _PLACEHOLDER.findall(self.summary)

    def fingerprint(self) -> str:
        """Changes when anything that shapes correlation state changes (not title/tests)."""
        shape = self.model_dump(
            mode="json", include={"id", "select", "correlate", "group_by", "summary"})
        return hashlib.sha256(orjson.dumps(shape, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def rule_files(paths: list[Path]) -> list[Path]:
    """The YAML files under `paths` (files as given, folders' *.yaml/*.yml sorted)."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir()
                                if p.suffix in (".yaml", ".yml") and p.is_file()))
        elif path.exists():
            files.append(path)
        else:
            raise ConfigError(f"{path}: rule file or folder not found")
    return files


def load_rules(paths: list[Path]) -> list[Rule]:
    """Load and validate every rule under `paths`; ConfigError names file, rule and key."""
    return [rule for _, rules in load_rule_sets(paths) for rule in rules]


def load_rule_sets(paths: list[Path]) -> list[tuple[Path, list[Rule]]]:
    """The rules under each of `paths`, in order; rule ids are unique across all of them."""
    sets: list[tuple[Path, list[Rule]]] = []
    seen: dict[str, Path] = {}
    for top in paths:
        rules: list[Rule] = []
        for path in rule_files([top]):
            for rule in load_rule_file(path):
                if rule.id in seen:
                    raise ConfigError(
                        f"{path}: rule {rule.id}: duplicate id (also in {seen[rule.id]})")
                seen[rule.id] = path
                rules.append(rule)
        sets.append((top, rules))
    return sets


def configured_rule_paths(config: DetectionConfig) -> list[Path]:
    """The shipped pack (unless `pack: none`), then the configured files and folders.

    A configured path that is the pack folder itself is not loaded twice.
    """
    paths = [DEFAULT_RULES_DIR] if config.pack == "default" else []
    for name in config.rule_paths():
        path = Path(name)
        if not any(_same_path(path, known) for known in paths):
            paths.append(path)
    return paths


def _same_path(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def load_rule_file(path: Path) -> list[Rule]:
    """Rules of one file: one rule mapping, a list of them, or `{rules: [...]}`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read rule file: {exc}") from None
    return parse_rules(text, str(path))


def parse_rules(text: str, origin: str = "<rules>") -> list[Rule]:
    """Validate YAML text holding one or more rules."""
    try:
        data = yaml.load(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        try:
            # The pure-Python loader's error, as every other YAML file reports it.
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(describe_yaml_error(exc, origin)) from None
    if data is None:
        return []
    if isinstance(data, dict) and "rules" in data and "id" not in data:
        data = data["rules"]
    items = data if isinstance(data, list) else [data]
    rules = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ConfigError(f"{origin}: rule #{index + 1}: a rule must be a mapping of keys")
        rule_id = item.get("id") or f"#{index + 1}"
        try:
            rules.append(Rule.model_validate(item))
        except ValidationError as exc:
            raise ConfigError(_describe(exc, origin, str(rule_id))) from None
    return rules


_UNION_TAGS = frozenset({
    "single", "threshold", "distinct", "sequence", "first_seen", "FieldTest", "str", "int",
    "float", "bool",
})
_SCALAR_MISMATCH = frozenset({
    "string_type", "int_type", "float_type", "bool_type", "list_type", "int_parsing",
    "float_parsing", "bool_parsing", "int_from_float",
})


def _describe(exc: ValidationError, origin: str, rule_id: str) -> str:
    errors = exc.errors()
    # A field test given as a mapping fails as a FieldTest and, noisily, as each
    # scalar shorthand too: keep the FieldTest's own complaint.
    if any(not (e["type"] in _SCALAR_MISMATCH and isinstance(e.get("input"), dict))
           for e in errors):
        errors = [e for e in errors
                  if not (e["type"] in _SCALAR_MISMATCH and isinstance(e.get("input"), dict))]
    lines = []
    for error in errors:
        # Drop the tags pydantic inserts for unions ("correlate.threshold.count",
        # "function-after[_not_empty(), FieldTest]").
        loc = [str(part) for part in error["loc"]
               if not (isinstance(part, str) and (part in _UNION_TAGS or "[" in part))]
        key = ".".join(loc) or "(rule)"
        msg = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        line = f"{origin}: rule {rule_id}: {key}: {msg}"
        if line not in lines:
            lines.append(line)
    return "\n".join(lines)


__all__ = ["DEFAULT_RULES_DIR", "FieldTest", "Rule", "RuleCase", "Selection", "load_rules"]
