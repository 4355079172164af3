"""Envelopes that log transports wrap message bodies in.

The daemon strips known envelopes before the model sees a body, but lines of
unknown formats arrive whole, so training data carries both: bare bodies and the
same bodies inside RFC 3164 syslog (with and without year or priority), rsyslog's
high-precision ISO timestamps, RFC 5424, journald JSON export, ISO-prefixed lines,
docker's json-file and Kubernetes CRI lines. Header parts get spans too:
timestamps (`timestamp`), the host (`host.name`), the program (`process.name`),
the pid (`process.pid`), priority and ids (`variable`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from logsentry.train.data.app_headers import app_header
from logsentry.train.data.template import json_escape
from logsentry.train.data.values import Values
from logsentry.train.example import ExampleBuilder, Span


@dataclass(slots=True)
class Body:
    """A rendered message body and the program that wrote it."""

    text: str
    spans: list[Span]
    program: str
    pid: str | None


def escaped(body: Body, escape: Callable[[str], str]) -> tuple[str, list[Span]]:
    """`body` with every segment passed through `escape`, spans moved to match."""
    out = ExampleBuilder()
    pos = 0
    for span in body.spans:
        out.const(escape(body.text[pos:span.start]))
        out.var(escape(body.text[span.start:span.end]), span.label)
        pos = span.end
    out.const(escape(body.text[pos:]))
    return out.text, out.spans


def _tag(b: ExampleBuilder, body: Body) -> None:
    b.var(body.program, "process.name")
    if body.pid is not None:
        b.const("[").var(body.pid, "process.pid").const("]")
    b.const(": ")


def _priority(b: ExampleBuilder, v: Values) -> None:
    b.const("<").var(str(v.rng.randrange(0, 192)), "variable").const(">")


def rfc3164(b: ExampleBuilder, body: Body, v: Values) -> None:
    if v.chance(0.08):
        _priority(b, v)
    b.var(v.ts_syslog(), "timestamp").const(" ").var(v.short_host(), "host.name").const(" ")
    _tag(b, body)


def rfc3164_year(b: ExampleBuilder, body: Body, v: Values) -> None:
    ts = v.ts_syslog()
    year = str(v.rng.randrange(2015, 2027))
    stamp = f"{ts[:6]} {year} {ts[7:]}" if v.chance(0.5) else f"{year} {ts}"
    b.var(stamp, "timestamp").const(" ").var(v.short_host(), "host.name").const(" ")
    _tag(b, body)


def rsyslog_iso(b: ExampleBuilder, body: Body, v: Values) -> None:
    y, mo, d = v.rng.randrange(2015, 2027), v.rng.randrange(1, 13), v.rng.randrange(1, 29)
    h, mi, s = v.rng.randrange(24), v.rng.randrange(60), v.rng.randrange(60)
    tz = v.pick(("+00:00", "+01:00", "+02:00", "-04:00", "-07:00", "Z", "+0100", "-0500"))
    frac = v.pick((f".{v.digits(6)}", f".{v.digits(3)}", ""))
    b.var(f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}{frac}{tz}", "timestamp")
    b.const(" ").var(v.short_host(), "host.name").const(" ")
    _tag(b, body)


def journal_short_precise(b: ExampleBuilder, body: Body, v: Values) -> None:
    b.var(f"{v.ts_syslog()}.{v.digits(6)}", "timestamp").const(" ")
    b.var(v.short_host(), "host.name").const(" ")
    _tag(b, body)


# SD-PARAM names senders use for the fields of their event, by the role they carry
# (RFC 5424 §6.3.3 leaves names to each SD-ID's owner; these are common spellings).
_SD_KEYS: dict[str, tuple[str, ...]] = {
    "source.ip": ("src", "ip", "clientip", "client_ip", "remote_addr", "remoteAddr", "srcip",
                  "src_ip", "rhost", "peer", "client", "sourceAddress", "ipaddr", "addr", "from"),
    "source.port": ("sport", "srcport", "src_port", "remote_port", "clientPort", "rport"),
    "destination.ip": ("dst", "dstip", "dst_ip", "dest", "server", "local_addr", "laddr", "target"),
    "destination.port": ("dport", "dstport", "dst_port", "port", "local_port", "lport"),
    "user.name": ("user", "username", "uid", "login", "account", "usr", "principal", "acct",
                  "userName", "subject", "actor"),
    "user.effective.name": ("targetUser", "euser", "runas", "as"),
    "url.original": ("url", "uri", "path", "request", "requestUri"),
    "http.request.method": ("method", "verb", "requestMethod"),
    "http.response.status_code": ("status", "code", "statusCode", "response"),
    "user_agent.original": ("ua", "agent", "userAgent", "user_agent"),
    "file.path": ("file", "filename", "filePath", "object"),
    "process.command_line": ("cmd", "command", "cmdline"),
}
_SD_VARIABLE_KEYS = ("eventID", "seq", "sequenceId", "sessionId", "sid", "reqid", "iut", "tid",
                     "correlationId", "count", "severity", "ruleId", "msgNum")
_SD_IDS = ("exampleSDID@32473", "auth@32473", "event@18060", "sec@41058", "login@2636", "req@9999",
           "conn@4203", "audit@28972", "app@5876", "origin@32473", "fields@47450", "web@11129")


def sd_escape(value: str) -> str:
    """An SD-PARAM value as RFC 5424 §6.3.3 writes it: `"`, `\\` and `]` escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _sd_element(b: ExampleBuilder, body: Body, v: Values) -> None:
    """One SD element whose parameters carry fields of the body's own event, labelled
    with their roles, beside parameters that are plain `variable`s."""
    fields = [(span.label, body.text[span.start:span.end]) for span in body.spans
              if span.label in _SD_KEYS and v.chance(0.7)]
    params: list[tuple[str, str, str]] = []
    used: set[str] = set()
    for role, value in fields:
        key = v.pick(_SD_KEYS[role])
        if key not in used:
            used.add(key)
            params.append((key, value, role))
    for _ in range(v.rng.randrange(0 if params else 1, 3)):
        key = v.pick(_SD_VARIABLE_KEYS)
        if key not in used:
            used.add(key)
            value = v.pick((v.digits(v.rng.randrange(1, 7)), v.hexstr(8), v.uuid()))
            params.append((key, value, "variable"))
    v.rng.shuffle(params)
    b.const("[" + v.pick(_SD_IDS))
    for key, value, role in params:
        b.const(f' {key}="').var(sd_escape(value), role).const('"')
    b.const("]")


