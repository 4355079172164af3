"""From Sigma's taxonomy to the events logsentry makes: field names and log sources.

A Sigma rule names fields as its log source writes them (`cs-uri-query` of a web
server, `CommandLine` of a process creation, `exe` of auditd); logsentry's events
carry ECS fields (`url.original`, `process.command_line`, `process.executable`).
`FIELD_MAP` is the table between them (docs/sigma.md prints it); the configuration
adds to it. A name found nowhere is read as an ECS name itself, then as a Windows
event's `winlog.event_data.<name>`, so rules may name ECS fields directly.

A rule's `logsource` (product, category, service) becomes a test of what an event
is: its program name, what decoded it, its fields and the model's action.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from logsentry.core.event import Event
from logsentry.detect.condition import SPECIAL_FIELDS, field_getter

Getter = Callable[[Event], Any]
EventTest = Callable[[Event], bool]

# Sigma field -> ECS fields tried in order (the first present wins). `name[N]` is
# item N of a list field; `url.path`, `url.query` and `url.extension` are cut from
# `url.original` when the event has no such field.
FIELD_MAP: dict[str, tuple[str, ...]] = {
    # Web servers (W3C extended log names, as Sigma's webserver category uses them).
    "c-ip": ("source.ip", "source.address"),
    "c-uri": ("url.original",),
    "cs-uri": ("url.original",),
    "c-uri-stem": ("url.path",),
    "cs-uri-stem": ("url.path",),
    "cs-uri-query": ("url.query",),
    "c-uri-query": ("url.query",),
    "c-uri-extension": ("url.extension",),
    "cs-method": ("http.request.method",),
    "sc-status": ("http.response.status_code",),
    "c-useragent": ("user_agent.original",),
    "cs-user-agent": ("user_agent.original",),
    "cs-referer": ("http.request.referrer",),
    "cs-cookie": ("http.request.cookie",),
    "cs-host": ("url.domain", "destination.address"),
    "cs-username": ("user.name",),
    "cs-version": ("http.version",),
    "s-ip": ("destination.ip",),
    "sc-bytes": ("http.response.body.bytes",),
    "cs-bytes": ("http.request.body.bytes",),
    "r-dns": ("url.domain", "destination.address"),
    # Process creation (Sysmon names, used by Linux process_creation rules too).
    "Image": ("process.executable", "process.name"),
    "CommandLine": ("process.command_line",),
    "ParentImage": ("process.parent.executable", "process.parent.name"),
    "ParentCommandLine": ("process.parent.command_line",),
    "CurrentDirectory": ("process.working_directory",),
    "User": ("user.name",),
    "ProcessId": ("process.pid",),
    "ParentProcessId": ("process.parent.pid",),
    "LogonId": ("user.audit.id",),
    "TargetFilename": ("file.path",),
    "SourceIp": ("source.ip",),
    "SourcePort": ("source.port",),
    "SourceHostname": ("source.domain",),
    "DestinationIp": ("destination.ip",),
    "DestinationPort": ("destination.port",),
    "DestinationHostname": ("destination.domain", "destination.address"),
    "Hostname": ("host.name",),
    "Computer": ("host.name",),
    "EventID": ("event.code",),
    "Provider_Name": ("event.provider",),
    "Channel": ("winlog.channel",),
    # auditd (the record's own keys; the decoder names them in ECS).
    "type": ("auditd.message_type",),
    "exe": ("process.executable",),
    "comm": ("process.name",),
    "key": ("tags",),
    "name": ("file.path",),
    "cwd": ("process.working_directory",),
    "proctitle": ("process.title",),
    "uid": ("user.id",),
    "auid": ("user.audit.id",),
    "euid": ("user.effective.id",),
    "gid": ("user.group.id",),
    "pid": ("process.pid",),
    "ppid": ("process.parent.pid",),
    "syscall": ("auditd.data.syscall",),
    "SYSCALL": ("auditd.data.syscall",),
    "success": ("auditd.result",),
    "res": ("auditd.result",),
    "terminal": ("auditd.data.terminal",),
    "tty": ("auditd.data.tty",),
    "op": ("auditd.data.op",),
    "addr": ("source.ip",),
    "hostname": ("source.domain",),
    "acct": ("user.name",),
    "argc": ("process.args_count",),
    **{f"a{n}": (f"process.args[{n}]",) for n in range(10)},
    # Syslog and generic names.
    "host": ("host.name",),
    "program": ("process.name",),
    "process": ("process.name",),
    "username": ("user.name",),
    "user": ("user.name",),
    "src_ip": ("source.ip",),
    "dst_ip": ("destination.ip",),
    "src_port": ("source.port",),
    "dst_port": ("destination.port",),
    # AWS CloudTrail.
    "eventName": ("aws.cloudtrail.event_name",),
    "eventSource": ("event.provider",),
    "errorCode": ("aws.cloudtrail.error_code",),
    "errorMessage": ("aws.cloudtrail.error_message",),
    "awsRegion": ("cloud.region",),
    "sourceIPAddress": ("source.ip",),
    "userAgent": ("user_agent.original",),
    "recipientAccountId": ("cloud.account.id",),
    "userIdentity.arn": ("aws.cloudtrail.user_identity.arn",),
    "userIdentity.type": ("aws.cloudtrail.user_identity.type",),
    "userIdentity.accessKeyId": ("aws.cloudtrail.user_identity.access_key_id",),
}

# Log source services -> the program names (`process.name`) that write them. A
# service not here holds on events of the program with its own name.
SERVICES: dict[str, tuple[str, ...]] = {
    "auth": ("sshd", "sudo", "su", "login", "systemd-logind", "passwd", "chpasswd", "useradd",
             "userdel", "usermod", "groupadd", "groupdel", "gpasswd", "chage", "unix_chkpwd",
             "polkitd", "pkexec", "gdm-password", "lightdm", "dovecot", "vsftpd", "cron",
             "CRON"),
    "sshd": ("sshd",),
    "sudo": ("sudo",),
    "su": ("su",),
    "cron": ("cron", "CRON", "crond", "anacron"),
    "clamav": ("clamd", "freshclam", "clamscan", "clamav"),
    "vsftpd": ("vsftpd",),
    "apache": ("apache", "apache2", "httpd"),
    "nginx": ("nginx",),
    "modsecurity": ("modsecurity", "apache", "apache2", "httpd", "nginx"),
    "guacamole": ("guacd", "guacamole"),
    "systemd": ("systemd",),
    "kernel": ("kernel",),
}
# Actions of the model that are a process creation (besides decoded execve records).
_PROCESS_ACTIONS = frozenset({"process_started", "sudo_command", "su_session"})
_FIREWALL_ACTIONS = frozenset({"firewall_drop", "connection_rejected", "connection_opened",
                               "connection_closed"})
_AUTH_CATEGORY = "authentication"


class LogSourceError(ValueError):
    """A rule's log source is one logsentry cannot recognise (its reason to be skipped)."""


