"""Field names of a rule that no event of its log source can carry.

A Sigma field is read from the ECS fields the mapping names (`FieldMapper.targets`):
the table's, else the name itself and a Windows record's `winlog.event_data.<name>`.
When none of them is a field that logsentry's events carry (the envelope's, the
decoders', the sources' and the model's, listed in `EVENT_FIELDS`), a test of that
field never sees a value: such a selection never matches (and a filter on it never
filters). The loader reports each such field with its rule, so that the table can be
extended (`detection.sigma.fields`) before the rule is relied on.

A Windows event record carries every item of its event data, whatever the name: a
rule whose events may be Windows records (product `windows`, or no product and no
web category or service) may read any name there. A Linux rule's events include
Sysmon for Linux records, whose event data are Sysmon's own names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionNOT,
    ConditionOR,
)
from sigma.types import SigmaExpansion, SigmaFieldReference

from logsentry.core.analysis import ENTITY_FIELDS
from logsentry.detect.condition import SPECIAL_FIELDS
from logsentry.detect.sigma.mapping import FieldMapper

# Every ECS field an event may carry besides the model's entities (ENTITY_FIELDS):
# written by the envelope (syslog header, access logs, JSON keys), the decoders of
# `records/` (auditd and laurel, Windows and Sysmon records, CloudTrail, PAN-OS),
# the journald source, and `url.path`, `url.query` and `url.extension`, which the
# mapping cuts from `url.original`.
EVENT_FIELDS: frozenset[str] = frozenset({
    *ENTITY_FIELDS,
    "auditd.data.arch", "auditd.data.exit", "auditd.data.op", "auditd.data.sig",
    "auditd.data.syscall", "auditd.data.terminal", "auditd.data.tty", "auditd.message_type",
    "auditd.result", "auditd.sequence", "auditd.session",
    "aws.cloudtrail.error_code", "aws.cloudtrail.error_message", "aws.cloudtrail.event_name",
    "aws.cloudtrail.user_identity.access_key_id", "aws.cloudtrail.user_identity.arn",
    "aws.cloudtrail.user_identity.type", "cloud.account.id", "cloud.provider", "cloud.region",
    "destination.address", "destination.domain", "event.code", "event.provider",
    "group.domain", "group.name", "http.request.referrer", "http.version",
    "log.syslog.facility.code",
    "log.syslog.severity.code", "network.application", "network.transport",
    "observer.egress.zone", "observer.ingress.zone", "observer.serial_number",
    "observer.vendor", "panw.panos.action", "panw.panos.severity", "panw.panos.sub_type",
    "panw.panos.threat.category", "panw.panos.threat.name", "panw.panos.type", "process.args",
    "process.args_count", "process.executable", "process.parent.command_line",
    "process.parent.executable", "process.parent.name", "process.parent.pid",
    "process.title", "process.user.id", "process.working_directory", "rule.name",
    "source.domain", "systemd.unit", "tags", "url.extension", "url.path", "url.query",
    "user.audit.id",
    "user.audit.name", "user.domain", "user.effective.id", "user.group.id", "user.id",
    "user.login", "winlog.channel", "winlog.record_id",
})
# The event data names of Sysmon's records (Sysmon for Linux writes the same schema).
SYSMON_EVENT_DATA: frozenset[str] = frozenset({
    "RuleName", "UtcTime", "ProcessGuid", "ProcessId", "Image", "FileVersion", "Description",
    "Product", "Company", "OriginalFileName", "CommandLine", "CurrentDirectory", "User",
    "LogonGuid", "LogonId", "TerminalSessionId", "IntegrityLevel", "Hashes",
    "ParentProcessGuid", "ParentProcessId", "ParentImage", "ParentCommandLine", "ParentUser",
    "TargetFilename", "CreationUtcTime", "PreviousCreationUtcTime", "Protocol", "Initiated",
    "SourceIsIpv6", "SourceIp", "SourceHostname", "SourcePort", "SourcePortName",
    "DestinationIsIpv6", "DestinationIp", "DestinationHostname", "DestinationPort",
    "DestinationPortName", "State", "Version", "SchemaVersion", "QueryName", "QueryStatus",
    "QueryResults", "IsExecutable", "Archived", "Configuration", "ConfigurationFileHash",
})
_EVENT_DATA = "winlog.event_data."
# Log source categories whose events are never Windows event records.
_NOT_RECORDS = frozenset({"webserver", "proxy"})


@dataclass(frozen=True)
class FieldWarning:
    """A field of a loaded rule that no event of its log source carries."""

    path: str
    title: str
    field: str
    targets: tuple[str, ...]

    def text(self) -> str:
        return (f"field {self.field!r} is none of the fields logsentry's events carry "
                f"(read as {', '.join(self.targets)}): a test of it never sees a value; "
                f"map it to an ECS field under detection.sigma.fields")


def rule_fields(trees: Iterable[Any]) -> list[str]:
    """The Sigma field names a rule's condition trees read, in order, each once."""
    names: dict[str, None] = {}

    def walk(node: Any) -> None:
        if isinstance(node, ConditionAND | ConditionOR | ConditionNOT):
            for arg in node.args:
                walk(arg)
        elif isinstance(node, ConditionFieldEqualsValueExpression):
            names.setdefault(node.field)
            values = (node.value.values if isinstance(node.value, SigmaExpansion)
                      else [node.value])
            for value in values:
                if isinstance(value, SigmaFieldReference):
                    names.setdefault(value.field)

    for tree in trees:
        walk(tree)
    return list(names)


def unreadable_fields(
    names: Iterable[str], mapper: FieldMapper, product: str | None, category: str | None,
    service: str | None,
) -> list[tuple[str, tuple[str, ...]]]:
    """Of `names`, those whose every ECS target no event of this log source carries,
    each with its targets."""
    product = product.lower() if product else None
    windows = product == "windows" or (
        product is None and service is None and (category or "").lower() not in _NOT_RECORDS)
    sysmon = windows or product == "linux"
    found = []
    for name in names:
        targets = mapper.targets(name)
        if not any(_carried(target, windows, sysmon) for target in targets):
            found.append((name, targets))
    return found


def _carried(target: str, windows: bool, sysmon: bool) -> bool:
    if target.startswith(_EVENT_DATA):
        item = target[len(_EVENT_DATA):]
        return windows or (sysmon and item in SYSMON_EVENT_DATA)
    base = target.partition("[")[0]  # `process.args[2]`: an item of the list
    return base in EVENT_FIELDS or base in SPECIAL_FIELDS
