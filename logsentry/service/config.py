"""Configuration of the service integration: metrics/health endpoint, status."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator

from logsentry.core.config_base import StrictModel


class MetricsConfig(StrictModel):
    """The HTTP endpoint serving `/metrics`, `/healthz` and `/readyz`."""

    enabled: bool = True
    # A local address by default: the endpoint has no authentication, so
    # exposing it beyond the host is an explicit decision of the operator.
    address: str = "127.0.0.1"
    # 0 picks a free port (tests); the bound port is logged.
    port: int = Field(default=9746, ge=0, le=65535)
    # Requests that take longer (slow clients) are cut off.
    request_timeout: float = Field(default=5.0, gt=0)

    @field_validator("address")
    @classmethod
    def _is_ip_address(cls, value: str) -> str:
        # An IP literal, not a host name: binding must not depend on DNS.
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"not an IP address: {value!r}") from None
        return value


class ServiceConfig(StrictModel):
    """How the daemon reports to its supervisor (systemd) and to monitoring."""

    metrics: MetricsConfig = MetricsConfig()
    # How often the STATUS= line (lines/s, alerts) is sent to systemd.
    status_interval: float = Field(default=10.0, gt=0)
    # Set to false to never send WATCHDOG=1 even when systemd asks for it.
    watchdog: bool = True