# Sysmon for Linux writes Windows-style event records: they are Linux events.
LINUX_SYSMON_PROVIDER = "Linux-Sysmon"
_SYSMON_PROVIDERS = frozenset({"Microsoft-Windows-Sysmon", LINUX_SYSMON_PROVIDER})
# Sigma's categories of Sysmon records (Windows and Linux alike), by event id, as
# Sigma's taxonomy assigns them.
SYSMON_CATEGORIES: dict[str, frozenset[str]] = {
    "process_termination": frozenset({"5"}),
    "network_connection": frozenset({"3"}),
    "driver_load": frozenset({"6"}),
    "image_load": frozenset({"7"}),
    "create_remote_thread": frozenset({"8"}),
    "raw_access_thread": frozenset({"9"}),
    "process_access": frozenset({"10"}),
    "file_event": frozenset({"11"}),
    "file_change": frozenset({"2"}),
    "registry_set": frozenset({"13"}),
    "registry_rename": frozenset({"14"}),
    "registry_event": frozenset({"12", "13", "14"}),
    "create_stream_hash": frozenset({"15"}),
    "pipe_created": frozenset({"17", "18"}),
    "wmi_event": frozenset({"19", "20", "21"}),
    "dns_query": frozenset({"22"}),
    "file_delete": frozenset({"23", "26"}),
    "clipboard_capture": frozenset({"24"}),
    "process_tampering": frozenset({"25"}),
    "file_block_executable": frozenset({"27"}),
    "file_block_shredding": frozenset({"28"}),
    "file_executable_detected": frozenset({"29"}),
    "sysmon_status": frozenset({"4", "16"}),
    "sysmon_error": frozenset({"255"}),
}


def _is_windows(event: Event) -> bool:
    fields = event.fields
    return (("winlog.channel" in fields or "winlog.record_id" in fields)
            and fields.get("event.provider") != LINUX_SYSMON_PROVIDER)


def _sysmon_test(codes: frozenset[str]) -> EventTest:
    def is_category(event: Event) -> bool:
        fields = event.fields
        return (fields.get("event.provider") in _SYSMON_PROVIDERS
                and fields.get("event.code") in codes)

    return is_category


def _is_aws(event: Event) -> bool:
    return "aws.cloudtrail.event_name" in event.fields


def _is_linux(event: Event) -> bool:
    return not _is_windows(event) and not _is_aws(event)


def _is_web(event: Event) -> bool:
    fields = event.fields
    return "url.original" in fields or "http.request.method" in fields


def _is_process_creation(event: Event) -> bool:
    # A decoded execve (auditd, laurel) is `process_started`; the model gives that
    # action, or a command line, to the lines of shells, sudo and cron.
    return event.action in _PROCESS_ACTIONS or "process.command_line" in event.fields


def _is_firewall(event: Event) -> bool:
    return event.action in _FIREWALL_ACTIONS


def _is_antivirus(event: Event) -> bool:
    return event.action == "malware_detected"


def _is_auditd(event: Event) -> bool:
    return "auditd.message_type" in event.fields


def _is_authentication(event: Event) -> bool:
    return _AUTH_CATEGORY in event.category


