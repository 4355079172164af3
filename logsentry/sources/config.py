"""Configuration of each source type. The `type` key selects the model."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class StrictModel(BaseModel):
    """Base of every configuration model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FileSourceConfig(StrictModel):
    type: Literal["file"] = "file"
    name: str | None = None
    paths: list[str] = Field(min_length=1, description="files or glob patterns")
    start_at: Literal["end", "beginning"] = "end"
    # How often to rescan globs for new files and check for rotation, as a
    # safety net behind inotify.
    poll_interval: float = Field(default=1.0, gt=0)
    max_line_bytes: int = Field(default=1_048_576, ge=1024)
    encoding_errors: Literal["replace"] = "replace"


class StdinSourceConfig(StrictModel):
    type: Literal["stdin"] = "stdin"
    name: str | None = None
    max_line_bytes: int = Field(default=1_048_576, ge=1024)


SourceConfig = Annotated[
    FileSourceConfig | StdinSourceConfig,
    Field(discriminator="type"),
]
