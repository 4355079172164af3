"""Cutting a byte stream into lines: a plain chunk split in one go gives exactly what the
line-by-line way gives (lines, end offsets, repairs counted, overlong lines cut)."""

from __future__ import annotations

import random

from logsentry.sources.base import LineDecoder
from logsentry.sources.splitter import LineSplitter

LIMIT = 1024


class LineByLine(LineSplitter):
    """The splitter without its one-go path: the reference."""

    def _feed_plain(self, data: bytes) -> tuple[list[str], list[int]] | None:
        return None


class CountingPlain(LineSplitter):
    """The splitter as shipped, counting the chunks it split in one go."""

    plain_chunks = 0

    def _feed_plain(self, data: bytes) -> tuple[list[str], list[int]] | None:
        result = super()._feed_plain(data)
        if result is not None:
            CountingPlain.plain_chunks += 1
        return result


def random_stream(rng: random.Random) -> bytes:
    pieces = []
    for _ in range(3000):
        kind = rng.random()
        if kind < 0.95:
            line = b"sshd[%d]: Failed password for root from 203.0.113.%d" % (
                rng.randrange(99999), rng.randrange(255))
        elif kind < 0.99:
            line = b"windows line\r"
        elif kind < 0.97:
            line = b"nul\x00byte"
        elif kind < 0.975:
            line = "caf\u00e9 na\u00efve".encode()
        elif kind < 0.98:
            line = b"bad \xff\xfe utf-8"
        elif kind < 0.99:
            line = b"x" * rng.randrange(LIMIT - 10, 3 * LIMIT)
        else:
            line = b""
        pieces.append(line + b"\n")
    return b"".join(pieces) + b"a last line without newline"


def split(splitter: LineSplitter, stream: bytes, sizes: list[int]) -> list[object]:
    out: list[object] = []
    position = 0
    for size in sizes:
        out.append(splitter.feed(stream[position : position + size]))
        out.append(splitter.offset)
        position += size
    out.append(splitter.finish())
    out.append((splitter.offset, splitter.decoder.counts))
    return out


def test_plain_chunks_split_in_one_go_give_what_line_by_line_gives() -> None:
    CountingPlain.plain_chunks = 0
    for seed in range(20):
        rng = random.Random(seed)
        stream = random_stream(rng)
        sizes, total = [], 0
        while total < len(stream):
            sizes.append(rng.choice([1, 7, 100, 900, 1500, 4096, 65536]))
            total += sizes[-1]
        expected = split(LineByLine(LineDecoder("test"), LIMIT), stream, sizes)
        got = split(CountingPlain(LineDecoder("test"), LIMIT), stream, sizes)
        assert got == expected
    assert CountingPlain.plain_chunks > 50  # the one-go path was taken, and agreed


def test_a_line_begun_in_the_last_chunk_is_repaired_when_this_chunk_is_plain() -> None:
    # The NUL or CR is in the buffered start of the line, not in the chunk that ends it.
    for first, second in ((b"one\nnul\x00by", b"te\ntwo\n"), (b"one\nwindows\r", b"\ntwo\n")):
        expected = split(LineByLine(LineDecoder("test"), LIMIT), first + second,
                         [len(first), len(second)])
        got = split(CountingPlain(LineDecoder("test"), LIMIT), first + second,
                    [len(first), len(second)])
        assert got == expected
    assert expected[2] == (["windows", "two"], [13, 17])
