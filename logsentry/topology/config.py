"""Configuration of the two-stage Kafka topology (`topology:` in the configuration file)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from logsentry.core.config_base import StrictModel
from logsentry.sources.config import KafkaSourceConfig
from logsentry.transport.tls import TlsConfig


class TopologyConfig(StrictModel):
    """Which stages this process runs, and the keyed events topic between them.

    - single: the whole pipeline in this process, no events topic (one host,
      or one instance reading a Kafka source: correlation sees every event).
    - analyze: stage 1 only: the configured sources are analyzed and every
      event is produced to `events_topic`, keyed by its correlation key.
    - detect: stage 2 only: consumes `events_topic` in the group `group_id`
      and correlates; alerts go to the configured alert sinks (spool).
    - both: stages 1 and 2 in one process; start N such processes to scale out.
    """

    mode: Literal["single", "analyze", "detect", "both"] = "single"
    bootstrap_servers: list[str] = Field(default_factory=list)
    events_topic: str = "logsentry-events"
    # Partitions of `events_topic` when logsentry creates it: the most
    # stage-2 instances that can share the work (see the README (Kafka section)).
    events_partitions: int = Field(default=12, ge=1)
    create_topic: bool = True
    group_id: str = "logsentry-detect"
    # The partitioning key of an event: the first of these fields it has.
    # Every event of one correlation group must get the same key, so these
    # are the fields rules group by (source.ip for attacks from an address,
    # then user.name, then host.name for host-local rules).
    key_fields: list[str] = Field(
        default_factory=lambda: ["source.ip", "user.name", "host.name"], min_length=1)
    # When a partition moves to this instance, its correlation state is
    # rebuilt by re-reading up to this many events before the committed
    # offset (alerts they raise were already delivered by the previous owner
    # and are dropped). Size: events per partition in the longest rule window.
    replay_messages: int = Field(default=100_000, ge=0)
    # Batches waiting between the events consumer and detection.
    queue_batches: int = Field(default=16, ge=1)
    client_id: str = "logsentry"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_plain_username: str | None = None
    sasl_plain_password: SecretStr | None = None
    tls: TlsConfig = TlsConfig()
    # The consumer group of stage 2, as for the Kafka source (docs/kafka.md:
    # failover): a dead instance's partitions move after session_timeout.
    session_timeout: float = Field(default=6.0, gt=0)
    heartbeat_interval: float | None = Field(default=None, gt=0)
    revoke_timeout: float = Field(default=20.0, gt=0)
    commit_interval: float = Field(default=1.0, gt=0)
    partition_assignment: Literal["roundrobin", "range", "sticky"] = "sticky"

    @model_validator(mode="after")
    def _needs_brokers(self) -> TopologyConfig:
        if self.mode != "single" and not self.bootstrap_servers:
            raise ValueError(f"mode {self.mode} needs bootstrap_servers")
        return self

    def events_source(self) -> KafkaSourceConfig:
        """The consumer of stage 2: the events topic, raw ECS JSON lines."""
        return KafkaSourceConfig(
            name="kafka:" + self.events_topic,
            bootstrap_servers=self.bootstrap_servers,
            topics=[self.events_topic],
            group_id=self.group_id,
            client_id=self.client_id,
            start_at="earliest",
            format="line",
            fields={},
            security_protocol=self.security_protocol,
            sasl_mechanism=self.sasl_mechanism,
            sasl_plain_username=self.sasl_plain_username,
            sasl_plain_password=self.sasl_plain_password,
            tls=self.tls,
            partition_assignment=self.partition_assignment,
            session_timeout=self.session_timeout,
            heartbeat_interval=self.heartbeat_interval,
            revoke_timeout=self.revoke_timeout,
            commit_interval=self.commit_interval,
        )
