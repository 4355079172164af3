"""Following the systemd journal, for hosts without text log files.

`journalctl --follow --output=json` runs as a child process; each JSON line is
one journal entry. Its `__CURSOR` is the entry's position: the cursor of the
last entry of a batch goes with the batch, and once the pipeline commits it,
it is persisted so a restart resumes with `--after-cursor`. journalctl rather
than libsystemd bindings: it is on every systemd host, its output format is
stable, and a crash in it cannot take the daemon down.

Journal fields are attacker-influenced too (any local process can log any
MESSAGE, with any bytes): binary values arrive as arrays of byte values and
are decoded and repaired like file lines; sizes are capped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import signal
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import structlog

from logsentry.core.atomicfile import write_atomic
from logsentry.core.metrics import LINES_MALFORMED, LINES_READ, SOURCE_RESTARTS
from logsentry.sources.base import LineBatch, LineDecoder
from logsentry.sources.config import JournaldSourceConfig

log = structlog.get_logger(__name__)

CHUNK_BYTES = 64 * 1024
MAX_RESTART_DELAY = 30.0
MAX_STDERR_LINES = 20
# Fields journalctl is asked for (plus __CURSOR and the timestamps, which it
# always prints). Fewer fields: less JSON to parse per entry.
OUTPUT_FIELDS = (
    "MESSAGE", "_HOSTNAME", "SYSLOG_IDENTIFIER", "_COMM", "_PID", "SYSLOG_PID",
    "PRIORITY", "SYSLOG_FACILITY", "_SYSTEMD_UNIT", "_TRANSPORT",
)
# Child environment: no pager, no colours, and no sd_notify socket (a child
# must never speak for the daemon).
_DROP_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID")


class JournalctlMissing(RuntimeError):
    """journalctl is not installed or not on PATH."""


@dataclass(slots=True)
class JournalEntry:
    """One journal entry turned into a pipeline line and its envelope fields."""

    message: str
    fields: dict[str, Any]
    cursor: str | None


@dataclass(slots=True)
class EntryParser:
    """Turns journal JSON lines into JournalEntries, repairing and counting defects."""

    source: str
    max_line_bytes: int
    decoder: LineDecoder = field(init=False)

    def __post_init__(self) -> None:
        self.decoder = LineDecoder(self.source)

    def parse(self, raw: bytes) -> JournalEntry | None:
        """The entry of one JSON line; None (counted) when it is not an entry."""
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            self.count("invalid_json")
            return None
        if not isinstance(doc, dict):
            self.count("invalid_json")
            return None
        cursor = doc.get("__CURSOR")
        message = self._text(doc.get("MESSAGE"), "MESSAGE")
        if message is None:
            self.count("no_message")
            message = ""
        if len(message) > self.max_line_bytes // 4:
            message = self._cap(message)
        return JournalEntry(message, self._fields(doc), cursor if isinstance(cursor, str) else None)

    def _fields(self, doc: dict[str, Any]) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        host = self._short_text(doc.get("_HOSTNAME"))
        if host:
            fields["host.name"] = host
        process = self._short_text(doc.get("SYSLOG_IDENTIFIER")) or self._short_text(
            doc.get("_COMM"))
        if process:
            fields["process.name"] = process
        pid = _integer(doc.get("_PID")) or _integer(doc.get("SYSLOG_PID"))
        if pid is not None and pid > 0:
            fields["process.pid"] = pid
        usec = _integer(doc.get("__REALTIME_TIMESTAMP"))
        if usec is not None:
            with contextlib.suppress(OverflowError, OSError, ValueError):
                fields["@timestamp"] = datetime.fromtimestamp(usec / 1_000_000, tz=UTC)
        severity = _integer(doc.get("PRIORITY"))
        if severity is not None and 0 <= severity <= 7:
            fields["log.syslog.severity.code"] = severity
        facility = _integer(doc.get("SYSLOG_FACILITY"))
        if facility is not None and 0 <= facility <= 23:
            fields["log.syslog.facility.code"] = facility
        unit = self._short_text(doc.get("_SYSTEMD_UNIT"))
        if unit:
            fields["systemd.unit"] = unit
        return fields

    def _text(self, value: Any, name: str) -> str | None:
        """A field value as text: strings as they are, byte arrays decoded."""
        if isinstance(value, str):
            if "\x00" in value:
                return self.decoder.decode(value.encode("utf-8", errors="replace"))
            return value
        if isinstance(value, list):
            if value and all(isinstance(b, int) and 0 <= b <= 255 for b in value):
                # Journal JSON writes non-UTF-8 or control-character values as
                # an array of byte values.
                return self.decoder.decode(bytes(value))
            if value and isinstance(value[0], str | list):
                # A field that occurs several times in the entry: the first wins.
                self.count("multi_value")
                return self._text(value[0], name)
        return None

    def _short_text(self, value: Any) -> str | None:
        text = self._text(value, "")
        if text is None:
            return None
        # Host and process names are short; a huge one is an attack, cut it.
        return text[:256].replace("\ufffd", "?") if text else None

    def _cap(self, message: str) -> str:
        raw = message.encode("utf-8", errors="replace")
        if len(raw) <= self.max_line_bytes:
            return message
        self.decoder.count_truncated()
        return raw[: self.max_line_bytes].decode("utf-8", errors="ignore")

    def count(self, reason: str) -> None:
        """Count one defect of `reason` (also in logsentry_lines_malformed)."""
        self.decoder.counts[reason] = self.decoder.counts.get(reason, 0) + 1
        LINES_MALFORMED.labels(self.source, reason).inc()


async def _drain_stderr(stream: asyncio.StreamReader, source: str, keep: int = 4096) -> bytes:
    """Log journalctl's error output as it comes; return its last `keep` bytes.

    Its warnings matter while it runs (e.g. the hint that it only sees the
    user's own journal for lack of the systemd-journal group), not only once
    it exits. At most MAX_STDERR_LINES lines are logged per journalctl run.
    """
    tail = b""
    pending = b""
    logged = 0
    while chunk := await stream.read(CHUNK_BYTES):
        tail = (tail + chunk)[-keep:]
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()[-keep:]
        for line in lines:
            text = line.decode("utf-8", errors="replace").strip()
            if text and logged < MAX_STDERR_LINES:
                logged += 1
                log.warning("journalctl_stderr", source=source, line=text[:500])
    return tail


def _integer(value: Any) -> int | None:
    if isinstance(value, str) and value.isdigit() and len(value) <= 20:
        return int(value)
    return None


class CursorStore:
    """The persisted journal cursor of one source (atomic writes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.cursor: str | None = None
        self._saved: str | None = None

    def load(self) -> str | None:
        """The stored cursor; None on a first start or when the file is unusable."""
        try:
            data = orjson.loads(self.path.read_bytes())
            cursor = data.get("cursor") if isinstance(data, dict) else None
            self.cursor = cursor if isinstance(cursor, str) and cursor else None
        except FileNotFoundError:
            self.cursor = None
        except (orjson.JSONDecodeError, OSError) as exc:
            log.error("journald_cursor_corrupt_ignored", path=str(self.path), error=str(exc))
            self.cursor = None
        self._saved = self.cursor
        return self.cursor

    def save(self) -> None:
        """Write the cursor if it changed since the last save."""
        if self.cursor is None or self.cursor == self._saved:
            return
        write_atomic(self.path, orjson.dumps({"version": 1, "cursor": self.cursor}))
        self._saved = self.cursor


class JournaldSource:
    """Follows the journal through a journalctl child process."""

    def __init__(
        self,
        config: JournaldSourceConfig,
        state_dir: Path | None,
        *,
        commit_interval: float = 1.0,
        batch_lines: int = 512,
    ) -> None:
        self.config = config
        self.name = config.name or _default_name(config)
        self.commit_interval = commit_interval
        self.batch_lines = batch_lines
        slug = hashlib.sha256(self.name.encode()).hexdigest()[:12]
        self.store: CursorStore | None = (
            CursorStore(state_dir / f"cursor-journald-{slug}.json") if state_dir else None
        )
        self.parser = EntryParser(self.name, config.max_line_bytes)
        # The cursor after which the next journalctl starts: the last entry
        # handed on (not necessarily committed yet).
        self._read_cursor: str | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._last_save = 0.0
        self.restarts = 0
        # The cursor to start after instead of the cursor file's (`resume_from`).
        self._resume: str | None = None
        # The cursor file is written with checkpoints only (`hold_positions`).
        self._held = False

    # -- the public interface ------------------------------------------------

    async def run(self, out: asyncio.Queue[LineBatch], stop: asyncio.Event) -> None:
        """Follow the journal until `stop` is set; restart journalctl when it exits."""
        binary = shutil.which(self.config.journalctl)
        if binary is None:
            raise JournalctlMissing(
                f"source {self.name}: {self.config.journalctl!r} not found; install systemd's "
                "journalctl or set `journalctl:` to its path")
        if self.store is not None:
            self._read_cursor = self.store.load()
            if self._resume is not None:
                self._read_cursor = self.store.cursor = self._resume
                self._resume = None
        delay = self.config.restart_delay
        while not stop.is_set():
            started = time.monotonic()
            entries, stderr, returncode = await self._follow_once(binary, out, stop)
            if stop.is_set():
                break
            self.restarts += 1
            SOURCE_RESTARTS.labels(self.name).inc()
            log.warning("journalctl_exited", source=self.name, returncode=returncode,
                        entries=entries, stderr=stderr[-2000:])
            if entries == 0 and self._read_cursor is not None and "cursor" in stderr.lower():
                # A cursor journalctl cannot seek to (corrupt state file, a
                # journal from another machine): better start afresh than
                # stop following for good.
                log.error("journald_cursor_rejected", source=self.name, cursor=self._read_cursor)
                self._read_cursor = None
            if time.monotonic() - started > 60:
                delay = self.config.restart_delay
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, MAX_RESTART_DELAY)

    def commit(self, position: Any) -> None:
        """Everything up to the entry with cursor `position` is processed."""
        if self.store is not None and isinstance(position, str):
            self.store.cursor = position
            self._save_if_due()

    def checkpoint_position(self) -> Any:
        """The committed cursor."""
        return self.store.cursor if self.store is not None else None

    def resume_from(self, position: Any) -> bool:
        """Start after cursor `position` instead of the cursor file's."""
        if self.store is None or not isinstance(position, str) or not position:
            log.error("checkpoint_position_unusable", source=self.name)
            return False
        self._resume = position
        return True

    def describe_position(self, position: Any) -> Any:
        return position

    def hold_positions(self) -> None:
        self._held = True

    def persist_position(self, position: Any) -> None:
        if self.store is not None and isinstance(position, str):
            write_atomic(self.store.path, orjson.dumps({"version": 1, "cursor": position}))

    async def close(self) -> None:
        """Stop journalctl (if still running) and persist the committed cursor."""
        await self._terminate()
        if self.store is not None and not self._held:
            self.store.save()

    # -- journalctl ------------------------------------------------------------

    def command(self, binary: str, after_cursor: str | None) -> list[str]:
        """The journalctl command line for a start after `after_cursor` (None: start_at)."""
        # No --quiet: its hints (missing permissions) go to stderr, which is logged.
        args = [binary, "--follow", "--output=json", "--all", "--no-pager",
                "--output-fields=" + ",".join(OUTPUT_FIELDS)]
        if self.config.directory:
            args.append("--directory=" + self.config.directory)
        if after_cursor is not None:
            args.append("--after-cursor=" + after_cursor)
        elif self.config.start_at == "beginning":
            args.append("--lines=all")
        else:
            args.append("--lines=0")
        args.extend("--unit=" + unit for unit in self.config.units)
        args.extend("--identifier=" + ident for ident in self.config.identifiers)
        args.extend(self.config.matches)
        return args

    async def _follow_once(
        self, binary: str, out: asyncio.Queue[LineBatch], stop: asyncio.Event
    ) -> tuple[int, str, int | None]:
        """Run one journalctl until it exits or `stop`; (entries read, stderr, returncode)."""
        args = self.command(binary, self._read_cursor)
        env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
        env.update(SYSTEMD_PAGER="", SYSTEMD_COLORS="0", LC_ALL="C.UTF-8")
        try:
            process = await asyncio.create_subprocess_exec(
                *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=env, start_new_session=True)
        except OSError as exc:
            return 0, f"cannot start {binary}: {exc}", None
        self._process = process
        log.info("journalctl_started", source=self.name, pid=process.pid,
                 after_cursor=self._read_cursor is not None)
        assert process.stdout is not None and process.stderr is not None
        stderr_task = asyncio.ensure_future(_drain_stderr(process.stderr, self.name))
        stop_task = asyncio.ensure_future(stop.wait())
        entries = 0
        pending = b""
        skipping = False  # inside a JSON line larger than the cap
        cap = self.config.max_line_bytes * 5 + 64 * 1024
        try:
            while True:
                read = asyncio.ensure_future(process.stdout.read(CHUNK_BYTES))
                await asyncio.wait({read, stop_task}, return_when=asyncio.FIRST_COMPLETED)
                if not read.done():
                    read.cancel()
                    break
                chunk = read.result()
                if not chunk:
                    break
                if skipping:
                    # Still inside an oversized line: drop up to its end.
                    end = chunk.find(b"\n")
                    if end < 0:
                        continue
                    chunk, skipping = chunk[end + 1:], False
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                if len(pending) > cap:
                    log.warning("journald_entry_oversized", source=self.name, cap=cap)
                    self.parser.count("oversized_entry")
                    pending, skipping = b"", True
                entries += await self._emit(lines, out)
        finally:
            stop_task.cancel()
            await self._terminate()
        stderr = b""
        with contextlib.suppress(Exception):
            stderr = await asyncio.wait_for(stderr_task, 2.0)
        return entries, stderr.decode("utf-8", errors="replace"), process.returncode

    async def _emit(self, lines: list[bytes], out: asyncio.Queue[LineBatch]) -> int:
        texts: list[str] = []
        fields: list[dict[str, Any]] = []
        cursor: str | None = None
        count = 0
        for raw in lines:
            if not raw.strip():
                continue
            entry = self.parser.parse(raw)
            if entry is None:
                continue
            count += 1
            texts.append(entry.message)
            fields.append(entry.fields)
            if entry.cursor is not None:
                cursor = entry.cursor
            if len(texts) >= self.batch_lines:
                await self._put(out, texts, fields, cursor)
                texts, fields = [], []
        if texts:
            await self._put(out, texts, fields, cursor)
        return count

    async def _put(self, out: asyncio.Queue[LineBatch], texts: list[str],
                   fields: list[dict[str, Any]], cursor: str | None) -> None:
        LINES_READ.labels(self.name).inc(len(texts))
        # The batch carries the cursor of its last entry: committing it means
        # resuming right after that entry.
        position = cursor if cursor is not None else self._read_cursor
        await out.put(LineBatch(source=self, lines=texts, position=position,
                                received=time.time(), fields=fields))
        if cursor is not None:
            self._read_cursor = cursor

    async def _terminate(self) -> None:
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 2.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    def _save_if_due(self) -> None:
        now = time.monotonic()
        if (self.store is not None and not self._held
                and now - self._last_save >= self.commit_interval):
            self.store.save()
            self._last_save = now


def _default_name(config: JournaldSourceConfig) -> str:
    parts = [*config.units, *config.identifiers, *config.matches]
    return "journald:" + ",".join(parts) if parts else "journald"
