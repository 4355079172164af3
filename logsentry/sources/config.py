"""Configuration of each source type. The `type` key selects the model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from logsentry.core.config_base import StrictModel
from logsentry.transport.tls import TlsConfig

if TYPE_CHECKING:
    from logsentry.sources.base import Source


class FileSourceConfig(StrictModel):
    type: Literal["file"] = "file"
    name: str | None = None
    paths: list[str] = Field(min_length=1, description="files or glob patterns")
    # Where reading starts in files that have no stored position at the
    # first start; files appearing later are always read from the beginning.
    start_at: Literal["end", "beginning"] = "end"
    # false: read the files to their end once and stop (replays).
    follow: bool = True
    # true: the paths may appear later (a service not yet installed). A path
    # matching nothing is then no reason to refuse the start; without it, it
    # is warned about, and the start refused when no source can read anything.
    allow_missing: bool = False
    # How often to rescan globs for new files and check for rotation, as a
    # safety net behind inotify.
    poll_interval: float = Field(default=1.0, gt=0)
    max_line_bytes: int = Field(default=1_048_576, ge=1024)
    encoding_errors: Literal["replace"] = "replace"

    def build(self, state_dir: Path | None, commit_interval: float = 1.0) -> Source:
        """The source this configures; positions persist under `state_dir`."""
        from logsentry.sources.file import FileSource

        return FileSource(self, state_dir, commit_interval=commit_interval)


class StdinSourceConfig(StrictModel):
    type: Literal["stdin"] = "stdin"
    name: str | None = None
    max_line_bytes: int = Field(default=1_048_576, ge=1024)

    def build(self, state_dir: Path | None, commit_interval: float = 1.0) -> Source:
        """The source this configures; positions persist under `state_dir`."""
        from logsentry.sources.stdin import StreamSource

        return StreamSource(sys.stdin.buffer, self.name or "stdin", self.max_line_bytes)


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
    start_at: Literal["end", "beginning"] = "end"
    # false: read the journal to its end once and stop (replays).
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

    def build(self, state_dir: Path | None, commit_interval: float = 1.0) -> Source:
        """The source this configures; positions persist under `state_dir`."""
        from logsentry.sources.journald import JournaldSource

        return JournaldSource(self, state_dir, commit_interval=commit_interval)


class KafkaSourceConfig(StrictModel):
    """A consumer group reading log lines from Kafka topics (logsentry.sources.kafka).

    Offsets are committed only for lines the pipeline fully processed, so a
    crash re-reads at most the lines in flight (at least once); with detection
    checkpoints, only once a checkpoint reflecting them is written, so a crash
    re-reads the lines since the checkpoint.
    """

    type: Literal["kafka"] = "kafka"
    name: str | None = None
    bootstrap_servers: list[str] = Field(min_length=1)
    topics: list[str] = Field(min_length=1)
    group_id: str = "logsentry"
    client_id: str = "logsentry"
    # Where a group with no committed offset for a partition starts.
    start_at: Literal["earliest", "latest"] = "earliest"
    # "line": the value is one log line; "json": a JSON object whose
    # `message_field` is the line; "auto": JSON objects when the value is one.
    format: Literal["auto", "line", "json"] = "auto"
    # Dotted path of the line in a JSON value (Filebeat/Vector: "message").
    message_field: str = "message"
    # ECS fields taken from each message: ECS name -> where from, one of
    # "json:dotted.path", "header:NAME", "kafka:topic|partition|offset|key".
    fields: dict[str, str] = Field(
        default_factory=lambda: {"host.name": "json:host.name"})
    max_line_bytes: int = Field(default=1_048_576, ge=1024)
    # Largest message fetched; must be >= the topic's max.message.bytes or the
    # consumer cannot move past an oversized message.
    max_partition_fetch_bytes: int = Field(default=8 * 1024 * 1024, ge=1024)
    max_batch: int = Field(default=512, ge=1)
    # How long the broker may hold a fetch that has no data yet: bounds the
    # latency a line waits when the topic was idle (Kafka's default is 500).
    fetch_max_wait_ms: int = Field(default=100, ge=0, le=10_000)
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_plain_username: str | None = None
    # A literal, ${ENV:NAME} or ${FILE:/path}.
    sasl_plain_password: SecretStr | None = None
    tls: TlsConfig = TlsConfig()
    partition_assignment: Literal["roundrobin", "range", "sticky"] = "roundrobin"
    # A member that sends no heartbeat for `session_timeout` seconds is taken
    # for dead and its partitions move: shorter moves them sooner after a crash,
    # but a pause longer than it (a stalled host, a long GC) costs a rebalance.
    # Brokers bound it (Kafka: group.min/max.session.timeout.ms, 6 s to 30 min).
    session_timeout: float = Field(default=6.0, gt=0)
    # How often the member tells the group it is alive; also how soon it learns
    # that a rebalance began. At most a third of session_timeout; by default a
    # tenth (at least 0.1 s).
    heartbeat_interval: float | None = Field(default=None, gt=0)
    # How long a revoked partition waits for its in-flight lines to be
    # committed before it is handed over (what is left is read again).
    revoke_timeout: float = Field(default=20.0, gt=0)
    # How often processed offsets (with detection checkpoints: those of the last
    # checkpoint written) are committed to the group.
    commit_interval: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _check_security(self) -> KafkaSourceConfig:
        sasl = self.security_protocol.startswith("SASL")
        if sasl and (not self.sasl_mechanism or not self.sasl_plain_username
                     or self.sasl_plain_password is None):
            raise ValueError(
                "SASL needs sasl_mechanism, sasl_plain_username and sasl_plain_password")
        if self.sasl_mechanism and not sasl:
            raise ValueError("sasl_mechanism needs security_protocol SASL_PLAINTEXT or SASL_SSL")
        if self.heartbeat_interval is not None and (
                self.heartbeat_interval * 3 > self.session_timeout):
            raise ValueError("heartbeat_interval must be at most a third of session_timeout")
        if self.tls.server_hostname is not None:
            # Each broker's certificate is checked against that broker's own name.
            raise ValueError("tls.server_hostname is not supported for Kafka brokers")
        for name, origin in self.fields.items():
            kind, _, what = origin.partition(":")
            if kind not in ("json", "header", "kafka") or not what or (
                    kind == "kafka" and what not in ("topic", "partition", "offset", "key")):
                raise ValueError(f"fields.{name}: not json:PATH, header:NAME or "
                                 f"kafka:topic|partition|offset|key: {origin!r}")
        return self

    def build(self, state_dir: Path | None, commit_interval: float = 1.0) -> Source:
        """The source this configures; positions persist under `state_dir`."""
        from logsentry.sources.kafka import KafkaSource

        return KafkaSource(self)


SourceConfig = Annotated[
    FileSourceConfig | StdinSourceConfig | JournaldSourceConfig | KafkaSourceConfig,
    Field(discriminator="type"),
]
