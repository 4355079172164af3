"""Palo Alto Networks PAN-OS syslog records (CSV): THREAT and TRAFFIC logs -> ECS fields
and an action.

A PAN-OS firewall sends each log as one CSV record after its syslog header:
`1,2023/07/06 08:11:40,<serial>,THREAT,vulnerability,<n>,<generated>,<src>,<dst>,
<nat src>,<nat dst>,<rule>,<src user>,<dst user>,<app>,<vsys>,<src zone>,<dst zone>,
<in if>,<out if>,<log action>,<n>,<session>,<repeat>,<sport>,<dport>,<nat sport>,
<nat dport>,<flags>,<proto>,<action>,` and then, for THREAT, `<url/file>,<threat name(id)>,
<category>,<severity>,<direction>,...`. The column order is fixed by PAN-OS (the same in
8.x to 11.x for these first columns); field names follow Elastic's panw module.
"""

from __future__ import annotations

import csv
import ipaddress
import re
from typing import Any

from logsentry.records.record import DecodedRecord, clip

# Where a record may start: after a syslog header and the device's host name.
_SCAN = 200
_START = re.compile(r"(?:^|(?<=\s))\d{1,2},\d{4}/\d\d/\d\d \d\d:\d\d:\d\d,[^,]{0,64},"
                    r"(?:THREAT|TRAFFIC),")
# Threat subtypes that are malware findings rather than attacks on a service.
_MALWARE = frozenset({"virus", "wildfire-virus", "wildfire"})
_ATTACKS = frozenset({"vulnerability", "spyware", "flood", "scan"})
_DENIED = ("deny", "drop", "reset-client", "reset-server", "reset-both", "block")


def find_panos(line: str) -> int:
    """Where a PAN-OS THREAT/TRAFFIC record starts in `line`, or -1. (The envelope asks only
    lines holding `,THREAT,` or `,TRAFFIC,`: two `in` tests are cheaper than this call.)"""
    match = _START.search(line, 0, _SCAN)
    return -1 if match is None else match.start()


def decode_panos(record: str) -> DecodedRecord | None:
    """Fields and action of a PAN-OS THREAT or TRAFFIC record (the CSV text from its first
    column); None when it has too few columns."""
    try:
        row = next(csv.reader([record[:65536]]))
    except (csv.Error, StopIteration):
        return None
    if len(row) < 31:
        return None
    kind, subtype = row[3], row[4]
    fields: dict[str, Any] = {"event.provider": "panos", "observer.vendor": "Palo Alto Networks",
                              "panw.panos.type": kind}
    _text(fields, "panw.panos.sub_type", subtype)
    _text(fields, "observer.serial_number", row[2])
    _address(fields, "source.ip", row[7])
    _address(fields, "destination.ip", row[8])
    _text(fields, "rule.name", row[11])
    _text(fields, "user.name", row[12])
    _text(fields, "network.application", row[14])
    _text(fields, "observer.ingress.zone", row[16])
    _text(fields, "observer.egress.zone", row[17])
    _port(fields, "source.port", row[24])
    _port(fields, "destination.port", row[25])
    _text(fields, "network.transport", row[29])
    action = row[30]
    _text(fields, "panw.panos.action", action)
    decoded: str | None = None
    if kind == "THREAT" and len(row) >= 35:
        _text(fields, "url.original", row[31])
        _text(fields, "panw.panos.threat.name", row[32])
        _text(fields, "panw.panos.threat.category", row[33])
        _text(fields, "panw.panos.severity", row[34])
        if subtype in _MALWARE:
            decoded = "malware_detected"
        elif subtype in _ATTACKS:
            decoded = "intrusion_detected"
    elif kind == "TRAFFIC" and action.startswith(_DENIED):
        decoded = "firewall_drop"
    return DecodedRecord(fields, action=decoded)


def _text(fields: dict[str, Any], name: str, value: str) -> None:
    if value and value not in ("any", "N/A"):
        fields[name] = clip(value)


def _address(fields: dict[str, Any], name: str, value: str) -> None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return
    fields[name] = value


def _port(fields: dict[str, Any], name: str, value: str) -> None:
    if value.isascii() and value.isdigit() and len(value) <= 5:
        fields[name] = int(value)