def rfc5424(b: ExampleBuilder, body: Body, v: Values) -> None:
    """An RFC 5424 header; its structured data is empty (`-`), transport-only
    (`timeQuality`), or carries the event's own fields in SD-PARAMs. Some lines come as
    the daemon's envelope parser hands them to the model: the SD elements alone before
    the message, the header cut off."""
    if v.chance(0.45):
        _sd_element(b, body, v)
        b.const(" ")
        return
    _priority(b, v)
    b.const("1 ").var(v.ts_mysql() if v.chance(0.5) else v.ts_iso().replace(" ", "T"), "timestamp")
    b.const(" ").var(v.short_host(), "host.name").const(" ").var(body.program, "process.name")
    b.const(" ")
    if body.pid is not None:
        b.var(body.pid, "process.pid")
    else:
        b.const("-")
    b.const(" ")
    if v.chance(0.3):
        b.var(v.pick(("ID47", "auth", "audit", "access", "msg" + v.digits(2))), "variable")
    else:
        b.const("-")
    b.const(" ")
    kind = v.rng.random()
    if kind < 0.2:
        b.const('[timeQuality tzKnown="1" isSynced="1" syncAccuracy="').var(v.digits(6), "variable")
        b.const('"] ')
    elif kind < 0.6:
        _sd_element(b, body, v)
        if v.chance(0.2):
            _sd_element(b, body, v)
        b.const(" ")
    else:
        b.const("- ")


def iso_prefix(b: ExampleBuilder, body: Body, v: Values) -> None:
    b.var(v.pick((v.ts_iso(), v.ts_comma(), v.ts_mysql())), "timestamp").const(" ")
    if v.chance(0.5):
        _tag(b, body)


def tag_only(b: ExampleBuilder, body: Body, v: Values) -> None:
    _tag(b, body)


def host_tag(b: ExampleBuilder, body: Body, v: Values) -> None:
    """`HOST prog[pid]: body`, as journal lines look once the time is cut off."""
    b.var(v.short_host(), "host.name").const(" ")
    _tag(b, body)


def _json_wrap(prefix: list[tuple[str, str, str]], body: Body, v: Values,
               suffix: list[tuple[str, str, str]], message_key: str) -> tuple[str, list[Span]]:
    b = ExampleBuilder()
    b.const("{")
    first = True
    items = [*prefix, ("\x00msg", "", ""), *suffix]
    for key, value, label in items:
        if not first:
            b.const(",")
        first = False
        if key == "\x00msg":
            text, spans = escaped(body, json_escape)
            b.const(f'"{message_key}":"').extend(text, spans).const('"')
            continue
        b.const(f'"{key}":"')
        if label:
            b.var(json_escape(value), label)
        else:
            b.const(json_escape(value))
        b.const('"')
    b.const("}")
    return b.text, b.spans


