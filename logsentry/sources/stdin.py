"""Reading lines from standard input (pipes, redirected files, `analyze`)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, BinaryIO

from logsentry.core.metrics import LINES_READ
from logsentry.sources.base import LineBatch, LineDecoder
from logsentry.sources.splitter import LineSplitter

CHUNK_BYTES = 64 * 1024


class StreamSource:
    """Lines of a byte stream read to its end; its position is a byte offset.

    Reads happen in a thread, since a pipe or terminal cannot be polled like
    a regular file on every platform asyncio supports.
    """

    def __init__(self, stream: BinaryIO, name: str = "stdin",
                 max_line_bytes: int = 1_048_576) -> None:
        self.name = name
        self._fd = stream.fileno()
        self.decoder = LineDecoder(name)
        self._splitter = LineSplitter(self.decoder, max_line_bytes)
        self._line_no = 0
        self.committed = 0

    async def run(self, out: asyncio.Queue[LineBatch], stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            data = await loop.run_in_executor(None, os.read, self._fd, CHUNK_BYTES)
            lines, offsets = self._splitter.feed(data) if data else self._splitter.finish()
            if lines:
                first = self._line_no + 1
                self._line_no += len(lines)
                LINES_READ.labels(self.name).inc(len(lines))
                await out.put(LineBatch(
                    source=self, lines=lines, position=offsets[-1], received=time.time(),
                    first_line=first, offsets=offsets,
                ))
            if not data:
                return

    def commit(self, position: Any) -> None:
        self.committed = int(position)

    async def close(self) -> None:
        """Nothing to persist: a stream cannot be resumed."""
