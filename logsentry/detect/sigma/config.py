"""Configuration of the Sigma rules (`detection.sigma`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, field_validator

from logsentry.core.config_base import StrictModel
from logsentry.detect.duration import parse_duration

Duration = Annotated[float, BeforeValidator(parse_duration)]


class SigmaConfig(StrictModel):
    """Where the Sigma rules are and how their fields and log sources map to events."""

    # Sigma rule files or folders (searched recursively for *.yml/*.yaml).
    rules: list[str] = Field(default_factory=list)
    # Sigma field name -> ECS field names tried in order (added to, or replacing,
    # the built-in table of docs/sigma.md).
    fields: dict[str, str | list[str]] = Field(default_factory=dict)
    # Log source service -> the program names (`process.name`) that write it (added
    # to the built-in table; a service named nowhere means its own program name).
    services: dict[str, list[str]] = Field(default_factory=dict)
    # Alerts of one Sigma rule are grouped (and suppressed) per these fields.
    group_by: list[str] = Field(
        default_factory=lambda: ["host.name", "source.ip", "user.name", "process.name"])
    # No new alert for the same rule and group within this period (events counted).
    suppress: Duration = Field(default=600.0, ge=0)

    @field_validator("fields")
    @classmethod
    def _field_names(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        for name, target in value.items():
            targets = [target] if isinstance(target, str) else target
            if not name or not targets or not all(targets):
                raise ValueError(f"field {name!r}: give one ECS field name or a list of them")
        return value

    def field_targets(self) -> dict[str, tuple[str, ...]]:
        """`fields` with every entry as a tuple."""
        return {name: (target,) if isinstance(target, str) else tuple(target)
                for name, target in self.fields.items()}
