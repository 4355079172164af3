"""The syslog sink against a real rsyslogd (Debian package) over TCP, TLS and UDP."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from logsentry.core.errors import SinkError
from logsentry.sinks.config import SyslogSinkConfig
from logsentry.sinks.syslog import SyslogSink
from logsentry.transport.tls import TlsConfig
from tests.servers.alerts import numbered_alert
from tests.servers.rsyslog import RSYSLOGD, Rsyslog, run_rsyslog

pytestmark = pytest.mark.skipif(
    RSYSLOGD is None, reason="rsyslogd absent: apt-get install rsyslog rsyslog-gnutls")

HOSTNAME = "sensor-1"


def sink_for(server: Rsyslog, protocol: str, fmt: str = "cef", **tls: object) -> SyslogSink:
    tls_config = TlsConfig.model_validate(
        tls or {"ca_file": str(server.cert.cert) if server.cert else None,
                "server_hostname": "localhost"})
    return SyslogSink(SyslogSinkConfig(host="127.0.0.1", port=server.port, protocol=protocol,
                                       format=fmt, hostname=HOSTNAME, timeout=3.0,
                                       tls=tls_config))


async def deliver(sink: SyslogSink, numbers: range) -> None:
    await sink.start()
    await sink.send([numbered_alert(n) for n in numbers])
    await sink.close()


async def test_tcp_octet_counted_cef_is_parsed_by_rsyslog(tmp_path: Path) -> None:
    with run_rsyslog(tmp_path) as server:
        await deliver(sink_for(server, "tcp"), range(20))
        server.wait_for_lines(20)
        parsed = server.parsed()
    assert len(parsed) == 20
    first = parsed[0]
    assert first["severity"] == "3" and first["facility"] == "13"  # high -> err, log audit
    assert first["hostname"] == HOSTNAME and first["app_name"] == "logsentry"
    assert first["msgid"] == "ssh.brute_force"
    assert f'dedupId="{numbered_alert(0).dedup_id}"' in first["structured_data"]
    assert first["msg"].startswith("CEF:0|logsentry|logsentry|0.1|ssh.brute_force|"
                                   "SSH brute force|8|")
    assert [re.search(r"msg=alert #(\d+)", p["msg"]).group(1) for p in parsed] == [  # type: ignore[union-attr]
        str(n) for n in range(20)]


async def test_tls_delivery_with_the_alert_as_json(tmp_path: Path) -> None:
    with run_rsyslog(tmp_path, tls=True) as server:
        await deliver(sink_for(server, "tls", "json"), range(5))
        server.wait_for_lines(5)
        parsed = server.parsed()
    assert [json.loads(p["msg"])["logsentry"]["seq"] for p in parsed] == [0, 1, 2, 3, 4]


async def test_tls_refuses_an_unverified_certificate(tmp_path: Path) -> None:
    with run_rsyslog(tmp_path, tls=True) as server:
        sink = sink_for(server, "tls", server_hostname="localhost")  # no CA file given
        await sink.start()
        with pytest.raises(SinkError) as caught:
            await sink.send([numbered_alert(1)])
        await sink.close()
        assert server.raw_lines() == []
    assert not caught.value.permanent and "CERTIFICATE_VERIFY_FAILED" in str(caught.value)


async def test_udp_datagrams_reach_rsyslog(tmp_path: Path) -> None:
    with run_rsyslog(tmp_path) as server:
        await deliver(sink_for(server, "udp"), range(3))
        lines = server.wait_for_lines(3)
    assert len(lines) == 3 and all(line.startswith("<107>1 ") for line in lines)


async def test_tcp_reconnects_after_the_receiver_restarts(tmp_path: Path) -> None:
    with run_rsyslog(tmp_path / "a") as first:
        sink = sink_for(first, "tcp")
        await sink.start()
        await sink.send([numbered_alert(0)])
        first.wait_for_lines(1)
        port = first.port
    # Receiver gone: sends fail (transient) until it is back.
    with pytest.raises(SinkError):
        for n in range(50):  # the first writes may still land in the kernel buffer
            await sink.send([numbered_alert(n)])
    with run_rsyslog(tmp_path / "b", port=port) as second:
        await sink.send([numbered_alert(99)])
        lines = second.wait_for_lines(1)
    await sink.close()
    assert any("msg=alert #99" in line for line in lines)


async def test_rsyslog_outage_then_recovery_delivers_all_pending_in_order(
        tmp_path: Path) -> None:
    from logsentry.spool.alert_delivery import AlertDelivery
    from logsentry.spool.config import SpoolConfig
    from tests.servers.alerts import first_occurrences
    from tests.servers.ports import wait_until

    spool = SpoolConfig(initial_backoff=0.05, max_backoff=0.2, breaker_open_seconds=0.2)
    with run_rsyslog(tmp_path / "a") as first:
        port = first.port
        config = SyslogSinkConfig(name="siem", host="127.0.0.1", port=port, timeout=2.0)
        delivery = await AlertDelivery.open(tmp_path / "state",
                                            [(config, SyslogSink(config, "siem"))], spool)
        await delivery.submit([numbered_alert(n) for n in range(10)])
        assert await wait_until(lambda: delivery.pending()["siem"] == 0, 5)
        before = first.wait_for_lines(10)
    for n in range(10, 40):  # receiver down
        await delivery.submit([numbered_alert(n)])
    await wait_until(lambda: False, 0.5)
    assert delivery.pending()["siem"] > 0
    with run_rsyslog(tmp_path / "b", port=port) as second:
        assert await wait_until(lambda: delivery.pending()["siem"] == 0, 10)
        await delivery.close(0.5)
        after = second.wait_for_lines(delivery.delivered()["siem"] - 10)
    numbers = [int(m.group(1)) for line in before + after
               if (m := re.search(r"msg=alert #(\d+)", line))]
    assert first_occurrences(numbers) == list(range(40))
