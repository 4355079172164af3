"""Cutting a byte stream into lines, with a bound on line length."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import accumulate

from logsentry.sources.base import LineDecoder


@dataclass(slots=True)
class LineSplitter:
    """Splits chunks of a stream into decoded lines and their end offsets.

    A line longer than `limit` bytes is cut: its head is emitted (counted as
    truncated) as soon as the limit is passed and the rest is skipped up to
    the next newline, so memory stays bounded even for a 10 MB line that
    never ends.
    """

    decoder: LineDecoder
    limit: int
    offset: int = 0  # stream position just after the last consumed byte
    buffer: bytearray = field(default_factory=bytearray)
    skipping: bool = False

    @property
    def read_position(self) -> int:
        """Where the next chunk starts in the stream."""
        return self.offset + len(self.buffer)

    def reset(self, offset: int = 0) -> None:
        self.offset = offset
        self.buffer.clear()
        self.skipping = False

    def feed(self, data: bytes) -> tuple[list[str], list[int]]:
        """Consume a chunk; return the complete lines and their end offsets."""
        if not self.skipping:
            whole = self._feed_plain(data)
            if whole is not None:
                return whole
        parts = data.split(b"\n")
        lines: list[str] = []
        offsets: list[int] = []
        offset = self.offset
        decode = self.decoder.decode
        limit = self.limit
        for part in parts[:-1]:
            raw = bytes(self.buffer) + part if self.buffer else part
            offset += len(raw) + 1
            self.buffer.clear()
            if self.skipping:
                # The end of an overlong line whose head was already emitted.
                self.skipping = False
                continue
            if len(raw) > limit:
                raw = raw[:limit]
                self.decoder.count_truncated()
            lines.append(decode(raw))
            offsets.append(offset)
        self.buffer += parts[-1]
        if self.skipping:
            offset += len(self.buffer)
            self.buffer.clear()
        elif len(self.buffer) > limit:
            lines.append(decode(bytes(self.buffer[:limit])))
            self.decoder.count_truncated()
            offset += len(self.buffer)
            offsets.append(offset)
            self.buffer.clear()
            self.skipping = True
        self.offset = offset
        return lines, offsets

    def _feed_plain(self, data: bytes) -> tuple[list[str], list[int]] | None:
        """`feed` for the common chunk, split in one go: ASCII without CR or NUL (nothing for
        the decoder to repair) and shorter than the limit with what is buffered (no line to
        cut). 0.37 µs a line against 1.05 the line-by-line way (ssh200k). None when the
        chunk is not such a chunk."""
        end = data.rfind(b"\n")
        if end < 0 or len(self.buffer) + len(data) > self.limit:
            return None
        # What is buffered is checked with the chunk: a line may start before it.
        head = bytes(self.buffer) + data[:end] if self.buffer else data[:end]
        if not head.isascii() or b"\r" in head or b"\x00" in head:
            return None
        lines = head.decode("ascii").split("\n")
        # Each line's end offset, its newline included: one byte a character in ASCII.
        offsets = list(accumulate(map((1).__add__, map(len, lines)), initial=self.offset))
        del offsets[0]
        self.buffer[:] = data[end + 1 :]
        self.offset = offsets[-1]
        return lines, offsets

    def finish(self) -> tuple[list[str], list[int]]:
        """At the end of a finite stream, a last line without newline is still a line."""
        if not self.buffer or self.skipping:
            return [], []
        raw = bytes(self.buffer)
        self.offset += len(raw)
        self.buffer.clear()
        return [self.decoder.decode(raw)], [self.offset]
