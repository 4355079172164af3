"""`logsentry analyze`: label lines from files or stdin, one-shot.

It runs the daemon's own stages (envelope parsing, the analyzer, detection)
over each input in turn, so what it prints is what the daemon would see.
With `--alerts`, the files are read together and their events replayed as one
timeline, through a bounded reorder window (logsentry.replay).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from logsentry.analysis.base import Analyzer
from logsentry.analysis.config import AnalysisConfig
from logsentry.analysis.loader import load_analyzer
from logsentry.analyze_console import FileProgress, TableWriter
from logsentry.config import PipelineConfig
from logsentry.core.alert import Alert
from logsentry.core.event import Event
from logsentry.detect.config import DetectionConfig
from logsentry.pipeline import Pipeline
from logsentry.sources.base import Source
from logsentry.sources.config import FileSourceConfig
from logsentry.sources.file import FileSource
from logsentry.sources.stdin import StreamSource


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
    # A file named twice is read once (with --alerts its events would meet themselves).
    files = list(dict.fromkeys(files)) if alerts else files
    # Started before the table, which then prints above the bar on a terminal.
    progress = FileProgress.start(files, fmt)
    out = sys.stdout
    table = (TableWriter(out, show_file=alerts and len(files) > 1) if fmt == "table"
             else None)
    try:
        if alerts:
            await _analyze_with_alerts(files, analyzer, analysis, rules, fmt, table, progress,
                                       reorder_window)
        else:
            await _analyze_each(files, analyzer, analysis, table, progress)
    finally:
        if progress is not None:
            progress.stop()
            if table is not None:
                # Rows went through the bar's stand-in for stdout; it is gone now.
                table.console.file = sys.stdout
    if table is not None:
        table.summary(alerts=alerts)
    out.flush()
    return 0


async def _analyze_each(
    files: list[Path],
    analyzer: Analyzer,
    analysis: AnalysisConfig,
    table: TableWriter | None,
    progress: FileProgress | None,
) -> None:
    """Each input in turn, its events printed in input order."""
    out = sys.stdout

    async def emit(events: list[Event]) -> None:
        if progress is not None:
            progress.advance(events)
        if table is not None:
            table.write(events)
        else:
            out.buffer.write(b"".join(event.to_json() + b"\n" for event in events))

    inputs: list[Source] = [_file_source(path) for path in files] or [
        StreamSource(sys.stdin.buffer, "stdin")
    ]
    config = PipelineConfig(queue_batches=8)
    for source in inputs:
        pipeline = Pipeline([source], analyzer, event_outputs=[emit], config=config,
                            analysis=analysis)
        await pipeline.run(asyncio.Event())


async def _analyze_with_alerts(
    files: list[Path],
    analyzer: Analyzer,
    analysis: AnalysisConfig,
    rules: list[str],
    fmt: str,
    table: TableWriter | None,
    progress: FileProgress | None,
    window: int | None,
) -> None:
    """Read every input at once and replay their events in event time through detection.

    Memory is bounded by the reorder window (logsentry.replay), not by the input;
    alerts are printed as they are raised; table rows in the order detection saw them.
    """
    from logsentry.detect.detector import Detector
    from logsentry.replay import REORDER_WINDOW, EventTimeReplay

    out = sys.stdout
    detector = Detector.from_config(DetectionConfig(rules=rules), None)
    inputs: list[Source] = [_file_source(path) for path in files] or [
        StreamSource(sys.stdin.buffer, "stdin")
    ]

    def write_alerts(raised: list[Alert]) -> None:
        if table is not None:
            table.write_alerts(raised)
            return
        out.buffer.write(b"".join(alert.to_json() + b"\n" for alert in raised))
        out.flush()

    replay = EventTimeReplay(detector, [source.name for source in inputs],
                             window=window or REORDER_WINDOW,
                             on_alerts=write_alerts,
                             on_events=table.write if table is not None else None)

    async def emit(events: list[Event]) -> None:
        if progress is not None:
            progress.advance(events)
        await replay.events(events)

    pipeline = Pipeline([replay.wrap(source) for source in inputs], analyzer,
                        event_outputs=[emit], config=PipelineConfig(queue_batches=8),
                        analysis=analysis)
    await pipeline.run(asyncio.Event())
    await replay.finish(time.time())
    if replay.merge.late:
        sys.stderr.write(
            f"{replay.merge.late} line(s) came later than the reorder window allows "
            "(an input whose clock goes back): replayed where they were read\n")


def _file_source(path: Path) -> FileSource:
    config = FileSourceConfig(name=str(path), paths=[str(path)], start_at="beginning",
                              follow=False)
    return FileSource(config, None)
