"""Configuration of each sink type. The `type` key selects the model."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from logsentry.sources.config import StrictModel


class Routing(StrictModel):
    """Which records a sink receives."""

    # "alerts" (default) or "events": every analyzed line, for SIEM archiving.
    records: Literal["alerts", "events"] = "alerts"
    min_severity: Literal["low", "medium", "high", "critical"] = "low"
    rule_ids: list[str] | None = None
    tags: list[str] | None = None


class StdoutSinkConfig(StrictModel):
    type: Literal["stdout"] = "stdout"
    name: str | None = None
    routing: Routing = Routing()
    # "auto": readable text on a terminal, JSON lines otherwise.
    format: Literal["auto", "text", "json"] = "auto"


class JsonlSinkConfig(StrictModel):
    type: Literal["jsonl"] = "jsonl"
    name: str | None = None
    routing: Routing = Routing()
    path: str
    max_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    backups: int = Field(default=5, ge=0)
    fsync: bool = False


SinkConfig = Annotated[
    StdoutSinkConfig | JsonlSinkConfig,
    Field(discriminator="type"),
]
