"""A JSON-lines file, rotated by size."""

from __future__ import annotations

import os
from pathlib import Path

from logsentry.sinks.base import Deliverable
from logsentry.sinks.config import JsonlSinkConfig
from logsentry.sinks.control_chars import json_lines


class JsonlSink:
    """Appends one JSON object per record; rotates to `.1`..`.N` past `max_bytes`."""

    def __init__(self, config: JsonlSinkConfig) -> None:
        self.config = config
        # The same name `sinks.factory.sink_name` gives: it keys the spool cursor.
        self.name = config.name or config.type
        self.path = Path(config.path)
        self._fd: int | None = None
        self._size = 0

    async def start(self) -> None:
        self._open()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self._size = os.fstat(self._fd).st_size

    async def send(self, batch: list[Deliverable]) -> None:
        if self._fd is None:
            self._open()
        data = json_lines(batch)
        if self._size and self._size + len(data) > self.config.max_bytes:
            self._rotate()
        assert self._fd is not None
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._size += len(data)
        if self.config.fsync:
            os.fsync(self._fd)

    def _rotate(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        backups = self.config.backups
        if backups == 0:
            self.path.unlink(missing_ok=True)
        else:
            for index in range(backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{index}")
                if older.exists():
                    older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        self._open()

    async def close(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
