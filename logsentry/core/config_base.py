"""The base of every configuration model, and how YAML syntax errors are told."""

from __future__ import annotations

import yaml
from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Base of every configuration model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def describe_yaml_error(exc: yaml.YAMLError, origin: str) -> str:
    """`exc` as `FILE:LINE:COLUMN: invalid YAML: problem`, with the offending line.

    PyYAML's own text names the stream it was given (`<unicode string>` for
    text read beforehand), which tells the operator nothing: name the file.
    """
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return f"{origin}: invalid YAML: {exc}"
    mark = exc.problem_mark
    problem = exc.problem or "syntax error"
    if exc.context:
        context = exc.context
        if exc.context_mark is not None and exc.context_mark.line != mark.line:
            context += f" started on line {exc.context_mark.line + 1}"
        problem = f"{problem} ({context})"
    text = f"{origin}:{mark.line + 1}:{mark.column + 1}: invalid YAML: {problem}"
    snippet = mark.get_snippet()
    return f"{text}\n{snippet}" if snippet else text
