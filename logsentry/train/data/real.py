"""Real log lines from `../shared/datasets` turned into labelled examples.

The datasets stay outside the repository; these converters read them where they
are (`datasets_root()`, overridable with `$LOGSENTRY_DATASETS`) and return nothing
when they are absent. Three sources, each labelled only as far as its annotations go:

- fail2ban sample logs (`fail2ban/<filter>.jsonl`): `match: true` lines get a failure
  action chosen from the filter (and a few words of the line where one filter covers
  several events); `match: false` lines get `action_known=False` (the label says only
  "not an offense for this filter", which does not name an action). Spans: the
  labelled `host` (`source.ip` when it parses as an IP, else `source.address`) and
  `extra.user` (`user.name`) wherever they occur as whole tokens; syslog headers
  that parse exactly add `timestamp`/`host.name`/`process.name`/`process.pid` spans
  and a second, body-only example.
- CrowdSec parser tests (`crowdsec/<test>/expected.jsonl`): expected `meta` fields
  located in the line (`source_ip`, `target_user`, `http_path`, `http_status`,
  `http_verb`, plus `http_user_agent`, `dest_ip`, `dest_port`, `username`); the action
  comes from `meta.log_type` when that names one, else `action_known=False`.
- Loghub (`loghub/<System>/<System>_2k.log_structured.csv`): `EventTemplate` aligned
  against `Content`; every `<*>` becomes a `variable` span; `roles_known=False`,
  `action_known=False`.

fail2ban and CrowdSec examples label only the entities their annotations name: the
rest of the line is *unknown*, not constant (see `Example.spans_complete`).
"""

from __future__ import annotations

import csv
import ipaddress
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logsentry.train.data.splits import (
    HELD_OUT,
    HELD_OUT_UNSEEN,
    held_out_tier,
    without_held_out,
)
from logsentry.train.data.synthetic import family_names
from logsentry.train.example import Example, Span

# The trainer and the evaluator look the splits up here, beside the converters.
__all__ = ["HELD_OUT", "HELD_OUT_UNSEEN", "real_examples", "training_examples"]

_ENV = "LOGSENTRY_DATASETS"
_log = logging.getLogger(__name__)


