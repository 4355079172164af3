"""Envelope parsing: the header a line arrives in, before the model reads its body.

Recognised, in order: JSON lines (journald export JSON and generic JSON with a
message field), RFC 5424 syslog, RFC 3164 syslog (with or without a year,
with rsyslog's ISO 8601 high-precision timestamps, with or without a
priority and a host), Apache/nginx combined access logs, and a bare leading
ISO timestamp. Anything else is the raw line. Header fields (timestamp, host,
program, pid, and for access logs the request) go into the event; the body
is what the analyzer reads.

Records that name their own fields are decoded by `logsentry.records`, chosen
on the first characters: Linux audit records (`type=`/`node=` lines and
syslog bodies, laurel JSON with a "SYSCALL" object) and Windows event records
(`<Event` XML lines and bodies, nxlog/winlogbeat JSON). Where the record's type
fixes its meaning (an execve, a 4625) it sets `Event.decoded_action`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import orjson

from logsentry.core.event import Event, typed_field
from logsentry.records.dispatch import RECORD_STARTS, decode_json, decode_line
from logsentry.records.panos import decode_panos, find_panos
from logsentry.records.record import apply_record

_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}

_ISO = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?"
_BSD = r"[A-Z][a-z]{2} [ 0-3]?\d (?:\d{4} )?\d\d:\d\d:\d\d(?:\.\d{1,6})?"

_RFC5424 = re.compile(
    r"<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<pid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>-|(?:\[(?:[^\]\\]|\\.)*\])+) ?(?P<msg>.*)",
    re.DOTALL,
)
# One SD-ELEMENT of RFC 5424 §6.3: `[`, then anything with `\]` (and any `\x`) escaped.
_SD_ELEMENT = re.compile(r"\[(?:[^\]\\]|\\.)*\]", re.DOTALL)
_TRANSPORT_SD_IDS = frozenset({"timeQuality", "origin", "meta"})  # RFC 5424 §7
_RFC3164 = re.compile(
    rf"(?:<\d{{1,3}}>)?(?P<ts>{_BSD}|{_ISO}) (?:(?P<host>[^\s\[\]:=]+) )?"
    r"(?P<tag>[^\s\[\]:=]{1,64})(?:\[(?P<pid>\d{1,10})\])?: ?(?P<msg>.*)",
    re.DOTALL,
)
_COMBINED = re.compile(
    r"(?:(?P<vhost>[^\s\[\]\"]+)(?::\d+)? )?(?P<client>[^\s\[\]\"]+) (?P<ident>\S+) (?P<user>\S+) "
    r"\[(?P<ts>\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] "
    r"\"(?P<request>(?:[^\"\\]|\\.)*)\" (?P<status>\d{3}) (?P<size>\d+|-)"
    r"(?: \"(?P<referrer>(?:[^\"\\]|\\.)*)\" \"(?P<agent>(?:[^\"\\]|\\.)*)\")?",
    re.DOTALL,
)
_REQUEST_LINE = re.compile(
    r'"(?P<method>[A-Z]{3,10}) (?P<target>[^\s"]+) HTTP/(?P<version>\d(?:\.\d)?)"')
_CLF_PREFIX = re.compile(r'(?:^|(?<= ))(?P<client>[0-9A-Fa-f.:]{2,45}) - (?P<user>[^\s"]{1,128}) $')
# nginx's error log ends every entry with the request's context (ngx_http_log_error):
# `..., client: 203.0.113.7, server: example.com, request: "GET / HTTP/1.1", host: "..."`.
_NGINX_ERROR_CLIENT = re.compile(r", client: (?P<client>[0-9A-Fa-f.:]{2,45}), server: ")
# A connection written as `src:port->dst:port` (MikroTik, Suricata fast.log, Snort, many
# firewalls): the arrow says which side is the client. IPv6 only in brackets, because
# `2001:db8::1:443` does not say where the address ends.
_FLOW = re.compile(
    r"(?<![\w.:])(?P<sip>\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):(?P<sport>\d{1,5})"
    r" ?-> ?(?P<dip>\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\]):(?P<dport>\d{1,5})(?![\w.])")
_DEVICE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,253}")
# Methods a JSON record may spell in lower case ("method": "post", Node/hapi loggers).
_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS",
                           "TRACE", "PATCH", "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE",
                           "LOCK", "UNLOCK", "REPORT", "SEARCH"})
# Where a request line is looked for: an attacker's megabyte line must not cost a scan.
MAX_REQUEST_SCAN = 8192
# ECMA-48 control sequences (CSI ... final byte), e.g. "\x1b[33m".
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
# `USER=name` among `KEY=value` pairs names the effective user: sudo's target user
# (`alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash`), and the
# USER environment variable of whatever ran. Upper case, a whole key (not RUSER=).
_EFFECTIVE_USER = re.compile(r"(?:^|(?<=[\s;]))USER=(?P<user>[^\s;\"']{1,64})")
# Apache's error-log time (ctime order, 2.4 with microseconds):
# `[Tue Mar 05 22:30:39.475003 2024] [core:info] ...`, `[Sun Dec 04 04:47:44 2005] [error] ...`.
_CTIME_PREFIX = re.compile(
    r"\[[A-Z][a-z]{2} (?P<month>[A-Z][a-z]{2}) (?P<day>[ 0-3]?\d) "
    r"(?P<clock>\d\d:\d\d:\d\d(?:\.\d{1,6})?) (?P<year>\d{4})\] ")
# Up to four values a collector writes before a BSD syslog header (`_prefixed_syslog`), one
# of them with a digit (a sequence number, epoch seconds, a date), none a `word:` and none
# bracketed (an application header's `[thread]`, `(logger)`, `app[pid]`).
_COLLECTOR_PREFIX = re.compile(
    r"(?:[^\s:\[\]()]{1,64}+ ){1,4}?(?=[A-Z][a-z]{2} [ 0-3]?\d (?:\d{4} )?\d\d:\d\d:\d\d)")
_DIGIT_CHARS = frozenset("0123456789")
_ONE_DAY = timedelta(days=1)
# `[<time>] ...`, the time's text checked by `_is_time_text`.
_BRACKETED_TIME = re.compile(r"\[(?P<ts>[\w .,:/+-]{8,40}?)\] ")
_CLOCK = re.compile(r"(?<!\d)\d{1,2}:\d\d:\d\d(?!\d)")
_TIME_WORD = re.compile(r"[A-Za-z]+")
_WEEKDAYS = frozenset(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
# What follows the colon that ends a syslog tag given without a pid.
_TAG_END = ("", " ", "\t")
_ISO_PREFIX = re.compile(rf"(?P<ts>{_ISO}) +(?P<msg>.*)", re.DOTALL)

_JSON_MESSAGE_KEYS = ("MESSAGE", "message", "msg", "log", "Message")
_JSON_TIME_KEYS = ("@timestamp", "timestamp", "time", "ts", "date")
_JSON_HOST_KEYS = ("_HOSTNAME", "host", "hostname")
# Keys a log shipper or logging library adds around a message (docker's json-file,
# Filebeat/Logstash, structlog, journald's upper-case and underscored fields). A JSON
# document with nothing else is an envelope: the analyzer reads its message. One with
# other keys (`"remote":"203.0.113.7:51234"`, `"user":...`) is the application's own
# structured record: the analyzer reads all of it, or those fields would be lost.
_JSON_ENVELOPE_KEYS = frozenset({
    *_JSON_MESSAGE_KEYS, *_JSON_TIME_KEYS, *_JSON_HOST_KEYS,
    "level", "levelname", "lvl", "severity", "loglevel", "log.level", "stream", "logger",
    "logger_name", "name", "thread", "thread_name", "threadName", "pid", "tid", "tag",
    "@version", "source", "service", "container_name", "container_id", "caller", "func",
    "file", "line", "lineno", "module", "funcName", "event", "log_type",
})
# Keys of structured records whose meaning every SIEM agrees on (ECS names and the
# common spellings of web frameworks, Caddy, GitLab, MongoDB, Keycloak...), compared
# lower-cased without `_`, `-` or `.`. Values are checked by type (an address must
# parse); the model still reads the whole record for the rest.
_JSON_FIELD_KEYS: dict[str, str] = {
    **dict.fromkeys(("sourceip", "clientip", "remoteip", "remoteaddr", "remoteaddress",
                     "srcip", "ipaddress", "clientaddr", "clientaddress", "remote",
                     "peeraddr", "realip", "xforwardedfor",
                     # AWS CloudTrail, Kubernetes audit (a list), Teleport.
                     "sourceipaddress", "sourceips", "addrremote"), "source.ip"),
    **dict.fromkeys(("username", "username", "principalname", "login", "targetuser",
                     "accountname", "targetusername"), "user.name"),
    **dict.fromkeys(("httprequestmethod", "httpmethod", "method", "verb"),
                    "http.request.method"),
    **dict.fromkeys(("httpresponsestatuscode", "statuscode", "httpstatus", "status"),
                    "http.response.status_code"),
    **dict.fromkeys(("urloriginal", "uri", "requesturi", "url", "path"), "url.original"),
    **dict.fromkeys(("useragentoriginal", "useragent", "ua"), "user_agent.original"),
}
_JSON_WALK_DEPTH = 3
# Generic keys ("status", "path", "method") mean other things too: values must look right.
_JSON_FIELD_CHECKS: dict[str, Callable[[str], bool]] = {
    "http.request.method": lambda text: text.upper() in _HTTP_METHODS,
    "http.response.status_code": lambda text: text.isdigit() and len(text) == 3,
    "url.original": lambda text: text.startswith(("/", "http://", "https://")),
}


def _is_time_text(text: str) -> bool:
    """`text` is a date and time as loggers write them: a clock with seconds, and no word
    but month and weekday names, `T`, and a zone's upper-case letters (`UTC`, `Z`)."""
    if _CLOCK.search(text) is None:
        return False
    for word in _TIME_WORD.findall(text):
        name = word[:3].title()
        if not (name in _MONTHS or name in _WEEKDAYS or (word.isupper() and len(word) <= 4)):
            return False
    return True


