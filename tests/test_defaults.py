"""The built-in default and the bundled demo: what a new user sees first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from logsentry import defaults
from logsentry.sources.config import FileSourceConfig


def test_builtin_default_follows_the_standard_logs_that_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = tmp_path / "auth.log"
    auth.touch()
    monkeypatch.setattr(defaults, "STANDARD_LOGS", (str(auth), str(tmp_path / "secure")))
    config = defaults.builtin_config()
    assert len(config.sources) == 1
    source = config.sources[0]
    assert isinstance(source, FileSourceConfig)
    assert source.paths == [str(auth)]
    assert [sink.type for sink in config.sinks] == ["stdout"]


def test_builtin_default_has_no_sources_on_a_machine_without_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(defaults, "STANDARD_LOGS", (str(tmp_path / "none.log"),))
    assert defaults.builtin_config().sources == []


def test_demo_replays_the_sample_attacks_into_alerts() -> None:
    result = subprocess.run([sys.executable, "-m", "logsentry.cli", "demo"],
                            capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    alerts = [orjson.loads(line) for line in result.stdout.splitlines()]
    rules = {alert["rule"]["id"] for alert in alerts}
    assert "auth.ssh-brute-force" in rules
    assert all(alert["event"]["kind"] == "alert" for alert in alerts)
    brute = next(a for a in alerts if a["rule"]["id"] == "auth.ssh-brute-force")
    assert brute["source"]["ip"] == "203.0.113.7"


def _with_stdout_closed(*args: str) -> subprocess.CompletedProcess[bytes]:
    """Run the command with the reader of its stdout already gone, like `| head -0`."""
    process = subprocess.Popen([sys.executable, "-m", "logsentry.cli", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.close()
    _, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, b"", stderr)


def test_demo_into_a_closed_pipe_ends_quietly_with_status_0() -> None:
    result = _with_stdout_closed("demo")
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert result.stderr == b""


@pytest.mark.parametrize("fmt", ["table", "jsonl"])
def test_analyze_into_a_closed_pipe_ends_quietly_with_status_0(tmp_path: Path, fmt: str) -> None:
    log = tmp_path / "auth.log"
    log.write_text("Nov 26 06:00:01 web-1 sshd[42]: Failed password for root from "
                   "203.0.113.7 port 52311 ssh2\n" * 5000)
    result = _with_stdout_closed("analyze", "--no-model", "--format", fmt, str(log))
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    assert result.stderr == b""
