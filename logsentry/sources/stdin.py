"""Reading lines from a byte stream: standard input (pipes, redirected files), and the
decompressed content of a compressed file in `analyze`."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, BinaryIO

import structlog

from logsentry.core.metrics import LINES_READ
from logsentry.sources.base import LineBatch, LineDecoder
from logsentry.sources.compression import DECOMPRESSION_ERRORS, ByteReader
from logsentry.sources.splitter import LineSplitter

log = structlog.get_logger(__name__)

CHUNK_BYTES = 64 * 1024


class StreamSource:
    """Lines of a byte stream read to its end; its position is a byte offset.

    Reads happen in a thread, since a pipe or terminal cannot be polled like
    a regular file on every platform asyncio supports.
    """

    def __init__(self, stream: BinaryIO | None, name: str = "stdin",
                 max_line_bytes: int = 1_048_576, *, reader: ByteReader | None = None) -> None:
        """Read `stream`'s descriptor, or `reader` (a decompressing file, closed with us)."""
        self.name = name
        self._fd = stream.fileno() if stream is not None else -1
        self._reader = reader
        self.decoder = LineDecoder(name)
        self._splitter = LineSplitter(self.decoder, max_line_bytes)
        self._line_no = 0
        self.committed = 0

    async def run(self, out: asyncio.Queue[LineBatch], stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                data = await loop.run_in_executor(None, self._read_chunk)
            except DECOMPRESSION_ERRORS as exc:
                # A truncated or corrupt compressed file: what was read stands.
                log.warning("stream_read_failed", source=self.name, lines_read=self._line_no,
                            error=f"{type(exc).__name__}: {exc}")
                data = b""
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

    def _read_chunk(self) -> bytes:
        # os.read returns what a pipe has, without waiting for a full chunk;
        # read1 of a decompressing file does the same.
        if self._reader is not None:
            return self._reader.read1(CHUNK_BYTES)
        return os.read(self._fd, CHUNK_BYTES)

    def commit(self, position: Any) -> None:
        self.committed = int(position)

    async def close(self) -> None:
        """Nothing to persist: a stream cannot be resumed."""
        if self._reader is not None:
            self._reader.close()
