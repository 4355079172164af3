"""Loading and validating the one YAML configuration file.

Everything is validated up front into frozen pydantic models: a daemon never
starts half-configured. Errors name the key path and, where the YAML parser
knows it, the line.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import Field, ValidationError

from logsentry.analysis.config import AnalysisConfig
from logsentry.core.config_base import StrictModel, describe_yaml_error
from logsentry.core.errors import ConfigError
from logsentry.detect.config import DetectionConfig
from logsentry.respond.config import RespondConfig
from logsentry.service.config import ServiceConfig
from logsentry.sinks.config import SinkConfig, StdoutSinkConfig
from logsentry.sources.config import SourceConfig
from logsentry.spool.config import SpoolConfig
from logsentry.topology.config import TopologyConfig

DEFAULT_CONFIG_PATH = Path("/etc/logsentry/config.yaml")
DEFAULT_STATE_DIR = Path("/var/lib/logsentry")

# Key names whose values never appear in logs or `check-config` output.
SECRET_KEYS = frozenset(
    {"token", "password", "secret", "webhook_url", "url_secret", "hmac_secret",
     "sasl_plain_password", "api_key", "bot_token",
     # Sink HTTP headers often carry credentials (Authorization).
     "headers"}
)


class PipelineConfig(StrictModel):
    # Capacity of each inter-stage queue, in batches (a batch is up to
    # `batch_lines` lines): bounded so overload slows the readers.
    queue_batches: int = Field(default=16, ge=1)
    batch_lines: int = Field(default=512, ge=1)
    # How often source offsets are persisted while running.
    commit_interval: float = Field(default=1.0, gt=0)
    drain_timeout: float = Field(default=10.0, gt=0)


class LoggingConfig(StrictModel):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class Config(StrictModel):
    state_dir: Path = DEFAULT_STATE_DIR
    sources: list[SourceConfig] = Field(default_factory=list)
    pipeline: PipelineConfig = PipelineConfig()
    analysis: AnalysisConfig = AnalysisConfig()
    detection: DetectionConfig = DetectionConfig()
    sinks: list[SinkConfig] = Field(default_factory=lambda: _default_sinks())
    # The durable alert spool in front of the alert sinks (logsentry.spool).
    spool: SpoolConfig = SpoolConfig()
    logging: LoggingConfig = LoggingConfig()
    # Scale-out on Kafka consumer groups (README, "Scaling out with Kafka").
    topology: TopologyConfig = TopologyConfig()
    # systemd notification, watchdog, /metrics /healthz /readyz (logsentry.service).
    service: ServiceConfig = ServiceConfig()
    # Active response: decisions from alerts, for bouncers and nftables (off by default).
    respond: RespondConfig = RespondConfig()


def _default_sinks() -> list[SinkConfig]:
    return [StdoutSinkConfig()]


class _LineLoader(yaml.SafeLoader):
    """A YAML loader that remembers the line of every mapping key."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping: dict[str, Any] = dict(loader.construct_mapping(node, deep=True))  # type: ignore[arg-type]
    lines: dict[Any, int] = {}
    for key_node, _ in node.value:
        lines[loader.construct_object(key_node)] = key_node.start_mark.line + 1
    return _LineDict(mapping, lines)


class _LineDict(dict[str, Any]):
    """A dict that also knows on which line each key stood."""

    def __init__(self, data: dict[str, Any], lines: dict[Any, int]):
        super().__init__(data)
        self.lines = lines


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def resolve_path(cli_path: str | None) -> Path:
    """--config wins, then LOGSENTRY_CONFIG, then the default path."""
    if cli_path:
        return Path(cli_path)
    env = os.environ.get("LOGSENTRY_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG_PATH


def load_config(path: Path) -> Config:
    """Read and validate `path`; raise ConfigError with one clear message."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except (PermissionError, IsADirectoryError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from None
    return parse_config(text, str(path))


def parse_config(text: str, origin: str = "<config>") -> Config:
    """Validate YAML text into a Config."""
    try:
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(describe_yaml_error(exc, origin)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the top level must be a mapping of keys")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, data, origin)) from None


def _describe(exc: ValidationError, data: dict[str, Any], origin: str) -> str:
    messages = []
    for error in exc.errors():
        # Drop the discriminator tags pydantic inserts ("sources.0.file.paths").
        loc = [part for part in error["loc"] if not _is_union_tag(part, error["loc"])]
        key = ".".join(str(part) for part in loc) or "(top level)"
        line = _line_of(data, loc)
        where = f"{origin}:{line}" if line else origin
        msg = error["msg"]
        if error["type"] == "extra_forbidden":
            msg = "unknown key"
        messages.append(f"{where}: {key}: {msg}")
    return "\n".join(messages)


def _type_tags(union: Any) -> frozenset[str]:
    """The `type` values of a discriminated union of config models."""
    members = get_args(get_args(union)[0])
    return frozenset(member.model_fields["type"].default for member in members)


# Pydantic puts the `type` tag of a list item's model in an error's location.
_UNION_TAGS = _type_tags(SourceConfig) | _type_tags(SinkConfig)


def _is_union_tag(part: Any, loc: tuple[Any, ...]) -> bool:
    idx = loc.index(part)
    return (isinstance(part, str) and idx > 0 and isinstance(loc[idx - 1], int)
            and part in _UNION_TAGS)


def _line_of(data: Any, loc: list[Any]) -> int | None:
    line = None
    node = data
    for part in loc:
        if isinstance(node, _LineDict) and part in node:
            line = node.lines.get(part, line)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            break
    return line


def redacted(config: Config) -> dict[str, Any]:
    """The effective configuration as plain data, secrets replaced by '***'."""
    data: dict[str, Any] = _redact(config.model_dump(mode="json"))
    return data


def _redact(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: ("***" if key in SECRET_KEYS and value else _redact(value))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_redact(item) for item in node]
    return node
