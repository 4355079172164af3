"""False alerts of the default pack on ordinary logs, per 100,000 lines.

Usage:

    .venv/bin/python bench/bench_false_alerts.py [--loghub DIR] [--no-local]
        [--generated-lines N] [--json out.json] [-v]

The corpus holds only normal operation, so every alert it raises is a false one:

- the Loghub systems without attacks (`--loghub`, default the shared datasets:
  every system but OpenSSH and Linux, whose lines include real brute force);
- this machine's own package and system logs, those that exist and can be read
  (`/var/log/dpkg.log`, `apt/term.log`, `apt/history.log`, `alternatives.log`,
  `fontconfig.log`; `--no-local` leaves them out: they differ between machines);
- benign traffic generated at run time with a fixed seed, about
  `--generated-lines` in all, spread over ten days: dpkg and apt runs, cron,
  systemd units starting and stopping, kernel messages, sshd logins by key with sudo, an
  nginx access log of ordinary 200/304 traffic, an Apache error log's routine
  messages. The files are written to a temporary folder, never kept.

Each file is replayed by `logsentry analyze --alerts --format jsonl FILE` (the
shipped model and pack, detection in event time), one process per file so each
alert is charged to the file that raised it. Printed: alerts per rule and per
file, and the total as alerts per 100,000 lines. The Loghub systems of the model's
sealed split (`logsentry/train/data/splits.py`) count only in one aggregate row and
the total: their alerts, rules and per-system figures are never printed (`-v` too),
so nothing is decided on them; "open" figures leave them out.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from logsentry.train.data.splits import SEALED  # noqa: E402

DEFAULT_LOGHUB = REPO.parent / "shared" / "datasets" / "loghub"
# Loghub systems whose lines include attacks (SSH brute force, FTP and login
# failures from outside addresses): alerts there would be right.
ATTACKED = frozenset({"OpenSSH", "Linux"})
# The corpus names of the Loghub systems in the model's sealed split.
SEALED_FILES = frozenset(f"loghub/{family.split(':', 1)[1]}" for family in SEALED
                         if family.startswith("loghub:"))
LOCAL_LOGS = ("dpkg.log", "apt/term.log", "apt/history.log", "alternatives.log",
              "fontconfig.log")
START = datetime(2024, 3, 4, 6, 0, 0)
DAYS = 10
HOST = "web-1"
PACKAGES = ["libc6", "libssl3", "openssl", "tzdata", "curl", "libcurl4", "nginx",
            "nginx-common", "python3.11", "libpython3.11", "systemd", "libsystemd0",
            "linux-image-6.1.0-18-amd64", "base-files", "ca-certificates", "bash",
            "coreutils", "git", "vim", "sudo", "openssh-server", "openssh-client",
            "libxml2", "postgresql-15", "rsync", "gzip", "perl-base", "libgnutls30"]
UNITS = [("apt-daily.service", "Daily apt download activities"),
         ("apt-daily-upgrade.service", "Daily apt upgrade and clean activities"),
         ("logrotate.service", "Rotate log files"),
         ("man-db.service", "Daily man-db regeneration"),
         ("systemd-tmpfiles-clean.service", "Cleanup of Temporary Directories"),
         ("phpsessionclean.service", "Clean php session files"),
         ("certbot.service", "Certbot"), ("fstrim.service", "Discard unused blocks on filesystems")]
PAGES = ["/", "/index.html", "/about", "/contact", "/blog/", "/blog/2024/03/release-notes",
         "/blog/2024/02/kernel-upgrade", "/docs/install", "/docs/configuration",
         "/static/css/site.css", "/static/js/app.js", "/static/img/logo.svg", "/favicon.ico",
         "/robots.txt", "/sitemap.xml", "/feed.xml", "/search?q=backup+schedule",
         "/products/42", "/products?page=2&sort=price", "/api/v1/status"]
AGENTS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/122.0.0.0 Safari/537.36",
          "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1",
          "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
          "Prometheus/2.45.0", "curl/7.88.1"]
USERS = ["alice", "bob", "deploy"]


def syslog_stamp(when: datetime) -> str:
    return f"{when:%b} {when.day:2d} {when:%H:%M:%S}"


class Clock:
    """Event times spread over DAYS, in order, with random gaps."""

    def __init__(self, rng: random.Random, lines: int) -> None:
        self.rng = rng
        self.now = START
        self.mean = DAYS * 86400 / max(lines, 1)

    def tick(self) -> datetime:
        self.now += timedelta(seconds=self.rng.expovariate(1 / self.mean))
        return self.now


def version(rng: random.Random) -> str:
    return f"{rng.randint(1, 9)}.{rng.randint(0, 20)}-{rng.randint(1, 3)}"


def gen_dpkg(rng: random.Random, lines: int) -> Iterator[str]:
    clock = Clock(rng, lines)
    emitted = 0
    while emitted < lines:
        stamp = f"{clock.tick():%Y-%m-%d %H:%M:%S}"
        run = [f"{stamp} startup archives unpack"]
        for pkg in rng.sample(PACKAGES, rng.randint(1, 5)):
            old, new, spec = version(rng), version(rng), f"{pkg}:amd64"
            run += [f"{stamp} upgrade {spec} {old} {new}",
                    f"{stamp} status half-configured {spec} {old}",
                    f"{stamp} status unpacked {spec} {old}",
                    f"{stamp} status half-installed {spec} {old}",
                    f"{stamp} status unpacked {spec} {new}"]
        run += [f"{stamp} startup packages configure",
                f"{stamp} trigproc man-db:amd64 2.11.2-2 <none>",
                f"{stamp} status half-configured man-db:amd64 2.11.2-2",
                f"{stamp} status installed man-db:amd64 2.11.2-2"]
        yield from run
        emitted += len(run)


def gen_apt_term(rng: random.Random, lines: int) -> Iterator[str]:
    clock = Clock(rng, lines)
    emitted = 0
    while emitted < lines:
        run = [f"Log started: {clock.tick():%Y-%m-%d  %H:%M:%S}",
               "(Reading database ... ",
               f"(Reading database ... {rng.randint(5, 95)}%",
               f"(Reading database ... {rng.randint(20000, 90000)} files and directories "
               "currently installed.)"]
        for pkg in rng.sample(PACKAGES, rng.randint(1, 4)):
            new = version(rng)
            run += [f"Preparing to unpack .../{pkg}_{new}_amd64.deb ...",
                    f"Unpacking {pkg}:amd64 ({new}) over ({version(rng)}) ...",
                    f"Setting up {pkg}:amd64 ({new}) ..."]
        run += ["Processing triggers for man-db (2.11.2-2) ...",
                "Processing triggers for libc-bin (2.36-9+deb12u4) ...",
                f"Log ended: {clock.tick():%Y-%m-%d  %H:%M:%S}", ""]
        yield from run
        emitted += len(run)


KERNEL = [
    "EXT4-fs (sda1): re-mounted. Quota mode: none.",
    "e1000e 0000:00:1f.6 eno1: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: None",
    'audit: type=1400 audit(1709532000.120:{pid}): apparmor="STATUS" '
    'operation="profile_replace" profile="unconfined" name="nginx" pid={pid} '
    'comm="apparmor_parser"',
    "usb 1-1: new high-speed USB device number {small} using xhci_hcd",
    "perf: interrupt took too long (2502 > 2500), lowering "
    "kernel.perf_event_max_sample_rate to 79750",
    "systemd-journald[312]: Data hash table of /var/log/journal/system.journal has a "
    "fill level at 75.0, suggesting rotation.",
]
OTHER_SYSLOG = [
    "systemd[1]: Reloading nginx.service - A high performance web server and a reverse "
    "proxy server...",
    "systemd[1]: Reloaded nginx.service - A high performance web server and a reverse "
    "proxy server.",
    "systemd-timesyncd[388]: Initial clock synchronization to {now}.",
    'rsyslogd: [origin software="rsyslogd" swVersion="8.2302.0" x-pid="401" '
    'x-info="https://www.rsyslog.com"] rsyslogd was HUPed',
    "systemd[1]: Started session-{pid}.scope - Session {pid} of User {user}.",
    "dhclient[611]: DHCPACK of 10.0.0.12 from 10.0.0.1 (xid=0x{hex})",
    "postfix/pickup[{pid}]: {HEX}: uid=0 from=<root>",
]
SUDO_COMMANDS = ["/usr/bin/apt update", "/usr/bin/systemctl reload nginx",
                 "/usr/bin/journalctl -u nginx"]


def gen_syslog(rng: random.Random, lines: int) -> Iterator[str]:
    """cron, systemd units, kernel, sshd key logins with sudo, of one host."""
    clock = Clock(rng, lines)
    pid = 1000
    emitted = 0
    while emitted < lines:
        when = clock.tick()
        at = f"{syslog_stamp(when)} {HOST}"
        pid += rng.randint(1, 40)
        kind = rng.random()
        if kind < 0.35:
            run = [f"CRON[{pid}]: pam_unix(cron:session): session opened for user root(uid=0) "
                   "by (uid=0)",
                   f"CRON[{pid + 1}]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)",
                   f"CRON[{pid}]: pam_unix(cron:session): session closed for user root"]
        elif kind < 0.65:
            unit, description = rng.choice(UNITS)
            run = [f"systemd[1]: Starting {unit} - {description}...",
                   f"systemd[1]: {unit}: Deactivated successfully.",
                   f"systemd[1]: Finished {unit} - {description}.",
                   f"systemd[1]: {unit}: Consumed {rng.randint(1, 900) / 100:.2f}s CPU time."]
        elif kind < 0.8:
            uptime = f"{rng.randint(100, 900000)}.{rng.randint(0, 999999):06d}"
            text = rng.choice(KERNEL).format(pid=pid, small=rng.randint(2, 9))
            run = [f"kernel: [{uptime}] {text}"]
        elif kind < 0.9:
            user = rng.choice(USERS)
            uid = 1000 + USERS.index(user)
            peer = (f"10.0.{rng.randint(0, 3)}.{rng.randint(2, 250)} "
                    f"port {rng.randint(40000, 65000)}")
            run = [f"sshd[{pid}]: Accepted publickey for {user} from {peer}"
                   f" ssh2: ED25519 SHA256:{rng.randbytes(8).hex()}",
                   f"sshd[{pid}]: pam_unix(sshd:session): session opened for user "
                   f"{user}(uid={uid}) by (uid=0)",
                   f"systemd-logind[402]: New session {pid} of user {user}.",
                   f"sudo:  {user} : TTY=pts/0 ; PWD=/home/{user} ; USER=root ; "
                   f"COMMAND={rng.choice(SUDO_COMMANDS)}",
                   f"sudo: pam_unix(sudo:session): session opened for user root(uid=0) by "
                   f"{user}(uid={uid})",
                   "sudo: pam_unix(sudo:session): session closed for user root",
                   f"sshd[{pid}]: Received disconnect from {peer}:11: disconnected by user",
                   f"sshd[{pid}]: Disconnected from user {user} {peer}",
                   f"sshd[{pid}]: pam_unix(sshd:session): session closed for user {user}",
                   f"systemd-logind[402]: Session {pid} logged out. Waiting for processes to exit."]
        else:
            run = [rng.choice(OTHER_SYSLOG).format(
                now=f"{when:%a %Y-%m-%d %H:%M:%S} UTC", pid=pid, user=rng.choice(USERS),
                hex=rng.randbytes(4).hex(), HEX=rng.randbytes(5).hex().upper())]
        yield from (f"{at} {text}" for text in run)
        emitted += len(run)


def gen_access(rng: random.Random, lines: int) -> Iterator[str]:
    """nginx combined format: browsing clients, a monitor, a crawler."""
    clock = Clock(rng, lines)
    clients = [f"203.0.113.{n}" for n in range(2, 60)] + [f"198.51.100.{n}" for n in range(2, 30)]
    for _ in range(lines):
        when = clock.tick()
        page = rng.choice(PAGES)
        roll = rng.random()
        status = 304 if roll < 0.15 else 301 if roll < 0.18 else 200
        if page == "/favicon.ico" and roll > 0.7:
            status = 404
        method = "POST" if page == "/contact" and roll < 0.5 else "GET"
        size = 0 if status == 304 else rng.randint(200, 90000)
        referer = "-" if roll < 0.5 else f"https://www.example.org{rng.choice(PAGES)}"
        yield (f"{rng.choice(clients)} - - [{when:%d/%b/%Y:%H:%M:%S} +0000] "
               f"\"{method} {page} HTTP/1.1\" {status} {size} \"{referer}\" "
               f"\"{rng.choice(AGENTS)}\"")


APACHE_RESTART = [
    "[mpm_event:notice] [pid 1021:tid 139871] AH00493: SIGUSR1 received.  Doing graceful restart",
    "[ssl:warn] [pid 1021:tid 139871] AH01909: www.example.org:443:0 server certificate does "
    "NOT include an ID which matches the server name",
    "[mpm_event:notice] [pid 1021:tid 139871] AH00489: Apache/2.4.57 (Debian) OpenSSL/3.0.11 "
    "configured -- resuming normal operations",
    "[core:notice] [pid 1021:tid 139871] AH00094: Command line: '/usr/sbin/apache2'",
]
APACHE_STOP = [
    "[mpm_event:notice] [pid 1021:tid 139871] AH00492: caught SIGWINCH, shutting down gracefully",
    "[mpm_event:notice] [pid 1022:tid 139872] AH00489: Apache/2.4.57 (Debian) configured -- "
    "resuming normal operations",
]


def gen_apache_error(rng: random.Random, lines: int) -> Iterator[str]:
    """Restarts, directory listings refused, missing icons."""
    clock = Clock(rng, lines)
    emitted = 0
    pid = 2000
    while emitted < lines:
        when = clock.tick()
        stamp = f"[{when:%a %b %d %H:%M:%S}.{rng.randint(0, 999999):06d} {when:%Y}]"
        pid += rng.randint(1, 30)
        worker = f"[pid {pid}:tid 139{pid}]"
        roll = rng.random()
        if roll < 0.1:
            run = APACHE_RESTART
        elif roll < 0.5:
            client = f"203.0.113.{rng.randint(2, 60)}:{rng.randint(40000, 65000)}"
            folder = rng.choice(["files", "assets", "docs"])
            run = [f"[autoindex:error] {worker} [client {client}] AH01276: Cannot serve "
                   f"directory /var/www/html/{folder}/: No matching DirectoryIndex "
                   "(index.html,index.php) found, and server-generated directory index "
                   "forbidden by Options directive"]
        elif roll < 0.8:
            client = f"198.51.100.{rng.randint(2, 30)}:{rng.randint(40000, 65000)}"
            icon = rng.choice(["favicon.ico", "apple-touch-icon.png",
                               "apple-touch-icon-precomposed.png"])
            run = [f"[core:info] {worker} [client {client}] AH00128: File does not exist: "
                   f"/var/www/html/{icon}"]
        else:
            run = APACHE_STOP
        yield from (f"{stamp} {text}" for text in run)
        emitted += len(run)


GENERATED: dict[str, tuple[Callable[[random.Random, int], Iterator[str]], float]] = {
    "generated/dpkg.log": (gen_dpkg, 0.15),
    "generated/apt-term.log": (gen_apt_term, 0.1),
    "generated/syslog": (gen_syslog, 0.35),
    "generated/nginx-access.log": (gen_access, 0.3),
    "generated/apache-error.log": (gen_apache_error, 0.1),
}


def build_corpus(folder: Path, loghub: Path, local: bool, generated: int,
                 seed: int) -> list[tuple[str, Path]]:
    files: list[tuple[str, Path]] = []
    if loghub.is_dir():
        for system in sorted(p for p in loghub.iterdir() if p.is_dir()):
            log = system / f"{system.name}_2k.log"
            if system.name not in ATTACKED and log.is_file():
                files.append((f"loghub/{system.name}", log))
    else:
        print(f"no Loghub folder at {loghub}: left out", file=sys.stderr)
    if local:
        for name in LOCAL_LOGS:
            path = Path("/var/log") / name
            try:
                with path.open("rb") as handle:
                    handle.read(1)
            except OSError:
                continue
            files.append((f"local/{name}", path))
    rng = random.Random(seed)
    for name, (generate, share) in GENERATED.items():
        path = folder / name.replace("/", "-")
        lines = list(generate(rng, max(1, int(generated * share))))
        path.write_text("\n".join(lines) + "\n")
        files.append((name, path))
    return files


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for raw in handle if raw.strip())


def logsentry_command() -> list[str]:
    script = Path(sys.executable).with_name("logsentry")
    return [str(script)] if script.exists() else [sys.executable, "-m", "logsentry.cli"]


def per_100k(alerts: int, lines: int) -> float:
    return alerts * 100_000 / lines if lines else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loghub", type=Path, default=DEFAULT_LOGHUB)
    parser.add_argument("--no-local", action="store_true", help="leave out /var/log files")
    parser.add_argument("--generated-lines", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every alert")
    args = parser.parse_args()

    by_rule: Counter[str] = Counter()
    by_file: dict[str, tuple[int, int]] = {}
    sealed_lines = sealed_alerts = sealed_files = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="logsentry-false-alerts-") as tmp:
        files = build_corpus(Path(tmp), args.loghub, not args.no_local, args.generated_lines,
                             args.seed)
        for name, path in files:
            lines = count_lines(path)
            run = subprocess.run(
                [*logsentry_command(), "analyze", "--alerts", "--format", "jsonl", str(path)],
                capture_output=True, text=True, check=False)
            if run.returncode != 0:
                print(f"{name}: analyze failed ({run.returncode}): {run.stderr[-2000:]}",
                      file=sys.stderr)
                return 1
            alerts = [json.loads(raw) for raw in run.stdout.splitlines() if raw.strip()]
            if name in SEALED_FILES:
                sealed_lines, sealed_alerts = sealed_lines + lines, sealed_alerts + len(alerts)
                sealed_files += 1
                continue
            by_file[name] = (lines, len(alerts))
            for alert in alerts:
                by_rule[alert["rule"]["id"]] += 1
                if args.verbose:
                    print(f"  {name}: {alert['rule']['id']}: {alert['message'][:200]}")
            print(f"{name:32} {lines:7,} lines {len(alerts):5} alerts "
                  f"{per_100k(len(alerts), lines):9.1f} per 100k", flush=True)

    open_lines = sum(lines for lines, _ in by_file.values())
    open_alerts = sum(alerts for _, alerts in by_file.values())
    total_lines, total_alerts = open_lines + sealed_lines, open_alerts + sealed_alerts
    print(f"{'loghub (sealed systems: ' + str(sealed_files) + ')':32} {sealed_lines:7,} lines "
          f"{sealed_alerts:5} alerts {per_100k(sealed_alerts, sealed_lines):9.1f} per 100k")
    print(f"\nby rule, open files (per 100,000 lines of {open_lines:,}):")
    for rule, count in by_rule.most_common():
        print(f"  {rule:32} {count:6} {per_100k(count, open_lines):9.1f}")
    print(f"\nopen: {open_alerts} alerts on {open_lines:,} lines of {len(by_file)} files: "
          f"{per_100k(open_alerts, open_lines):.1f} per 100,000 lines")
    print(f"total: {total_alerts} alerts on {total_lines:,} lines of "
          f"{len(by_file) + sealed_files} files: {per_100k(total_alerts, total_lines):.1f} "
          f"per 100,000 lines ({time.monotonic() - started:.0f} s)")
    if args.json is not None:
        args.json.write_text(json.dumps({
            "lines": total_lines, "alerts": total_alerts,
            "per_100k": per_100k(total_alerts, total_lines),
            "open": {"lines": open_lines, "alerts": open_alerts,
                     "per_100k": per_100k(open_alerts, open_lines)},
            "sealed": {"files": sealed_files, "lines": sealed_lines, "alerts": sealed_alerts,
                       "per_100k": per_100k(sealed_alerts, sealed_lines)},
            "by_rule": dict(by_rule), "by_file": {k: {"lines": v[0], "alerts": v[1]}
                                                  for k, v in by_file.items()},
        }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
