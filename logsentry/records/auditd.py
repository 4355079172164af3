"""Linux audit records: raw auditd lines and laurel JSON -> ECS fields and actions.

A raw record is `[node=HOST ]type=TYPE msg=audit(EPOCH.MS:SERIAL): key=value ...`
(auditd's `log_format=RAW`; `ENRICHED` appends the resolved names after a
0x1d byte: `UID="root" SYSCALL=execve`). User-space records (logins, account
changes) nest their own `msg='op=... acct="bob" res=failed'`. Strings the
kernel does not trust (comm, exe, execve arguments, acct, proctitle...) are
written in double quotes, or as hex when they hold spaces, quotes or control
bytes. One kernel event is several records (SYSCALL, EXECVE, CWD, PATH,
PROCTITLE) sharing the serial; each line is decoded on its own: the SYSCALL
record carries the process and the action, EXECVE the arguments.

laurel (https://github.com/threathunters-io/laurel) writes each event as one
JSON document, the records as keys (`"SYSCALL": {...}`, `"EXECVE": {"ARGV":
[...]}`, `"PROCTITLE"`, `"PPID": {"comm", "exe"}`), strings already decoded.

Field names are ECS's, as Elastic's auditbeat fills them (process.pid,
process.parent.pid, user.audit.id, auditd.session, auditd.data.tty...).
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from typing import Any

from logsentry.records.record import MAX_RECORD_CHARS, DecodedRecord, clip

_HEADER = re.compile(
    r"(?:node=(?P<node>[^\s=]{1,255}) )?type=(?P<type>[A-Z][A-Z0-9_]{0,39}) "
    r"msg=audit\((?P<sec>\d{1,12})(?:\.(?P<frac>\d{1,9}))?:(?P<serial>\d{1,20})\): ?")
# One `name=value` pair: a quoted string, a single-quoted nested message, or a bare word.
_PAIR = re.compile(r"""([A-Za-z_][\w-]{0,63}(?:\[\d{1,6}\])?)=("[^"]*"?|'[^']*'?|[^\s"']*)""")
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+")
# laurel's event id: the audit header's `EPOCH.MS:SERIAL`.
_LAUREL_ID = re.compile(r"\d{1,12}(?:\.\d{1,9})?:\d{1,20}")
# Fields whose value the kernel or libaudit hex-encodes when it is not safe to print.
_ENCODED = frozenset({"comm", "exe", "cwd", "name", "acct", "proctitle", "cmd", "key", "data",
                      "path", "new", "old", "grp", "new-grp", "vm", "root_dir"})
# "Not set" markers of audit ids and strings.
_UNSET = frozenset({"", "?", "(null)", "(none)", "4294967295", "-1", "unset"})
# Arguments kept of one execve (the kernel logs them all; argc is attacker-chosen).
MAX_ARGS = 256
_ARG_KEY = re.compile(r"a(\d{1,6})(?:_len|\[(\d{1,6})\])?")
# Syscall numbers of execve/execveat per audit arch (AUDIT_ARCH_* in linux/audit.h),
# for raw records without the enriched `SYSCALL=` name.
_EXEC_SYSCALLS: dict[str, dict[str, str]] = {
    "c000003e": {"59": "execve", "322": "execveat"},      # x86_64
    "40000003": {"11": "execve", "358": "execveat"},      # i386
    "c00000b7": {"221": "execve", "281": "execveat"},     # aarch64
    "40000028": {"11": "execve", "387": "execveat"},      # arm
}
# Records that only complete a syscall event (its SYSCALL record holds the action):
# their meaning is fixed, none of their own.
_AUXILIARY = frozenset({"EXECVE", "PATH", "CWD", "PROCTITLE", "SOCKADDR", "EOE", "BPRM_FCAPS",
                        "MMAP", "FD_PAIR", "CAPSET", "OBJ_PID", "IPC", "KERN_MODULE"})
# The names `_record` and `_syscall_name` read from a raw record.
_READ = frozenset({"pid", "ppid", "comm", "exe", "acct", "uid", "id", "auid", "euid", "gid",
                   "ses", "tty", "terminal", "op", "arch", "exit", "sig", "cwd", "name",
                   "proctitle", "cmd", "key", "addr", "hostname", "res", "success", "syscall",
                   "argc"})
