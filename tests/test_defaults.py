"""The built-in default and the bundled demo: what a new user sees first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from logsentry import defaults
from logsentry.sources.config import FileSourceConfig, JournaldSourceConfig
from tests.fake_journalctl import entry, install_fake_journalctl


def test_builtin_default_follows_the_standard_logs_that_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = tmp_path / "auth.log"
    auth.touch()
    monkeypatch.setattr(defaults, "AUTH_LOGS", (str(auth), str(tmp_path / "secure")))
    monkeypatch.setattr(defaults, "STANDARD_LOGS", defaults.AUTH_LOGS)
    config = defaults.builtin_config()
    assert len(config.sources) == 1
    source = config.sources[0]
    assert isinstance(source, FileSourceConfig)
    assert source.paths == [str(auth)]
    assert [sink.type for sink in config.sinks] == ["stdout"]


def test_builtin_default_has_no_sources_on_a_machine_without_logs_or_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(defaults, "STANDARD_LOGS", (str(tmp_path / "none.log"),))
    monkeypatch.setenv("PATH", str(tmp_path))  # no journalctl
    assert defaults.builtin_config().sources == []


def test_builtin_default_reads_the_journal_from_its_end_when_the_auth_logs_are_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    syslog = tmp_path / "syslog"
    syslog.touch()
    monkeypatch.setattr(defaults, "AUTH_LOGS", (str(tmp_path / "auth.log"),))
    monkeypatch.setattr(defaults, "STANDARD_LOGS", (*defaults.AUTH_LOGS, str(syslog)))
    bin_dir, _ = install_fake_journalctl(tmp_path)
    monkeypatch.setenv("PATH", str(bin_dir))
    file_source, journal = defaults.builtin_config().sources
    assert isinstance(file_source, FileSourceConfig) and file_source.paths == [str(syslog)]
    assert isinstance(journal, JournaldSourceConfig)
    assert (journal.start_at, journal.follow, journal.units) == ("end", True, [])


LAUNCH_BUILTIN = """
import sys
from pathlib import Path
from logsentry import defaults
from logsentry.service.config import ServiceConfig

# This machine's own logs stay out of it; everything else is the built-in default.
tmp = Path(sys.argv[1])
defaults.AUTH_LOGS = (str(tmp / "auth.log"), str(tmp / "secure"))
defaults.STANDARD_LOGS = (*defaults.AUTH_LOGS, str(tmp / "syslog"))
defaults.DEFAULT_STATE_DIR = tmp / "state"
builtin = defaults.builtin_config
no_metrics = ServiceConfig.model_validate({"metrics": {"enabled": False}})
defaults.builtin_config = lambda: builtin().model_copy(update={"service": no_metrics})
from logsentry.cli import main
sys.exit(main(["--log-format", "json", "run"]))
"""


def _failed_logins(first: int, ip: str) -> list[dict[str, object]]:
    return [entry(first + n, f"Failed password for root from {ip} port {40000 + n} ssh2")
            for n in range(6)]


def test_run_without_a_config_follows_the_journal_as_a_daemon_and_keeps_its_cursor(
    tmp_path: Path,
) -> None:
    bin_dir, journal = install_fake_journalctl(tmp_path)
    journal.append(*_failed_logins(1, "198.51.100.1"))  # before the start: not read
    env = {k: v for k, v in os.environ.items() if k != "LOGSENTRY_CONFIG"}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", FAKE_JOURNAL=str(journal.path))
    stderr_path = tmp_path / "stderr"
    with stderr_path.open("wb") as stderr:
        daemon = subprocess.Popen([sys.executable, "-c", LAUNCH_BUILTIN, str(tmp_path)],
                                  stdout=subprocess.PIPE, stderr=stderr, env=env)
    try:
        deadline = time.monotonic() + 90
        while b'"event": "started"' not in stderr_path.read_bytes():
            assert daemon.poll() is None, stderr_path.read_text()
            assert time.monotonic() < deadline, stderr_path.read_text()
            time.sleep(0.1)
        # journalctl takes "the end" when it starts: append only after that.
        while not journal.invocations():
            assert time.monotonic() < deadline, stderr_path.read_text()
            time.sleep(0.05)
        time.sleep(1.0)
        journal.append(*_failed_logins(101, "203.0.113.9"))
        assert daemon.stdout is not None
        alert = orjson.loads(daemon.stdout.readline())
        assert alert["rule"]["id"] == "auth.ssh-brute-force"
        assert alert["source"]["ip"] == "203.0.113.9"
        time.sleep(1.0)
        assert daemon.poll() is None  # a daemon: it did not replay a demo and exit
        daemon.send_signal(signal.SIGTERM)
        rest, _ = daemon.communicate(timeout=30)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    assert daemon.returncode == 0
    assert b"198.51.100.1" not in rest
    printed = stderr_path.read_text()
    assert "following: the systemd journal (from its end" in printed
    (cursor_file,) = (tmp_path / "state").glob("cursor-journald-*.json")
    assert orjson.loads(cursor_file.read_bytes())["cursor"] == entry(106)["__CURSOR"]
    assert all("--after-cursor" not in argv and "--lines=all" not in argv
               for argv in journal.invocations())


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
