"""A stand-in `journalctl` for tests, and the recorded journal it serves."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

FAKE_JOURNALCTL = r'''#!PYTHON
"""A stand-in journalctl: serves $FAKE_JOURNAL (journal JSON lines)."""
import json, os, sys, time

journal = os.environ["FAKE_JOURNAL"]
try:
    with open(journal + ".argv", "a") as log:
        log.write(json.dumps(sys.argv[1:]) + "\n")
except OSError:
    pass  # a read-only file system (the sandbox test): run without the record
opts = dict(a.split("=", 1) if "=" in a else (a, "") for a in sys.argv[1:])
exit_after = int(os.environ.get("FAKE_EXIT_AFTER", "0"))
if os.environ.get("FAKE_STDERR"):
    sys.stderr.write(os.environ["FAKE_STDERR"] + "\n")
    sys.stderr.flush()

def entries():
    with open(journal, "rb") as f:
        return f.read().split(b"\n")[:-1]

lines = entries()
if "--after-cursor" in opts:
    cursors = [json.loads(l).get("__CURSOR") if l.startswith(b"{") else None for l in lines]
    if opts["--after-cursor"] not in cursors:
        sys.stderr.write("Failed to seek to cursor: Invalid argument\n")
        sys.exit(1)
    pos = cursors.index(opts["--after-cursor"]) + 1
elif opts.get("--lines") == "all":
    pos = 0
else:
    pos = len(lines)
printed = 0
while True:
    lines = entries()
    while pos < len(lines):
        sys.stdout.buffer.write(lines[pos] + b"\n")
        sys.stdout.flush()
        pos += 1
        printed += 1
        if exit_after and printed >= exit_after:
            sys.stderr.write("fake journalctl: exiting as told\n")
            sys.exit(3)
    if "--follow" not in opts:
        break
    time.sleep(0.02)
'''


def entry(i: int, message: Any = None, **extra: Any) -> dict[str, Any]:
    """One entry as journalctl --output=json prints it (every value a string)."""
    doc: dict[str, Any] = {
        "__CURSOR": f"s=abc;i={i:x};b=boot;m={i:x};t={i:x};x={i:x}",
        "__REALTIME_TIMESTAMP": str(1_795_673_729_000_000 + i * 1_000_000),
        "__MONOTONIC_TIMESTAMP": str(1000 + i),
        "_BOOT_ID": "0123456789abcdef0123456789abcdef",
        "_HOSTNAME": "web1",
        "SYSLOG_IDENTIFIER": "sshd",
        "_COMM": "sshd",
        "_PID": str(4000 + i),
        "PRIORITY": "5",
        "MESSAGE": message if message is not None
        else f"Failed password for root from 10.0.0.{i} port 22 ssh2",
    }
    doc.update(extra)
    return {k: v for k, v in doc.items() if v is not None}


class FakeJournal:
    """The recorded journal the fake journalctl serves, and what it was asked."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "journal.jsonl"
        self.path.write_bytes(b"")

    def append(self, *docs: dict[str, Any] | bytes) -> None:
        with self.path.open("ab") as f:
            for doc in docs:
                f.write((doc if isinstance(doc, bytes) else json.dumps(doc).encode()) + b"\n")

    def invocations(self) -> list[list[str]]:
        argv = Path(str(self.path) + ".argv")
        if not argv.exists():
            return []
        return [json.loads(line) for line in argv.read_text().splitlines()]




def install_fake_journalctl(directory: Path) -> tuple[Path, FakeJournal]:
    """Write the fake as `journalctl` into directory/bin; returns (bin dir, its journal).

    The caller puts the bin dir first on PATH and FAKE_JOURNAL=journal.path in
    the environment.
    """
    bin_dir = directory / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "journalctl"
    script.write_text(FAKE_JOURNALCTL.replace("PYTHON", sys.executable, 1))
    script.chmod(0o755)
    return bin_dir, FakeJournal(directory)
