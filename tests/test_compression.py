"""Compressed log files, recognised by their magic bytes: decompressed by `analyze`,
skipped with a warning by the daemon's file source."""

from __future__ import annotations

import asyncio
import bz2
import gzip
import lzma
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
import structlog
import zstandard

from logsentry.analysis.noop import NoopAnalyzer
from logsentry.pipeline import Pipeline
from logsentry.sources.config import FileSourceConfig
from logsentry.sources.file import FileSource, path_problems

LINES = [f"Nov 26 06:00:{n:02d} web-1 sshd[42]: Failed password for root from "
         f"203.0.113.7 port {50000 + n} ssh2" for n in range(20)]
TEXT = ("\n".join(LINES) + "\n").encode()

COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_analyze_decompresses_by_magic_bytes_whatever_the_name(
    tmp_path: Path, kind: str
) -> None:
    # No telling extension: the content decides.
    path = tmp_path / "auth.log.1"
    path.write_bytes(COMPRESSORS[kind](TEXT))
    result = subprocess.run(
        [sys.executable, "-m", "logsentry.cli", "analyze", "--no-model", "--format", "jsonl",
         str(path)], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    docs = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [doc["message"] for doc in docs] == LINES
    assert [doc["line"] for doc in docs] == list(range(1, 21))


async def test_the_daemon_skips_compressed_files_with_one_warning_each(tmp_path: Path) -> None:
    (tmp_path / "auth.log").write_bytes(TEXT)
    (tmp_path / "auth.log.2.gz").write_bytes(gzip.compress(b"rotated line\n" * 50))
    messages: list[str] = []

    async def collect(events: list[object]) -> None:
        messages.extend(event.message for event in events)  # type: ignore[attr-defined]

    source = FileSource(FileSourceConfig(paths=[str(tmp_path / "auth.log*")],
                                         start_at="beginning", follow=False), None)
    with structlog.testing.capture_logs() as logs:
        await Pipeline([source], NoopAnalyzer(), event_outputs=[collect]).run(
            asyncio.Event())
    assert messages == LINES
    skipped = [entry for entry in logs if entry["event"] == "file_compressed_skipped"]
    assert [(entry["path"], entry["compression"]) for entry in skipped] == [
        (str(tmp_path / "auth.log.2.gz"), "gzip")]


def test_a_path_matching_only_compressed_files_is_reported(tmp_path: Path) -> None:
    (tmp_path / "old.log.xz").write_bytes(lzma.compress(TEXT))
    config = FileSourceConfig(paths=[str(tmp_path / "*.xz")])
    assert path_problems(config) == [
        (str(tmp_path / "*.xz"),
         "compressed (xz): only `logsentry analyze` reads compressed files")]
