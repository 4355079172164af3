"""Active response with the real peers: `logsentry run` as a subprocess, Debian's
crowdsec-custom-bouncer and crowdsec-firewall-bouncer, and `nft` in a private network
namespace. Skipped, with the reason, where a peer is not installed or namespaces are
not allowed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers.ports import free_port, wait_for_port

REPO = Path(__file__).resolve().parent.parent
CUSTOM_BOUNCER = shutil.which("crowdsec-custom-bouncer")
FIREWALL_BOUNCER = shutil.which("crowdsec-firewall-bouncer")
NFT = shutil.which("nft")


def wait(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Seconds until `predicate()` held; fails the test after `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"{what}: not within {timeout}s")


def failed_logins(ip: str, count: int = 6) -> str:
    return "".join(
        f"Dec  7 10:00:{i:02d} web1 sshd[{4000 + i}]: Failed password for root from {ip} "
        f"port {40000 + i} ssh2\n" for i in range(count))


class Daemon:
    """`logsentry run` on a file source with active response configured."""

    def __init__(self, tmp: Path, respond: str, prefix: list[str] | None = None) -> None:
        self.tmp = tmp
        self.log = tmp / "auth.log"
        self.log.touch()
        self.config = tmp / "config.yaml"
        self.config.write_text(f"""
state_dir: {tmp}/state
sources:
  - type: file
    paths: [{self.log}]
    start_at: beginning
sinks:
  - type: jsonl
    path: {tmp}/alerts.jsonl
service:
  metrics: {{port: 0}}
respond:
{respond}
""")
        self.prefix = prefix or []
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        with (self.tmp / "daemon.log").open("ab") as stderr:  # the child keeps its copy
            self.process = subprocess.Popen(
                [*self.prefix, sys.executable, "-m", "logsentry.cli", "--log-format", "json",
                 "run", "--config", str(self.config)],
                env=env, stdout=subprocess.DEVNULL, stderr=stderr)

    def append(self, text: str) -> None:
        with self.log.open("a") as handle:
            handle.write(text)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "logsentry.cli", *args, "--config", str(self.config)],
            env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
            check=False)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()


class CustomBouncer:
    """crowdsec-custom-bouncer calling a script that records each call."""

    def __init__(self, tmp: Path, port: int, key: str, address: str = "127.0.0.1") -> None:
        self.calls = tmp / f"calls-{uuid.uuid4().hex[:6]}.txt"
        script = tmp / "record.sh"
        script.write_text(f'#!/bin/sh\necho "$@" >> {self.calls}\n')
        script.chmod(0o755)
        config = tmp / f"bouncer-{uuid.uuid4().hex[:6]}.yaml"
        config.write_text(f"""
bin_path: {script}
feed_via_stdin: false
total_retries: 0
scenarios_containing: []
scenarios_not_containing: []
origins: []
piddir: {tmp}/
update_frequency: 200ms
cache_retention_duration: 1s
daemonize: false
log_mode: stdout
log_level: info
api_url: http://{address}:{port}/
api_key: {key}
prometheus:
  enabled: false
