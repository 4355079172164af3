"""`logsentry run` inside an approximation of the unit's sandbox.

Without systemd as PID 1, the test rebuilds what it can of
`systemd/logsentry.service` with the same kernel features systemd uses:

- ProtectSystem=strict: the root file system is remounted read-only in a
  private mount namespace; only the state and logs directories stay writable
  (StateDirectory=, LogsDirectory=);
- ProcSubset=pid and ProtectProc=invisible: a procfs mounted with
  `subset=pid,hidepid=invisible` (no /proc/meminfo, /proc/cpuinfo, /proc/sys);
- CapabilityBoundingSet= (empty) and NoNewPrivileges=yes: setpriv drops every
  capability and sets no_new_privs;
- MemoryDenyWriteExecute=yes: the daemon's interpreter asks the kernel to refuse
  writable and executable memory (`PR_SET_MDWE`, Linux 6.3 and later; where the
  kernel lacks it, the daemon runs without it).

The daemon runs with the shipped model when the checkout has one, a file
source and a journald source (spawning a stand-in journalctl). Not
rebuilt: the system call filter and the `logsentry` user (the interpreter may
live where only root can read it). Needs root and unshare; skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_journalctl import entry, install_fake_journalctl
from tests.notify_receiver import NotifyReceiver

REPO = Path(__file__).resolve().parent.parent

LAUNCH = "import sys; from logsentry.cli import main; sys.exit(main())"
# PR_SET_MDWE (65) with PR_MDWE_REFUSE_EXEC_GAIN (1) is the kernel's own form of
# MemoryDenyWriteExecute=yes; it holds for the process and every child it starts.
SET_MDWE = "import ctypes; ctypes.CDLL(None).prctl(65, 1, 0, 0, 0) == 0 or exit(96)"

SANDBOX = """set -e
mount -t proc -o subset=pid,hidepid=invisible proc /proc
mount --bind "$SBX/state" "$SBX/state"
mount --bind "$SBX/logs" "$SBX/logs"
mount -o remount,bind,ro /
if touch "$SBX/probe" 2>/dev/null; then
  echo "sandbox: root file system still writable" >&2; exit 97
fi
test ! -e /proc/meminfo || { echo "sandbox: /proc not restricted" >&2; exit 98; }
exec setpriv --no-new-privs --inh-caps=-all --bounding-set=-all -- "$@"
"""


def _model_available() -> bool:
    try:
        from logsentry.analysis.tagger.location import default_model_dir

        default_model_dir()
    except Exception:
        return False
    return True


def _can_sandbox() -> str | None:
    """Why the sandbox cannot be built here, or None."""
    if os.geteuid() != 0:
        return "needs root (mount namespaces, procfs options)"
    for tool in ("unshare", "setpriv", "mount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         "mount -t proc -o subset=pid,hidepid=invisible proc /proc"],
        capture_output=True, text=True, timeout=30, check=False)
    if probe.returncode != 0:
        return f"cannot mount a restricted procfs here: {probe.stderr.strip()}"
    return None


SKIP_REASON = _can_sandbox()


def _kernel_has_mdwe() -> bool:
    probe = subprocess.run([sys.executable, "-c", SET_MDWE], capture_output=True, timeout=30,
                           check=False)
    return probe.returncode == 0


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[NotifyReceiver]:
    recv = NotifyReceiver(tmp_path, abstract=True)
    yield recv
    recv.close()


@pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")
def test_daemon_runs_in_the_units_sandbox(tmp_path: Path, receiver: NotifyReceiver) -> None:
    for name in ("state", "logs"):
        (tmp_path / name).mkdir()
    (tmp_path / "auth.log").write_text("")
    # The journald source spawns journalctl (here the fake) inside the sandbox.
    bin_dir, journal = install_fake_journalctl(tmp_path)
    journal.append(entry(1, _HOSTNAME="sandboxed"))
    analyzer = "model" if _model_available() else "none"
    config = tmp_path / "config.yaml"
    config.write_text(f"""
state_dir: {tmp_path}/state
sources:
  - type: file
    paths: [{tmp_path}/auth.log]
    start_at: beginning
  - type: journald
    start_at: beginning
analysis:
  analyzer: {analyzer}
sinks:
  - type: jsonl
    name: alerts
    path: {tmp_path}/logs/alerts.jsonl
  - type: jsonl
    name: events
    path: {tmp_path}/logs/events.jsonl
    routing: {{records: events}}
service:
  metrics: {{port: 0}}
""")
    script = tmp_path / "sandbox.sh"
    script.write_text(SANDBOX)
    env = dict(os.environ, SBX=str(tmp_path), NOTIFY_SOCKET=receiver.address,
               PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", FAKE_JOURNAL=str(journal.path),
               PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1", HOME=str(tmp_path / "state"),
               OMP_NUM_THREADS="2", HF_HUB_OFFLINE="1")
    launch = f"{SET_MDWE}; {LAUNCH}" if _kernel_has_mdwe() else LAUNCH
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", str(script),
             sys.executable, "-c", launch, "--log-format", "json", "run",
             "--config", str(config)],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 90
        while not receiver.with_key("READY"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no READY=1 (exit {process.returncode}): "
                                     f"{stderr_path.read_text()[-3000:]}")
            time.sleep(0.05)
        status = Path(f"/proc/{process.pid}/status").read_text()
        assert "NoNewPrivs:\t1" in status
        assert "CapEff:\t0000000000000000" in status
        # It works in there: a line is read, analyzed and written out.
        with (tmp_path / "auth.log").open("a") as log:
            log.write("Nov 26 06:00:00 web1 sshd[7]: Failed password for root from "
                      "203.0.113.9 port 4242 ssh2\n")
        events = tmp_path / "logs" / "events.jsonl"
        deadline = time.monotonic() + 60
        while not (events.exists() and "203.0.113.9" in events.read_text()
                   and '"sandboxed"' in events.read_text()):
            assert time.monotonic() < deadline, stderr_path.read_text()[-3000:]
            time.sleep(0.05)
        assert not (tmp_path / "probe").exists()
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
    assert code == 0, stderr_path.read_text()[-3000:]
    receiver.wait_for("STOPPING", "1")