# Record names copied as they are to ECS fields.
_PLAIN_FIELDS = (
    ("auid", "user.audit.id"), ("AUID", "user.audit.name"), ("euid", "user.effective.id"),
    ("EUID", "user.effective.name"), ("gid", "user.group.id"), ("ses", "auditd.session"),
    ("tty", "auditd.data.tty"), ("terminal", "auditd.data.terminal"), ("op", "auditd.data.op"),
    ("exit", "auditd.data.exit"), ("sig", "auditd.data.sig"),
    ("cwd", "process.working_directory"), ("name", "file.path"),
    ("proctitle", "process.title"), ("cmd", "process.command_line"),
)
# User-space records about a login or an authentication (PAM, sshd, login).
_LOGIN_RECORDS = frozenset({"USER_LOGIN", "USER_AUTH"})
# The action of a failed USER_AUTH, by program (default: login_failed).
_AUTH_FAILURES = {"sshd": "ssh_login_failed", "sudo": "sudo_auth_failure", "su": "su_failed"}
# Placeholders PAM and sshd write for an account name they will not reveal.
_NO_ACCOUNT = frozenset({"(unknown user)", "(invalid user)", "(unknown)"})


def decode_auditd(text: str) -> DecodedRecord | None:
    """The fields and action of one raw audit record; None when `text` is not one."""
    text = text[:MAX_RECORD_CHARS]
    header = _HEADER.match(text)
    if header is None:
        return None
    rest = text[header.end():]
    enriched = ""
    if "\x1d" in rest:
        rest, _, enriched = rest.partition("\x1d")
    execve = header["type"] == "EXECVE"
    values: dict[str, str] = {}
    raw_args: dict[str, str] = {}
    for name, raw in _PAIR.findall(rest):
        if name in _READ:  # only what `_record` reads is decoded (the a0..a3 of a
            if name not in values:  # SYSCALL record, the subj... are not)
                values[name] = _value(name, raw)
        elif name == "msg" and raw[:1] == "'":
            # A user-space record's own message: its pairs describe the subject.
            for inner_name, inner_raw in _PAIR.findall(raw.strip("'")):
                if inner_name in _READ and inner_name not in values:
                    values[inner_name] = _value(inner_name, inner_raw)
        elif execve and name[:1] == "a" and _ARG_KEY.fullmatch(name):
            raw_args[name] = raw
    for name, raw in _PAIR.findall(enriched):
        # Enriched names are upper-case (UID="root"): they never collide with raw ones.
        values.setdefault(name, raw.strip('"'))
    args = _execve_args(values.get("argc"), raw_args) if execve else None
    record = _record(header["type"], values, args)
    record.timestamp = _audit_time(header["sec"], header["frac"])
    record.fields["auditd.sequence"] = int(header["serial"])
    if header["node"]:
        record.fields["host.name"] = header["node"]
    return record


def decode_laurel(doc: dict[str, Any]) -> DecodedRecord | None:
    """The fields and action of one laurel event (a JSON object with a "SYSCALL" object,
    or one user-space record such as "USER_LOGIN"); None when `doc` is not one."""
    event_id = doc.get("ID")
    if not isinstance(event_id, str) or _LAUREL_ID.fullmatch(event_id) is None:
        return None  # an application's own "ID" key
    rtype = "SYSCALL"
    body = doc.get("SYSCALL")
    if not isinstance(body, dict):
        # Other records come as a list of objects (one per record of that type).
        rtype = next((key for key in doc if key.startswith(("USER_", "ADD_", "DEL_", "ANOM_"))),
                     "")
        body = doc.get(rtype)
        if isinstance(body, list) and body:
            body = body[0]
        if not rtype or not isinstance(body, dict):
            return None
    values: dict[str, str] = {}
    for name, value in body.items():
        if isinstance(value, dict) and name == "msg":
            for inner_name, inner in value.items():
                if _scalar(inner):
                    values.setdefault(str(inner_name), clip(str(inner)))
        elif _scalar(value):
            values.setdefault(str(name), clip(str(value)))
    args = _string_list(_get(doc, "EXECVE", "ARGV"))
    record = _record(rtype, values, args)
    fields = record.fields
    parent = body.get("PPID")
    if isinstance(parent, dict):
        _put(fields, "process.parent.name", parent.get("comm"))
        _put(fields, "process.parent.executable", parent.get("exe"))
    title = _string_list(_get(doc, "PROCTITLE", "ARGV"))
    if title:
        fields.setdefault("process.title", clip(" ".join(title)))
    cwd = _get(doc, "CWD", "cwd")
    if isinstance(cwd, str):
        fields.setdefault("process.working_directory", clip(cwd))
    node = doc.get("NODE")
    if isinstance(node, str) and node:
        fields["host.name"] = clip(node)
    stamp, _, serial = event_id.partition(":")
    sec, _, frac = stamp.partition(".")
    record.timestamp = _audit_time(sec, frac or None)
    fields["auditd.sequence"] = int(serial)
    return record


