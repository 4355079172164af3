"""Sigma 1 aggregations (`condition: selection | count() by host > 10` with a `timeframe`)
as the Sigma 2 correlation rules that replaced them.

pySigma refuses the pipe syntax (deprecated by the specification), yet public rule
collections still hold such rules. Before pySigma reads a file, a rule whose condition
ends in `| count([field]) [by fields] <op> N`, `| sum(field) ...` or `| avg(field) ...`
and that has a `timeframe` becomes two: the search (the condition before the pipe,
named so that the correlation can name it, no alert of its own) and a correlation rule
with the original rule's id, title and level: `event_count` (`value_count` for
`count(field)`, `value_sum`, `value_avg`), its `group-by` the `by` fields, its
`timespan` the timeframe. A file of `action: global` documents is merged first (as
pySigma merges it). Anything else (no timeframe, `near`, min/max) is left as it is:
pySigma then says why the rule is skipped.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

_AGGREGATION = re.compile(
    r"^(?P<search>.+?)\s*\|\s*(?P<function>count|sum|avg)\s*\(\s*(?P<field>[^()\s]*)\s*\)"
    r"\s*(?:by\s+(?P<group>[^<>=!|]+?))?\s*(?P<op><=|>=|==|!=|<|>|=)\s*(?P<number>\d+)\s*$",
    re.IGNORECASE | re.DOTALL)
_OPERATORS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "=": "eq", "==": "eq",
              "!=": "neq"}
_TYPES = {"sum": "value_sum", "avg": "value_avg"}
# What the search rule keeps of the original (the correlation keeps the rest).
_SEARCH_KEYS = ("title", "status", "description", "logsource", "detection", "level", "date",
                "modified")
# The search's name, derived from the rule's id (or title) and unique in a file.
_NAME_PREFIX = "x-logsentry-aggregation-"
# Why a rule with the pipe syntax that is not split is skipped.
UNSPLIT_AGGREGATION = ("a Sigma 1 aggregation (`| count() ...`) runs as a correlation rule only "
                       "with a `timeframe` and count(), sum() or avg() compared with a number")


def split_aggregations(docs: list[Any]) -> list[Any]:
    """The documents of one file, each Sigma 1 aggregation rule as a search and a
    correlation rule; the others unchanged."""
    if not any(_has_pipe(doc) for doc in docs):
        return docs
    merged = _merge_actions(docs)
    if merged is None or not any(_aggregation(doc) is not None for doc in merged):
        return docs
    out: list[Any] = []
    for number, doc in enumerate(merged):
        found = _aggregation(doc)
        if found is None:
            out.append(doc)
        else:
            out.extend(_split(doc, found, number))
    return out


def _has_pipe(doc: Any) -> bool:
    detection = doc.get("detection") if isinstance(doc, dict) else None
    condition = detection.get("condition") if isinstance(detection, dict) else None
    if isinstance(condition, list):
        return any(isinstance(item, str) and "|" in item for item in condition)
    return isinstance(condition, str) and "|" in condition


def _aggregation(doc: Any) -> re.Match[str] | None:
    """The aggregation of a rule that has a `timeframe`; None otherwise."""
    if not isinstance(doc, dict):
        return None
    detection = doc.get("detection")
    if not isinstance(detection, dict) or not isinstance(detection.get("timeframe"), str):
        return None
    condition = detection.get("condition")
    if isinstance(condition, list) and len(condition) == 1:
        condition = condition[0]
    if not isinstance(condition, str) or condition.count("|") != 1:
        return None
    found = _AGGREGATION.match(condition.strip())
    if found is None or (found["function"].lower() != "count" and not found["field"]):
        return None
    return found


def _split(doc: dict[str, Any], found: re.Match[str], number: int) -> list[dict[str, Any]]:
    rule_id = doc.get("id")
    key = str(rule_id) if rule_id is not None else f"{doc.get('title', '')}#{number}"
    name = _NAME_PREFIX + str(uuid.uuid5(uuid.NAMESPACE_URL, key))
    detection = {field: value for field, value in doc["detection"].items()
                 if field not in ("timeframe", "condition")}
    detection["condition"] = found["search"].strip()
    search: dict[str, Any] = {field: doc[field] for field in _SEARCH_KEYS if field in doc}
    search.update(name=name, detection=detection)
    if rule_id is not None:
        # The correlation keeps the rule's id; the search gets one of its own.
        search["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{rule_id}/search"))
    function, field = found["function"].lower(), found["field"]
    correlation: dict[str, Any] = {
        "type": _TYPES.get(function, "value_count" if field else "event_count"),
        "rules": [name],
        "timespan": doc["detection"]["timeframe"],
        "condition": {_OPERATORS[found["op"]]: int(found["number"]),
                      **({"field": field} if field else {})},
    }
    if found["group"]:
        correlation["group-by"] = [part.strip() for part in found["group"].split(",")
                                   if part.strip()]
    rule = {field: value for field, value in doc.items()
            if field not in ("logsource", "detection", "fields")}
    rule["correlation"] = correlation
    return [search, rule]


def _merge_actions(docs: list[Any]) -> list[Any] | None:
    """`action: global` documents merged into the rules after them (`reset` ends one), as
    pySigma does; None for a file this does not read (`action: repeat`)."""
    merged: list[Any] = []
    common: dict[str, Any] = {}
    for doc in docs:
        if not isinstance(doc, dict):
            merged.append(doc)
            continue
        action = doc.get("action")
        body = {key: value for key, value in doc.items() if key != "action"}
        if action == "global":
            common = _deep_merge(common, body)
        elif action == "reset":
            common = {}
        elif action is None:
            merged.append(_deep_merge(common, body))
        else:
            return None
    return merged


def _deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = value
    return result