def local_timezone() -> tzinfo:
    """The machine's zone, for timestamps that carry none (RFC 3164)."""
    return datetime.now().astimezone().tzinfo or UTC


class EnvelopeParser:
    """Parses lines into events. One instance per stage: it caches timestamps."""

    def __init__(self, tz: tzinfo | None = None) -> None:
        self.tz = tz or local_timezone()
        self._ts_cache: dict[str, datetime | None] = {}

    def parse(self, line: str, received: float, known: dict[str, Any] | None = None) -> Event:
        """Build the event of one line. `known` holds fields the source already has."""
        event = self._parse(line, received, known)
        body = event.body
        if body is not line and body[:1] == "{" and body[-1:] == "}":
            # A JSON record behind a syslog or docker header (Node's pino/hapi, OpenSearch
            # Dashboards): its well-known keys are fields, as for a bare JSON line.
            _json_body(event, body)
        if " HTTP/" in body and "http.request.method" not in event.fields:
            _request_line(event, body)
        if ", client: " in body:
            _nginx_error_client(event, body)
        if ">" in body and "->" in body:  # ">" alone is a fast scan; "-" is everywhere
            _flow(event, body)
        if "USER=" in body:
            _effective_user(event, body)
        # A syslog line that named its program (the hot path) is no PAN-OS record: the
        # firewall's header has no `tag:` (and RFC 5424's app-name is "-").
        start = find_panos(line) if "process.name" not in event.fields and (
            ",THREAT," in line or ",TRAFFIC," in line) else -1
        if start >= 0:
            # A PAN-OS CSV record after whatever header the firewall's syslog put before it
            # (`logsentry.records.panos`): its columns beat anything read from the header.
            record = decode_panos(line[start:])
            if record is not None:
                apply_record(event, record, replace=True)
                # The firewall's name is the word its syslog header put right before.
                words = line[:start].split()
                if words and "host.name" not in event.fields and _DEVICE.fullmatch(words[-1]):
                    event.fields["host.name"] = words[-1]
        if "\x1b" in event.body:
            # Colour codes of console loggers (docker, Node, NestJS) split an address from
            # its words for the model; the raw line keeps them.
            event.body = _ANSI_ESCAPE.sub("", event.body)
        return event

    def _parse(self, line: str, received: float, known: dict[str, Any] | None) -> Event:
        # Positional: a keyword call of the dataclass's 14-parameter __init__ costs about
        # 0.3 µs more a line. message, source, line, offset, received, timestamp, body, fields.
        event = Event(line, "-", 0, 0, received, None, line, {})
        if known:
            event.fields.update(known)
            # A source that knows the entry's time (journald) passes it as a
            # datetime under "@timestamp".
            known_time = event.fields.pop("@timestamp", None)
            if isinstance(known_time, datetime):
                event.timestamp = known_time
        first = line[:1]
        if first in RECORD_STARTS:
            # auditd `type=`/`node=` and Windows `<Event` records (logsentry.records).
            record = decode_line(line)
            if record is not None:
                apply_record(event, record)
                return event
        if first == "{" and self._json(event, line):
            return event
        if (first == "<" and self._rfc5424(event, line)) or self._rfc3164(event, line) \
                or self._combined(event, line) or self._prefixed_syslog(event, line):
            if event.body[:1] in RECORD_STARTS:
                # A record behind a syslog header (audisp-syslog, nxlog): its process is
                # the one the record is about, not the forwarder the header names.
                record = decode_line(event.body)
                if record is not None:
                    apply_record(event, record, replace=True)
            return event
        match = _ISO_PREFIX.match(line)
        if match:
            event.timestamp = self._time(match["ts"])
            event.body = match["msg"]
        elif first == "[":
            match = _CTIME_PREFIX.match(line)
            if match:
                # Apache's error log. The body stays whole: the model reads these lines
                # with their brackets, as it was trained.
                event.timestamp = self._time(f"{match['month']} {match['day']} "
                                             f"{match['year']} {match['clock']}")
            else:
                self._bracketed_time(event, line)
        return event

    # -- formats ---------------------------------------------------------------

    def _rfc5424(self, event: Event, line: str) -> bool:
        match = _RFC5424.match(line)
        if match is None:
            return False
        if match["ts"] != "-":
            event.timestamp = self._time(match["ts"])
        _set(event, "host.name", match["host"])
        _set(event, "process.name", match["app"])
        _set(event, "process.pid", match["pid"])
        msg = match["msg"]
        msg = msg[1:] if msg.startswith("\ufeff") else msg
        sd = match["sd"]
        event.body = msg if sd == "-" else _with_structured_data(sd, msg)
        return True

    def _rfc3164(self, event: Event, line: str, match: re.Match[str] | None = None) -> bool:
        """A BSD syslog header; `match`, that header's match when the caller has it."""
        match = match or _RFC3164.match(line)
        if match is None:
            return False
        ts, host, tag, pid, body = match.groups()  # half the cost of group() by names
        if pid is None and ts[0].isdigit() and line[match.end("tag") + 1:][:1] not in _TAG_END:
            # An ISO time, then words: only a colon before a space ends a program's
            # tag. `2024-01-01 10:00:00 upgrade pkg:amd64 ...` (dpkg) has no host
            # `upgrade` and no program `pkg`; the bare-time header reads it.
            return False
        event.body = body
        event.timestamp = self._time(ts)
        # The hot path of syslog files: the regex already guarantees the types.
        fields = event.fields
        if host and "host.name" not in fields:
            fields["host.name"] = host
        if "process.name" not in fields:
            fields["process.name"] = tag
        if pid and "process.pid" not in fields:
            fields["process.pid"] = int(pid)
        return True

    def _prefixed_syslog(self, event: Event, line: str) -> bool:
        """A syslog header behind the few values a collector wrote before it (a sequence
        number, the receipt time in epoch seconds or as a date, the node it came from):
        `- 1131566461 2005.11.09 dn228 Nov  9 12:01:01 dn228/dn228 crond[2915]: ...`. The
        syslog header gives the fields; the prefix stays in the raw line."""
        match = _COLLECTOR_PREFIX.match(line)
        if match is None or _DIGIT_CHARS.isdisjoint(match.group()):
            return False
        # The header names its host: an application's own header with a time in it
        # (`INF 4595 Wed Nov 11 16:29:42 2023: ...`) has none before its colon.
        syslog = _RFC3164.match(line, match.end())
        return (syslog is not None and syslog["host"] is not None
                and self._rfc3164(event, line, syslog))

    def _bracketed_time(self, event: Event, line: str) -> None:
        """A date and time in brackets at the line's start, in whatever notation
        (`[2024-03-05 10:00:00,123] ...`, `[05-Mar-2024 10:00:00 UTC] ...`): the event's
        time when it parses. The body stays whole: what follows (a level, a logger, a
        program's name) is the model's to read, as it was trained."""
        match = _BRACKETED_TIME.match(line)
        if match is not None and _is_time_text(match["ts"]):
            event.timestamp = self.loose_time(match["ts"])

    def _combined(self, event: Event, line: str) -> bool:
        # `] "` (the time's bracket, the request's quote) is in every access-log line: a
        # substring scan rejects the rest for a tenth of what the failing regex costs.
        if '] "' not in line:
            return False
        match = _COMBINED.match(line)
        if match is None:
            return False
        event.timestamp = self._time(match["ts"])
        client = match["client"]
        _set(event, "source.ip", client) or _set(event, "source.address", client)
        if match["user"] != "-":
            _set(event, "user.name", match["user"])
        request = match["request"].split(" ")
        if len(request) >= 2 and request[0].isalpha() and request[0].isupper():
            _set(event, "http.request.method", request[0])
            _set(event, "url.original", request[1])
            if len(request) == 3 and request[2].startswith("HTTP/"):
                _set(event, "http.version", request[2][5:])
        _set(event, "http.response.status_code", match["status"])
        if match["agent"] and match["agent"] != "-":
            _set(event, "user_agent.original", match["agent"])
        if match["referrer"]:
            _set(event, "http.request.referrer", match["referrer"])
        if match["vhost"]:
            _set(event, "destination.address", match["vhost"])
        # The whole line is the request record: the analyzer reads all of it.
        event.body = line
        return True

    def _json(self, event: Event, line: str) -> bool:
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            return False
        if not isinstance(doc, dict):
            return False
        record = decode_json(doc)
        if record is not None:
            # laurel (auditd) and Windows event records (logsentry.records) come first;
            # the generic handling below only adds what they leave.
            apply_record(event, record)
        message = _first(doc, _JSON_MESSAGE_KEYS)
        if isinstance(message, list):
            # journald exports a message with invalid UTF-8 as a byte array.
            try:
                message = bytes(message).decode("utf-8", errors="replace")
            except (TypeError, ValueError):
                message = None
        if isinstance(message, str) and _is_envelope(doc):
            event.body = message
        else:
            # The application's own record (or one without a message): all of it.
            event.body = line
            _structured_fields(event, doc, _JSON_WALK_DEPTH)
        realtime = doc.get("__REALTIME_TIMESTAMP")
        if isinstance(realtime, str) and realtime.isdigit():
            event.timestamp = datetime.fromtimestamp(int(realtime) / 1e6, UTC)
        else:
            stamp = _first(doc, _JSON_TIME_KEYS)
            if isinstance(stamp, str):
                event.timestamp = self._time(stamp)
            elif isinstance(stamp, int | float) and not isinstance(stamp, bool):
                event.timestamp = _epoch(stamp)
        host = _first(doc, _JSON_HOST_KEYS)
        if isinstance(host, str):
            _set(event, "host.name", host)
        program = doc.get("SYSLOG_IDENTIFIER") or doc.get("_COMM")
        if isinstance(program, str):
            _set(event, "process.name", program)
        pid = doc.get("_PID") or doc.get("SYSLOG_PID")
        if isinstance(pid, str | int):
            _set(event, "process.pid", str(pid))
        return True

    # -- timestamps --------------------------------------------------------------

    def loose_time(self, text: str) -> datetime | None:
        """A timestamp the analyzer found inside a message, in whatever common form.

        Handles ISO 8601 (also with `/` date separators, a comma before the
        fraction, in brackets), BSD syslog and access-log forms, and epoch seconds.
        """
        text = text.strip().strip("[]()")
        if len(text) < 8:
            return None
        if text.isdigit() and len(text) in (10, 13):
            seconds = int(text) / (1000 if len(text) == 13 else 1)
            return datetime.fromtimestamp(seconds, UTC)
        if text[:4].isdigit() and text[4:5] == "/":
            text = text[:10].replace("/", "-") + text[10:]
        if text[:1].isdigit() and text[2:3] == "/" and text[5:6] == "/":
            return None  # 03/01/2022 is ambiguous (day or month first): no guess
        return self._time(text)

    def _time(self, text: str) -> datetime | None:
        cache = self._ts_cache
        if text in cache:
            return cache[text]
        if len(cache) > 4096:
            cache.clear()
        parsed = self._parse_time(text)
        cache[text] = parsed
        return parsed

    def _parse_time(self, text: str) -> datetime | None:
        try:
            if text[:1].isdigit() and text[2:3] == "/":
                # Access log: 10/Oct/2000:13:55:36 -0700
                day, month, rest = text.split("/", 2)
                return datetime.strptime(
                    f"{day} {_MONTHS[month]} {rest}", "%d %m %Y:%H:%M:%S %z")
            if text[:1].isdigit():
                stamp = datetime.fromisoformat(text.replace(",", "."))
                # combine(), not replace(tzinfo=): a quarter of the cost (keyword parsing).
                return stamp if stamp.tzinfo else datetime.combine(stamp, stamp.time(), self.tz)
            return self._bsd_time(text)
        except (ValueError, KeyError):
            return None

    def _bsd_time(self, text: str) -> datetime:
        parts = text.split()
        month = _MONTHS[parts[0]]
        day = int(parts[1])
        if len(parts) == 4:
            year, clock = int(parts[2]), parts[3]
        else:
            year, clock = 0, parts[2]
        hms, _, fraction = clock.partition(".")
        hour, minute, second = map(int, hms.split(":"))
        micro = int(fraction.ljust(6, "0")[:6]) if fraction else 0
        tz = self.tz
        if year:
            return datetime(year, month, day, hour, minute, second, micro, tz)
        # No year: the most recent such date that is not in the future. Positional
        # arguments: a time that misses the cache is parsed on every new second of a stream.
        now = datetime.now(tz)
        stamp = datetime(now.year, month, day, hour, minute, second, micro, tz)
        if stamp - now > _ONE_DAY:
            stamp = datetime(now.year - 1, month, day, hour, minute, second, micro, tz)
        return stamp


