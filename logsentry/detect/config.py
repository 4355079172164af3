"""Configuration of the detection stage."""

from __future__ import annotations

from pydantic import Field

from logsentry.core.config_base import StrictModel


class DetectionConfig(StrictModel):
    enabled: bool = True
    # Rule files or folders; empty means the default pack shipped in rules/.
    rules: list[str] = Field(default_factory=list)
    memory_cap_mb: int = Field(default=256, ge=1)
    # Seconds between checkpoints of the state and the source positions it reflects:
    # after a crash, at most about this much input is read and detected again.
    persist_interval: float = Field(default=5.0, gt=0)
    # Contributing events carried in full (ECS) in each alert under logsentry.events.
    alert_events: int = Field(default=5, ge=0, le=100)
