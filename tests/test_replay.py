"""`analyze --alerts` replays several inputs in event time with bounded memory."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from logsentry.analysis.config import AnalysisConfig
from logsentry.analysis.loader import load_analyzer
from logsentry.analyze import run_analyze
from logsentry.config import PipelineConfig
from logsentry.core.alert import Alert
from logsentry.core.event import Event
from logsentry.detect.config import DetectionConfig
from logsentry.detect.detector import Detector
from logsentry.pipeline import Pipeline
from logsentry.replay import EventTimeMerge
from logsentry.sources.config import FileSourceConfig
from logsentry.sources.file import FileSource

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()

# Bursts of failures per host, counted across files: which alerts fire, with which
# counts, samples and suppressed totals, depends on the order of the whole timeline.
RULES = """
rules:
  - id: test.failure-burst
    title: Failure burst
    severity: high
    select:
      where:
        message: {regex: 'Failed password'}
    group_by: [host.name]
    correlate: {type: threshold, count: 4, window: 20s}
    suppress: 30s
    summary: "{count} failures on {host.name}"
"""


def _line(at: float, host: int, word: str) -> str:
    stamp = datetime.fromtimestamp(T0 + at, UTC).isoformat()
    return f"{stamp} web-{host} sshd[{100 + host}]: {word} password for root from 10.0.0.{host}\n"


def _write_inputs(tmp_path: Path) -> list[Path]:
    """Three logs over the same hour at different paces, each in time order, with ties."""
    rng = random.Random(7)
    paces = {"a.log": 1.0, "b.log": 3.0, "c.log": 0.5}
    paths = []
    for name, pace in paces.items():
        count = int(1200 / pace)
        lines = [_line(i * pace, rng.randrange(4), rng.choice(("Failed", "Failed", "Accepted")))
                 for i in range(count)]
        path = tmp_path / name
        path.write_text("".join(lines))
        paths.append(path)
    return paths


def _whole_input_sort(paths: list[Path], rules: Path) -> list[bytes]:
    """What `analyze --alerts` did before it streamed: collect every event of every file,
    sort them all by time (stably: files in order, then lines), detect in batches of 1024."""

    async def collect() -> list[Event]:
        analysis = AnalysisConfig(analyzer="none")
        analyzer = load_analyzer(analysis)
        events: list[Event] = []

        async def keep(batch: list[Event]) -> None:
            events.extend(batch)

        for path in paths:
            source = FileSource(FileSourceConfig(name=str(path), paths=[str(path)],
                                                 start_at="beginning", follow=False), None)
            await Pipeline([source], analyzer, event_outputs=[keep],
                           config=PipelineConfig(queue_batches=8),
                           analysis=analysis).run(asyncio.Event())
        return events

    events = asyncio.run(collect())
    events.sort(key=lambda event: event.event_time)
    detector = Detector.from_config(DetectionConfig(pack="none", extra_rules=[str(rules)]), None)
    alerts: list[Alert] = []
    for start in range(0, len(events), 1024):
        alerts += detector.process(events[start : start + 1024])
    return [alert.to_json() for alert in alerts]


@pytest.mark.parametrize("window", [50_000, 64])
def test_alerts_of_interleaved_files_are_those_of_sorting_every_event(
    tmp_path: Path, capfdbinary: pytest.CaptureFixture[bytes], window: int
) -> None:
    paths = _write_inputs(tmp_path)
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    expected = _whole_input_sort(paths, rules)
    assert len(expected) > 20  # the rule fires often enough to tell orders apart

    status = asyncio.run(run_analyze(files=paths, fmt="jsonl", alerts=True, model=None,
                                     use_model=False, rules=[str(rules)], pack=False,
                                     reorder_window=window))
    assert status == 0
    printed = capfdbinary.readouterr().out.splitlines()
    # (structlog, not set up for a command here, logs to stdout as well)
    assert [line for line in printed if line.startswith(b"{")] == expected


def _events(name: str, times: list[float]) -> list[Event]:
    return [Event(message=f"{name} {i}", source=name, line=i + 1,
                  timestamp=datetime.fromtimestamp(T0 + at, UTC))
            for i, at in enumerate(times)]


def test_the_reorder_buffer_holds_its_window_plus_one_read_per_input_at_most() -> None:
    """Readers at different paces over one timeline: the inputs ahead are paused while the
    one behind catches up, so the buffer stays at the window plus one read per input,
    however long the inputs are, and what leaves is in time order."""
    rng = random.Random(3)
    streams = {
        "dense": _events("dense", [i * 0.1 for i in range(20_000)]),
        "sparse": _events("sparse", [i * 10.0 for i in range(200)]),
        "late-start": _events("late-start", [1000 + i for i in range(1000)]),
    }
    window, read = 100, 25
    merge = EventTimeMerge(list(streams), window)
    positions = dict.fromkeys(streams, 0)
    released: list[Event] = []
    held_most = 0
    while any(positions[name] < len(events) for name, events in streams.items()):
        # A reader whose gate is open reads a batch (readers race: any of them may).
        ready = [name for name, events in streams.items()
                 if positions[name] < len(events) and merge.inputs[name].gate.is_set()]
        assert ready, "every reader paused: the merge would wait for ever"
        name = rng.choice(ready)
        start = positions[name]
        batch = streams[name][start : start + rng.randint(1, read)]
        positions[name] += len(batch)
        released += merge.push(batch)
        held_most = max(held_most, len(merge))
        if positions[name] == len(streams[name]):
            released += merge.end_input(name, positions[name])
        merge.update_gates()
    released += merge.drain()

    assert merge.peak <= window + len(streams) * read
    assert held_most <= window + len(streams) * read
    everything = [event for events in streams.values() for event in events]
    order = {name: index for index, name in enumerate(streams)}
    assert released == sorted(everything, key=lambda e: (e.event_time, order[e.source], e.line))
    assert merge.late == 0


def test_an_input_whose_clock_goes_back_further_than_the_window_loses_no_event() -> None:
    """A log concatenated with itself: the second copy comes after the first left the
    buffer; its events are replayed where they arrive (as the daemon sees them) and
    counted as late, none dropped."""
    copy = [float(i) for i in range(500)]
    events = _events("twice", copy + copy)
    merge = EventTimeMerge(["twice"], window=50)
    released: list[Event] = []
    for start in range(0, len(events), 10):
        released += merge.push(events[start : start + 10])
    released += merge.end_input("twice", len(events))
    released += merge.drain()
    assert sorted(e.line for e in released) == list(range(1, 1001))
    assert merge.late > 0
    assert merge.peak <= 60
