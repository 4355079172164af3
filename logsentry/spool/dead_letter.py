"""Dead-letter files: alerts a sink rejected permanently, kept for replay."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import orjson

from logsentry.spool.cursors import file_stem


class DeadLetterFile:
    """`<dir>/<sink>.jsonl`: one JSON object per rejected alert, fsync'd.

    Each line holds the time, the sink, the reason and the alert document, so
    an operator can fix the cause and replay the file. Rotated at `max_bytes`
    with one backup (`.1`), bounding disk use.
    """

    def __init__(self, directory: Path, sink_name: str, max_bytes: int):
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / (file_stem(sink_name) + ".jsonl")
        self.sink_name = sink_name
        self.max_bytes = max_bytes

    def write(self, documents: list[dict[str, Any]], reason: str) -> None:
        """Append the rejected documents (blocking: run in a worker thread)."""
        now = time.time()
        data = b"".join(
            orjson.dumps({"time": now, "sink": self.sink_name, "reason": reason,
                          "alert": doc}, default=str) + b"\n"
            for doc in documents
        )
        try:
            if self.path.stat().st_size + len(data) > self.max_bytes:
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
        except FileNotFoundError:
            pass
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
