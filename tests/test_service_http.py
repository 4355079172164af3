"""`/metrics`, `/healthz` and `/readyz` scraped over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import AsyncIterator

import pytest

from logsentry.config import parse_config
from logsentry.core.metrics import ALERTS, LINES_READ, QUEUE_DEPTH
from logsentry.service.config import MetricsConfig
from logsentry.service.http import HealthState, MonitoringServer


def _get(url: str, accept: str | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


async def get(url: str, accept: str | None = None) -> tuple[int, str, str]:
    """A real HTTP client (urllib), off the loop that serves."""
    return await asyncio.to_thread(_get, url, accept)


async def raw_exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data


@pytest.fixture
async def server() -> AsyncIterator[MonitoringServer]:
    srv = MonitoringServer(MetricsConfig(port=0, request_timeout=0.3), HealthState())
    await srv.start()
    yield srv
    await srv.close()


async def test_metrics_of_every_stage_are_scraped_over_http(server: MonitoringServer) -> None:
    LINES_READ.labels("http-test-source").inc(7)
    ALERTS.labels("ssh-brute-force", "high").inc()
    QUEUE_DEPTH.labels("analysis").set(3)
    status, content_type, body = await get(server.url + "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4")
    assert 'logsentry_lines_read_total{source="http-test-source"} 7.0' in body
    assert 'logsentry_alerts_total{rule="ssh-brute-force",severity="high"}' in body
    assert 'logsentry_queue_depth{queue="analysis"} 3.0' in body
    # Every stage's families are exposed, even before they count anything.
    for family in ("logsentry_analysis_batch_seconds", "logsentry_sink_deliveries",
                   "logsentry_spool_bytes", "logsentry_kafka_consumer_lag",
                   "logsentry_analysis_cache_lookups", "logsentry_event_loop_lag_seconds"):
        assert f"# HELP {family}" in body


async def test_openmetrics_is_served_when_the_scraper_asks(server: MonitoringServer) -> None:
    status, content_type, body = await get(
        server.url + "/metrics", accept="application/openmetrics-text; version=1.0.0")
    assert status == 200
    assert content_type.startswith("application/openmetrics-text")
    assert body.rstrip().endswith("# EOF")


async def test_readyz_turns_ready_only_when_the_daemon_says_so(server: MonitoringServer) -> None:
    status, _, body = await get(server.url + "/readyz")
    assert (status, body) == (503, "not ready: starting\n")
    server.health.set_ready()
    assert (await get(server.url + "/readyz"))[:1] == (200,)
    server.health.set_not_ready("stopping")
    status, _, body = await get(server.url + "/readyz")
    assert status == 503 and "stopping" in body


async def test_healthz_fails_with_the_failing_check_named(server: MonitoringServer) -> None:
    assert (await get(server.url + "/healthz"))[::2] == (200, "ok\n")
    problem: str | None = None
    server.health.add_liveness_check("pipeline", lambda: problem)
    problem = "task 'analysis' died"
    status, _, body = await get(server.url + "/healthz")
    assert status == 503
    assert body == "pipeline: task 'analysis' died\n"

    def broken() -> str | None:
        raise RuntimeError("boom")

    server.health.add_liveness_check("broken", broken)
    problem = None
    status, _, body = await get(server.url + "/healthz")
    assert status == 503 and "broken: check raised RuntimeError: boom" in body


async def test_unknown_paths_methods_and_junk_get_clean_errors(server: MonitoringServer) -> None:
    assert (await get(server.url + "/nope"))[0] == 404
    assert (await get(server.url + "/metrics?x=1"))[0] == 200
    response = await raw_exchange(server.port, b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 405 ")
    response = await raw_exchange(server.port, b"\x00\xff garbage\r\n\r\n")
    assert response.split(b" ", 2)[1] == b"400"
    response = await raw_exchange(
        server.port, b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 40_000 + b"\r\n\r\n")
    assert response.split(b" ", 2)[1] in (b"400", b"431")
    response = await raw_exchange(server.port, b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 200 ") and response.endswith(b"\r\n\r\n")


async def test_a_slow_client_is_cut_off_and_does_not_block_others(
    server: MonitoringServer,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /metrics HTTP/1.1\r\n")  # and never finishes the head
    await writer.drain()
    assert (await get(server.url + "/healthz"))[0] == 200
    # Disconnected once the request timeout passes without a whole request.
    response = await asyncio.wait_for(reader.read(), 5)
    assert response == b"" or response.split(b" ", 2)[1] == b"408"
    writer.close()


async def test_a_taken_port_is_an_error_at_start(server: MonitoringServer) -> None:
    other = MonitoringServer(MetricsConfig(port=server.port), HealthState())
    with pytest.raises(OSError):
        await other.start()


def test_the_endpoint_is_configured_in_the_service_section() -> None:
    config = parse_config("service:\n  metrics:\n    address: '::1'\n    port: 9999\n")
    assert config.service.metrics.address == "::1"
    assert config.service.metrics.port == 9999
    assert parse_config("").service.metrics.address == "127.0.0.1"
    with pytest.raises(Exception, match="not an IP address"):
        parse_config("service:\n  metrics:\n    address: localhost\n")