def journald_json(body: Body, v: Values) -> tuple[str, list[Span]]:
    """`journalctl -o json` record (a subset of its fields, in its field order)."""
    micros = f"{v.rng.randrange(1_450_000_000, 1_800_000_000)}{v.digits(6)}"
    prefix = [
        ("__REALTIME_TIMESTAMP", micros, "timestamp"),
        ("_HOSTNAME", v.short_host(), "host.name"),
        ("PRIORITY", str(v.rng.randrange(0, 8)), "variable"),
        ("SYSLOG_FACILITY", v.pick(("4", "10", "3", "1")), "variable"),
        ("SYSLOG_IDENTIFIER", body.program, "process.name"),
    ]
    if v.chance(0.5):
        cursor = f"s={v.hexstr(32)};i={v.hexstr(4)};b={v.hexstr(32)}"
        prefix.insert(1, ("__CURSOR", cursor, "variable"))
    suffix: list[tuple[str, str, str]] = []
    if body.pid is not None:
        suffix.append(("_PID", body.pid, "process.pid"))
    if v.chance(0.5):
        suffix.append(("_SYSTEMD_UNIT", f"{v.unit()}.service", "variable"))
    return _json_wrap(prefix, body, v, suffix, "MESSAGE")


def docker_json(body: Body, v: Values) -> tuple[str, list[Span]]:
    """docker's json-file driver: the line (with its newline) under `log`."""
    b = ExampleBuilder()
    text, spans = escaped(body, json_escape)
    b.const('{"log":"').extend(text, spans).const('\\n","stream":"')
    b.const(v.pick(("stdout", "stderr"))).const('","time":"')
    b.var(v.ts_mysql(), "timestamp").const('"}')
    return b.text, b.spans


def cri(b: ExampleBuilder, body: Body, v: Values) -> None:
    """Kubernetes CRI log line prefix: time stream flag."""
    b.var(v.ts_mysql(), "timestamp").const(f" {v.pick(('stdout', 'stderr'))} F ")


HeaderWriter = Callable[[ExampleBuilder, Body, Values], None]
JsonWriter = Callable[[Body, Values], tuple[str, list[Span]]]

# (name, weight, writer); `None` writer = bare body.
_SYSLOG_HEADERS: tuple[tuple[str, float, HeaderWriter | JsonWriter | None], ...] = (
    ("bare", 0.36, None),
    ("rfc3164", 0.22, rfc3164),
    ("rfc3164_year", 0.03, rfc3164_year),
    ("rsyslog_iso", 0.12, rsyslog_iso),
    ("journal_precise", 0.03, journal_short_precise),
    ("rfc5424", 0.07, rfc5424),
    ("journald_json", 0.06, journald_json),
    ("iso_prefix", 0.06, iso_prefix),
    ("tag_only", 0.05, tag_only),
    ("host_tag", 0.02, host_tag),
)
_FILE_HEADERS: tuple[tuple[str, float, HeaderWriter | JsonWriter | None], ...] = (
    ("bare", 0.42, None),
    ("app_header", 0.3, app_header),
    ("rfc3164", 0.1, rfc3164),
    ("rsyslog_iso", 0.05, rsyslog_iso),
    ("docker_json", 0.05, docker_json),
    ("cri", 0.04, cri),
    ("journald_json", 0.04, journald_json),
)
_JSON_HEADERS: tuple[tuple[str, float, HeaderWriter | JsonWriter | None], ...] = (
    ("bare", 0.6, None),
    ("app_header", 0.2, app_header),
    ("rfc3164", 0.08, rfc3164),
    ("cri", 0.06, cri),
    ("docker_json", 0.06, docker_json),
)
ENVELOPES: dict[str, tuple[tuple[str, float, HeaderWriter | JsonWriter | None], ...]] = {
    "syslog": _SYSLOG_HEADERS,
    "file": _FILE_HEADERS,
    "json": _JSON_HEADERS,
}
_JSON_WRITERS = frozenset({"journald_json", "docker_json"})


def envelope_names() -> set[str]:
    return {name for table in ENVELOPES.values() for name, _, _ in table}


def choose_envelope(style: str, v: Values) -> str:
    table = ENVELOPES[style]
    x = v.rng.random() * sum(w for _, w, _ in table)
    for name, weight, _ in table:
        x -= weight
        if x < 0:
            return name
    return table[-1][0]


def wrap(body: Body, envelope: str, style: str, v: Values) -> tuple[str, list[Span]]:
    """The full line for `body` in `envelope` (one of the names of `ENVELOPES[style]`)."""
    writer = next(w for name, _, w in ENVELOPES[style] if name == envelope)
    if writer is None:
        return body.text, list(body.spans)
    if envelope in _JSON_WRITERS:
        return writer(body, v)  # type: ignore[call-arg,arg-type,return-value]
    b = ExampleBuilder()
    writer(b, body, v)  # type: ignore[call-arg,arg-type]
    b.extend(body.text, body.spans)
    return b.text, b.spans
