"""Compressed log files, recognised by their first bytes, not by their names.

Rotated logs are often compressed (`auth.log.2.gz`); a glob can match them,
and read as text they would yield garbage lines. `analyze` decompresses them;
the daemon, which follows files as they grow, skips them with a warning.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from typing import Protocol

import zstandard

# (magic, name): gzip (deflate), bzip2 (a block size digit follows), xz, zstd.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b\x08", "gzip"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
SNIFF_BYTES = 6

# What a broken or truncated compressed file raises while being read.
DECOMPRESSION_ERRORS: tuple[type[Exception], ...] = (
    OSError, EOFError, lzma.LZMAError, zstandard.ZstdError)


class ByteReader(Protocol):
    """What a decompressing file object offers: `read1` returns what one step gives."""

    def read1(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...


def sniff(head: bytes) -> str | None:
    """The compression of a file starting with `head` (its first bytes), or None."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[3:4] != b"0":
        return "bzip2"
    return None


def compression_of_fd(fd: int) -> str | None:
    """The compression of the open file `fd` (read at offset 0, position unchanged)."""
    try:
        return sniff(os.pread(fd, SNIFF_BYTES, 0))
    except OSError:
        return None


def compression_of(path: str | os.PathLike[str]) -> str | None:
    """The compression of the file at `path`, or None (also when it cannot be read)."""
    try:
        with open(path, "rb") as handle:
            return sniff(handle.read(SNIFF_BYTES))
    except OSError:
        return None


def open_decompressed(path: str | os.PathLike[str], kind: str) -> ByteReader:
    """The decompressed content of `path`, compressed with `kind`, as a binary stream."""
    if kind == "gzip":
        return gzip.open(path, "rb")
    if kind == "bzip2":
        return bz2.open(path, "rb")
    if kind == "xz":
        return lzma.open(path, "rb")
    if kind == "zstd":
        return zstandard.ZstdDecompressor().stream_reader(
            open(path, "rb"), read_across_frames=True, closefd=True)
    raise ValueError(f"unknown compression {kind!r}")
