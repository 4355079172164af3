"""The shipped systemd files: unit, sysusers.d, tmpfiles.d, example configuration.

`systemd-analyze verify` insists that ExecStart's binary exists, and the unit
points at /opt/logsentry/venv/bin/logsentry, which a test machine lacks. So
the unit is verified unchanged inside a scratch root (`--root=`) holding the
unit, an executable at the ExecStart path, /bin/kill for ExecReload and the
host's own system units (for the dependencies).
"""

from __future__ import annotations

import configparser
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from logsentry.cli import build_parser
from logsentry.config import load_config

SYSTEMD_DIR = Path(__file__).resolve().parent.parent / "systemd"
UNIT = SYSTEMD_DIR / "logsentry.service"
ANALYZE = shutil.which("systemd-analyze")
HOST_UNITS = next((p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))
                   if (p / "sysinit.target").exists()), None)


def unit_settings() -> dict[str, list[str]]:
    """Every Key=value of the unit, values of repeated keys in order."""
    settings: dict[str, list[str]] = {}
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key, []).append(value)
    return settings


def test_unit_declares_the_service_contract() -> None:
    s = unit_settings()
    assert s["Type"] == ["notify"]
    assert s["NotifyAccess"] == ["main"]
    exec_start = s["ExecStart"][0].split()
    assert exec_start[0] == "/opt/logsentry/venv/bin/logsentry"
    # The command line is one the real CLI accepts.
    args = build_parser().parse_args(exec_start[1:])
    assert (args.command, args.config, args.log_format) == (
        "run", "/etc/logsentry/config.yaml", "json")
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["WatchdogSec"] and s["Restart"] == ["on-failure"]
    assert s["User"] == ["logsentry"]
    assert s["SupplementaryGroups"] == ["adm systemd-journal"]
    for key in ("StateDirectory", "ConfigurationDirectory", "LogsDirectory"):
        assert s[key] == ["logsentry"]
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp", "PrivateDevices",
                "ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs",
                "ProtectControlGroups", "RestrictNamespaces", "RestrictSUIDSGID",
                "LockPersonality", "MemoryDenyWriteExecute"):
        assert s[key] == ["yes"], key
    assert s["ProtectSystem"] == ["strict"]
    assert s["CapabilityBoundingSet"] == [""]
    assert s["SystemCallFilter"][0] == "@system-service"
    assert s["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]
    assert s["MemoryMax"]
    # The unit parses as an INI file (no stray continuation lines).
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNIT)
    assert set(parser.sections()) == {"Unit", "Service", "Install"}


def verify_in_scratch_root(root: Path, unit_text: str) -> subprocess.CompletedProcess[str]:
    """`systemd-analyze verify` of `unit_text` installed in a scratch root."""
    assert ANALYZE is not None and HOST_UNITS is not None
    exec_start = unit_settings()["ExecStart"][0].split()[0]
    binary = root / exec_start.lstrip("/")
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")
    binary.chmod(0o755)
    (root / "bin").mkdir()
    shutil.copy(shutil.which("kill") or "/bin/kill", root / "bin" / "kill")
    shutil.copytree(HOST_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    installed = root / "etc/systemd/system/logsentry.service"
    installed.parent.mkdir(parents=True)
    installed.write_text(unit_text)
    return subprocess.run([ANALYZE, "verify", f"--root={root}", str(installed)],
                          capture_output=True, text=True, timeout=60, check=False)


needs_analyze = pytest.mark.skipif(
    ANALYZE is None or HOST_UNITS is None,
    reason="systemd-analyze or the host's systemd unit directory is missing")


@needs_analyze
def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    result = verify_in_scratch_root(tmp_path / "root", UNIT.read_text())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "" and result.stderr.strip() == "", result.stderr


@needs_analyze
def test_the_verify_check_catches_a_broken_unit(tmp_path: Path) -> None:
    broken = UNIT.read_text().replace("ProtectSystem=strict", "ProtectSystm=strict")
    result = verify_in_scratch_root(tmp_path / "root", broken)
    assert "ProtectSystm" in result.stderr


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_security_exposure_is_at_most_2() -> None:
    assert ANALYZE is not None
    result = subprocess.run([ANALYZE, "security", "--offline=true", "--no-pager", str(UNIT)],
                            capture_output=True, text=True, timeout=60, check=False)
    match = re.search(r"Overall exposure level for logsentry\.service: (\d+\.\d+)",
                      result.stdout + result.stderr)
    if match is None and "--offline" in result.stderr:
        pytest.skip(f"this systemd-analyze lacks --offline: {result.stderr.strip()}")
    assert match is not None, result.stdout + result.stderr
    assert float(match.group(1)) <= 2.0


@pytest.mark.skipif(os.geteuid() != 0, reason="systemd-sysusers/tmpfiles --root need root")
@pytest.mark.skipif(shutil.which("systemd-sysusers") is None
                    or shutil.which("systemd-tmpfiles") is None,
                    reason="systemd-sysusers/systemd-tmpfiles are not installed")
def test_sysusers_and_tmpfiles_create_the_user_and_directories(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    for name in ("passwd", "group"):
        shutil.copy(f"/etc/{name}", root / "etc" / name)
    for kind in ("sysusers.d", "tmpfiles.d"):
        target = root / "usr/lib" / kind
        target.mkdir(parents=True)
        shutil.copy(SYSTEMD_DIR / kind / "logsentry.conf", target / "logsentry.conf")
    subprocess.run(["systemd-sysusers", f"--root={root}", "logsentry.conf"], check=True,
                   capture_output=True, timeout=60)
    passwd = (root / "etc/passwd").read_text()
    user = next(line for line in passwd.splitlines() if line.startswith("logsentry:"))
    uid = int(user.split(":")[2])
    assert user.endswith(":/var/lib/logsentry:/usr/sbin/nologin")
    subprocess.run(["systemd-tmpfiles", f"--root={root}", "--create", "logsentry.conf"],
                   check=True, capture_output=True, timeout=60)
    state = (root / "var/lib/logsentry").stat()
    assert state.st_uid == uid and state.st_mode & 0o777 == 0o750
    assert (root / "var/log/logsentry").stat().st_uid == uid
    assert (root / "etc/logsentry").stat().st_uid == 0


def test_the_example_configuration_is_valid() -> None:
    config = load_config(SYSTEMD_DIR / "config.example.yaml")
    assert config.state_dir == Path("/var/lib/logsentry")
    assert {source.type for source in config.sources} == {"file", "journald"}
    assert config.service.metrics.address == "127.0.0.1"