def _first(doc: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if key in doc:
            return doc[key]
    return None


def _request_line(event: Event, body: str) -> None:
    """Method and target of a quoted HTTP request line anywhere in the body (RFC 9112 3):
    haproxy, cPanel, WAFs and error logs quote the request as access logs do."""
    match = _REQUEST_LINE.search(body, 0, MAX_REQUEST_SCAN)
    if match is not None:
        _set(event, "http.request.method", match["method"])
        _set(event, "url.original", match["target"])
        _set(event, "http.version", match["version"])
        # Common Log Format's `host ident authuser` right before the request, as cPanel
        # writes it with its timestamp moved to the front: `1.2.3.4 - root "POST ..."`.
        start = match.start()
        prefix = _CLF_PREFIX.search(body, max(0, start - 300), start)
        if prefix is not None and typed_field("source.ip", prefix["client"]) is not None:
            _set(event, "source.ip", prefix["client"])
            if prefix["user"] != "-":
                _set(event, "user.name", prefix["user"])


def _json_body(event: Event, body: str) -> None:
    """Well-known fields of a JSON object that is the body behind a header."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return
    if isinstance(doc, dict):
        record = decode_json(doc)
        if record is not None:
            apply_record(event, record)
        _structured_fields(event, doc, _JSON_WALK_DEPTH)


def _nginx_error_client(event: Event, body: str) -> None:
    """The client of an nginx error-log entry (see `_NGINX_ERROR_CLIENT`): the last one,
    since nginx appends it after the message, and a user name or URL in the message can
    carry a forged `, client: 127.0.0.1, server: ...` (fail2ban's nginx-http-auth tests)."""
    match = _NGINX_ERROR_CLIENT.match(body, body.rfind(", client: "))
    if match is not None:
        _set(event, "source.ip", match["client"])


def _flow(event: Event, body: str) -> None:
    """Both ends of a `src:port->dst:port` connection (see `_FLOW`)."""
    match = _FLOW.search(body, 0, MAX_REQUEST_SCAN)
    if match is None or "source.ip" in event.fields:
        return
    if _set(event, "source.ip", match["sip"].strip("[]")):
        _set(event, "source.port", match["sport"])
        _set(event, "destination.ip", match["dip"].strip("[]"))
        _set(event, "destination.port", match["dport"])


def _effective_user(event: Event, body: str) -> None:
    """The user a command runs as, from a `USER=name` pair (see `_EFFECTIVE_USER`)."""
    match = _EFFECTIVE_USER.search(body, 0, MAX_REQUEST_SCAN)
    if match is not None:
        _set(event, "user.effective.name", match["user"])


def _with_structured_data(sd: str, msg: str) -> str:
    """The body the model reads for an RFC 5424 message: its SD elements, then the message.

    SD-PARAMs are the sender's own fields (`[login@32473 src="..." user="..."]`); the
    model maps their keys to ECS roles as it does `key=value` pairs in a message, so no
    parser names them. The elements stay as written (escapes `\\"`, `\\\\`, `\\]`
    included: a value is attacker-controlled and is never unescaped into the body's
    syntax). The IANA-registered elements describe the transport, not the event
    (`timeQuality`, `origin`: the sender's own address, `meta`), and are left out.
    The SD-ID and parameter names are constant for one sender and event, so the
    template of `[id k=<*>] message` is as stable as the message's own.
    """
    kept = [element for element in _SD_ELEMENT.findall(sd)
            if element[1:].split(" ", 1)[0].rstrip("]") not in _TRANSPORT_SD_IDS]
    if not kept:
        return msg
    return f"{''.join(kept)} {msg}" if msg else "".join(kept)


def _set(event: Event, name: str, text: str) -> bool:
    """Set a header field if it is meaningful and of the right type."""
    if not text or text == "-" or name in event.fields:
        return False
    value = typed_field(name, text)
    if value is None:
        return False
    event.fields[name] = value
    return True


def _is_envelope(doc: dict[str, Any]) -> bool:
    """Whether a JSON document only wraps its message (see `_JSON_ENVELOPE_KEYS`)."""
    for key in doc:
        if key in _JSON_ENVELOPE_KEYS or key[:1] == "_" or key.isupper():
            continue  # journald: MESSAGE_ID, SYSLOG_IDENTIFIER, _PID, __CURSOR...
        return False
    return True


def _structured_fields(event: Event, doc: dict[str, Any], depth: int) -> None:
    """Fields named by well-known keys of a structured record (`_JSON_FIELD_KEYS`)."""
    for key, value in doc.items():
        if isinstance(value, dict):
            if depth > 1:
                _structured_fields(event, value, depth - 1)
            continue
        if isinstance(value, list) and value and isinstance(value[0], str):
            value = value[0]  # `"sourceIPs": ["192.0.2.7"]`: the first is the client
        if not isinstance(value, str | int) or isinstance(value, bool):
            continue
        name = _JSON_FIELD_KEYS.get(key.lower().replace("_", "").replace("-", "").replace(".", ""))
        if name is None or name in event.fields:
            continue
        text = _address_only(str(value)) if name == "source.ip" else str(value)
        plausible = _JSON_FIELD_CHECKS.get(name)
        if plausible is None or plausible(text):
            _set(event, name, text.upper() if name == "http.request.method" else text)


def _address_only(text: str) -> str:
    """`203.0.113.7:51234`, `[2001:db8::1]:443` or `a, b` (X-Forwarded-For) -> the address."""
    text = text.split(",")[0].strip()
    if text.startswith("["):
        return text[1:text.find("]")] if "]" in text else text
    if text.count(":") == 1:
        return text.split(":")[0]
    return text


def _epoch(stamp: float) -> datetime | None:
    """Epoch seconds or milliseconds (Caddy, zap, pino); None when implausible."""
    if 1e12 <= stamp < 1e13:
        stamp /= 1000
    if not 1e9 <= stamp < 1e10:
        return None
    return datetime.fromtimestamp(stamp, UTC)
