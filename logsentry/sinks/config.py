"""Configuration of each sink type. The `type` key selects the model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, SecretStr, model_validator

from logsentry.core.config_base import StrictModel
from logsentry.transport.secrets import HttpUrlSecret
from logsentry.transport.tls import TlsConfig
from logsentry.transport.urls import HttpUrl

if TYPE_CHECKING:
    from logsentry.sinks.base import Sink


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

    def build(self, name: str) -> Sink:
        """The sink this configures; `name` keys its spool cursor."""
        from logsentry.sinks.stdout import StdoutSink

        return StdoutSink(self)  # type: ignore[no-any-return, unused-ignore]


class JsonlSinkConfig(StrictModel):
    type: Literal["jsonl"] = "jsonl"
    name: str | None = None
    routing: Routing = Routing()
    path: str
    max_bytes: int = Field(default=100 * 1024 * 1024, ge=1024)
    backups: int = Field(default=5, ge=0)
    fsync: bool = False

    def build(self, name: str) -> Sink:
        """The sink this configures; `name` keys its spool cursor."""
        from logsentry.sinks.jsonl import JsonlSink

        return JsonlSink(self)  # type: ignore[no-any-return, unused-ignore]


class SlackSinkConfig(StrictModel):
    """Slack incoming webhook, or the Web API `chat.postMessage` with a bot token.

    Secrets accept `${ENV:NAME}` or `${FILE:/path}` (see logsentry.transport.secrets).
    """

    type: Literal["slack"] = "slack"
    name: str | None = None
    routing: Routing = Routing()
    webhook_url: HttpUrlSecret | None = None
    bot_token: SecretStr | None = None
    channel: str | None = None
    # Base URL of the Web API (tests point it at a loopback server).
    api_url: HttpUrl = "https://slack.com/api"
    # Slack accepts about one message per second per webhook.
    min_interval: float = Field(default=1.0, ge=0)
    # Alerts waiting when a message is due are folded into one digest message.
    max_digest: int = Field(default=20, ge=1, le=45)
    timeout: float = Field(default=10.0, gt=0)
    tls: TlsConfig = TlsConfig()

    @model_validator(mode="after")
    def _one_transport(self) -> SlackSinkConfig:
        if (self.webhook_url is None) == (self.bot_token is None):
            raise ValueError("set exactly one of webhook_url or bot_token")
        if self.bot_token is not None and not self.channel:
            raise ValueError("bot_token needs a channel")
        return self

    def build(self, name: str) -> Sink:
        """The sink this configures; `name` keys its spool cursor."""
        from logsentry.sinks.slack import SlackSink

        return SlackSink(self, name)


class WebhookSinkConfig(StrictModel):
    """Generic JSON POST, optionally signed with HMAC-SHA256."""

    type: Literal["webhook"] = "webhook"
    name: str | None = None
    routing: Routing = Routing()
    url: HttpUrlSecret
    # Header values accept `${ENV:NAME}` / `${FILE:/path}` like any secret.
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    hmac_secret: SecretStr | None = None
    signature_header: str = "X-Logsentry-Signature"
    # 1: one alert object per request; more: a JSON array of up to that many.
    max_batch: int = Field(default=1, ge=1, le=1000)
    timeout: float = Field(default=10.0, gt=0)
    tls: TlsConfig = TlsConfig()

    def build(self, name: str) -> Sink:
        """The sink this configures; `name` keys its spool cursor."""
        from logsentry.sinks.webhook import WebhookSink

        return WebhookSink(self, name)


class SyslogSinkConfig(StrictModel):
    """RFC 5424 syslog to a SIEM, the alert as CEF or JSON."""

    type: Literal["syslog"] = "syslog"
    name: str | None = None
    routing: Routing = Routing()
    host: str = Field(min_length=1)
    port: int = Field(default=514, ge=1, le=65535)
    protocol: Literal["udp", "tcp", "tls"] = "tcp"
    format: Literal["cef", "json"] = "cef"
    facility: int = Field(default=13, ge=0, le=23)  # 13: log audit
    app_name: str = "logsentry"
    hostname: str | None = None
    # UDP datagrams longer than this are cut (flagged in the message).
    max_udp_bytes: int = Field(default=8192, ge=480, le=65000)
    timeout: float = Field(default=10.0, gt=0)
    tls: TlsConfig = TlsConfig()

    def build(self, name: str) -> Sink:
        """The sink this configures; `name` keys its spool cursor."""
        from logsentry.sinks.syslog import SyslogSink

        return SyslogSink(self, name)


class SplunkHecSinkConfig(StrictModel):
    """Splunk HTTP Event Collector, `/services/collector/event`."""

    type: Literal["splunk_hec"] = "splunk_hec"
    name: str | None = None
    routing: Routing = Routing()
    url: HttpUrl = Field(description="base URL, e.g. https://splunk:8088")
    token: SecretStr
    index: str | None = None
    source: str = "logsentry"
    sourcetype: str = "logsentry:alert"
    max_batch: int = Field(default=100, ge=1, le=10000)
    timeout: float = Field(default=10.0, gt=0)
    tls: TlsConfig = TlsConfig()

    def build(self, name: str) -> Sink:
        """The sink this configures; `name` keys its spool cursor."""
        from logsentry.sinks.splunk_hec import SplunkHecSink

        return SplunkHecSink(self, name)


class KafkaTopicSinkConfig(StrictModel):
    """A Kafka topic, one message per alert keyed by the alert's group."""

    type: Literal["kafka_topic"] = "kafka_topic"
    name: str | None = None
    routing: Routing = Routing()
    bootstrap_servers: list[str] = Field(min_length=1)
    topic: str = Field(min_length=1)
    client_id: str = "logsentry"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_plain_username: str | None = None
    sasl_plain_password: SecretStr | None = None
    max_batch: int = Field(default=500, ge=1)
    timeout: float = Field(default=30.0, gt=0)
    # Idempotent producer (no broker-side duplicates on producer retries).
    # Off by default: some Kafka-protocol brokers (Tansu, older proxies) reject it.
    enable_idempotence: bool = False
    tls: TlsConfig = TlsConfig()

    def build(self, name: str) -> Sink:
        """The sink this configures; `name` keys its spool cursor."""
        from logsentry.sinks.kafka_topic import KafkaTopicSink

        return KafkaTopicSink(self, name)


SinkConfig = Annotated[
    StdoutSinkConfig
    | JsonlSinkConfig
    | SlackSinkConfig
    | WebhookSinkConfig
    | SyslogSinkConfig
    | SplunkHecSinkConfig
    | KafkaTopicSinkConfig,
    Field(discriminator="type"),
]