""")
        self.process = subprocess.Popen([str(CUSTOM_BOUNCER), "-c", str(config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def lines(self) -> list[str]:
        return self.calls.read_text().splitlines() if self.calls.exists() else []

    def called(self, verb: str, ip: str) -> bool:
        return any(line.startswith(f"{verb} {ip} ") for line in self.lines())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


@pytest.fixture
def daemon_with_api(request: pytest.FixtureRequest,
                    tmp_path: Path) -> Iterator[tuple[Daemon, int, str]]:
    # Short bans by default, so that expiry is seen; a test may ask for longer ones.
    duration = getattr(request, "param", "12s")
    port = free_port()
    daemon = Daemon(tmp_path, f"""  enabled: true
  duration: {duration}
  allowlist: [198.51.100.0/24]
  lapi: {{port: {port}}}""")
    added = daemon.cli("bouncers", "add", "custom")
    assert added.returncode == 0, added.stderr
    daemon.start()
    try:
        wait_for_port(port, timeout=60)
        yield daemon, port, added.stdout.strip()
    finally:
        daemon.stop()


@pytest.mark.skipif(CUSTOM_BOUNCER is None, reason="crowdsec-custom-bouncer is not installed")
def test_custom_bouncer_enforces_bans_deletes_and_expiry(
        daemon_with_api: tuple[Daemon, int, str], tmp_path: Path) -> None:
    daemon, port, key = daemon_with_api
    bouncer = CustomBouncer(tmp_path, port, key)
    try:
        daemon.append(failed_logins("203.0.113.50"))
        wait(lambda: bouncer.called("add", "203.0.113.50"), 30, "ban reaches the bouncer")
        alerts = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
        assert any(a["logsentry"].get("decision", {}).get("value") == "203.0.113.50"
                   for a in alerts)
        deleted = daemon.cli("decisions", "delete", "--ip", "203.0.113.50")
        assert deleted.returncode == 0, deleted.stderr
        wait(lambda: bouncer.called("del", "203.0.113.50"), 10, "manual delete")
        daemon.append(failed_logins("2001:db8:77::5"))
        wait(lambda: bouncer.called("add", "2001:db8:77::5"), 30, "IPv6 ban")
        # Allowlisted: alerted, never banned.
        daemon.append(failed_logins("198.51.100.9"))
        wait(lambda: "198.51.100.9" in (tmp_path / "alerts.jsonl").read_text(), 30, "alert")
        time.sleep(1)
        assert not bouncer.called("add", "198.51.100.9")
        # Expiry: the 12 s ban of the IPv6 attacker ends on its own.
        wait(lambda: bouncer.called("del", "2001:db8:77::5"), 30, "expiry")
    finally:
        bouncer.stop()


@pytest.mark.skipif(CUSTOM_BOUNCER is None, reason="crowdsec-custom-bouncer is not installed")
@pytest.mark.parametrize("daemon_with_api", ["1h"], indirect=True)
def test_decisions_survive_a_sigkill_and_reach_a_bouncer_that_connects_late(
        daemon_with_api: tuple[Daemon, int, str], tmp_path: Path) -> None:
    daemon, port, key = daemon_with_api
    daemon.append(failed_logins("203.0.113.60"))
    wait(lambda: "203.0.113.60" in daemon.cli("decisions", "list").stdout, 30, "decision")
    daemon.kill()
    daemon.start()
    wait_for_port(port, timeout=60)
    late = CustomBouncer(tmp_path, port, key)
    try:
        wait(lambda: late.called("add", "203.0.113.60"), 10, "startup=true after restart")
    finally:
        late.stop()


def netns_available() -> str | None:
    if NFT is None or shutil.which("ip") is None:
        return "nft or ip is not installed"
    name = f"lsprobe{os.getpid()}"
    probe = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True,
                           check=False)
    if probe.returncode != 0:
        return f"network namespaces are not allowed here: {probe.stderr.strip()}"
    listed = subprocess.run(["ip", "netns", "exec", name, "nft", "list", "ruleset"],
                            capture_output=True, text=True, check=False)
    subprocess.run(["ip", "netns", "del", name], check=False)
    if listed.returncode != 0:
        return f"nft cannot run in a namespace here: {listed.stderr.strip()}"
    return None


NETNS_SKIP = netns_available()


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"lstest{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def set_elements(netns: str, table: str, name: str, family: str = "inet") -> list[str]:
    listed = subprocess.run(["ip", "netns", "exec", netns, "nft", "-j", "list", "set", family,
                             table, name], capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        return []
    for item in json.loads(listed.stdout)["nftables"]:
        if "set" in item:
            out = []
            for elem in item["set"].get("elem", []):
                value = elem["elem"]["val"] if isinstance(elem, dict) and "elem" in elem else elem
                out.append(value if isinstance(value, str) else json.dumps(value))
            return out
    return []


@pytest.mark.skipif(NETNS_SKIP is not None, reason=str(NETNS_SKIP))
def test_the_builtin_responder_puts_attackers_in_its_nftables_sets(
        tmp_path: Path, netns: str) -> None:
    wrapper = tmp_path / "nft"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {netns} {NFT} "$@"\n')
    wrapper.chmod(0o755)
    daemon = Daemon(tmp_path, f"""  enabled: true
  lapi: {{enabled: false}}
  nftables: {{enabled: true, nft: {wrapper}}}""")
    daemon.start()
    try:
        wait(lambda: set_elements(netns, "logsentry", "blocked4") == []
             and subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "table", "inet",
                                 "logsentry"], capture_output=True, check=False).returncode == 0,
             60, "table created at start")
        daemon.append(failed_logins("203.0.113.70") + failed_logins("2001:db8:99::7"))
        wait(lambda: "203.0.113.70" in set_elements(netns, "logsentry", "blocked4"), 30,
             "IPv4 element")
        wait(lambda: "2001:db8:99::7" in set_elements(netns, "logsentry", "blocked6"), 30,
             "IPv6 element")
        deleted = daemon.cli("decisions", "delete", "--ip", "203.0.113.70")
        assert deleted.returncode == 0
        wait(lambda: "203.0.113.70" not in set_elements(netns, "logsentry", "blocked4"), 10,
             "element removed on delete")
        # Restart: the table is rebuilt from the stored decisions.
        daemon.kill()
        subprocess.run(["ip", "netns", "exec", netns, "nft", "delete", "table", "inet",
                        "logsentry"], check=False)
        daemon.start()
        wait(lambda: "2001:db8:99::7" in set_elements(netns, "logsentry", "blocked6"), 60,
             "resynchronised at start")
    finally:
        daemon.stop()
    assert subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "table", "inet",
                           "logsentry"], capture_output=True, check=False).returncode != 0


@pytest.mark.skipif(NETNS_SKIP is not None or FIREWALL_BOUNCER is None,
                    reason=str(NETNS_SKIP or "crowdsec-firewall-bouncer is not installed"))
def test_crowdsec_firewall_bouncer_enforces_the_decisions_in_nftables(
        tmp_path: Path, netns: str) -> None:
    # The bouncer runs in the namespace; it reaches the API over a veth pair.
    host_if, ns_if = f"ls{netns[-6:]}a", f"ls{netns[-6:]}b"
    host_ip, ns_ip = "10.231.0.1", "10.231.0.2"
    commands = [
        ["ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if],
        ["ip", "link", "set", ns_if, "netns", netns],
        ["ip", "addr", "add", f"{host_ip}/30", "dev", host_if],
        ["ip", "link", "set", host_if, "up"],
        ["ip", "netns", "exec", netns, "ip", "addr", "add", f"{ns_ip}/30", "dev", ns_if],
        ["ip", "netns", "exec", netns, "ip", "link", "set", ns_if, "up"],
        ["ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up"],
    ]
    for command in commands:
        subprocess.run(command, check=True)
    port = free_port()
    daemon = Daemon(tmp_path, f"""  enabled: true
  lapi: {{address: {host_ip}, port: {port}}}""")
    key = daemon.cli("bouncers", "add", "firewall").stdout.strip()
    config = tmp_path / "firewall-bouncer.yaml"
    config.write_text(f"""
