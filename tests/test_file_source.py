"""The file source: rotation, restarts, malformed input, backpressure; against real files."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from pathlib import Path

from logsentry.analysis.noop import NoopAnalyzer
from logsentry.config import PipelineConfig
from logsentry.core.event import Event
from logsentry.pipeline import Pipeline
from logsentry.sources.config import FileSourceConfig
from logsentry.sources.file import FileSource


class Collector:
    """An event output that records every message it receives."""

    def __init__(self, delay: float = 0.0) -> None:
        self.messages: list[str] = []
        self.delay = delay

    async def __call__(self, events: list[Event]) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.messages.extend(event.message for event in events)


def make_source(paths: list[str], state: Path, **options: object) -> FileSource:
    config = FileSourceConfig(paths=paths, start_at="beginning", poll_interval=0.2, **options)
    return FileSource(config, state, commit_interval=0.1)


async def run_until(pipeline: Pipeline, done: callable, timeout: float = 20.0) -> None:  # type: ignore[valid-type]
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 15)


def write_lines(path: Path, start: int, count: int, mode: str = "a") -> None:
    with open(path, mode) as handle:
        for number in range(start, start + count):
            handle.write(f"line {number}\n")


class RotatingWriter(threading.Thread):
    """Appends numbered lines continuously and rotates the log every `every` lines."""

    def __init__(self, path: Path, total: int, every: int, how: str) -> None:
        super().__init__(daemon=True)
        self.path, self.total, self.every, self.how = path, total, every, how
        self.rotations = 0

    def run(self) -> None:
        handle = open(self.path, "a", buffering=1)  # noqa: SIM115 - reopened on rotation
        for number in range(self.total):
            handle.write(f"line {number}\n")
            if number % 50 == 0:
                time.sleep(0.002)
            if number and number % self.every == 0:
                self.rotations += 1
                if self.how == "rename":
                    handle.close()
                    os.replace(self.path, f"{self.path}.{self.rotations}")
                    handle = open(self.path, "a", buffering=1)  # noqa: SIM115
                else:
                    handle.flush()
                    shutil.copyfile(self.path, f"{self.path}.{self.rotations}")
                    os.truncate(self.path, 0)
                    handle.seek(0)
        handle.close()


async def test_rotation_by_rename_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.touch()
    collector = Collector()
    pipeline = Pipeline([make_source([str(log)], tmp_path / "state")], NoopAnalyzer(),
                        event_outputs=[collector])
    writer = RotatingWriter(log, total=6000, every=1000, how="rename")
    writer.start()
    await run_until(pipeline, lambda: len(collector.messages) >= 6000)
    writer.join()
    assert writer.rotations == 5
    assert sorted(collector.messages) == sorted(f"line {n}" for n in range(6000))


async def test_rotation_by_copytruncate_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.touch()
    collector = Collector()
    pipeline = Pipeline([make_source([str(log)], tmp_path / "state")], NoopAnalyzer(),
                        event_outputs=[collector])
    writer = RotatingWriter(log, total=6000, every=1000, how="copytruncate")
    writer.start()
    await run_until(pipeline, lambda: len(collector.messages) >= 6000)
    writer.join()
    await asyncio.sleep(0)
    assert writer.rotations == 5
    assert sorted(collector.messages) == sorted(f"line {n}" for n in range(6000))


async def test_only_writes_to_its_own_files_wake_the_source(tmp_path: Path) -> None:
    followed = tmp_path / "auth.log"
    followed.write_text("")
    source = make_source([str(followed)], tmp_path)
    source._scan(start_at_end=False)
    source._start_inotify()
    try:
        (tmp_path / "events.jsonl").write_text("a sink writing beside the log\n")
        source._on_inotify()
        assert not source._wake.is_set()
        for name in ("auth.log", "auth.log.1"):  # the file, and a write after its rotation
            (tmp_path / name).write_text("line\n")
            source._on_inotify()
            assert source._wake.is_set(), name
            source._wake.clear()
    finally:
        source._stop_inotify()


async def test_restart_resumes_exactly_where_it_stopped(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    state = tmp_path / "state"
    write_lines(log, 0, 500)
    first = Collector()
    await run_until(Pipeline([make_source([str(log)], state)], NoopAnalyzer(),
                             event_outputs=[first]), lambda: len(first.messages) >= 500)
    write_lines(log, 500, 300)  # written while stopped
    second = Collector()
    source = make_source([str(log)], state)
    pipeline = Pipeline([source], NoopAnalyzer(), event_outputs=[second])
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    while len(second.messages) < 300:
        await asyncio.sleep(0.05)
    write_lines(log, 800, 200)  # written while running
    while len(second.messages) < 500:
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert first.messages == [f"line {n}" for n in range(500)]
    assert second.messages == [f"line {n}" for n in range(500, 1000)]


async def test_rotation_while_stopped_finishes_the_old_file_first(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    state = tmp_path / "state"
    write_lines(log, 0, 100)
    first = Collector()
    await run_until(Pipeline([make_source([str(log)], state)], NoopAnalyzer(),
                             event_outputs=[first]), lambda: len(first.messages) >= 100)
    write_lines(log, 100, 50)  # the old file grows, then is rotated, while we are down
    os.replace(log, tmp_path / "app.log.1")
    write_lines(log, 150, 50, mode="w")
    second = Collector()
    await run_until(Pipeline([make_source([str(log)], state)], NoopAnalyzer(),
                             event_outputs=[second]), lambda: len(second.messages) >= 100)
    assert sorted(second.messages) == sorted(f"line {n}" for n in range(100, 200))


async def test_files_appearing_later_are_read_from_their_beginning(tmp_path: Path) -> None:
    collector = Collector()
    source = FileSource(FileSourceConfig(paths=[str(tmp_path / "*.log")], start_at="end",
                                         poll_interval=0.2), tmp_path / "state")
    pipeline = Pipeline([source], NoopAnalyzer(), event_outputs=[collector])
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    await asyncio.sleep(0.3)
    write_lines(tmp_path / "late.log", 0, 10)
    for _ in range(100):
        if len(collector.messages) >= 10:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert collector.messages == [f"line {n}" for n in range(10)]


async def test_start_at_end_skips_existing_content_on_first_start(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    write_lines(log, 0, 100)
    collector = Collector()
    source = FileSource(FileSourceConfig(paths=[str(log)], start_at="end", poll_interval=0.2),
                        tmp_path / "state")
    pipeline = Pipeline([source], NoopAnalyzer(), event_outputs=[collector])
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    await asyncio.sleep(0.3)
    write_lines(log, 100, 5)
    for _ in range(100):
        if len(collector.messages) >= 5:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert collector.messages == [f"line {n}" for n in range(100, 105)]


async def test_deleted_file_is_released_and_a_recreated_one_followed(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    write_lines(log, 0, 10)
    collector = Collector()
    source = make_source([str(log)], tmp_path / "state")
    pipeline = Pipeline([source], NoopAnalyzer(), event_outputs=[collector])
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    while len(collector.messages) < 10:
        await asyncio.sleep(0.05)
    log.unlink()
    await asyncio.sleep(0.5)
    write_lines(log, 10, 10)
    for _ in range(200):
        if len(collector.messages) >= 20:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task
    assert collector.messages == [f"line {n}" for n in range(20)]


async def test_malformed_input_is_repaired_counted_and_never_fatal(tmp_path: Path) -> None:
    log = tmp_path / "bad.log"
    ten_mb = b"A" * (10 * 1024 * 1024)
    log.write_bytes(
        b"valid line\n"
        b"bad utf8 \xff\xfe here\n"
        b"nul \x00 byte\n"
        b"windows line\r\n"
        + bytes(range(256)).replace(b"\n", b"") + b"\n"
        + ten_mb + b"\n"
        b"after the long line\n"
        + ten_mb  # a 10 MB line that never ends
    )
    collector = Collector()
    source = make_source([str(log)], tmp_path / "state", max_line_bytes=65536)
    pipeline = Pipeline([source], NoopAnalyzer(), event_outputs=[collector])
    await run_until(pipeline, lambda: len(collector.messages) >= 8)
    messages = collector.messages
    assert messages[0] == "valid line"
    assert messages[1] == "bad utf8 \ufffd\ufffd here"
    assert messages[2] == "nul \ufffd byte"
    assert messages[3] == "windows line"
    assert len(messages[5]) == 65536
    assert messages[6] == "after the long line"
    assert len(messages[7]) == 65536  # the unterminated one: its head, no more
    counts = source.decoder.counts
    assert counts["invalid_utf8"] >= 2
    assert counts["nul_bytes"] == 2
    assert counts["crlf"] == 1
    assert counts["truncated"] == 2


async def test_slow_output_bounds_memory_and_loses_nothing(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    write_lines(log, 0, 300_000)
    collector = Collector(delay=0.01)
    source = make_source([str(log)], tmp_path / "state")
    config = PipelineConfig(queue_batches=2)
    pipeline = Pipeline([source], NoopAnalyzer(), event_outputs=[collector], config=config)
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    max_ahead = 0
    while len(collector.messages) < 300_000:
        await asyncio.sleep(0.02)
        max_ahead = max(max_ahead, source.lines_read - len(collector.messages))
    stop.set()
    await task
    # Three queues of two batches, one batch in each stage and one being put:
    # about ten 64 KiB chunks (~6,000 short lines each), however big the file.
    assert max_ahead <= 10 * 6000
    assert collector.messages == [f"line {n}" for n in range(300_000)]


def test_a_held_source_resumes_from_a_checkpoint_position_and_writes_only_those(
        tmp_path: Path) -> None:
    log, state = tmp_path / "app.log", tmp_path / "state"
    write_lines(log, 0, 100)
    first = make_source([str(log)], state)
    first.hold_positions()
    collected = Collector()
    asyncio.run(run_until(Pipeline([first], NoopAnalyzer(), event_outputs=[collected]),
                          lambda: len(collected.messages) >= 100))
    # Held: commits and close leave the offsets file alone...
    assert first.store is not None and not first.store.path.exists()
    checkpoint = first.checkpoint_position()
    [entry] = checkpoint["files"].values()
    assert entry["offset"] == log.stat().st_size
    # ...which only a checkpoint's positions are written to.
    halfway = {"files": {key: {**value, "offset": len(b"line 0\n") * 10 + len(b"line 10\n") * 40}
                         for key, value in checkpoint["files"].items()}}
    first.persist_position(halfway)
    assert first.store.path.exists()
    # A restart resumes from the checkpoint's position, whatever the offsets file says.
    write_lines(log, 100, 10)
    second = make_source([str(log)], state)
    assert second.resume_from(halfway)
    again = Collector()
    asyncio.run(run_until(Pipeline([second], NoopAnalyzer(), event_outputs=[again]),
                          lambda: len(again.messages) >= 60))
    assert again.messages == [f"line {n}" for n in range(50, 110)]
    assert not make_source([str(log)], state).resume_from({"files": {"1:2": {"bogus": 1}}})
