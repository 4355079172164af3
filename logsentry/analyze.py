"""`logsentry analyze`: label lines from files or stdin, one-shot.

It runs the daemon's own stages (envelope parsing, the analyzer, detection)
over each input in turn, so what it prints is what the daemon would see.
With `--alerts`, the files are read together and their events replayed as one
timeline, through a bounded reorder window (logsentry.replay). A reader of
stdout that goes away (`| head -1`) ends the command quietly.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from logsentry.analysis.base import Analyzer
from logsentry.analysis.config import AnalysisConfig
from logsentry.analysis.loader import close_analyzer, load_analyzer
from logsentry.analyze_console import FileProgress, TableWriter
from logsentry.config import PipelineConfig
from logsentry.core.alert import Alert
from logsentry.core.collector import keep_survivors_frozen
from logsentry.core.event import Event
from logsentry.core.pipes import discard_output
from logsentry.detect.config import DetectionConfig
from logsentry.detect.sigma.config import SigmaConfig
from logsentry.pipeline import Pipeline
from logsentry.sinks.control_chars import json_lines
from logsentry.sources.base import Source
from logsentry.sources.compression import compression_of, open_decompressed
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
    sigma: list[str] | None = None,
    pack: bool = True,
    reorder_window: int | None = None,
    workers: int = 1,
) -> int:
    """Analyze each input in order; print events (and alerts); return the exit status.

    With `alerts`, the inputs are read together and replayed in event time through a
    reorder buffer of `reorder_window` events (default: logsentry.replay's).
    """
    # As the daemon does (see Daemon.run): full collections skip what survived the last
    # one (the modules, the model, the caches, the reorder window's events): on
    # ssh200k-fresh `--alerts` they took 2.0 s of 3.2 s of collection, 0.6 s after.
    keep_survivors_frozen()
    analysis = AnalysisConfig(analyzer="model" if use_model else "none", model_path=model,
                              workers=workers)
    analyzer: Analyzer = await asyncio.get_running_loop().run_in_executor(
        None, load_analyzer, analysis)
    # A file named twice is read once (with --alerts its events would meet themselves).
    files = list(dict.fromkeys(files)) if alerts else files
    # Started before the table, which then prints above the bar on a terminal.
    progress = FileProgress.start(files, fmt)
    out = sys.stdout
    table = (TableWriter(out, show_file=alerts and len(files) > 1) if fmt == "table"
             else None)
    output = Output()
    try:
        if alerts:
            detection = DetectionConfig(pack="default" if pack else "none", extra_rules=rules,
                                        sigma=SigmaConfig(rules=sigma or []))
            await _analyze_with_alerts(files, analyzer, analysis, detection, table, progress,
                                       reorder_window, output)
        else:
            await _analyze_each(files, analyzer, analysis, table, progress, output)
    finally:
        close_analyzer(analyzer)
        if progress is not None:
            progress.stop()
            if table is not None:
                # Rows went through the bar's stand-in for stdout; it is gone now.
                table.console.file = sys.stdout
    if table is not None and not output.closed.is_set():
        output.guard(lambda: table.summary(alerts=alerts))
    output.guard(out.flush)
    return 0


class Output:
    """stdout, until its reader goes away: then every later write is dropped quietly."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()

    def guard(self, write: object) -> None:
        assert callable(write)
        if self.closed.is_set():
            return
        try:
            write()
        except BrokenPipeError:
            discard_output(sys.stdout.fileno())
            self.closed.set()

    def lines(self, records: list[Event] | list[Alert]) -> None:
        """The records as JSON lines, control characters from logs made visible."""
        self.guard(lambda: sys.stdout.buffer.write(json_lines(records)))


async def _analyze_each(
    files: list[Path],
    analyzer: Analyzer,
    analysis: AnalysisConfig,
    table: TableWriter | None,
    progress: FileProgress | None,
    output: Output,
) -> None:
    """Each input in turn, its events printed in input order."""

    async def emit(events: list[Event]) -> None:
        if progress is not None:
            progress.advance(events)
        if table is not None:
            output.guard(lambda: table.write(events))
        else:
            output.lines(events)

    inputs = _sources(files)
    config = PipelineConfig(queue_batches=8)
    for source in inputs:
        pipeline = Pipeline([source], analyzer, event_outputs=[emit], config=config,
                            analysis=analysis)
        await pipeline.run(output.closed)
        if output.closed.is_set():
            return


async def _analyze_with_alerts(
    files: list[Path],
    analyzer: Analyzer,
    analysis: AnalysisConfig,
    detection: DetectionConfig,
    table: TableWriter | None,
    progress: FileProgress | None,
    window: int | None,
    output: Output,
) -> None:
    """Read every input at once and replay their events in event time through detection.

    Memory is bounded by the reorder window (logsentry.replay), not by the input;
    alerts are printed as they are raised; table rows in the order detection saw them.
    """
    from logsentry.detect.detector import Detector
    from logsentry.replay import REORDER_WINDOW, EventTimeReplay

    detector = Detector.from_config(detection, None)
    if detector.sigma is not None and (detector.sigma.skipped or detector.sigma.loaded.warnings):
        from logsentry.detect.sigma.report import print_skipped

        print_skipped(detector.sigma, sys.stderr)
    inputs = _sources(files)

    def write_alerts(raised: list[Alert]) -> None:
        if table is not None:
            output.guard(lambda: table.write_alerts(raised))
            return
        output.lines(raised)
        output.guard(sys.stdout.flush)

    def write_events(events: list[Event]) -> None:
        if table is not None:
            output.guard(lambda: table.write(events))

    replay = EventTimeReplay(detector, [source.name for source in inputs],
                             window=window or REORDER_WINDOW,
                             on_alerts=write_alerts,
                             on_events=write_events if table is not None else None)

    async def emit(events: list[Event]) -> None:
        if progress is not None:
            progress.advance(events)
        await replay.events(events)

    pipeline = Pipeline([replay.wrap(source) for source in inputs], analyzer,
                        event_outputs=[emit], config=PipelineConfig(queue_batches=8),
                        analysis=analysis, encode_events=False)
    await pipeline.run(output.closed)
    if output.closed.is_set():
        return
    await replay.finish(time.time())
    if replay.merge.late:
        sys.stderr.write(
            f"{replay.merge.late} line(s) came later than the reorder window allows "
            "(an input whose clock goes back): replayed where they were read\n")


STDIN = Path("-")
"""The file argument that stands for standard input, as for most Unix tools."""


def _sources(files: list[Path]) -> list[Source]:
    """A source per input: `-` (or no file at all) reads stdin."""
    return [StreamSource(sys.stdin.buffer, "stdin") if path == STDIN else _file_source(path)
            for path in files or [STDIN]]


def _file_source(path: Path) -> Source:
    """A file read once from its beginning; a compressed one (by its magic bytes) decompressed."""
    kind = compression_of(path)
    if kind is not None:
        return StreamSource(None, str(path), reader=open_decompressed(path, kind))
    config = FileSourceConfig(name=str(path), paths=[str(path)], start_at="beginning",
                              follow=False)
    return FileSource(config, None)
