"""Which alert becomes which decision: selection, the address, allowlist, escalation, cap."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from logsentry.core.alert import SEVERITY_ORDER, Alert
from logsentry.respond.config import RespondConfig
from logsentry.respond.decision import ORIGIN, Decision, decision_uuid

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The alert fields that name the attacker, in order of preference.
SOURCE_FIELDS = ("source.ip",)


@dataclass(slots=True)
class Verdict:
    """A decision to take, or why none is taken (`refused` names a counted reason)."""

    decision: Decision | None = None
    refused: str = ""


class Policy:
    """Turns alerts into decisions as the `respond:` section says."""

    def __init__(self, config: RespondConfig, allowlist: Iterable[Network]) -> None:
        self.config = config
        self.allowlist = tuple(allowlist)
        self._min_severity = SEVERITY_ORDER.index(config.min_severity)

    def selects(self, alert: Alert) -> bool:
        """Whether the alert is one the configuration responds to."""
        config = self.config
        if SEVERITY_ORDER.index(alert.severity) < self._min_severity:
            return False
        if config.rules is not None and alert.rule_id not in config.rules:
            return False
        return config.tags is None or bool(set(config.tags) & set(alert.tags))

    def decide(self, alert: Alert, offenses_of: Callable[[str], int], now: float) -> Verdict:
        """The decision for a selected alert; `offenses_of(value)` counts the decisions the
        address (or network) had before."""
        raw = next((alert.group[f] for f in SOURCE_FIELDS if alert.group.get(f)), None)
        if raw is None:
            return Verdict(refused="no_source")
        address = parse_address(str(raw))
        if address is None:
            return Verdict(refused="not_an_address")
        if (address.is_loopback or address.is_unspecified or address.is_multicast
                or address.is_link_local or address.is_reserved):
            return Verdict(refused="not_routable")
        if any(address in network for network in self.allowlist):
            return Verdict(refused="allowlisted")
        prefix = self.config.prefix_v4 if address.version == 4 else self.config.prefix_v6
        network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
        value = str(address) if network.num_addresses == 1 else str(network)
        if any(network.overlaps(allowed) for allowed in self.allowlist):
            return Verdict(refused="allowlisted")
        offenses = offenses_of(value)
        duration = min(self.config.duration * self.config.increment ** offenses,
                       self.config.max_duration)
        return Verdict(Decision(
            uuid=decision_uuid(alert.dedup_id, value), value=value, type=self.config.type,
            origin=ORIGIN, scenario=alert.rule_id, created=now, until=now + duration,
            alert_id=alert.dedup_id, offense=offenses + 1))


def parse_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address in `text`, or None; an IPv4-mapped IPv6 address counts as its IPv4."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def allowlist(configured: Iterable[str]) -> list[Network]:
    """The configured networks plus loopback and the host's own addresses."""
    networks: list[Network] = [ipaddress.ip_network("127.0.0.0/8"),
                               ipaddress.ip_network("::1/128")]
    networks += [ipaddress.ip_network(item, strict=False) for item in configured]
    networks += [ipaddress.ip_network(address) for address in own_addresses()]
    return networks


def own_addresses() -> set[str]:
    """The host's addresses: its name's, and every interface's from /proc (IPv6)."""
    found: set[str] = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            found.add(str(info[4][0]).split("%", 1)[0])
    except OSError:
        pass
    try:
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            hexaddr = line.split()[0]
            found.add(str(ipaddress.IPv6Address(bytes.fromhex(hexaddr))))
    except (OSError, ValueError, IndexError):
        pass
    found |= _ipv4_interface_addresses()
    return {a for a in found if parse_address(a) is not None}


def _ipv4_interface_addresses() -> set[str]:
    """IPv4 addresses of every interface, read with SIOCGIFADDR."""
    import fcntl
    import struct

    found: set[str] = set()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for _, name in socket.if_nameindex():
            try:
                packed = fcntl.ioctl(sock.fileno(), 0x8915,  # SIOCGIFADDR
                                     struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue
            found.add(socket.inet_ntoa(packed[20:24]))
    finally:
        sock.close()
    return found
