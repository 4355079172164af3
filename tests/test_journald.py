"""The journald source against processes that write journal JSON.

Most tests put a fake `journalctl` on PATH: a script that prints recorded
journal JSON lines (the format `journalctl --output=json` writes, byte-array
MESSAGE included), honours --after-cursor, --lines and --follow, and logs its
command line. The last tests use the real journalctl: on a journal file built
by systemd-journal-remote, and on the machine's own journal where it has one.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import struct
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import structlog

from logsentry.config import parse_config
from logsentry.core.errors import ConfigError
from logsentry.core.metrics import LINES_MALFORMED, SOURCE_RESTARTS
from logsentry.envelope import EnvelopeParser
from logsentry.sources.base import LineBatch
from logsentry.sources.config import JournaldSourceConfig
from logsentry.sources.journald import EntryParser, JournalctlMissing, JournaldSource
from tests.fake_journalctl import FakeJournal, entry, install_fake_journalctl


@pytest.fixture
def fake_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeJournal:
    bin_dir, journal = install_fake_journalctl(tmp_path)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_JOURNAL", str(journal.path))
    return journal


class Reader:
    """Runs a source like the pipeline does: a bounded queue, a stop event."""

    def __init__(self, source: JournaldSource) -> None:
        self.source = source
        self.queue: asyncio.Queue[LineBatch] = asyncio.Queue(maxsize=4)
        self.stop = asyncio.Event()
        self.task = asyncio.ensure_future(source.run(self.queue, self.stop))
        self.batches: list[LineBatch] = []

    async def lines(self, count: int, timeout: float = 10.0) -> list[str]:
        """Collect batches until `count` lines arrived in total."""
        deadline = time.monotonic() + timeout
        while sum(len(b.lines) for b in self.batches) < count:
            if self.task.done():
                self.task.result()
                raise AssertionError("source ended early")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"only {[b.lines for b in self.batches]} within {timeout}s")
            try:
                self.batches.append(await asyncio.wait_for(self.queue.get(), remaining))
            except TimeoutError:
                continue
        return [line for b in self.batches for line in b.lines]

    def fields(self) -> list[dict[str, Any]]:
        return [f for b in self.batches for f in (b.fields or [])]

    async def finish(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 10)
        await self.source.close()


def source_for(tmp_path: Path, **options: Any) -> JournaldSource:
    options.setdefault("restart_delay", 0.05)
    return JournaldSource(JournaldSourceConfig(**options), tmp_path / "state",
                          commit_interval=0.01)


async def test_entries_become_lines_with_envelope_fields(
    fake_journal: FakeJournal, tmp_path: Path,
) -> None:
    fake_journal.append(
        entry(1),
        entry(2, SYSLOG_IDENTIFIER=None, _COMM="cron", _PID="77"),
        # Journal JSON writes a value with invalid UTF-8 as an array of bytes.
        entry(3, list(b"Failed password for \xff\xfe root from 10.0.0.3")),
    )
    reader = Reader(source_for(tmp_path, start_at="beginning"))
    lines = await reader.lines(3)
    await reader.finish()
    assert lines[0] == "Failed password for root from 10.0.0.1 port 22 ssh2"
    assert lines[2] == "Failed password for \ufffd\ufffd root from 10.0.0.3"
    first, second, _ = reader.fields()
    assert first == {
        "host.name": "web1",
        "process.name": "sshd",
        "process.pid": 4001,
        "@timestamp": datetime(2026, 11, 26, 6, 15, 30, tzinfo=UTC),
        "log.syslog.severity.code": 5,
    }
    assert (second["process.name"], second["process.pid"]) == ("cron", 77)
    assert reader.source.parser.decoder.counts["invalid_utf8"] == 1
    # The batch position is the cursor of its last entry.
    assert reader.batches[-1].position == entry(3)["__CURSOR"]


def test_envelope_keeps_journal_fields_and_time() -> None:
    parser = EntryParser("journald", 1_048_576)
    parsed = parser.parse(json.dumps(entry(5)).encode())
    assert parsed is not None
    event = EnvelopeParser().parse(parsed.message, time.time(), parsed.fields)
    assert event.timestamp == datetime(2026, 11, 26, 6, 15, 34, tzinfo=UTC)
    assert event.fields["host.name"] == "web1"
    assert event.fields["process.pid"] == 4005
    assert "@timestamp" not in event.fields
    assert event.to_ecs()["host"]["name"] == "web1"


async def test_a_restart_resumes_after_the_committed_cursor(
    fake_journal: FakeJournal, tmp_path: Path,
) -> None:
    fake_journal.append(*(entry(i) for i in range(1, 6)))
    reader = Reader(source_for(tmp_path, start_at="beginning"))
    await reader.lines(5)
    # Only the first two entries were fully processed before the stop.
    reader.source.commit(entry(2)["__CURSOR"])
    await reader.finish()

    again = Reader(source_for(tmp_path, start_at="beginning"))
    lines = await again.lines(3)
    await again.finish()
    assert [line.rsplit(" ", 3)[0][-1] for line in lines] == ["3", "4", "5"]
    assert f"--after-cursor={entry(2)['__CURSOR']}" in fake_journal.invocations()[-1]


async def test_start_at_end_follows_only_new_entries(
    fake_journal: FakeJournal, tmp_path: Path,
) -> None:
    fake_journal.append(entry(1), entry(2))
    reader = Reader(source_for(tmp_path))
    for _ in range(100):
        if fake_journal.invocations():
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.1)
    fake_journal.append(entry(3))
    lines = await reader.lines(1)
    await reader.finish()
    assert lines == [entry(3)["MESSAGE"]]
    argv = fake_journal.invocations()[0]
    assert "--follow" in argv and "--output=json" in argv and "--lines=0" in argv


async def test_journalctl_exiting_is_restarted_without_loss_or_duplicates(
    fake_journal: FakeJournal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_EXIT_AFTER", "2")
    fake_journal.append(*(entry(i) for i in range(1, 6)))
    name = "journald-restart-test"
    before = SOURCE_RESTARTS.labels(name)._value.get()
    reader = Reader(source_for(tmp_path, name=name, start_at="beginning"))
    lines = await reader.lines(5)
    await reader.finish()
    assert lines == [entry(i)["MESSAGE"] for i in range(1, 6)]
    assert reader.source.restarts >= 2
    assert SOURCE_RESTARTS.labels(name)._value.get() - before >= 2
    # Each restart continued after the last entry handed on.
    assert f"--after-cursor={entry(2)['__CURSOR']}" in fake_journal.invocations()[1]


async def test_a_cursor_journalctl_rejects_falls_back_to_start_at(
    fake_journal: FakeJournal, tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    source = source_for(tmp_path, start_at="beginning")
    assert source.store is not None
    source.store.cursor = "s=from-another-machine"
    source.store.save()
    fake_journal.append(entry(1))
    reader = Reader(source_for(tmp_path, start_at="beginning"))
    assert await reader.lines(1) == [entry(1)["MESSAGE"]]
    await reader.finish()
    first, second = fake_journal.invocations()[:2]
    assert "--after-cursor=s=from-another-machine" in first
    assert "--lines=all" in second
    assert list(state.iterdir())


async def test_garbage_and_oversized_entries_are_counted_not_fatal(
    fake_journal: FakeJournal, tmp_path: Path,
) -> None:
    name = "journald-junk-test"
    huge = "A" * 5000
    fake_journal.append(
        b"this is not json",
        b"[1, 2, 3]",
        entry(1, MESSAGE=None),
        entry(2, huge),
        entry(4, "nul\x00byte"),
        entry(5),
    )
    reader = Reader(source_for(tmp_path, name=name, start_at="beginning", max_line_bytes=1024))
    lines = await reader.lines(4)
    await reader.finish()
    assert lines[0] == ""  # an entry without MESSAGE is still an event (counted)
    assert lines[1] == "A" * 1024  # cut at max_line_bytes
    assert "nul\ufffdbyte" in lines
    assert lines[-1] == entry(5)["MESSAGE"]

    def malformed(reason: str) -> float:
        return LINES_MALFORMED.labels(name, reason)._value.get()

    assert malformed("invalid_json") == 2
    assert malformed("no_message") == 1
    assert malformed("truncated") == 1
    assert malformed("nul_bytes") == 1


async def test_an_entry_beyond_the_json_cap_is_skipped_whole(
    fake_journal: FakeJournal, tmp_path: Path,
) -> None:
    name = "journald-oversized-test"
    # cap = 5 * max_line_bytes + 64 KiB; this entry is far larger.
    fake_journal.append(entry(1), entry(2, "C" * 200_000), entry(3))
    reader = Reader(source_for(tmp_path, name=name, start_at="beginning", max_line_bytes=1024))
    lines = await reader.lines(2)
    await reader.finish()
    assert lines == [entry(1)["MESSAGE"], entry(3)["MESSAGE"]]
    assert LINES_MALFORMED.labels(name, "oversized_entry")._value.get() == 1


async def test_journalctl_warnings_are_logged_while_it_runs(
    fake_journal: FakeJournal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    hint = ("Hint: You are currently not seeing messages from other users and the system. "
            "Users in groups 'adm', 'systemd-journal' can see all messages.")
    monkeypatch.setenv("FAKE_STDERR", hint)
    fake_journal.append(entry(1))
    with structlog.testing.capture_logs() as logs:
        reader = Reader(source_for(tmp_path, start_at="beginning"))
        await reader.lines(1)
        for _ in range(100):
            if any(r["event"] == "journalctl_stderr" for r in logs):
                break
            await asyncio.sleep(0.02)
        await reader.finish()
    warnings = [r for r in logs if r["event"] == "journalctl_stderr"]
    assert warnings and warnings[0]["line"] == hint
    assert warnings[0]["log_level"] == "warning"


async def test_a_missing_journalctl_is_a_clear_error(tmp_path: Path) -> None:
    source = source_for(tmp_path, journalctl="/nonexistent/journalctl")
    with pytest.raises(JournalctlMissing, match="not found"):
        await source.run(asyncio.Queue(), asyncio.Event())


def test_filters_become_journalctl_arguments(tmp_path: Path) -> None:
    source = source_for(
        tmp_path, units=["ssh.service", "nginx.service"], identifiers=["sudo"],
        matches=["_TRANSPORT=syslog"], directory="/var/log/journal/remote")
    args = source.command("/usr/bin/journalctl", None)
    assert args[0] == "/usr/bin/journalctl"
    for expected in ("--follow", "--output=json", "--all", "--lines=0",
                     "--unit=ssh.service", "--unit=nginx.service", "--identifier=sudo",
                     "_TRANSPORT=syslog", "--directory=/var/log/journal/remote"):
        assert expected in args
    assert "--after-cursor=c" in source.command("journalctl", "c")
    assert source.name == "journald:ssh.service,nginx.service,sudo,_TRANSPORT=syslog"


@pytest.mark.parametrize("match", ["--file=/etc/shadow", "lower=1", "NOEQUALS", "=x", "1A=x"])
def test_matches_that_are_not_field_assignments_are_rejected(match: str) -> None:
    with pytest.raises(ConfigError, match="not a journal match"):
        parse_config(f"sources:\n  - type: journald\n    matches: ['{match}']\n")


def test_the_factory_builds_a_journald_source(tmp_path: Path) -> None:
    config = parse_config("sources:\n  - type: journald\n    units: [ssh.service]\n")
    source = config.sources[0].build(tmp_path)
    assert isinstance(source, JournaldSource)
    assert source.name == "journald:ssh.service"


# -- the real journalctl ------------------------------------------------------

JOURNAL_REMOTE = shutil.which("systemd-journal-remote") or next(
    (p for p in ("/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote")
     if os.path.exists(p)), None)


def export_entries(first: int, count: int, binary_at: int | None = None) -> bytes:
    """Entries in the journal export format (what systemd-journal-remote reads)."""
    out = bytearray()
    base = 1_795_673_729_000_000
    for i in range(first, first + count):
        out += (f"__REALTIME_TIMESTAMP={base + i * 1_000_000}\n__MONOTONIC_TIMESTAMP={1000 + i}\n"
                "_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=db7\n"
                f"SYSLOG_IDENTIFIER=sshd\n_PID={500 + i}\n").encode()
        if i == binary_at:
            msg = b"Invalid user \xff\xfe from 10.1.1.1"
            out += b"MESSAGE\n" + struct.pack("<Q", len(msg)) + msg + b"\n"
        else:
            out += f"MESSAGE=Accepted publickey for deploy from 10.1.1.{i}\n".encode()
        out += b"\n"
    return bytes(out)


def write_journal(path: Path, data: bytes) -> None:
    assert JOURNAL_REMOTE is not None
    subprocess.run([JOURNAL_REMOTE, f"--output={path}", "-"], input=data, check=True,
                   capture_output=True, timeout=30)


@pytest.mark.skipif(shutil.which("journalctl") is None, reason="journalctl is not installed")
@pytest.mark.skipif(JOURNAL_REMOTE is None,
                    reason="systemd-journal-remote (to build a journal file) is not installed")
async def test_real_journalctl_on_a_journal_file_reads_follows_and_resumes(
    tmp_path: Path,
) -> None:
    journal_dir = tmp_path / "journal"
    journal_dir.mkdir()
    write_journal(journal_dir / "a.journal", export_entries(1, 3, binary_at=2))
    reader = Reader(source_for(tmp_path, directory=str(journal_dir), start_at="beginning"))
    lines = await reader.lines(3)
    assert lines[0] == "Accepted publickey for deploy from 10.1.1.1"
    assert lines[1] == "Invalid user \ufffd\ufffd from 10.1.1.1"
    fields = reader.fields()[0]
    assert fields["host.name"] == "db7" and fields["process.pid"] == 501
    assert fields["@timestamp"] == datetime(2026, 11, 26, 6, 15, 30, tzinfo=UTC)
    reader.source.commit(reader.batches[-1].position)
    await reader.finish()

    # New entries while stopped: a restart resumes right after the cursor.
    write_journal(journal_dir / "b.journal", export_entries(4, 2))
    again = Reader(source_for(tmp_path, directory=str(journal_dir), start_at="beginning"))
    assert await again.lines(2) == [
        "Accepted publickey for deploy from 10.1.1.4",
        "Accepted publickey for deploy from 10.1.1.5",
    ]
    # ... and follows what is written while it runs.
    await asyncio.sleep(0.3)
    write_journal(journal_dir / "c.journal", export_entries(6, 1))
    assert (await again.lines(3))[-1] == "Accepted publickey for deploy from 10.1.1.6"
    await again.finish()


def _system_journal_cursor() -> str | None:
    """The cursor of the third-last entry of this machine's journal, None without one."""
    if shutil.which("journalctl") is None:
        return None
    result = subprocess.run(["journalctl", "--lines=3", "--output=json", "--no-pager", "-q"],
                            capture_output=True, timeout=30, check=False)
    docs = [json.loads(line) for line in result.stdout.splitlines() if line.startswith(b"{")]
    return docs[0]["__CURSOR"] if len(docs) == 3 else None


