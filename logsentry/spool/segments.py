"""The spool's append-only segment files.

Each record is `length u32 | crc32 u32 | seq u64 | payload`, little-endian,
the CRC covering seq and payload. Sequence numbers are global and dense: a
segment file is named after the sequence number of its first record, so a
cursor ("next sequence to deliver") is meaningful across segments and
restarts. On open, every segment is scanned; a torn or corrupt record (a
SIGKILL or power cut mid-write) ends its segment there, and the last segment
is truncated at that point so appends continue cleanly.

The last segment always exists, even empty, so the next sequence number
survives compaction of everything before it.
"""

from __future__ import annotations

import bisect
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

HEADER = struct.Struct("<IIQ")
MAX_RECORD_BYTES = 64 * 1024 * 1024
SUFFIX = ".seg"


@dataclass(slots=True)
class Segment:
    """One segment file: its first sequence number and each record's offset."""

    path: Path
    base: int
    offsets: list[int] = field(default_factory=list)
    size: int = 0
    read_fd: int | None = None

    @property
    def end(self) -> int:
        """The sequence number after this segment's last record."""
        return self.base + len(self.offsets)

    def close(self) -> None:
        if self.read_fd is not None:
            os.close(self.read_fd)
            self.read_fd = None


def encode(seq: int, payload: bytes) -> bytes:
    """One record in its on-disk form."""
    seq_bytes = struct.pack("<Q", seq)
    crc = zlib.crc32(payload, zlib.crc32(seq_bytes))
    return HEADER.pack(len(payload), crc, seq) + payload