def _json_records(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSON-lines file; malformed lines are counted and logged, not fatal."""
    bad = 0
    with path.open(encoding="utf-8", errors="replace") as fh:
        for raw in fh:
            if not raw.strip():
                continue
            try:
                doc = json.loads(raw)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(doc, dict) and isinstance(doc.get("line"), str):
                yield doc
            else:
                bad += 1
    if bad:
        _log.warning("skipped %d malformed record(s) in %s", bad, path)


def datasets_root() -> Path:
    """`$LOGSENTRY_DATASETS`, else `shared/datasets` beside the repository checkout."""
    env = os.environ.get(_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3].parent / "shared" / "datasets"


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _token_char(ch: str) -> bool:
    # ':' separates (host:port, "client: x"); IPv6 values still match whole because
    # the neighbours of a full address are never hex digits.
    return ch.isalnum() or ch in "._-@%"


def find_token(text: str, value: str, start: int = 0) -> Iterator[int]:
    """Offsets where `value` occurs in `text` not glued to more token characters."""
    if not value:
        return
    pos = text.find(value, start)
    while pos >= 0:
        end = pos + len(value)
        before_ok = pos == 0 or not _token_char(text[pos - 1]) or not _token_char(value[0])
        after_ok = end == len(text) or not _token_char(text[end]) or not _token_char(value[-1])
        # A trailing '.' after the value is sentence punctuation, not part of the token.
        if not after_ok and text[end] == "." and (
                end + 1 == len(text) or not _token_char(text[end + 1])):
            after_ok = True
        # dante and tcpdump write "ip.port": the trailing ".digits" is a port, not more address.
        dotted_quad = value.count(".") == 3 and value.replace(".", "").isdigit()
        if (not after_ok and dotted_quad and text[end] == "."
                and re.match(r"\.\d{1,5}(?![\d.])", text[end:])):
            after_ok = True
        if before_ok and after_ok:
            yield pos
        pos = text.find(value, pos + 1)


@dataclass(slots=True)
class _SpanSet:
    """Spans being collected for one text; refuses overlaps (first claim wins)."""

    text: str
    spans: list[Span] = field(default_factory=list)

    def free(self, start: int, end: int) -> bool:
        return all(end <= s.start or start >= s.end for s in self.spans)

    def add(self, start: int, end: int, label: str) -> bool:
        if start >= end or not self.free(start, end):
            return False
        self.spans.append(Span(start, end, label))
        return True

    def add_value(self, value: str, label: str, every: bool = True) -> int:
        added = 0
        for pos in find_token(self.text, value):
            if self.add(pos, pos + len(value), label):
                added += 1
                if not every:
                    break
        return added

    def sorted(self) -> list[Span]:
        return sorted(self.spans, key=lambda s: s.start)


# ---- syslog headers -------------------------------------------------------------------

_SYSLOG = re.compile(
    r"^(?P<ts>(?:[A-Z][a-z]{2} {1,2}\d{1,2}(?: \d{4})? \d{2}:\d{2}:\d{2}(?:\.\d+)?)"
    r"|(?:\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?))"
    r" (?P<host>[A-Za-z0-9][A-Za-z0-9._-]*)"
    r" (?P<prog>[A-Za-z0-9_./()-]+?)(?:\[(?P<pid>\d+)\])?: (?P<body>.*)$",
    re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class SyslogHeader:
    """An RFC 3164-style header that `split_syslog` recognised exactly."""

    spans: tuple[Span, ...]  # timestamp, host.name, process.name, process.pid
    body_start: int


def split_syslog(line: str) -> SyslogHeader | None:
    """Parse `TIMESTAMP HOST PROG[PID]: BODY`; None when the line does not have that shape."""
    m = _SYSLOG.match(line)
    if not m:
        return None
    spans = [Span(m.start("ts"), m.end("ts"), "timestamp"),
             Span(m.start("host"), m.end("host"), "host.name"),
             Span(m.start("prog"), m.end("prog"), "process.name")]
    if m.group("pid"):
        spans.append(Span(m.start("pid"), m.end("pid"), "process.pid"))
    return SyslogHeader(tuple(spans), m.start("body"))


def _body_variant(example: Example, header: SyslogHeader) -> Example | None:
    """The example cut to its syslog body, if no body span straddles the cut."""
    cut = header.body_start
    spans: list[Span] = []
    for s in example.spans:
        if s.end <= cut:
            continue
        if s.start < cut:
            return None
        spans.append(Span(s.start - cut, s.end - cut, s.label))
    return Example(text=example.text[cut:], spans=spans, action=example.action,
                   family=example.family, origin=example.origin,
                   action_known=example.action_known, roles_known=example.roles_known)


# ---- fail2ban -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Fail2banRecord:
    """One labelled line of a fail2ban sample log."""

    filter: str
    line: str
    match: bool
    host: str | None
    host_in_line: bool
    user: str | None
    filter_options: tuple[dict[str, Any], ...] | None
    source_file: str
    lineno: int


def load_fail2ban(root: Path | None = None) -> list[Fail2banRecord]:
    """All records of `fail2ban/*.jsonl` under `root`, in file order ([] when absent)."""
    base = (root or datasets_root()) / "fail2ban"
    if not base.is_dir():
        return []
    out: list[Fail2banRecord] = []
    for path in sorted(base.glob("*.jsonl")):
        for d in _json_records(path):
            extra = d.get("extra") or {}
            user = extra.get("user") if isinstance(extra, dict) else None
            options = d.get("filter_options")
            host = d.get("host")
            out.append(Fail2banRecord(
                filter=str(d.get("family") or path.stem), line=d["line"],
                match=bool(d.get("match")), host=host if isinstance(host, str) else None,
                host_in_line=bool(d.get("host_in_line")),
                user=user if isinstance(user, str) else None,
                filter_options=tuple(options) if isinstance(options, list) else None,
                source_file=str(d.get("source_file", "")), lineno=int(d.get("lineno") or 0)))
    return out


_INVALID_USER = re.compile(r"\b(?:Invalid|Illegal) user\b|\b(?:by|from) invalid user\b"
                           r"|input_userauth_request: invalid user")
_MAIL_AUTH = re.compile(r"auth|SASL|LOGIN FAILED|badlogin|password", re.IGNORECASE)
# Filters whose offenses are web attacks / scans rather than failed logins.
_F2B_ACTION: dict[str, str] = {
    "apache-auth": "web_auth_failed",
    "nginx-http-auth": "web_auth_failed",
    "apache-botsearch": "web_attack_attempt",
    "apache-nohome": "web_attack_attempt",
    "apache-shellshock": "web_attack_attempt",
    "php-url-fopen": "web_attack_attempt",
    "nginx-bad-request": "web_attack_attempt",
    "nginx-limit-req": "rate_limited",
    "squid": "connection_rejected",
    "nsd": "connection_rejected",
    "murmur": "connection_rejected",
    "nagios": "connection_rejected",
    "counter-strike": "connection_rejected",
    "dovecot": "mail_auth_failed",
    "cyrus-imap": "mail_auth_failed",
    "sieve": "mail_auth_failed",
    "perdition": "mail_auth_failed",
    "oracleims": "mail_auth_failed",
    "sendmail-auth": "mail_auth_failed",
    "sendmail-reject": "mail_rejected",
}


def fail2ban_action(filter_name: str, line: str) -> str:
    """The action of a line that fail2ban's `filter_name` reports as an offense."""
    if filter_name in ("sshd", "dropbear", "selinux-ssh"):
        return "invalid_user" if _INVALID_USER.search(line) else "ssh_login_failed"
    if filter_name in ("postfix", "exim"):
        return "mail_auth_failed" if _MAIL_AUTH.search(line) else "mail_rejected"
    if filter_name == "openvpn":
        return "login_failed" if "Auth" in line or "auth" in line else "connection_rejected"
    return _F2B_ACTION.get(filter_name, "login_failed")


def fail2ban_example(record: Fail2banRecord) -> list[Example]:
    """The full-line example of `record` and, when its syslog header parses, the body-only one."""
    line = record.line
    spans = _SpanSet(line)
    header = split_syslog(line)
    if record.host and record.host_in_line:
        label = "source.ip" if _is_ip(record.host) else "source.address"
        if header is not None:
            # The offending host is never the syslog HOSTNAME field; look in the body only.
            for pos in find_token(line, record.host, header.body_start):
                spans.add(pos, pos + len(record.host), label)
        else:
            spans.add_value(record.host, label)
    if record.user:
        for pos in find_token(line, record.user, header.body_start if header else 0):
            spans.add(pos, pos + len(record.user), "user.name")
    if header is not None:
        for s in header.spans:
            spans.add(s.start, s.end, s.label)
    action = fail2ban_action(record.filter, line) if record.match else "other"
    full = Example(text=line, spans=spans.sorted(), action=action,
                   family=f"fail2ban:{record.filter}", origin="fail2ban",
                   action_known=record.match, roles_known=True)
    out = [full]
    if header is not None:
        body = _body_variant(full, header)
        if body is not None and body.text:
            out.append(body)
    return out


def fail2ban_examples(root: Path | None = None) -> list[Example]:
    """Examples from every fail2ban sample line (full lines, plus bodies where exact)."""
    out: list[Example] = []
    for record in load_fail2ban(root):
        out.extend(fail2ban_example(record))
    return out


# ---- CrowdSec -------------------------------------------------------------------------

CROWDSEC_FIELDS: dict[str, str] = {
    "source_ip": "source.ip",
    "target_user": "user.name",
    "http_path": "url.original",
    "http_status": "http.response.status_code",
    "http_verb": "http.request.method",
}
"""The CrowdSec meta fields evaluation scores, and the role each maps to."""

_CROWDSEC_EXTRA_FIELDS: dict[str, str] = {
    "http_user_agent": "user_agent.original",
    "dest_ip": "destination.ip",
    "dest_port": "destination.port",
    "username": "user.name",
}


@dataclass(frozen=True, slots=True)
class CrowdsecEvent:
    """One event of a CrowdSec parser test with its expected meta fields."""

    test: str
    line: str
    parsed: bool | None
    meta: dict[str, str]
    lineno: int


def load_crowdsec(root: Path | None = None) -> list[CrowdsecEvent]:
    """Events of every parser test (`crowdsec/<test>/expected.jsonl`), [] when absent."""
    base = (root or datasets_root()) / "crowdsec"
    if not base.is_dir():
        return []
    out: list[CrowdsecEvent] = []
    for path in sorted(base.glob("*/expected.jsonl")):
        test = path.parent.name
        for d in _json_records(path):
            raw_meta = d.get("meta")
            meta = ({str(k): str(v) for k, v in raw_meta.items() if v is not None}
                    if isinstance(raw_meta, dict) else {})
            parsed = d.get("parsed")
            expected = None if parsed is None else bool(parsed)
            out.append(CrowdsecEvent(test, d["line"], expected, meta, int(d.get("lineno") or 0)))
    return out


_CS_FAILED = re.compile(r"fail|bad_password|bad_user|bad_mfa|invalid|LOGIN_ERROR|auth_bf",
                        re.IGNORECASE)
_CS_ACTIONS: dict[str, str] = {
    "iptables_drop": "firewall_drop",
    "pf_drop": "firewall_drop",
    "bind9_denied": "connection_rejected",
    "suricata_alert": "intrusion_detected",
    "execve": "process_started",
    "spam-attempt": "mail_rejected",
    "endlessh_accept": "connection_opened",
    "auth_success": "login_success",
    "mail_new_session": "login_success",
    "ssh_bad_keyexchange": "ssh_login_failed",
}


def crowdsec_action(log_type: str | None, line: str) -> str | None:
    """The action `meta.log_type` names, or None when it does not name one."""
    if not log_type:
        return None
    if log_type in _CS_ACTIONS:
        return _CS_ACTIONS[log_type]
    if log_type == "ssh_failed-auth":
        return "invalid_user" if _INVALID_USER.search(line) else "ssh_login_failed"
    if log_type in ("mail_auth", "exim_failed_auth", "zimbra_auth_fail"):
        return "mail_auth_failed"
    if _CS_FAILED.search(log_type) and ("auth" in log_type.lower() or "login" in log_type.lower()
                                        or "password" in log_type or "user" in log_type):
        return "login_failed"
    return None


def crowdsec_example(event: CrowdsecEvent) -> Example | None:
    """The labelled example of one parsed event; None when no expected field is in the line."""
    if event.parsed is not True:
        return None
    spans = _SpanSet(event.line)
    header = split_syslog(event.line)
    if header is not None:
        # Header fields first: a peer address equal to the syslog HOSTNAME is not the peer there.
        for s in header.spans:
            spans.add(s.start, s.end, s.label)
    found = 0
    for key, role in (*CROWDSEC_FIELDS.items(), *_CROWDSEC_EXTRA_FIELDS.items()):
        value = event.meta.get(key)
        if not value or (key in _CROWDSEC_EXTRA_FIELDS and len(value) < 2):
            continue  # "-" placeholders would match every dash of the line
        if key in ("source_ip", "dest_ip") and not _is_ip(value):
            role = "source.address" if key == "source_ip" else role
        found += spans.add_value(value, role, every=key not in ("http_status",))
    if not found:
        return None
    action = crowdsec_action(event.meta.get("log_type"), event.line)
    return Example(text=event.line, spans=spans.sorted(), action=action or "other",
                   family=f"crowdsec:{event.test}", origin="crowdsec",
                   action_known=action is not None, roles_known=True)


def crowdsec_examples(root: Path | None = None) -> list[Example]:
    """Examples from CrowdSec parser tests (events expected to parse, with a field in the line)."""
    out: list[Example] = []
    for event in load_crowdsec(root):
        example = crowdsec_example(event)
        if example is not None:
            out.append(example)
    return out


# ---- Loghub ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LoghubRow:
    system: str
    line_id: int
    content: str
    event_id: str
    template: str


def load_loghub(root: Path | None = None) -> list[LoghubRow]:
    """Rows of every `loghub/<System>/<System>_2k.log_structured.csv`, [] when absent."""
    base = (root or datasets_root()) / "loghub"
    if not base.is_dir():
        return []
    out: list[LoghubRow] = []
    for path in sorted(base.glob("*/*_structured.csv")):
        system = path.parent.name
        with path.open(encoding="utf-8", errors="replace", newline="") as fh:
            for row in csv.DictReader(fh):
                out.append(LoghubRow(system, int(row.get("LineId") or 0), row.get("Content") or "",
                                     row.get("EventId") or "", row.get("EventTemplate") or ""))
    return out


_WILDCARD = "<*>"
_MAX_WILDCARDS = 40


def align_template(template: str, content: str) -> list[tuple[int, int]] | None:
    """Character ranges of `content` that the template's `<*>` cover; None when it does not fit.

    Constant parts are matched literally; wildcards take the shortest text that lets
    the rest match (so `<*>` never swallows the constant that follows it).
    """
    parts = template.split(_WILDCARD)
    if len(parts) - 1 > _MAX_WILDCARDS:
        return None
    pattern = "(.*?)".join(re.escape(p) for p in parts)
    try:
        m = re.fullmatch(pattern, content, re.DOTALL)
    except re.error:
        return None
    if m is None:
        return None
    return [(m.start(i), m.end(i)) for i in range(1, len(parts))]


# Loghub systems that log no security events at all (mobile framework, Hadoop/Spark jobs,
# Windows component servicing, supercomputer hardware): every line's action is `other`.
# Their "failed"/"denied"/"added to" lines teach the line head that application chatter
# with an address in it is not a failed login. Systems with logins (Linux, OpenSSH,
# Thunderbird) or web requests (OpenStack) keep no line label.
LOGHUB_WITHOUT_SECURITY_EVENTS: frozenset[str] = frozenset({
    "Android", "Hadoop", "Spark", "Windows", "HPC",
})


def loghub_example(row: LoghubRow) -> Example | None:
    ranges = align_template(row.template, row.content)
    if ranges is None or not row.content:
        return None
    spans = [Span(a, b, "variable") for a, b in ranges if b > a]
    known = row.system in LOGHUB_WITHOUT_SECURITY_EVENTS
    return Example(text=row.content, spans=spans, action="other", family=f"loghub:{row.system}",
                   origin="loghub", action_known=known, roles_known=False)


def loghub_examples(root: Path | None = None) -> list[Example]:
    """Template-labelled examples of Loghub contents (rows whose template aligns)."""
    out: list[Example] = []
    for row in load_loghub(root):
        example = loghub_example(row)
        if example is not None:
            out.append(example)
    return out


def real_examples(root: Path | None = None, origins: set[str] | None = None) -> list[Example]:
    """Examples from all (or the named) real sources present under `root`."""
    wanted = origins or {"fail2ban", "crowdsec", "loghub"}
    out: list[Example] = []
    if "fail2ban" in wanted:
        out.extend(fail2ban_examples(root))
    if "crowdsec" in wanted:
        out.extend(crowdsec_examples(root))
    if "loghub" in wanted:
        out.extend(loghub_examples(root))
    return out


def training_examples(seed: int = 0, root: Path | None = None) -> list[Example]:
    """Real examples of the families that may train (held-out ones removed), in an order
    shuffled by `seed`; [] when the datasets are absent."""
    import random

    examples = without_held_out(real_examples(root))
    random.Random(seed).shuffle(examples)
    return examples


def list_families(root: Path | None = None,
                  include_real: bool = True) -> dict[str, dict[str, object]]:
    """Every family with its origin, example count (real ones) and split.

    Synthetic families have no fixed count (the generator is unbounded); real ones
    count the examples their converters yield from the datasets under `root`.
    """
    out: dict[str, dict[str, object]] = {
        name: {"origin": "synthetic", "count": None, "split": "train"} for name in family_names()
    }
    if include_real:
        counts = Counter((e.family, e.origin) for e in real_examples(root))
        for (family, origin), count in sorted(counts.items()):
            tier = held_out_tier(family)
            out[family] = {"origin": origin, "count": count,
                           "split": f"held_out:{tier}" if tier else "train"}
    return out
