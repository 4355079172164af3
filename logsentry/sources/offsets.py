"""Durable read positions of tailed files.

A file is identified by (device, inode) and a fingerprint of its first bytes,
so a restart finds it again after a rename and notices when an inode number
was reused by a different file. Writes are atomic (tmp file, fsync, rename):
a crash leaves either the old or the new positions, never a torn file.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
import structlog

from logsentry.core.atomicfile import write_atomic

log = structlog.get_logger(__name__)

FINGERPRINT_BYTES = 256


@dataclass(slots=True)
class FileOffset:
    """Where reading of one file stands."""

    path: str
    dev: int
    ino: int
    offset: int
    fingerprint: str
    fingerprint_len: int

    @property
    def key(self) -> str:
        return f"{self.dev}:{self.ino}"


def fingerprint(fd: int, length: int = FINGERPRINT_BYTES) -> tuple[str, int]:
    """Hash of the file's first bytes (fewer if the file is shorter) and how many."""
    head = os.pread(fd, length, 0)
    return hashlib.sha256(head).hexdigest()[:32], len(head)


def fingerprint_matches(fd: int, entry: FileOffset) -> bool:
    """True when the open file starts with the bytes `entry` was taken from."""
    if entry.fingerprint_len == 0:
        return True
    digest, length = fingerprint(fd, entry.fingerprint_len)
    return length == entry.fingerprint_len and digest == entry.fingerprint


class OffsetStore:
    """All file offsets of one source, persisted as one JSON document."""

    def __init__(self, path: Path):
        self.path = path
        self.entries: dict[str, FileOffset] = {}
        self._dirty = False

    def load(self) -> None:
        """Read the stored offsets; a missing file means a first start."""
        try:
            data = orjson.loads(self.path.read_bytes())
            self.entries = {
                key: FileOffset(**value) for key, value in data.get("files", {}).items()
            }
        except FileNotFoundError:
            self.entries = {}
        except (orjson.JSONDecodeError, TypeError, AttributeError) as exc:
            # A corrupt state file must not stop the daemon; say so loudly.
            log.error("offsets_corrupt_ignored", path=str(self.path), error=str(exc))
            self.entries = {}

    def replace(self, entries: dict[str, FileOffset]) -> None:
        """Take `entries` for the stored offsets (resuming from a checkpoint)."""
        self.entries = dict(entries)
        self._dirty = True

    def set(self, entry: FileOffset) -> None:
        self.entries[entry.key] = entry
        self._dirty = True

    def advance(self, key: str, offset: int) -> None:
        entry = self.entries.get(key)
        if entry is not None and entry.offset != offset:
            entry.offset = offset
            self._dirty = True

    def remove(self, key: str) -> None:
        if self.entries.pop(key, None) is not None:
            self._dirty = True

    def write(self, files: dict[str, Any]) -> None:
        """Atomically write `files` (key -> FileOffset as a dict), whatever is in memory."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, orjson.dumps({"version": 1, "files": files}))

    def save(self, force: bool = False) -> None:
        """Atomically write the offsets if they changed."""
        if not (self._dirty or force):
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = orjson.dumps(
            {"version": 1, "files": {k: asdict(v) for k, v in self.entries.items()}}
        )
        write_atomic(self.path, data)
        self._dirty = False