class SegmentLog:
    """The ordered segments of one spool directory. Not thread-safe: one writer.

    `append()` is blocking (write + fsync); callers run it in a worker thread
    and then call `publish()` from the event loop, which makes the records
    visible to readers.
    """

    def __init__(self, directory: Path, *, segment_bytes: int, fsync: bool):
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self.segments: list[Segment] = []
        self.torn_records = 0
        self._append_fd: int | None = None

    @classmethod
    def open(cls, directory: Path, *, segment_bytes: int, fsync: bool) -> SegmentLog:
        """Scan `directory` (created if missing) and recover its segments."""
        directory.mkdir(parents=True, exist_ok=True)
        spool = cls(directory, segment_bytes=segment_bytes, fsync=fsync)
        for path in sorted(directory.glob("*" + SUFFIX)):
            try:
                base = int(path.name[: -len(SUFFIX)])
            except ValueError:
                log.warning("spool_foreign_file_ignored", path=str(path))
                continue
            spool.segments.append(spool._scan(path, base))
        for earlier, later in zip(spool.segments, spool.segments[1:], strict=False):
            if earlier.end != later.base:
                # A record lost mid-spool (disk corruption): its sequence
                # numbers simply never deliver; say so loudly.
                log.error("spool_sequence_gap", after=earlier.end, resumes=later.base)
        if not spool.segments:
            spool._new_segment(0)
        last = spool.segments[-1]
        spool._append_fd = os.open(last.path, os.O_WRONLY | os.O_APPEND)
        return spool

    def _scan(self, path: Path, base: int) -> Segment:
        data = path.read_bytes()
        segment = Segment(path=path, base=base)
        offset = 0
        while offset < len(data):
            if offset + HEADER.size > len(data):
                break
            length, crc, seq = HEADER.unpack_from(data, offset)
            start = offset + HEADER.size
            if length > MAX_RECORD_BYTES or start + length > len(data):
                break
            payload = data[start: start + length]
            if seq != segment.end or zlib.crc32(payload, zlib.crc32(struct.pack("<Q", seq))) != crc:
                break
            segment.offsets.append(offset)
            offset = start + length
        if offset < len(data):
            self.torn_records += 1
            log.warning("spool_torn_record_dropped", path=str(path), offset=offset,
                        bytes=len(data) - offset)
            # Cut the torn tail so the next append starts on a record boundary.
            with path.open("r+b") as handle:
                handle.truncate(offset)
                os.fsync(handle.fileno())
        segment.size = offset
        return segment

    def _new_segment(self, base: int) -> Segment:
        path = self.directory / f"{base:020d}{SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        os.fsync(fd)
        self._fsync_directory()
        if self._append_fd is not None:
            os.close(self._append_fd)
        self._append_fd = fd
        segment = Segment(path=path, base=base)
        self.segments.append(segment)
        return segment

    def _fsync_directory(self) -> None:
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    @property
    def next_seq(self) -> int:
        """The sequence number the next appended record gets."""
        return self.segments[-1].end

    @property
    def first_seq(self) -> int:
        """The oldest sequence number still on disk."""
        return self.segments[0].base

    @property
    def total_bytes(self) -> int:
        return sum(segment.size for segment in self.segments)

    def append(self, payloads: list[bytes]) -> tuple[Segment, list[int]]:
        """Write `payloads` durably (blocking). Return the segment and record offsets.

        The records are invisible to readers until `publish()`.
        """
        segment = self.segments[-1]
        if segment.offsets and segment.size >= self.segment_bytes:
            segment = self._new_segment(segment.end)
        seq = segment.end
        chunks: list[bytes] = []
        offsets: list[int] = []
        position = segment.size
        for payload in payloads:
            record = encode(seq, payload)
            offsets.append(position)
            chunks.append(record)
            position += len(record)
            seq += 1
        data = memoryview(b"".join(chunks))
        assert self._append_fd is not None
        written = 0
        while written < len(data):
            written += os.write(self._append_fd, data[written:])
        if self.fsync:
            os.fdatasync(self._append_fd)
        return segment, offsets

    def publish(self, segment: Segment, offsets: list[int], size: int) -> None:
        """Make appended records visible (call from the single reader thread)."""
        segment.offsets.extend(offsets)
        segment.size += size

    def read(self, seq: int, limit: int) -> list[tuple[int, bytes]]:
        """Up to `limit` records from `seq` on (within one segment)."""
        if seq < self.first_seq:
            seq = self.first_seq
        index = bisect.bisect_right([s.base for s in self.segments], seq) - 1
        if index < 0:
            return []
        segment = self.segments[index]
        if seq >= segment.end:
            if index + 1 < len(self.segments):
                return self.read(self.segments[index + 1].base, limit)
            return []
        first = seq - segment.base
        last = min(len(segment.offsets), first + limit)
        start = segment.offsets[first]
        stop = segment.offsets[last] if last < len(segment.offsets) else segment.size
        if segment.read_fd is None:
            segment.read_fd = os.open(segment.path, os.O_RDONLY)
        data = os.pread(segment.read_fd, stop - start, start)
        records: list[tuple[int, bytes]] = []
        offset = 0
        while offset < len(data):
            length, _crc, record_seq = HEADER.unpack_from(data, offset)
            payload_start = offset + HEADER.size
            records.append((record_seq, data[payload_start: payload_start + length]))
            offset = payload_start + length
        return records

    def detach_delivered(self, delivered_below: int) -> list[Segment]:
        """Drop segments whose records are all below `delivered_below` from the log.

        Fast (no I/O besides closing descriptors): call `remove_files()` on the
        result, in a worker thread, to delete them. The last segment stays.
        """
        detached: list[Segment] = []
        while len(self.segments) > 1 and self.segments[0].end <= delivered_below:
            segment = self.segments.pop(0)
            segment.close()
            detached.append(segment)
        return detached

    def remove_files(self, segments: list[Segment]) -> None:
        """Delete detached segment files (blocking: unlink + directory fsync)."""
        for segment in segments:
            segment.path.unlink(missing_ok=True)
        if segments:
            self._fsync_directory()

    def compact(self, delivered_below: int) -> int:
        """Detach and delete delivered segments now; return the bytes freed."""
        detached = self.detach_delivered(delivered_below)
        self.remove_files(detached)
        return sum(segment.size for segment in detached)

    def close(self) -> None:
        for segment in self.segments:
            segment.close()
        if self._append_fd is not None:
            os.close(self._append_fd)
            self._append_fd = None
