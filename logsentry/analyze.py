"""`logsentry analyze`: label lines from files or stdin, one-shot.

It runs the daemon's own stages (envelope parsing, the analyzer, detection)
over each input in turn, so what it prints is what the daemon would see.
With `--alerts`, the files are read together and their events replayed as one
timeline, through a bounded reorder window (logsentry.replay).
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
from logsentry.detect.config import DetectionConfig
from logsentry.pipeline import Pipeline
from logsentry.sinks.stdout import render_text, visible
from logsentry.sources.base import Source
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
    reorder_window: int | None = None,
) -> int:
    """Analyze each input in order; print events (and alerts); return the exit status.

    With `alerts`, the inputs are read together and replayed in event time through a
    reorder buffer of `reorder_window` events (default: logsentry.replay's).
    """
    analysis = AnalysisConfig(analyzer="model" if use_model else "none", model_path=model)
    analyzer: Analyzer = await asyncio.get_running_loop().run_in_executor(
        None, load_analyzer, analysis)
    out = sys.stdout
    table = TableWriter(out) if fmt == "table" else None
    if alerts:
        return await _analyze_with_alerts(files, analyzer, analysis, rules, fmt, table,
                                          reorder_window)

    async def emit(events: list[Event]) -> None:
        if table is not None:
            table.write(events)
        else:
            out.buffer.write(b"".join(event.to_json() + b"\n" for event in events))

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
            await pipeline.run(asyncio.Event())
    finally:
        if progress is not None:
            progress.stop()
    out.flush()
    return 0


async def _analyze_with_alerts(
    files: list[Path],
    analyzer: Analyzer,
    analysis: AnalysisConfig,
    rules: list[str],
    fmt: str,
    table: TableWriter | None,
    window: int | None,
) -> int:
    """Read every input at once and replay their events in event time through detection.

    Memory is bounded by the reorder window (logsentry.replay), not by the input;
    alerts are printed as they are raised.
    """
    from logsentry.detect.detector import Detector
    from logsentry.replay import REORDER_WINDOW, EventTimeReplay

    out = sys.stdout
    detector = Detector.from_config(DetectionConfig(rules=rules), None)
    # A file named twice is read once: its events would otherwise meet themselves.
    unique = list(dict.fromkeys(files))
    inputs: list[Source] = [_file_source(path) for path in unique] or [
        StreamSource(sys.stdin.buffer, "stdin")
    ]

    def write_alerts(raised: list[Alert]) -> None:
        if fmt == "jsonl":
            out.buffer.write(b"".join(alert.to_json() + b"\n" for alert in raised))
        else:
            out.write("".join(render_text(alert, colour=out.isatty()) for alert in raised))
        out.flush()

    replay = EventTimeReplay(detector, [source.name for source in inputs],
                             window=window or REORDER_WINDOW,
                             on_alerts=write_alerts,
                             on_events=table.write if table is not None else None)
    pipeline = Pipeline([replay.wrap(source) for source in inputs], analyzer,
                        event_outputs=[replay.events], config=PipelineConfig(queue_batches=8),
                        analysis=analysis)
    progress = Progress.start(unique)
    if progress is not None:
        progress.pipelines.append(pipeline)
    try:
        await pipeline.run(asyncio.Event())
        await replay.finish(time.time())
    finally:
        if progress is not None:
            progress.stop()
    if fmt != "jsonl":
        out.write(f"\n{replay.alerts} alert(s)\n")
    if replay.merge.late:
        sys.stderr.write(
            f"{replay.merge.late} line(s) came later than the reorder window allows "
            "(an input whose clock goes back): replayed where they were read\n")
    out.flush()
    return 0


def _file_source(path: Path) -> FileSource:
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
            fields = " ".join(f"{k}={visible(str(v))}" for k, v in event.fields.items())
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
