"""The span labels the tagger predicts: the ECS roles of the `analyze` contract,
the timestamp inside a body, and `variable` for the rest of a line's variable parts."""

from __future__ import annotations

from logsentry.core.analysis import ENTITY_FIELDS

TOKEN_ROLES: tuple[str, ...] = (*ENTITY_FIELDS, "timestamp")

VARIABLE = "variable"
"""Label of variable parts that have no ECS role (ids, counters, sizes, durations)."""

SPAN_LABELS: tuple[str, ...] = (*TOKEN_ROLES, VARIABLE)
"""Every label a span may carry."""
