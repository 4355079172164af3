"""`logsentry run` as systemd runs it: a real subprocess and a real NOTIFY_SOCKET.

One daemon start covers the service contract end to end: READY=1 once the
sources are open, watchdog pings, STATUS= lines, `/metrics` and `/readyz` over
HTTP, journal entries (from a fake journalctl) delivered with their envelope
fields, RELOADING=1 then READY=1 around SIGHUP (for a good and a bad
configuration), STOPPING=1 and exit status 0 on SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_journalctl import entry, install_fake_journalctl
from tests.notify_receiver import NotifyReceiver

REPO = Path(__file__).resolve().parent.parent

# The daemon starts under NoNewPrivileges=, as the unit asks.
LAUNCH = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
from logsentry.cli import main
sys.exit(main())
"""


def config_text(tmp: Path, extra_source: str = "") -> str:
    return f"""
state_dir: {tmp}/state
sources:
  - type: journald
    name: journal
    start_at: beginning
    restart_delay: 0.1
  - type: file
    paths: [{tmp}/auth.log]
    start_at: beginning
{extra_source}
analysis:
  analyzer: none
detection:
  enabled: false
sinks:
  - type: jsonl
    path: {tmp}/events.jsonl
    routing: {{records: events}}
service:
  metrics: {{port: 0}}
  status_interval: 0.2
"""


class DaemonProcess:
    def __init__(self, tmp: Path, receiver: NotifyReceiver) -> None:
        bin_dir, self.journal = install_fake_journalctl(tmp)
        self.journal.append(entry(1), entry(2, _HOSTNAME="db3"))
        (tmp / "auth.log").write_text("Nov 26 06:00:00 web1 sshd[1]: Connection closed\n")
        self.config = tmp / "config.yaml"
        self.config.write_text(config_text(tmp))
        self.stderr_path = tmp / "stderr.log"
        env = dict(os.environ)
        env.update(
            NOTIFY_SOCKET=receiver.address,
            WATCHDOG_USEC="1000000",
            PATH=f"{bin_dir}{os.pathsep}{env['PATH']}",
            FAKE_JOURNAL=str(self.journal.path),
            PYTHONPATH=str(REPO),
        )
        # systemd also sets WATCHDOG_PID; the pid is unknown before the spawn.
        env.pop("WATCHDOG_PID", None)
        with self.stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-c", LAUNCH, "--log-format", "json", "run", "--config",
                 str(self.config)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=env,
                cwd=tmp)

    def logs(self) -> list[dict[str, object]]:
        out = []
        for line in self.stderr_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out

    def url(self) -> str:
        for record in self.logs():
            if record.get("event") == "monitoring_listening":
                return str(record["url"])
        raise AssertionError("no monitoring_listening log line")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[NotifyReceiver]:
    recv = NotifyReceiver(tmp_path, abstract=True)
    yield recv
    recv.close()


def wait_until(predicate: object, timeout: float = 15.0) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def keys_in_order(receiver: NotifyReceiver) -> list[str]:
    """RELOADING/READY/STOPPING notifications in arrival order."""
    order = []
    for _, message in receiver.all():
        for key in ("RELOADING", "READY", "STOPPING"):
            if key in message:
                order.append(key)
    return order


def test_daemon_speaks_the_systemd_service_protocol(
    tmp_path: Path, receiver: NotifyReceiver,
) -> None:
    daemon = DaemonProcess(tmp_path, receiver)
    try:
        ready = receiver.wait_for("READY", "1", timeout=60)[0]
        assert ready["MAINPID"] == str(daemon.process.pid)
        status = Path(f"/proc/{daemon.process.pid}/status").read_text()
        assert "NoNewPrivs:\t1" in status
        started = time.monotonic()

        # Readiness and metrics over HTTP from the running daemon.
        url = daemon.url()
        with urllib.request.urlopen(url + "/readyz", timeout=5) as response:
            assert response.status == 200
        events = tmp_path / "events.jsonl"
        wait_until(lambda: events.exists() and len(events.read_text().splitlines()) >= 3)
        with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
            metrics = response.read().decode()
        assert 'logsentry_lines_read_total{source="journal"} 2.0' in metrics

        # Journal entries arrive with their envelope fields and their own time.
        docs = [json.loads(line) for line in events.read_text().splitlines()]
        journal_docs = [d for d in docs if d["message"].startswith("Failed password")]
        assert {d["host"]["name"] for d in journal_docs} == {"web1", "db3"}
        assert journal_docs[0]["process"] == {"name": "sshd", "pid": 4001}
        assert journal_docs[0]["@timestamp"].startswith("2026-11-26T06:15:30")

        # Watchdog pings and STATUS= lines flow while it runs.
        receiver.wait_for("WATCHDOG", "1", count=2, timeout=10)
        wait_until(lambda: any("lines/s" in m.get("STATUS", "") for _, m in receiver.all()))

        # SIGHUP with a good configuration: RELOADING=1, then READY=1.
        (tmp_path / "second.log").write_text("")
        daemon.config.write_text(config_text(
            tmp_path, f"  - type: file\n    paths: [{tmp_path}/second.log]\n"))
        daemon.process.send_signal(signal.SIGHUP)
        wait_until(lambda: keys_in_order(receiver)[-2:] == ["RELOADING", "READY"])
        reloaded = receiver.with_key("READY")[-1][1]
        assert "reload failed" not in reloaded.get("STATUS", "")
        wait_until(lambda: any(r.get("event") == "configuration_reloaded"
                               for r in daemon.logs()))

        # SIGHUP with a broken configuration: still READY=1, status says why.
        daemon.config.write_text("sources: [{type: nonsense}]\n")
        daemon.process.send_signal(signal.SIGHUP)
        wait_until(lambda: keys_in_order(receiver).count("RELOADING") == 2
                   and keys_in_order(receiver)[-1] == "READY")
        assert "reload failed" in receiver.with_key("READY")[-1][1]["STATUS"]
        with urllib.request.urlopen(url + "/readyz", timeout=5) as response:
            assert response.status == 200
        assert daemon.process.poll() is None
        assert time.monotonic() - started < 60
    finally:
        status = daemon.stop()
    assert status == 0
    assert keys_in_order(receiver)[-1] == "STOPPING"
    assert receiver.with_key("STOPPING")[-1][1]["STATUS"].startswith("stopping")


def test_a_line_written_right_after_ready_is_read(tmp_path: Path,
                                                   receiver: NotifyReceiver) -> None:
    """READY=1 means the sources are open: a line logged at that instant is not skipped."""
    log_file = tmp_path / "app.log"
    log_file.write_text("written before the start: skipped (start_at: end)\n")
    config = tmp_path / "config.yaml"
    config.write_text(f"""
state_dir: {tmp_path}/state
sources: [{{type: file, paths: [{log_file}], start_at: end}}]
analysis: {{analyzer: none}}
detection: {{enabled: false}}
sinks: [{{type: jsonl, path: {tmp_path}/events.jsonl, routing: {{records: events}}}}]
service: {{metrics: {{enabled: false}}}}
""")
    env = dict(os.environ, NOTIFY_SOCKET=receiver.address, PYTHONPATH=str(REPO))
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "run", "--config", str(config)],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        receiver.wait_for("READY", "1", timeout=60)
        with log_file.open("a") as log:
            log.write("written at READY\n")
        events = tmp_path / "events.jsonl"
        wait_until(lambda: events.exists() and "written at READY" in events.read_text())
        assert "before the start" not in events.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
