"""A crash changes no alert: the daemon SIGKILLed at random moments, restarted each time.

A real `logsentry run` follows a log file that keeps growing, with a JSON-lines
alert sink behind the spool. Many sources cross a brute-force threshold (5
failures) in interleaved waves, so crossings fall around every kill point; some
go on failing inside the rule's suppression window. Each seed kills the daemon
a few times while lines arrive, then lets a last run read to the end. Its
alerts must be exactly those of a run without kills: the same sources alerted,
the same alert ids (a redelivered alert has its id), no second alert inside
the suppression window.

`LOGSENTRY_CRASH_SEEDS` and `LOGSENTRY_CRASH_KILLS` scale it up (the suite
runs 2 seeds x 3 kills; the figures in the changelog come from 10 x 5).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
import yaml

from tests.crash_harness import alert_diff, jsonl_docs, start_daemon

SEEDS = int(os.environ.get("LOGSENTRY_CRASH_SEEDS", "2"))
KILLS = int(os.environ.get("LOGSENTRY_CRASH_KILLS", "3"))
SOURCES = 60
WAVE = 12  # sources failing at the same time, their lines interleaved
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC).timestamp()
END = "end-of-input"

RULE = """
id: t.crash-brute
title: Brute force
severity: high
select: {action: login_failed}
group_by: [host.name]
correlate: {type: threshold, count: 5, window: 2m}
suppress: 10m
summary: "{count} failures from {host.name}"
"""


def attack_lines() -> list[str]:
    """Every source fails 6 times (one alert); every third 11 times (one alert, and five
    failures inside the suppression window that must not raise a second)."""
    lines: list[str] = []
    for wave in range(0, SOURCES, WAVE):
        pending = {f"src-{n}": 11 if n % 3 == 0 else 6 for n in range(wave, wave + WAVE)}
        while pending:
            for name in list(pending):
                stamp = datetime.fromtimestamp(T0 + len(lines) * 0.1, UTC).isoformat()
                lines.append(f'{stamp} {name} app[1]: {{"action":"login_failed","n":{len(lines)}}}')
                pending[name] -= 1
                if not pending[name]:
                    del pending[name]
    stamp = datetime.fromtimestamp(T0 + len(lines) * 0.1, UTC).isoformat()
    return [*lines, f"{stamp} done app[1]: {END}"]


@dataclass
class Run:
    """One daemon's files: its configuration, input, alerts and events out."""

    folder: Path

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True)
        self.log = self.folder / "app.log"
        self.alerts = self.folder / "alerts.jsonl"
        self.events = self.folder / "events.jsonl"
        self.config = self.folder / "config.yaml"
        (self.folder / "rules.yaml").write_text(RULE)
        self.config.write_text(yaml.safe_dump({
            "state_dir": str(self.folder / "state"),
            "sources": [{"type": "file", "name": "app", "paths": [str(self.log)],
                         "start_at": "beginning", "poll_interval": 0.05}],
            "analysis": {"analyzer": "none"},
            "detection": {"pack": "none", "extra_rules": [str(self.folder / "rules.yaml")],
                          "persist_interval": 1.0},
            "sinks": [
                {"type": "jsonl", "name": "alerts", "path": str(self.alerts)},
                {"type": "jsonl", "name": "events", "path": str(self.events),
                 "routing": {"records": "events"}},
            ],
            "pipeline": {"commit_interval": 0.1},
            "service": {"metrics": {"enabled": False}},
        }))
        self.log.touch()
        self.starts = 0

    def start(self) -> subprocess.Popen[bytes]:
        self.starts += 1
        return start_daemon(self.config, self.folder / f"stderr{self.starts}")

    def wait_started(self, daemon: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
        """Wait until the daemon says it started (its sources are open)."""
        deadline = time.monotonic() + timeout
        stderr = self.folder / f"stderr{self.starts}"
        while b'"event": "started"' not in stderr.read_bytes():
            assert daemon.poll() is None, self.stderr()
            assert time.monotonic() < deadline, "the daemon did not start"
            time.sleep(0.02)

    def write(self, lines: list[str]) -> None:
        with open(self.log, "a") as handle:
            handle.writelines(line + "\n" for line in lines)

    def finish(self, daemon: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
        """Wait until this daemon has read, detected and committed the whole file (its
        checkpoint says so), then stop it gracefully."""
        self.wait_started(daemon)
        deadline = time.monotonic() + timeout
        while self.checkpointed() < self.log.stat().st_size:
            assert daemon.poll() is None, self.stderr()
            assert time.monotonic() < deadline, "the input was not read to its end"
            time.sleep(0.05)
        assert END.encode() in _tail(self.events)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0, self.stderr()

    def checkpointed(self) -> int:
        """The offset in the input that the detection checkpoint reflects."""
        try:
            doc = orjson.loads((self.folder / "state" / "detection.json").read_bytes())
        except FileNotFoundError:
            return 0
        files = doc["positions"]["app"]["files"]
        return max((entry["offset"] for entry in files.values()), default=0)

    def alerted(self) -> list[tuple[str, str]]:
        """(source, alert id) of every alert line the sink received, repeats included."""
        return [(doc["host"]["name"], doc["event"]["id"]) for doc in jsonl_docs(self.alerts)]

    def stderr(self) -> str:
        return "\n".join((self.folder / f"stderr{n}").read_text()[-3000:]
                         for n in range(1, self.starts + 1))


def _tail(path: Path) -> bytes:
    if not path.exists():
        return b""
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - 4096))
        return handle.read()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    """The alerts of a run without kills."""
    run = Run(tmp_path_factory.mktemp("reference") / "run")
    run.write(attack_lines())
    daemon = run.start()
    try:
        run.finish(daemon)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    alerted = run.alerted()
    assert len(alerted) == len(set(alerted)) == SOURCES  # one alert per source
    return set(alerted)


