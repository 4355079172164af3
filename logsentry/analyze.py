"""`logsentry analyze`: label lines from files or stdin, one-shot.

It runs the daemon's own stages (envelope parsing, the analyzer, detection)
over each input in turn, so what it prints is what the daemon would see.
With `--alerts`, events of several files are replayed in event time.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import time
from pathlib import Path
from typing import TextIO

from logsentry.analysis.base import Analyzer
from logsentry.analysis.config import AnalysisConfig
from logsentry.analysis.loader import load_analyzer
from logsentry.config import PipelineConfig
from logsentry.core.alert import Alert
from logsentry.core.event import Event
from logsentry.core.pipes import discard_output
from logsentry.detect.config import DetectionConfig
from logsentry.pipeline import Pipeline
from logsentry.sinks.control_chars import record_json, visible_controls
from logsentry.sinks.stdout import render_text
from logsentry.sources.base import Source
from logsentry.sources.compression import compression_of, open_decompressed
from logsentry.sources.config import FileSourceConfig
from logsentry.sources.file import FileSource
from logsentry.sources.stdin import StreamSource

# Show a progress line for inputs larger than this when stderr is a terminal.
PROGRESS_MIN_BYTES = 20 * 1024 * 1024


async def run_analyze(
    *,
    files: list[Path],
    fmt: str,
    alerts: bool,
    model: str | None,
    use_model: bool,
    rules: list[str],
    sigma: list[str] | None = None,
    pack: bool = True,
) -> int:
    """Analyze each input in order; print events (and alerts); return the exit status."""
    analysis = AnalysisConfig(analyzer="model" if use_model else "none", model_path=model)
    analyzer: Analyzer = await asyncio.get_running_loop().run_in_executor(
        None, load_analyzer, analysis)
    detector = None
    if alerts:
        from logsentry.detect.detector import Detector
        from logsentry.detect.sigma.config import SigmaConfig

        detector = Detector.from_config(
            DetectionConfig(pack="default" if pack else "none", extra_rules=rules,
                            sigma=SigmaConfig(rules=sigma or [])), None)
        if detector.sigma is not None and detector.sigma.skipped:
            from logsentry.detect.sigma.report import print_skipped

            print_skipped(detector.sigma, sys.stderr)
    out = sys.stdout
    table = TableWriter(out) if fmt == "table" else None
    collected: list[Event] = []
    # Set when the reader of stdout went away (`| head -1`): stop reading, quietly.
    closed = asyncio.Event()

    async def emit(events: list[Event]) -> None:
        if closed.is_set():
            return
        if alerts:
            collected.extend(events)
        try:
            if table is not None:
                table.write(events)
            elif not alerts:
                out.buffer.write(b"".join(record_json(event) + b"\n" for event in events))
        except BrokenPipeError:
            discard_output(out.fileno())
            closed.set()

    inputs: list[Source] = [_file_source(path) for path in files] or [
        StreamSource(sys.stdin.buffer, "stdin")
    ]
    progress = Progress.start(files)
    config = PipelineConfig(queue_batches=8)
    try:
        for source in inputs:
            pipeline = Pipeline([source], analyzer, event_outputs=[emit], config=config,
                                analysis=analysis)
            if progress is not None:
                progress.pipelines.append(pipeline)
            await pipeline.run(closed)
            if closed.is_set():
                return 0
    finally:
        if progress is not None:
            progress.stop()
    try:
        out.flush()
    except BrokenPipeError:
        discard_output(out.fileno())
        return 0
    if detector is not None:
        raised = replay_in_event_time(detector, collected)
        if fmt == "jsonl":
            out.buffer.write(b"".join(record_json(alert) + b"\n" for alert in raised))
        else:
            out.write(f"\n{len(raised)} alert(s)\n")
            out.write("".join(render_text(alert, colour=out.isatty()) for alert in raised))
        try:
            out.flush()
        except BrokenPipeError:
            discard_output(out.fileno())
    return 0


def replay_in_event_time(detector: object, events: list[Event]) -> list[Alert]:
    """Feed events to detection in the order of their own timestamps, then flush."""
    from logsentry.detect.detector import Detector

    assert isinstance(detector, Detector)
    events.sort(key=lambda event: event.event_time)  # stable: file order on ties
    raised: list[Alert] = []
    for start in range(0, len(events), 1024):
        raised += detector.process(events[start : start + 1024])
    raised += detector.tick(time.time())
    return raised


def _file_source(path: Path) -> Source:
    """A file read once from its beginning; a compressed one (by its magic bytes) decompressed."""
    kind = compression_of(path)
    if kind is not None:
        return StreamSource(None, str(path), reader=open_decompressed(path, kind))
    config = FileSourceConfig(name=str(path), paths=[str(path)], start_at="beginning",
                              follow=False)
    return FileSource(config, None)


class TableWriter:
    """The readable form: one row per line with its action and fields."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.width = shutil.get_terminal_size((160, 24)).columns

    def write(self, events: list[Event]) -> None:
        rows = []
        for event in events:
            fields = " ".join(f"{k}={visible_controls(str(v))}" for k, v in event.fields.items())
            row = (f"{event.line:>6} {event.action:<20} {event.outcome:<8} "
                   f"{event.confidence:4.2f} {fields}")
            rows.append(row[: self.width] + "\n")
        self.out.write("".join(rows))


class Progress:
    """A progress line on stderr for large inputs, only on a terminal."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.pipelines: list[Pipeline] = []
        self.started = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._run())

    @classmethod
    def start(cls, files: list[Path]) -> Progress | None:
        total = sum(path.stat().st_size for path in files)
        if not sys.stderr.isatty() or total < PROGRESS_MIN_BYTES:
            return None
        return cls(total)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            lines = sum(p.stats.lines for p in self.pipelines)
            rate = lines / max(time.monotonic() - self.started, 1e-6)
            sys.stderr.write(f"\r{lines:,} lines  {rate:,.0f} lines/s ")
            sys.stderr.flush()

    def stop(self) -> None:
        self._task.cancel()
        sys.stderr.write("\n")
