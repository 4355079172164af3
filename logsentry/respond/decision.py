"""One decision, and its form in CrowdSec's local API."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

ORIGIN = "logsentry"
"""The `origin` of decisions logsentry takes from alerts (bouncers may filter on it)."""

MANUAL_ORIGIN = "cscli"
"""The `origin` of decisions added by hand, as CrowdSec names its command line's."""


@dataclass(slots=True)
class Decision:
    """A remediation of `type` on `value` (an address or a network) until `until`."""

    uuid: str
    value: str
    type: str
    origin: str
    scenario: str
    created: float
    until: float
    alert_id: str = ""
    # The nth decision taken on this value (escalation counts from it).
    offense: int = 1

    @property
    def id(self) -> int:
        """CrowdSec's integer id, taken from the uuid: the same on every replay."""
        return int(self.uuid.replace("-", "")[:13], 16)

    @property
    def scope(self) -> str:
        """`Ip` for one address, `Range` for a network, as CrowdSec writes them."""
        return "Range" if "/" in self.value else "Ip"

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.value, strict=False)

    def active(self, now: float) -> bool:
        return self.until > now

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})

    def to_lapi(self, now: float) -> dict[str, Any]:
        """The decision as CrowdSec's local API returns it to bouncers."""
        return {
            "id": self.id,
            "uuid": self.uuid,
            "origin": self.origin,
            "type": self.type,
            "scope": self.scope,
            "value": self.value,
            "duration": go_duration(self.until - now),
            "until": datetime.fromtimestamp(self.until, UTC).isoformat().replace(
                "+00:00", "Z"),
            "scenario": self.scenario,
            "simulated": False,
        }


def decision_uuid(*parts: str) -> str:
    """A stable identifier: the same alert and address give the same decision."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def go_duration(seconds: float) -> str:
    """Seconds as Go's time.Duration prints them ("3h59m58.5s", "-12s"), which bouncers
    parse."""
    sign = "-" if seconds < 0 else ""
    rest = abs(seconds)
    hours, rest = divmod(rest, 3600)
    minutes, rest = divmod(rest, 60)
    text = f"{rest:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{sign}{int(hours)}h{int(minutes)}m{text}"
    if minutes:
        return f"{sign}{int(minutes)}m{text}"
    return sign + text