def _record(rtype: str, values: dict[str, str], args: list[str] | None) -> DecodedRecord:
    """ECS fields and action of one record's decoded `values` (raw and laurel alike)."""
    fields: dict[str, Any] = {"auditd.message_type": rtype.lower()}
    get = values.get
    _put_int(fields, "process.pid", get("pid"))
    _put_int(fields, "process.parent.pid", get("ppid"))
    _put(fields, "process.name", get("comm"))
    exe = get("exe")
    _put(fields, "process.executable", exe)
    if "process.name" not in fields and exe and exe not in _UNSET:
        fields["process.name"] = _basename(exe)
    subject = "acct" in values or rtype.startswith(("USER_", "ADD_", "DEL_"))
    if subject:
        # A user-space record: uid is the reporting process's (sshd: 0), acct the subject.
        _put(fields, "process.user.id", get("uid"))
        account = get("acct")
        if account not in _NO_ACCOUNT:
            _put(fields, "user.name", account)
        _put(fields, "user.id", get("id"))
    else:
        _put(fields, "user.id", get("uid"))
        _put(fields, "user.name", get("UID"))
    _put(fields, "auditd.data.arch", get("ARCH") or get("arch"))
    for source, name in _PLAIN_FIELDS:
        value = get(source)
        if value and value not in _UNSET:  # already clipped
            fields[name] = value
    rule_key = get("key")
    if rule_key and rule_key not in _UNSET:
        # Several keys of one rule are joined by 0x01.
        fields["tags"] = [part for part in rule_key.split("\x01") if part][:8]
    _address(fields, get("addr"), get("hostname"))
    result = get("res") or get("success")
    if result:
        fields["auditd.result"] = "success" if result in ("success", "yes", "1") else "fail"
    syscall = _syscall_name(values)
    if syscall:
        fields["auditd.data.syscall"] = syscall
    if args:
        fields["process.args"] = args
        fields["process.args_count"] = len(args)
        fields["process.command_line"] = clip(" ".join(args))
    return DecodedRecord(fields, action=_action(rtype, fields, syscall))


def _action(rtype: str, fields: dict[str, Any], syscall: str | None) -> str | None:
    """The action a record's type fixes; None when the type leaves it to the analyzer."""
    ok = fields.get("auditd.result") == "success"
    if rtype == "SYSCALL":
        if syscall in ("execve", "execveat") and ok:
            return "process_started"
        return "other"  # any other syscall, or an exec that failed: nothing the vocabulary names
    if rtype in _AUXILIARY:
        return "other"
    if rtype in _LOGIN_RECORDS:
        if "auditd.result" not in fields:
            return None
        program = str(fields.get("process.name", ""))
        if rtype == "USER_AUTH":
            # A failure is counted on the PAM authentication record, as fail2ban's
            # selinux-ssh filter does; its success is only a step before the login
            # (USER_LOGIN) or the command (USER_CMD) recorded next.
            if ok:
                return "other"
            if program in _AUTH_FAILURES:
                return _AUTH_FAILURES[program]
            return "login_failed"
        if not ok:
            # sshd writes a failed USER_LOGIN for every method attempt that fails (each
            # public key an agent offers, each password beside PAM's USER_AUTH):
            # counting them too would double failures and flag key-agent users.
            return "other"
        return "ssh_login_success" if program == "sshd" else "login_success"
    if not ok:
        return None
    if rtype == "ADD_USER":
        return "user_created"
    if rtype == "DEL_USER":
        return "user_deleted"
    if rtype == "USER_CHAUTHTOK":
        return "password_changed"
    if rtype == "USER_MGMT" and "group" in str(fields.get("auditd.data.op", "")):
        return "group_changed"
    if rtype == "ANOM_ABEND":
        return "service_crash"
    return None


