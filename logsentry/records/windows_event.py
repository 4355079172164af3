"""Windows event records: event XML, nxlog and winlogbeat JSON -> ECS fields and actions.

The XML is the event log's own rendering (`<Event xmlns=...><System><Provider
Name=.../><EventID>4625</EventID><TimeCreated SystemTime=.../><Computer>...
</Computer></System><EventData><Data Name="TargetUserName">bob</Data>...`),
as Windows Event Forwarding, nxlog's `$raw_event` or CrowdSec's wineventlog
source write it on one line. It is attacker-influenced (user names, command
lines): it is read with bounded regular expressions, never an XML parser, so
no DTD, no entity expansion (only the five predefined entities and character
references are undone), and a malformed record yields what could be read.

Field names follow ECS as winlogbeat fills them: event.code, event.provider,
host.name, user.name/user.domain (the account the event is about), source.ip,
source.port, process.*, and every event data item under winlog.event_data.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from typing import Any

from logsentry.records.record import MAX_RECORD_CHARS, DecodedRecord, clip

SECURITY_PROVIDER = "Microsoft-Windows-Security-Auditing"
SYSMON_PROVIDER = "Microsoft-Windows-Sysmon"
# Sysmon for Linux writes the same records (to syslog) under its own provider name.
LINUX_SYSMON_PROVIDER = "Linux-Sysmon"
SYSMON_PROVIDERS = frozenset({SYSMON_PROVIDER, LINUX_SYSMON_PROVIDER})
# Sysmon events about a file (created, deleted, its time changed, a stream, a blocked
# executable): TargetFilename is the file.
_SYSMON_FILE_EVENTS = frozenset({2, 11, 15, 23, 26, 27, 28, 29})
# Event data items kept per record (a forged record may hold thousands).
MAX_DATA_ITEMS = 64

_EVENT_ID = re.compile(r"<EventID(?:\s[^<>]{0,200})?>\s*(\d{1,10})\s*</EventID>")
_PROVIDER = re.compile(r"<Provider\s[^<>]{0,400}?Name=(['\"])([^'\"<>]{1,256})\1")
_TIME = re.compile(r"<TimeCreated\s[^<>]{0,100}?SystemTime=(['\"])([^'\"<>]{1,64})\1")
_COMPUTER = re.compile(r"<Computer>([^<]{1,256})</Computer>")
_CHANNEL = re.compile(r"<Channel>([^<]{1,256})</Channel>")
_RECORD_ID = re.compile(r"<EventRecordID>(\d{1,20})</EventRecordID>")
_DATA = re.compile(
    r"<Data\s+Name=(['\"])([A-Za-z0-9_.\- ]{1,128})\1\s*(?:/>|>([^<]*)</Data>)")
_ENTITY = re.compile(r"&(#x[0-9A-Fa-f]{1,6}|#\d{1,7}|amp|lt|gt|quot|apos);")
_NAMED_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_NONE = frozenset({"", "-", "%%1793", "NULL SID"})

# Security log event ids whose meaning the vocabulary names.
_SECURITY_ACTIONS = {
    4624: "login_success",
    4625: "login_failed",       # an account failed to log on
    4771: "login_failed",       # Kerberos pre-authentication failed
    4720: "user_created",
    4726: "user_deleted",
    4738: "user_changed",
    4688: "process_started",
    # Members added to / removed from security-enabled global, local, universal groups.
    4728: "group_changed", 4729: "group_changed", 4732: "group_changed",
    4733: "group_changed", 4756: "group_changed", 4757: "group_changed",
}
_GROUP_EVENTS = frozenset({4728, 4729, 4732, 4733, 4756, 4757})
# Events about an account rather than by one: the target account is the user.
_TARGET_EVENTS = frozenset({4624, 4625, 4720, 4722, 4723, 4724, 4725, 4726, 4738, 4740, 4767,
                            4768, 4769, 4771, 4776})


def decode_windows_xml(text: str) -> DecodedRecord | None:
    """The fields and action of one event XML record; None without an `<EventID>`."""
    text = text[:MAX_RECORD_CHARS]
    system_end = text.find("</System>")
    system = text if system_end < 0 else text[:system_end]
    event_id = _EVENT_ID.search(system)
    if event_id is None:
        return None
    provider = _first(_PROVIDER, system, 2)
    data: dict[str, str] = {}
    for match in _DATA.finditer(text, max(system_end, 0)):
        if len(data) >= MAX_DATA_ITEMS:
            break
        data.setdefault(match[2], _unescape(match[3] or ""))
    record = windows_record(int(event_id[1]), provider, data)
    fields = record.fields
    computer = _first(_COMPUTER, system, 1)
    if computer:
        fields["host.name"] = computer
    channel = _first(_CHANNEL, system, 1)
    if channel:
        fields["winlog.channel"] = channel
    record_id = _first(_RECORD_ID, system, 1)
    if record_id:
        fields["winlog.record_id"] = int(record_id)
    stamp = _first(_TIME, system, 2)
    if stamp:
        record.timestamp = system_time(stamp)
    return record


def decode_windows_json(doc: dict[str, Any]) -> DecodedRecord | None:
    """A Windows event as nxlog (`"EventID": 4625` and the event data as top-level keys)
    or winlogbeat (`"winlog": {"event_id", "event_data", ...}`) write it; None otherwise."""
    winlog = doc.get("winlog")
    if isinstance(winlog, dict):
        event_id = _event_id(winlog.get("event_id"))
        if event_id is None:
            return None
        event_data = winlog.get("event_data")
        data = _text_items(event_data if isinstance(event_data, dict) else {})
        provider = winlog.get("provider_name")
        record = windows_record(event_id, provider if isinstance(provider, str) else None, data)
        computer = winlog.get("computer_name")
        channel = winlog.get("channel")
    else:
        event_id = _event_id(doc.get("EventID"))
        if event_id is None or not any(key in doc for key in (
                "SourceName", "ProviderName", "Channel", "TargetUserName", "SubjectUserName")):
            return None  # an "EventID" alone is too common a key to mean Windows
        provider = doc.get("ProviderName") or doc.get("SourceName")
        record = windows_record(event_id, provider if isinstance(provider, str) else None,
                                _text_items(doc))
        computer = doc.get("Hostname")
        channel = doc.get("Channel")
        stamp = doc.get("EventTime")
        if isinstance(stamp, str) and stamp[-1:] == "Z":
            record.timestamp = system_time(stamp)  # nxlog's local EventTime has no zone
    if isinstance(computer, str) and computer:
        record.fields["host.name"] = clip(computer)
    if isinstance(channel, str) and channel:
        record.fields["winlog.channel"] = clip(channel)
    return record


def windows_record(event_id: int, provider: str | None, data: dict[str, str]) -> DecodedRecord:
    """ECS fields and action of one Windows event from its id, provider and event data."""
    fields: dict[str, Any] = {"event.code": str(event_id)}
    if provider:
        fields["event.provider"] = clip(provider)
    for name, value in data.items():
        fields[f"winlog.event_data.{name}"] = value
    sysmon = provider in SYSMON_PROVIDERS
    security = not sysmon and (provider is None or provider == SECURITY_PROVIDER)
    action: str | None = None
    if sysmon:
        _sysmon(event_id, data, fields)
        if event_id == 1:
            action = "process_started"
    elif security:
        _security(event_id, data, fields)
        action = _SECURITY_ACTIONS.get(event_id)
        if event_id == 4776:  # NTLM credential validation: Status 0x0 is success
            status = data.get("Status", "").lower()
            action = "login_failed" if status not in ("", "0x0", "0") else None
    return DecodedRecord(fields, action=action)


def _security(event_id: int, data: dict[str, str], fields: dict[str, Any]) -> None:
    get = data.get
    if event_id in _GROUP_EVENTS:
        # TargetUserName names the group; the member is a DN (or only a SID).
        _put(fields, "group.name", get("TargetUserName"))
        _put(fields, "group.domain", get("TargetDomainName"))
        member = get("MemberName", "")
        cn = re.match(r"CN=((?:[^,\\]|\\.){1,256})", member)
        _put(fields, "user.name", cn[1].replace("\\", "") if cn else get("MemberSid"))
    elif event_id in _TARGET_EVENTS and get("TargetUserName", "-") not in _NONE:
        _put(fields, "user.name", get("TargetUserName"))
        _put(fields, "user.domain", get("TargetDomainName"))
    else:
        _put(fields, "user.name", get("SubjectUserName"))
        _put(fields, "user.domain", get("SubjectDomainName"))
    if event_id == 4688:
        _put(fields, "process.executable", get("NewProcessName"))
        _put_int(fields, "process.pid", get("NewProcessId"))
        _put(fields, "process.command_line", get("CommandLine"))
        _put(fields, "process.parent.executable", get("ParentProcessName"))
        _put_int(fields, "process.parent.pid", get("ProcessId"))
    else:
        _put(fields, "process.executable", get("ProcessName"))
        _put_int(fields, "process.pid", get("ProcessId"))
    _put_ip(fields, "source.ip", get("IpAddress"))
    _put_int(fields, "source.port", get("IpPort"))
    _put(fields, "source.domain", get("WorkstationName") or get("Workstation"))
    _process_name(fields)


def _sysmon(event_id: int, data: dict[str, str], fields: dict[str, Any]) -> None:
    get = data.get
    user = get("User", "")
    domain, sep, name = user.partition("\\")
    if sep:
        _put(fields, "user.domain", domain)
        _put(fields, "user.name", name)
    else:
        _put(fields, "user.name", user)
    _put(fields, "process.executable", get("Image"))
    _put_int(fields, "process.pid", get("ProcessId"))
    _put(fields, "process.command_line", get("CommandLine"))
    _put(fields, "process.working_directory", get("CurrentDirectory"))
    _put(fields, "process.parent.executable", get("ParentImage"))
    _put_int(fields, "process.parent.pid", get("ParentProcessId"))
    _put(fields, "process.parent.command_line", get("ParentCommandLine"))
    if event_id == 3:  # network connection
        _put_ip(fields, "source.ip", get("SourceIp"))
        _put_int(fields, "source.port", get("SourcePort"))
        _put(fields, "source.domain", get("SourceHostname"))
        _put_ip(fields, "destination.ip", get("DestinationIp"))
        _put_int(fields, "destination.port", get("DestinationPort"))
        _put(fields, "destination.domain", get("DestinationHostname"))
    elif event_id in _SYSMON_FILE_EVENTS:
        _put(fields, "file.path", get("TargetFilename"))
    _process_name(fields)


def system_time(text: str) -> datetime | None:
    """`2022-04-29T12:36:01.9027913Z` (seven fraction digits) as a UTC datetime."""
    head, dot, rest = text.partition(".")
    if dot:
        digits = rest.rstrip("Z")
        if not digits.isdigit():
            return None
        text = f"{head}.{digits[:6].ljust(6, '0')}{'Z' if rest.endswith('Z') else ''}"
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _unescape(text: str) -> str:
    """XML's predefined entities and character references undone; anything else kept."""
    text = clip(text)
    if "&" not in text:
        return text
    return _ENTITY.sub(_entity, text)