PRODUCTS: dict[str, EventTest] = {"linux": _is_linux, "windows": _is_windows, "aws": _is_aws}
CATEGORIES: dict[str, EventTest] = {
    "webserver": _is_web,
    "proxy": _is_web,
    "process_creation": _is_process_creation,
    "firewall": _is_firewall,
    "antivirus": _is_antivirus,
    "authentication": _is_authentication,
    **{name: _sysmon_test(codes) for name, codes in SYSMON_CATEGORIES.items()},
}
# Services that are not a program name.
SERVICE_TESTS: dict[str, EventTest] = {"auditd": _is_auditd, "syslog": _is_linux,
                                       "cloudtrail": _is_aws}


def logsource_test(
    product: str | None, category: str | None, service: str | None,
    services: Mapping[str, tuple[str, ...]],
) -> EventTest | None:
    """What an event must be for a rule of this log source; None: any event.

    Raises LogSourceError for a product or category logsentry never produces.
    """
    tests: list[EventTest] = []
    programs_of = {**SERVICES, **services}
    if product is not None:
        test = PRODUCTS.get(product.lower())
        if test is None and product.lower() in programs_of:
            # A product that is a program of its own (`modsecurity`, `apache`): its
            # events are that program's, as for a service of that name.
            test = _by_program(programs_of[product.lower()])
        if test is None:
            raise LogSourceError(
                f"log source product {product!r} is not one logsentry reads (known: "
                f"{', '.join(sorted(PRODUCTS))}, or a program named under "
                f"detection.sigma.services)")
        tests.append(test)
    if category is not None:
        test = CATEGORIES.get(category.lower())
        if test is None:
            raise LogSourceError(f"log source category {category!r} is not one logsentry's "
                                 f"events carry (known: {', '.join(sorted(CATEGORIES))})")
        tests.append(test)
    if service is not None:
        key = service.lower()
        special = SERVICE_TESTS.get(key)
        if special is not None and key not in services:
            tests.append(special)
        else:
            tests.append(_by_program(programs_of.get(key, (service,))))
    if not tests:
        return None
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:  # product and service (or category), the common pair: no generator
        first, second = tests
        return lambda event: first(event) and second(event)
    return lambda event: all(test(event) for test in tests)


def _by_program(names: tuple[str, ...]) -> EventTest:
    programs = frozenset(names)

    def by_program(event: Event) -> bool:
        return event.fields.get("process.name") in programs

    return by_program


class FieldMapper:
    """Sigma field names to getters over events, with the configured additions."""

    def __init__(self, extra: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self.table: dict[str, tuple[str, ...]] = {**FIELD_MAP, **(extra or {})}
        self._folded = {name.lower(): targets for name, targets in self.table.items()}

    def targets(self, name: str) -> tuple[str, ...]:
        """The ECS fields a Sigma field is read from, in order."""
        found = self.table.get(name) or self._folded.get(name.lower())
        if found is not None:
            return found
        return (name, f"winlog.event_data.{name}")

    def getter(self, name: str) -> Getter:
        """A function reading Sigma field `name` of an event (None when absent)."""
        getters = [_ecs_getter(target) for target in self.targets(name)]
        if len(getters) == 1:
            return getters[0]

        def first(event: Event) -> Any:
            for get in getters:
                value = get(event)
                if value is not None and value != "":
                    return value
            return None

        return first

    def reads_only_fields(self, name: str) -> bool:
        """Whether the field's value is a field of `Event.fields` (or cut from one), or the
        message: what the prefilter's text holds."""
        return all(target not in SPECIAL_FIELDS or target in ("message", "message.raw")
                   for target in self.targets(name))


def _ecs_getter(name: str) -> Getter:
    if name.endswith("]") and "[" in name:
        base, _, index_text = name[:-1].partition("[")
        index = int(index_text)

        def item(event: Event) -> Any:
            value = event.fields.get(base)
            if isinstance(value, list | tuple) and index < len(value):
                return value[index]
            return None

        return item
    if name == "url.path":
        return lambda event: event.fields.get("url.path") or _url_part(event, 0)
    if name == "url.query":
        return lambda event: event.fields.get("url.query") or _url_part(event, 1)
    if name == "url.extension":
        return lambda event: event.fields.get("url.extension") or _url_extension(event)
    if name in SPECIAL_FIELDS:
        return field_getter(name)
    return lambda event: event.fields.get(name)


def _url_extension(event: Event) -> str | None:
    """The file extension of the URL's path (ECS `url.extension`: without the dot), if its
    last segment has one."""
    path = event.fields.get("url.path") or _url_part(event, 0)
    if not isinstance(path, str):
        return None
    segment = path.rpartition("/")[2]
    stem, dot, extension = segment.rpartition(".")
    return extension if dot and stem and extension else None


def _url_part(event: Event, part: int) -> str | None:
    url = event.fields.get("url.original")
    if not isinstance(url, str):
        return None
    path, mark, query = url.partition("?")
    if part == 0:
        return path
    return query if mark else None
