"""Starting a private rsyslogd (Debian's package) on a loopback port.

The daemon runs in the foreground (`-n`) with a generated config, its own
pid file and work directory, receiving RFC 5424 over TCP (octet counting is
detected automatically) and UDP on the same port number, or over TLS (gtls
driver, anonymous client auth). It writes each message twice: `raw.log`
(the message exactly as received, `%rawmsg%`) and `parsed.log` (the fields
rsyslog's RFC 5424 parser found, separated by tabs, msg last).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.servers.ports import free_port, wait_for_port
from tests.servers.tls_cert import SelfSignedCert, make_self_signed

RSYSLOGD = shutil.which("rsyslogd") or ("/usr/sbin/rsyslogd"
                                        if Path("/usr/sbin/rsyslogd").exists() else None)
GTLS_MODULE = next(iter(Path("/usr/lib").glob("**/rsyslog/lmnsd_gtls.so")), None)
FIELD_SEP = "\t"
PARSED_FIELDS = ("severity", "facility", "hostname", "app_name", "procid", "msgid",
                 "structured_data", "msg")


@dataclass
class Rsyslog:
    port: int
    raw_log: Path
    parsed_log: Path
    cert: SelfSignedCert | None

    def raw_lines(self) -> list[str]:
        return _lines(self.raw_log)

    def parsed(self) -> list[dict[str, str]]:
        # msg is last and may hold the separator: split only the fields before it.
        return [dict(zip(PARSED_FIELDS, line.split(FIELD_SEP, len(PARSED_FIELDS) - 1),
                         strict=False))
                for line in _lines(self.parsed_log)]

    def wait_for_lines(self, count: int, timeout: float = 10.0) -> list[str]:
        """Block until both logs hold at least `count` lines (rsyslog writes async)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.raw_lines()
            if len(lines) >= count and len(_lines(self.parsed_log)) >= count:
                return lines
            time.sleep(0.05)
        return self.raw_lines()


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []


def _config(directory: Path, port: int, cert: SelfSignedCert | None) -> str:
    tls_global = ""
    tcp_module = (f'module(load="imtcp")\nmodule(load="imudp")\n'
                  f'input(type="imudp" port="{port}" address="127.0.0.1")')
    if cert is not None:
        tls_global = (f'DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="{cert.cert}" '
                      f'DefaultNetstreamDriverCertFile="{cert.cert}" '
                      f'DefaultNetstreamDriverKeyFile="{cert.key}"')
        tcp_module = ('module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" '
                      'StreamDriver.AuthMode="anon")')
    return f"""
global(workDirectory="{directory}" {tls_global})
{tcp_module}
input(type="imtcp" port="{port}" address="127.0.0.1")
template(name="raw" type="string" string="%rawmsg%\\n")
template(name="parsed" type="list") {{
  property(name="syslogseverity") constant(value="\\t")
  property(name="syslogfacility") constant(value="\\t")
  property(name="hostname") constant(value="\\t")
  property(name="app-name") constant(value="\\t")
  property(name="procid") constant(value="\\t")
  property(name="msgid") constant(value="\\t")
  property(name="structured-data") constant(value="\\t")
  property(name="msg" droplastlf="on") constant(value="\\n")
}}
action(type="omfile" file="{directory}/raw.log" template="raw")
action(type="omfile" file="{directory}/parsed.log" template="parsed")
"""


@contextmanager
def run_rsyslog(directory: Path, *, tls: bool = False,
                port: int | None = None) -> Iterator[Rsyslog]:
    """Run rsyslogd on loopback (`port`, or a free one) until the block exits."""
    if RSYSLOGD is None:
        raise RuntimeError("rsyslogd is not installed")
    directory.mkdir(parents=True, exist_ok=True)
    cert = make_self_signed(directory) if tls else None
    port = port or free_port()
    conf = directory / "rsyslog.conf"
    conf.write_text(_config(directory, port, cert))
    process = subprocess.Popen(
        [RSYSLOGD, "-n", "-f", str(conf), "-i", str(directory / "rsyslogd.pid")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        try:
            wait_for_port(port, timeout=10.0)
        except TimeoutError:
            process.kill()
            output = process.communicate(timeout=5)[0].decode(errors="replace")
            raise RuntimeError(f"rsyslogd did not start: {output}") from None
        yield Rsyslog(port, directory / "raw.log", directory / "parsed.log", cert)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