def crash_run(folder: Path, seed: int, kills: int) -> list[tuple[str, str]]:
    """Write the attack at a steady pace while killing the daemon `kills` times at random
    moments (restarting it after each), then let a last run read to the end."""
    rng = random.Random(seed)
    run = Run(folder)
    lines = attack_lines()
    # Lines arrive through all the kills, while the daemon is up and while it is down.
    pace = rng.uniform(4.0, 5.0) * max(1, kills) / len(lines)  # seconds per line
    writer = threading.Thread(target=_write_paced, args=(run, lines, pace, rng), daemon=True)
    daemon = run.start()
    writer.start()
    try:
        for _ in range(kills):
            run.wait_started(daemon)
            # Before the first checkpoint, or after one or two (every second).
            time.sleep(rng.uniform(0.2, 3.0))
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
            time.sleep(rng.uniform(0.0, 0.3))
            daemon = run.start()
        writer.join()
        run.finish(daemon)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    return run.alerted()


def _write_paced(run: Run, lines: list[str], pace: float, rng: random.Random) -> None:
    index = 0
    while index < len(lines):
        chunk = rng.randint(1, 8)
        run.write(lines[index:index + chunk])
        index += chunk
        time.sleep(pace * chunk)


@pytest.mark.parametrize("seed", range(SEEDS))
def test_sigkill_at_random_moments_changes_no_alert(
        tmp_path: Path, reference: set[tuple[str, str]], seed: int) -> None:
    diff = alert_diff(reference, crash_run(tmp_path / "run", seed, KILLS))
    lost = sorted(source for source, _ in diff.lost)
    assert not lost, f"seed {seed}: sources never alerted after the kills: {lost}"
    assert not diff.extra, (
        f"seed {seed}: alerts a run without kills did not raise: {sorted(diff.extra)}")
    # Suppression held across the kills: one alert id per source, whatever was redelivered.
    assert diff.most_per_key == 1