def _syscall_name(values: dict[str, str]) -> str | None:
    named = values.get("SYSCALL")
    if named:
        return named if named.isidentifier() else None
    number = values.get("syscall")
    if not number:
        return None
    arch = values.get("arch", "").lower().removeprefix("0x")
    return _EXEC_SYSCALLS.get(arch, {}).get(number, number if number.isdigit() else None)


def _value(name: str, raw: str) -> str:
    """A pair's text: quotes removed, hex undone where audit encodes that field."""
    if raw[:1] in ('"', "'"):
        return clip(raw[1:-1] if len(raw) > 1 and raw[-1] == raw[0] else raw[1:])
    if name in _ENCODED and raw not in _UNSET and _HEX.fullmatch(raw):
        return _unhex(raw)
    return clip(raw)


def _unhex(raw: str) -> str:
    text = bytes.fromhex(raw[:2 * MAX_RECORD_CHARS]).decode("utf-8", errors="replace")
    # proctitle separates arguments with NUL bytes.
    return clip(text.replace("\x00", " ").strip())


def _execve_args(argc_text: str | None, raw_args: dict[str, str]) -> list[str]:
    """Arguments of an EXECVE record: `a0="ls"`, hex `a1=2D6C61`, or a long argument
    in chunks (`a2_len=9000 a2[0]=... a2[1]=...`)."""
    try:
        argc = min(int(argc_text or "0"), MAX_ARGS)
    except ValueError:
        argc = 0
    if argc <= 0:
        argc = min(len(raw_args), MAX_ARGS)
    args: list[str] = []
    for index in range(argc):
        raw = raw_args.get(f"a{index}")
        if raw is not None:
            args.append(_arg(raw))
            continue
        chunks: list[bytes] = []
        part = 0
        while (chunk := raw_args.get(f"a{index}[{part}]")) is not None and part < 1024:
            chunks.append(_arg_bytes(chunk))
            part += 1
        if not chunks:
            break  # a missing argument: the record was cut
        args.append(clip(b"".join(chunks).decode("utf-8", errors="replace")))
    return args


def _arg(raw: str) -> str:
    return clip(_arg_bytes(raw).decode("utf-8", errors="replace"))


def _arg_bytes(raw: str) -> bytes:
    if raw[:1] == '"':
        return raw.strip('"').encode("utf-8", errors="replace")
    if _HEX.fullmatch(raw):
        return bytes.fromhex(raw)
    return raw.encode("utf-8", errors="replace")


def _audit_time(sec: str, frac: str | None) -> datetime | None:
    seconds = int(sec)
    if not 1e8 <= seconds < 1e10:
        return None  # a clock reset or a forged stamp: the arrival time stands in
    micro = int((frac or "0").ljust(6, "0")[:6])
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=micro)


def _address(fields: dict[str, Any], addr: str | None, hostname: str | None) -> None:
    """`addr` (the peer of a login) as source.ip; a `hostname` that is no address as
    source.domain."""
    for text in (addr, hostname):
        if not text or text in _UNSET or "source.ip" in fields:
            continue
        try:
            fields["source.ip"] = str(ipaddress.ip_address(text.strip("[]")))
        except ValueError:
            continue
    if hostname and hostname not in _UNSET and hostname != addr and "source.ip" in fields \
            and hostname != fields["source.ip"]:
        fields["source.domain"] = clip(hostname)


def _put(fields: dict[str, Any], name: str, value: object) -> None:
    if isinstance(value, str) and value not in _UNSET:
        fields[name] = clip(value)


def _put_int(fields: dict[str, Any], name: str, value: str | None) -> None:
    if value and value.isdigit() and len(value) <= 10:
        fields[name] = int(value)


def _basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1] or path


def _scalar(value: object) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


def _get(doc: dict[str, Any], record: str, key: str) -> Any:
    node = doc.get(record)
    return node.get(key) if isinstance(node, dict) else None


def _string_list(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    return [clip(item) for item in value[:MAX_ARGS] if isinstance(item, str)]