mode: nftables
pid_dir: {tmp_path}/
update_frequency: 200ms
daemonize: false
log_mode: stdout
log_level: info
api_url: http://{host_ip}:{port}/
api_key: {key}
disable_ipv6: false
deny_action: DROP
deny_log: false
supported_decisions_types: [ban]
blacklists_ipv4: crowdsec-blacklists
blacklists_ipv6: crowdsec6-blacklists
nftables:
  ipv4: {{enabled: true, set-only: false, table: crowdsec, chain: crowdsec-chain}}
  ipv6: {{enabled: true, set-only: false, table: crowdsec6, chain: crowdsec6-chain}}
prometheus:
  enabled: false
""")
    daemon.start()
    bouncer = None
    try:
        wait(lambda: _connects(host_ip, port), 60, "API up")
        with (tmp_path / "firewall-bouncer.log").open("wb") as output:
            bouncer = subprocess.Popen(
                ["ip", "netns", "exec", netns, str(FIREWALL_BOUNCER), "-c", str(config)],
                stdout=output, stderr=subprocess.STDOUT)
        daemon.append(failed_logins("203.0.113.80"))
        wait(lambda: "203.0.113.80" in set_elements(netns, "crowdsec", "crowdsec-blacklists",
                                                    family="ip"), 30, "bouncer ban")
        assert daemon.cli("decisions", "delete", "--ip", "203.0.113.80").returncode == 0
        wait(lambda: "203.0.113.80" not in set_elements(
            netns, "crowdsec", "crowdsec-blacklists", family="ip"), 10, "bouncer unban")
    finally:
        if bouncer is not None:
            bouncer.terminate()
            bouncer.wait(10)
        daemon.stop()
        subprocess.run(["ip", "link", "del", host_if], check=False)


def _connects(host: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False
