"""Configuration of active response (`respond:`); off until configured."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator

from logsentry.core.config_base import StrictModel
from logsentry.detect.duration import parse_duration


def _duration(value: object) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ValueError(str(exc)) from None


def _ip_literal(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"not an IP address: {value!r}") from None
    return value


class LapiConfig(StrictModel):
    """The CrowdSec-compatible decision API that bouncers poll."""

    enabled: bool = True
    # Loopback by default: bouncers usually run on the same host.
    address: str = "127.0.0.1"
    # CrowdSec's local API listens on 8080; another port avoids clashing with it.
    port: int = Field(default=8081, ge=0, le=65535)
    # Serve TLS with this certificate and key (PEM) instead of plain HTTP.
    cert_file: str | None = None
    key_file: str | None = None

    _address = field_validator("address")(_ip_literal)


class NftablesConfig(StrictModel):
    """The built-in responder: named sets with element timeouts in an nftables table."""

    enabled: bool = False
    table: str = Field(default="logsentry", pattern=r"^[A-Za-z][A-Za-z0-9_]{0,30}$")
    nft: str = "nft"
    # The input-chain priority: before the usual filter chains (0).
    priority: int = -10


class RespondConfig(StrictModel):
    """Which alerts become which decisions, and where the decisions go."""

    enabled: bool = False
    # Log what would be done; store and enforce nothing.
    dry_run: bool = False
    # Alerts that qualify: all of these that are set must hold.
    rules: list[str] | None = None
    min_severity: Literal["low", "medium", "high", "critical"] = "medium"
    tags: list[str] | None = None
    type: Literal["ban", "captcha", "throttle"] = "ban"
    duration: float = 4 * 3600.0
    # Each new decision on the same address lasts `increment` times the last
    # (fail2ban's bantime.increment), up to `max_duration`.
    increment: float = Field(default=2.0, ge=1.0)
    max_duration: float = 7 * 86400.0
    # Ban the address (32/128) or its network (24, 64, ...).
    prefix_v4: int = Field(default=32, ge=8, le=32)
    prefix_v6: int = Field(default=128, ge=16, le=128)
    # Active decisions at most; past it new ones are refused (counted, logged).
    max_active: int = Field(default=100_000, ge=1)
    # Addresses and networks never decided on; loopback and the host's own
    # addresses are always added.
    allowlist: list[str] = Field(default_factory=list)
    lapi: LapiConfig = LapiConfig()
    nftables: NftablesConfig = NftablesConfig()

    _durations = field_validator("duration", "max_duration", mode="before")(_duration)

    @field_validator("allowlist")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"not an address or network: {item!r}") from None
        return value