SYSTEM_CURSOR = _system_journal_cursor()


@pytest.mark.skipif(SYSTEM_CURSOR is None,
                    reason="this machine has no readable system journal (journalctl shows "
                           "no entries: no journald, e.g. a container)")
async def test_real_journalctl_on_the_system_journal_resumes_from_a_cursor(
    tmp_path: Path,
) -> None:
    source = source_for(tmp_path)
    assert source.store is not None and SYSTEM_CURSOR is not None
    source.store.cursor = SYSTEM_CURSOR
    source.store.save()
    reader = Reader(source_for(tmp_path))
    await reader.lines(2)
    await reader.finish()
    assert all("host.name" in f for f in reader.fields()[:2])


def test_the_parser_survives_hostile_entries() -> None:
    import random

    rng = random.Random(8)
    parser = EntryParser("journald-hostile", 2048)
    values: list[Any] = [
        None, 0, -1, 1.5, True, "", "\x00", "x" * 10_000, [], [[]], [300, -1], [1, "a"],
        {"a": 1}, [list(b"\xff\x00ab")], "99999999999999999999999", "-5", "1e9",
        list(rng.randbytes(64)),
    ]
    keys = ["MESSAGE", "_HOSTNAME", "SYSLOG_IDENTIFIER", "_COMM", "_PID", "SYSLOG_PID",
            "PRIORITY", "SYSLOG_FACILITY", "_SYSTEMD_UNIT", "__REALTIME_TIMESTAMP", "__CURSOR"]
    for _ in range(2000):
        doc = {key: rng.choice(values) for key in rng.sample(keys, rng.randint(0, len(keys)))}
        parsed = parser.parse(json.dumps(doc).encode())
        assert parsed is not None
        assert isinstance(parsed.message, str) and "\x00" not in parsed.message
        assert len(parsed.message.encode()) <= 2048
        for name in ("host.name", "process.name", "systemd.unit"):
            value = parsed.fields.get(name)
            assert value is None or (isinstance(value, str) and len(value) <= 256)
        pid = parsed.fields.get("process.pid")
        assert pid is None or (isinstance(pid, int) and pid > 0)
    for raw in (b"", b"{", b"null", b"\xff\xfe", b'{"MESSAGE": "\\ud800"}'):
        result = parser.parse(raw)
        assert result is None or isinstance(result.message, str)
