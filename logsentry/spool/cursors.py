"""Per-sink delivery cursors: the next spool sequence number each sink needs."""

from __future__ import annotations

import hashlib
import re
import threading
from pathlib import Path

import orjson
import structlog

from logsentry.core.atomicfile import write_atomic

log = structlog.get_logger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def file_stem(sink_name: str) -> str:
    """A file name for `sink_name`: safe characters, plus a hash if any were replaced."""
    safe = _UNSAFE.sub("_", sink_name)[:80] or "_"
    if safe != sink_name:
        safe += "-" + hashlib.sha256(sink_name.encode()).hexdigest()[:8]
    return safe


class CursorStore:
    """One small JSON file per sink, replaced atomically (fsync + rename)."""

    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        # Saves run in worker threads; a shutdown save may overlap one still
        # in flight, and both would write the same temporary file.
        self._lock = threading.Lock()

    def _path(self, sink_name: str) -> Path:
        return self.directory / (file_stem(sink_name) + ".cursor")

    def load(self, sink_name: str) -> int | None:
        """The saved cursor, or None for a sink never seen (or an unreadable file)."""
        path = self._path(sink_name)
        try:
            data = orjson.loads(path.read_bytes())
            return int(data["next_seq"])
        except FileNotFoundError:
            return None
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            log.error("spool_cursor_unreadable", sink=sink_name, error=str(exc))
            return None

    def save(self, sink_name: str, next_seq: int) -> None:
        """Persist the cursor (blocking: run in a worker thread)."""
        with self._lock:
            write_atomic(self._path(sink_name),
                         orjson.dumps({"sink": sink_name, "next_seq": next_seq}))

    def forget_others(self, keep: set[str]) -> None:
        """Remove cursors of sinks no longer configured, so they do not pin the spool."""
        wanted = {self._path(name).name for name in keep}
        for path in self.directory.glob("*.cursor"):
            if path.name not in wanted:
                log.info("spool_cursor_removed", path=str(path))
                path.unlink(missing_ok=True)
