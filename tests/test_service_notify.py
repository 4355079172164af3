"""sd_notify and the watchdog against a real NOTIFY_SOCKET datagram socket."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from logsentry.core.metrics import LINES_READ, NOTIFY_FAILURES
from logsentry.service.config import MetricsConfig, ServiceConfig
from logsentry.service.lifecycle import ServiceLifecycle
from logsentry.service.notify import NotifySocket, ServiceNotifier, socket_address
from logsentry.service.watchdog import watchdog_usec_from_env
from tests.notify_receiver import NotifyReceiver


@pytest.fixture(params=[False, True], ids=["path", "abstract"])
def receiver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NotifyReceiver]:
    recv = NotifyReceiver(tmp_path, abstract=request.param)
    yield recv
    recv.close()


def test_ready_reaches_the_socket_with_mainpid_and_status(receiver: NotifyReceiver) -> None:
    notifier = ServiceNotifier.from_env({"NOTIFY_SOCKET": receiver.address})
    assert notifier.enabled
    assert notifier.ready("model loaded")
    (message,) = receiver.wait_for("READY", "1")
    assert message["MAINPID"] == str(os.getpid())
    assert message["STATUS"] == "model loaded"


def test_reloading_stopping_and_extend_timeout_send_their_assignments(
    receiver: NotifyReceiver,
) -> None:
    notifier = ServiceNotifier.from_env({"NOTIFY_SOCKET": receiver.address})
    notifier.reloading()
    notifier.ready()
    notifier.stopping()
    notifier.extend_timeout(2.5)
    reload_msg = receiver.wait_for("RELOADING", "1")[0]
    # MONOTONIC_USEC is what Type=notify-reload matches the reload with.
    assert abs(int(reload_msg["MONOTONIC_USEC"]) / 1e6 - time.monotonic()) < 5
    receiver.wait_for("STOPPING", "1")
    assert receiver.wait_for("EXTEND_TIMEOUT_USEC")[0]["EXTEND_TIMEOUT_USEC"] == "2500000"
    order = [next(iter(m)) for _, m in receiver.all()]
    assert order[:3] == ["RELOADING", "READY", "STOPPING"]


def test_status_text_cannot_inject_assignments(receiver: NotifyReceiver) -> None:
    notifier = ServiceNotifier.from_env({"NOTIFY_SOCKET": receiver.address})
    notifier.status("evil\nREADY=1\nMAINPID=1\0tail")
    (message,) = receiver.wait_for("STATUS")
    assert set(message) == {"STATUS"}
    assert "\n" not in message["STATUS"] and "READY=1" in message["STATUS"]


def test_without_notify_socket_every_call_is_a_harmless_no_op() -> None:
    notifier = ServiceNotifier.from_env({})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.status("x") is False
    assert notifier.watchdog_ping() is False


def test_unsupported_addresses_disable_notification() -> None:
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    assert socket_address("@abc") == "\0abc"
    assert socket_address("vsock:2:1234") is None
    assert socket_address("@") is None
    assert NotifySocket.from_env({"NOTIFY_SOCKET": "relative/path"}) is None


def test_a_vanished_manager_is_counted_not_raised(tmp_path: Path) -> None:
    notifier = ServiceNotifier.from_env({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    before = NOTIFY_FAILURES._value.get()
    assert notifier.ready() is False
    assert NOTIFY_FAILURES._value.get() == before + 1


def test_watchdog_usec_is_ignored_when_meant_for_another_process() -> None:
    assert watchdog_usec_from_env({"WATCHDOG_USEC": "30000000"}) == 30_000_000
    assert watchdog_usec_from_env(
        {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 30_000_000
    assert watchdog_usec_from_env({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_usec_from_env({"WATCHDOG_USEC": "junk"}) is None
    assert watchdog_usec_from_env({"WATCHDOG_USEC": "0"}) is None


def _pings_between(receiver: NotifyReceiver, start: float, end: float) -> int:
    return sum(1 for t, m in receiver.with_key("WATCHDOG") if start < t < end)


async def test_watchdog_pings_at_half_the_timeout_and_stops_while_the_loop_is_stuck(
    receiver: NotifyReceiver,
) -> None:
    # WatchdogSec=0.2s: a ping every 0.1 s.
    notifier = ServiceNotifier.from_env(
        {"NOTIFY_SOCKET": receiver.address, "WATCHDOG_USEC": "200000"})
    task = notifier.start_watchdog()
    assert task is not None
    await asyncio.sleep(0.55)
    healthy_pings = len(receiver.with_key("WATCHDOG"))
    assert 3 <= healthy_pings <= 8

    # A stuck event loop: a blocking call holds it for 0.8 s (four timeouts).
    stuck_from = time.monotonic()
    time.sleep(0.8)
    stuck_until = time.monotonic()
    # Allow the receiver thread to take in anything that was sent.
    await asyncio.sleep(0)
    time.sleep(0.05)
    # (a margin of half an interval for a ping sent just before the block)
    assert _pings_between(receiver, stuck_from + 0.1, stuck_until) == 0

    # Once the loop runs again, so do the pings.
    await asyncio.sleep(0.35)
    assert _pings_between(receiver, stuck_until, time.monotonic()) >= 2
    await notifier.close()
    assert task.cancelled()


async def test_watchdog_withholds_pings_while_the_health_check_fails(
    receiver: NotifyReceiver,
) -> None:
    healthy = True
    notifier = ServiceNotifier.from_env(
        {"NOTIFY_SOCKET": receiver.address, "WATCHDOG_USEC": "100000"})
    notifier.start_watchdog(lambda: healthy)
    await asyncio.sleep(0.2)
    assert receiver.with_key("WATCHDOG")
    healthy = False
    await asyncio.sleep(0.08)  # let a ping already in flight arrive
    sick_from = time.monotonic()
    await asyncio.sleep(0.3)
    assert _pings_between(receiver, sick_from, time.monotonic()) == 0
    await notifier.close()


async def test_no_watchdog_task_when_systemd_did_not_ask_for_one(
    receiver: NotifyReceiver,
) -> None:
    notifier = ServiceNotifier.from_env({"NOTIFY_SOCKET": receiver.address})
    assert notifier.start_watchdog() is None
    await notifier.close()


async def test_lifecycle_reports_start_ready_status_and_stop(receiver: NotifyReceiver) -> None:
    notifier = ServiceNotifier.from_env(
        {"NOTIFY_SOCKET": receiver.address, "WATCHDOG_USEC": "1000000"})
    config = ServiceConfig(metrics=MetricsConfig(enabled=False), status_interval=0.05)
    lifecycle = ServiceLifecycle(config, notifier)
    await lifecycle.start()
    receiver.wait_for("STATUS", "starting")
    assert not lifecycle.health.ready
    lifecycle.ready()
    assert lifecycle.health.ready
    receiver.wait_for("READY", "1")
    LINES_READ.labels("lifecycle-test").inc(1000)
    await asyncio.sleep(0.2)
    statuses = [m["STATUS"] for _, m in receiver.with_key("STATUS")]
    assert any("lines/s read" in s and "alerts" in s for s in statuses), statuses
    lifecycle.reloading()
    lifecycle.reloaded(error="sources[0].paths: field required")
    await asyncio.sleep(0.05)
    after_reload = receiver.with_key("READY")[-1][1]
    assert "reload failed" in after_reload["STATUS"]
    lifecycle.stopping()
    stop = receiver.wait_for("STOPPING", "1")[0]
    assert stop["STATUS"].startswith("stopping")
    assert not lifecycle.health.ready
    await lifecycle.close()


def test_status_text_reports_rates_over_the_interval_and_alert_totals() -> None:
    from logsentry.service.status import Totals, describe

    before = Totals(at=100.0, read=1000, analyzed=900, alerts=5, sink_failures=0)
    after = Totals(at=110.0, read=13_000, analyzed=12_900, alerts=8, sink_failures=2)
    assert describe(before, after) == (
        "1200 lines/s read, 1200 lines/s analyzed, 8 alerts (3 new), 2 sink failures")
    assert "sink failures" not in describe(before, before)


def test_counter_totals_sum_every_label() -> None:
    from logsentry.service.status import counter_total

    start = counter_total(LINES_READ)
    LINES_READ.labels("total-a").inc(2)
    LINES_READ.labels("total-b").inc(3)
    assert counter_total(LINES_READ) == start + 5


async def test_event_loop_lag_is_measured_even_without_a_watchdog() -> None:
    from logsentry.core.metrics import EVENT_LOOP_LAG

    lifecycle = ServiceLifecycle(ServiceConfig(metrics=MetricsConfig(enabled=False)),
                                 ServiceNotifier(None))
    await lifecycle.start()
    await asyncio.sleep(0.05)  # the probe task starts its first one-second sleep
    # Block the loop well past the probe's wake-up time.
    time.sleep(1.6)
    await asyncio.sleep(0.05)
    assert EVENT_LOOP_LAG._value.get() >= 0.4
    await lifecycle.close()
