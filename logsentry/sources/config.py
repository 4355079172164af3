"""Configuration of each source type. The `type` key selects the model."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class StrictModel(BaseModel):
    """Base of every configuration model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class FileSourceConfig(StrictModel):
    type: Literal["file"] = "file"
    name: str | None = None
    paths: list[str] = Field(min_length=1, description="files or glob patterns")
    # Where reading starts in files that have no stored position at the
    # first start; files appearing later are always read from the beginning.
    start_at: Literal["end", "beginning"] = "end"
    # false: read the files to their end once and stop (replays).
    follow: bool = True
    # How often to rescan globs for new files and check for rotation, as a
    # safety net behind inotify.
    poll_interval: float = Field(default=1.0, gt=0)
    max_line_bytes: int = Field(default=1_048_576, ge=1024)
    encoding_errors: Literal["replace"] = "replace"


class StdinSourceConfig(StrictModel):
    type: Literal["stdin"] = "stdin"
    name: str | None = None
    max_line_bytes: int = Field(default=1_048_576, ge=1024)


class JournaldSourceConfig(StrictModel):
    """Follows the systemd journal through `journalctl --follow --output=json`."""

    type: Literal["journald"] = "journald"
    name: str | None = None
    # Filters; empty lists mean everything. Entries of several units (or
    # identifiers) are all read; units and identifiers and matches combine
    # with AND, as in journalctl.
    units: list[str] = Field(default_factory=list)
    identifiers: list[str] = Field(default_factory=list, description="SYSLOG_IDENTIFIER values")
    matches: list[str] = Field(default_factory=list, description="journalctl matches FIELD=value")
    # Where the first start (no stored cursor) begins; later starts resume
    # after the stored cursor.
    # Where reading starts in files that have no stored position at the
    # first start; files appearing later are always read from the beginning.
    start_at: Literal["end", "beginning"] = "end"
    # false: read the files to their end once and stop (replays).
    follow: bool = True
    # Read the journal files of this folder (`journalctl --directory`) instead
    # of the system journal: a container's or a remote host's journal.
    directory: str | None = None
    journalctl: str = "journalctl"
    max_line_bytes: int = Field(default=1_048_576, ge=1024)
    # Wait before restarting journalctl after it exited; doubles up to 30 s.
    restart_delay: float = Field(default=1.0, gt=0)

    @field_validator("matches")
    @classmethod
    def _matches_are_field_assignments(cls, value: list[str]) -> list[str]:
        for match in value:
            name, sep, _ = match.partition("=")
            # Upper-case field names only (journal rule): also keeps a match
            # from being taken for a journalctl option.
            if not sep or not name or not all(c.isupper() or c.isdigit() or c == "_"
                                               for c in name) or name[0].isdigit():
                raise ValueError(f"not a journal match FIELD=value: {match!r}")
        return value


SourceConfig = Annotated[
    FileSourceConfig | StdinSourceConfig | JournaldSourceConfig,
    Field(discriminator="type"),
]
