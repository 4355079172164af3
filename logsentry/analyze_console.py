"""The human form of `logsentry analyze`: a table of lines, a summary, a progress bar.

Like fail2ban-regex, it shows which lines got an action and ends with counts: per
action, and per rule with `--alerts`. Cells are rich `Text`, never markup: a log line
cannot style or drive the terminal (control characters are escaped as well).
"""

from __future__ import annotations

import shutil
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import TextIO

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from logsentry.core.alert import Alert
from logsentry.core.event import Event
from logsentry.sinks.control_chars import visible_controls as visible
from logsentry.sinks.stdout import render_text

# Inputs at least this large get a progress bar (when stderr is a terminal).
PROGRESS_MIN_BYTES = 1024 * 1024
# Without a terminal, rows are cut at this width (as a wide terminal would).
DEFAULT_WIDTH = 160



class TableConsole(Console):
    """A rich console that reports a reader gone away as BrokenPipeError to its caller,
    which ends the command quietly (rich itself would exit with status 1)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError

class TableWriter:
    """Rows of analyzed lines, as they come, then the summary.

    Each batch is its own rich table with the same fixed columns, so rows stream
    without holding the input; the header is printed once.
    """

    def __init__(self, out: TextIO, *, show_file: bool = False) -> None:
        width = shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
        self.console = TableConsole(file=out, width=width, highlight=False, soft_wrap=False)
        self.colour = out.isatty()
        self.show_file = show_file
        self.lines = 0
        self.actions: Counter[str] = Counter()
        self.rules: Counter[str] = Counter()
        self._header = True
        # Rows (analysis) and alerts (detection) may come from different threads.
        self._lock = threading.Lock()

    def _table(self) -> Table:
        table = Table(box=box.SIMPLE_HEAD if self._header else None, show_header=self._header,
                      show_edge=False, pad_edge=False, expand=True, padding=(0, 1))
        if self.show_file:
            table.add_column("file", max_width=24, no_wrap=True, overflow="ellipsis")
        table.add_column("line", justify="right", width=7, no_wrap=True)
        table.add_column("time", width=19, no_wrap=True)
        table.add_column("action", width=22, no_wrap=True, overflow="ellipsis")
        table.add_column("outcome", width=7, no_wrap=True)
        table.add_column("message", ratio=3, no_wrap=True, overflow="ellipsis")
        table.add_column("fields", ratio=2, no_wrap=True, overflow="ellipsis")
        self._header = False
        return table

    def write(self, events: list[Event]) -> None:
        """Print one row per event and count its action."""
        if not events:
            return
        with self._lock:
            table = self._table()
            for event in events:
                self.actions[event.action] += 1
                stamp = event.timestamp
                fields = " ".join(f"{k}={visible(str(v))}" for k, v in event.fields.items())
                cells = [
                    Text(str(event.line)),
                    Text(stamp.strftime("%Y-%m-%d %H:%M:%S") if stamp is not None else "-"),
                    Text(event.action, style="" if event.action == "other" else "bold"),
                    Text(event.outcome),
                    Text(visible((event.body or event.message).strip())),
                    Text(fields, style="dim"),
                ]
                if self.show_file:
                    cells.insert(0, Text(visible(Path(event.source).name)))
                table.add_row(*cells)
            self.lines += len(events)
            self.console.print(table)

    def write_alerts(self, alerts: list[Alert]) -> None:
        """Print alerts as they are raised and count them per rule."""
        with self._lock:
            for alert in alerts:
                self.rules[alert.rule_id] += 1
            self.console.file.write("".join(render_text(alert, colour=self.colour)
                                            for alert in alerts))
            self.console.file.flush()

    def summary(self, *, alerts: bool) -> None:
        """The closing counts: lines, lines per action, and alerts per rule (with --alerts)."""
        labelled = self.lines - self.actions.get("other", 0)
        console = self.console
        console.print()
        console.print(Text(f"Lines: {self.lines:,} lines, {labelled:,} with an action, "
                           f"{self.actions.get('other', 0):,} other"))
        actions = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
        actions.add_column("action")
        actions.add_column("lines", justify="right")
        for name, count in sorted(self.actions.items(), key=lambda item: (-item[1], item[0])):
            actions.add_row(Text(name), f"{count:,}")
        console.print(actions)
        if alerts:
            console.print(Text(f"Alerts: {sum(self.rules.values()):,}"))
            if self.rules:
                rules = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
                rules.add_column("rule")
                rules.add_column("alerts", justify="right")
                for rule_id, count in sorted(self.rules.items(),
                                             key=lambda item: (-item[1], item[0])):
                    rules.add_row(Text(rule_id), f"{count:,}")
                console.print(rules)


class FileProgress:
    """A progress bar over the bytes of the input files, on stderr, with percentage and ETA.

    `advance` takes each batch's events: the offset of a file's last event is how far
    into that file analysis has come.
    """

    def __init__(self, files: list[Path], *, redirect_stdout: bool) -> None:
        self.sizes = {str(path): path.stat().st_size for path in files}
        self.done: dict[str, int] = {}
        self.progress = Progress(
            TextColumn("analyzing"), BarColumn(), TaskProgressColumn(), TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr), redirect_stdout=redirect_stdout,
            redirect_stderr=False, transient=True)
        self.task: TaskID = self.progress.add_task("analyzing", total=sum(self.sizes.values()))

    @classmethod
    def start(cls, files: list[Path], fmt: str) -> FileProgress | None:
        """A started bar, or None: only for files of some size, with stderr a terminal.

        With the table on the same terminal, rows print above the bar; JSON lines to
        a terminal get no bar (they are bytes, written past it).
        """
        if (not files or not sys.stderr.isatty() or (fmt == "jsonl" and sys.stdout.isatty())
                or not all(path.is_file() for path in files)):  # `-`: stdin has no size
            return None
        if sum(path.stat().st_size for path in files) < PROGRESS_MIN_BYTES:
            return None
        bar = cls(files, redirect_stdout=sys.stdout.isatty())
        bar.progress.start()
        return bar

    def advance(self, events: list[Event]) -> None:
        last: dict[str, int] = {}
        for event in events:
            last[event.source] = event.offset
        self.done.update(last)
        self.progress.update(self.task, completed=sum(self.done.values()))

    def stop(self) -> None:
        self.progress.stop()