def _entity(match: re.Match[str]) -> str:
    ref = match[1]
    if ref[0] != "#":
        return _NAMED_ENTITIES[ref]
    code = int(ref[2:], 16) if ref[1] == "x" else int(ref[1:])
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return "\ufffd"
    return chr(code)


def _first(pattern: re.Pattern[str], text: str, group: int) -> str | None:
    match = pattern.search(text)
    if match is None:
        return None
    return _unescape(match[group]).strip() or None


def _event_id(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 32:
        return value
    if isinstance(value, str) and value.isdigit() and len(value) <= 10:
        return int(value)
    return None


def _text_items(doc: dict[str, Any]) -> dict[str, str]:
    items: dict[str, str] = {}
    for key, value in doc.items():
        if len(items) >= MAX_DATA_ITEMS:
            break
        if isinstance(key, str) and isinstance(value, str | int) and not isinstance(value, bool):
            items[key] = clip(str(value))
    return items


def _put(fields: dict[str, Any], name: str, value: str | None) -> None:
    if value is not None and value.strip() not in _NONE:
        fields[name] = clip(value.strip())


def _put_int(fields: dict[str, Any], name: str, value: str | None) -> None:
    """Windows writes ids in hex (`0x1a4`) or decimal; 0 means none."""
    if not value:
        return
    value = value.strip()
    try:
        number = int(value, 16) if value[:2].lower() == "0x" else int(value)
    except ValueError:
        return
    if 0 < number < 1 << 32:
        fields[name] = number


def _put_ip(fields: dict[str, Any], name: str, value: str | None) -> None:
    if not value or value.strip() in _NONE:
        return
    try:
        ipaddress.ip_address(value.strip())
    except ValueError:
        return
    fields[name] = value.strip()


def _process_name(fields: dict[str, Any]) -> None:
    """process.name and process.parent.name: the executables' file names."""
    for prefix in ("process.", "process.parent."):
        path = fields.get(prefix + "executable")
        if isinstance(path, str):
            fields.setdefault(prefix + "name", path.replace("/", "\\").rsplit("\\", 1)[-1])
