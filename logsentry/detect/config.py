"""Configuration of the detection stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from logsentry.core.config_base import StrictModel
from logsentry.detect.sigma.config import SigmaConfig


class DetectionConfig(StrictModel):
    enabled: bool = True
    # The shipped rule pack: "default" loads it, "none" leaves it out.
    pack: Literal["default", "none"] = "default"
    # Rule files or folders loaded beside the pack (or alone, with `pack: none`).
    extra_rules: list[str] = Field(default_factory=list)
    # The older name of `extra_rules`. It used to replace the pack without a
    # word; it is accepted only with `pack` said explicitly.
    rules: list[str] = Field(default_factory=list)
    # Rule ids to switch on (a rule shipped disabled, such as sys.new-template) or off;
    # an id no loaded rule has is an error.
    enable: list[str] = Field(default_factory=list)
    disable: list[str] = Field(default_factory=list)
    memory_cap_mb: int = Field(default=256, ge=1)
    # Seconds between checkpoints of the state and the source positions it reflects:
    # after a crash, at most about this much input is read and detected again.
    persist_interval: float = Field(default=5.0, gt=0)
    # Contributing events carried in full (ECS) in each alert under logsentry.events.
    alert_events: int = Field(default=5, ge=0, le=100)
    # Sigma rules run beside the native ones (docs/sigma.md).
    sigma: SigmaConfig = Field(default_factory=SigmaConfig)

    @model_validator(mode="after")
    def _pack_is_explicit(self) -> DetectionConfig:
        if self.rules and "pack" not in self.model_fields_set:
            raise ValueError(
                "`rules` no longer replaces the shipped pack on its own: list your files "
                "under `extra_rules` (loaded beside the pack), and add `pack: none` to "
                "leave the shipped pack out")
        return self

    def rule_paths(self) -> list[str]:
        """The configured rule files and folders, beyond the pack."""
        return [*self.extra_rules, *self.rules]
