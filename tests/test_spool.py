"""The durable spool and at-least-once delivery, against a real loopback webhook."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from logsentry.core.errors import SinkError, SpoolFullError
from logsentry.sinks.config import Routing, WebhookSinkConfig
from logsentry.sinks.webhook import WebhookSink
from logsentry.spool.alert_delivery import AlertDelivery
from logsentry.spool.config import SpoolConfig
from logsentry.spool.segments import SegmentLog
from tests.servers.alerts import first_occurrences, numbered_alert, seq_of
from tests.servers.http_receiver import Reply
from tests.servers.ports import wait_until
from tests.servers.webhook import WebhookReceiver

FAST = SpoolConfig(initial_backoff=0.05, max_backoff=0.2, breaker_failures=50,
                   breaker_open_seconds=0.2, send_timeout=5.0)


def webhook(receiver: WebhookReceiver, name: str = "hook", max_batch: int = 10,
            routing: Routing | None = None) -> tuple[WebhookSinkConfig, WebhookSink]:
    config = WebhookSinkConfig(name=name, url=receiver.url + "/alerts", max_batch=max_batch,
                               timeout=2.0, routing=routing or Routing())
    return config, WebhookSink(config, name)


def delivered_seqs(receiver: WebhookReceiver) -> list[int]:
    return [seq_of(doc) for doc in receiver.documents()]


# --- segment files -------------------------------------------------------------------------


def test_torn_last_record_is_dropped_and_appends_continue(tmp_path: Path) -> None:
    spool = SegmentLog.open(tmp_path, segment_bytes=1 << 20, fsync=True)
    segment, offsets = spool.append([b"one", b"two", b"three"])
    spool.publish(segment, offsets, sum(16 + len(p) for p in (b"one", b"two", b"three")))
    spool.close()
    with segment.path.open("ab") as handle:  # a record cut short by SIGKILL
        handle.write(b"\x40\x00\x00\x00\x12\x34")
    spool = SegmentLog.open(tmp_path, segment_bytes=1 << 20, fsync=True)
    assert spool.torn_records == 1
    assert [p for _, p in spool.read(0, 10)] == [b"one", b"two", b"three"]
    segment, offsets = spool.append([b"four"])
    spool.publish(segment, offsets, 20)
    spool.close()
    spool = SegmentLog.open(tmp_path, segment_bytes=1 << 20, fsync=True)
    assert spool.torn_records == 0
    assert spool.read(0, 10) == [(0, b"one"), (1, b"two"), (2, b"three"), (3, b"four")]
    spool.close()


def test_record_with_bad_crc_ends_the_segment(tmp_path: Path) -> None:
    spool = SegmentLog.open(tmp_path, segment_bytes=1 << 20, fsync=False)
    segment, offsets = spool.append([b"good", b"flipped", b"after"])
    spool.publish(segment, offsets, 16 * 3 + 16)
    spool.close()
    data = bytearray(segment.path.read_bytes())
    data[offsets[1] + 16] ^= 0xFF  # corrupt the second payload
    segment.path.write_bytes(bytes(data))
    spool = SegmentLog.open(tmp_path, segment_bytes=1 << 20, fsync=False)
    assert spool.read(0, 10) == [(0, b"good")]
    assert spool.next_seq == 1
    spool.close()


def test_segments_roll_and_fully_delivered_ones_are_compacted(tmp_path: Path) -> None:
    spool = SegmentLog.open(tmp_path, segment_bytes=4096, fsync=False)
    payload = b"x" * 1000
    for _ in range(20):
        segment, offsets = spool.append([payload])
        spool.publish(segment, offsets, 1016)
    assert len(spool.segments) > 3
    assert [seq for seq, _ in spool.read(5, 3)] == [5, 6, 7]
    before = len(spool.segments)
    spool.compact(12)
    assert len(spool.segments) < before
    assert spool.first_seq <= 12
    assert spool.read(spool.first_seq, 100)[0][0] == spool.first_seq
    spool.compact(10**9)  # everything delivered: the last segment stays
    assert len(spool.segments) == 1 and spool.next_seq == 20
    spool.close()
    assert SegmentLog.open(tmp_path, segment_bytes=4096, fsync=False).next_seq == 20


# --- delivery --------------------------------------------------------------------------------


async def test_alerts_reach_the_sink_in_order(tmp_path: Path) -> None:
    async with WebhookReceiver() as receiver:
        delivery = await AlertDelivery.open(tmp_path, [webhook(receiver)], FAST)
        for start in range(0, 100, 7):
            await delivery.submit([numbered_alert(n) for n in range(start, min(start + 7, 100))])
        assert await wait_until(lambda: delivery.pending() == {"hook": 0}, 10)
        await delivery.close(1.0)
    assert delivered_seqs(receiver) == list(range(100))


async def test_outage_then_recovery_delivers_everything_pending_in_order(tmp_path: Path) -> None:
    receiver = WebhookReceiver()
    await receiver.start()
    delivery = await AlertDelivery.open(tmp_path, [webhook(receiver)], FAST)
    await delivery.submit([numbered_alert(n) for n in range(10)])
    assert await wait_until(lambda: delivery.pending()["hook"] == 0, 5)
    await receiver.stop()
    for n in range(10, 60):
        await delivery.submit([numbered_alert(n)])
    await asyncio.sleep(1.0)
    assert delivery.pending()["hook"] == 50
    await receiver.start()
    assert await wait_until(lambda: delivery.pending()["hook"] == 0, 10)
    await delivery.close(1.0)
    await receiver.stop()
    assert first_occurrences(delivered_seqs(receiver)) == list(range(60))


async def test_one_sink_down_does_not_delay_another(tmp_path: Path) -> None:
    down = WebhookReceiver()  # never started: connection refused
    async with WebhookReceiver() as up:
        delivery = await AlertDelivery.open(
            tmp_path, [webhook(down, "down"), webhook(up, "up")], FAST)
        await delivery.submit([numbered_alert(n) for n in range(30)])
        assert await wait_until(lambda: delivery.pending()["up"] == 0, 5)
        assert delivery.pending()["down"] == 30
        await delivery.close(0.1)
    assert delivered_seqs(up) == list(range(30))


async def test_close_does_not_wait_on_the_retries_of_a_failing_sink(tmp_path: Path) -> None:
    down = WebhookReceiver()  # never started: connection refused
    delivery = await AlertDelivery.open(tmp_path, [webhook(down, "down")], FAST)
    await delivery.submit([numbered_alert(n) for n in range(10)])
    assert await wait_until(lambda: delivery._deliverers[0].failing(), 5)
    # An hour to drain: close must see the sink is failing rather than retry for it.
    await asyncio.wait_for(delivery.close(3600.0), 20)
    assert delivery.pending() == {"down": 10}


async def test_pending_alerts_survive_a_restart(tmp_path: Path) -> None:
    receiver = WebhookReceiver()
    delivery = await AlertDelivery.open(tmp_path, [webhook(receiver)], FAST)
    await delivery.submit([numbered_alert(n) for n in range(25)])
    await delivery.close(0.2)  # receiver down: all 25 stay in the spool
    async with receiver:
        delivery = await AlertDelivery.open(tmp_path, [webhook(receiver)], FAST)
        assert delivery.pending()["hook"] == 25
        assert await wait_until(lambda: delivery.pending()["hook"] == 0, 5)
        await delivery.close(1.0)
    assert delivered_seqs(receiver) == list(range(25))


async def test_a_new_sink_starts_at_the_end_of_the_spool(tmp_path: Path) -> None:
    old, new = WebhookReceiver(), WebhookReceiver()
    delivery = await AlertDelivery.open(tmp_path, [webhook(old, "old")], FAST)
    await delivery.submit([numbered_alert(n) for n in range(5)])
    await delivery.close(0.1)
    async with new:
        delivery = await AlertDelivery.open(tmp_path, [webhook(old, "old"), webhook(new, "new")],
                                            FAST)
        assert delivery.pending() == {"old": 5, "new": 0}
        await delivery.submit([numbered_alert(5)])
        assert await wait_until(lambda: delivery.pending()["new"] == 0, 5)
        await delivery.close(0.1)
    assert delivered_seqs(new) == [5]


async def test_full_spool_applies_backpressure_until_a_sink_catches_up(tmp_path: Path) -> None:
    config = FAST.model_copy(update={"max_bytes": 64 * 1024, "segment_bytes": 8 * 1024})
    receiver = WebhookReceiver()
    delivery = await AlertDelivery.open(tmp_path, [webhook(receiver)], config)
    submitted = 0
    blocked = False
    for n in range(400):
        try:
            await asyncio.wait_for(delivery.submit([numbered_alert(n)]), 0.5)
        except TimeoutError:
            blocked = True
            break
        submitted += 1
    assert blocked, "submit never blocked although the spool was full"
    assert 0 < submitted < 400
    async with receiver:
        # The blocked alert goes in once the sink drains the spool.
        await asyncio.wait_for(delivery.submit([numbered_alert(submitted)]), 10)
        assert await wait_until(lambda: delivery.pending()["hook"] == 0, 10)
        await delivery.close(1.0)
    seqs = first_occurrences(delivered_seqs(receiver))
    assert seqs[:submitted] == list(range(submitted))
    assert seqs[-1] == submitted


async def test_full_spool_raises_when_configured_to(tmp_path: Path) -> None:
    config = FAST.model_copy(update={"max_bytes": 64 * 1024, "segment_bytes": 8 * 1024,
                                     "on_full": "error"})
    delivery = await AlertDelivery.open(tmp_path, [webhook(WebhookReceiver())], config)
    with pytest.raises(SpoolFullError):
        for n in range(400):
            await delivery.submit([numbered_alert(n)])
    await delivery.close(0.1)


async def test_permanent_rejection_dead_letters_only_the_bad_alert(tmp_path: Path) -> None:
    class PickyReceiver(WebhookReceiver):
        def default_reply(self, request: web.Request, body: bytes) -> Reply:
            return Reply(422, b"unprocessable") if b"poison" in body else Reply(200, b"{}")

    async with PickyReceiver() as receiver:
        delivery = await AlertDelivery.open(tmp_path, [webhook(receiver, max_batch=10)], FAST)
        alerts = [numbered_alert(n) for n in range(10)]
        alerts[4] = numbered_alert(4, message="poison pill")
        await delivery.submit(alerts)
        assert await wait_until(lambda: delivery.pending()["hook"] == 0, 5)
        assert delivery.dead_lettered() == {"hook": 1}
        await delivery.close(0.1)
    assert first_occurrences(delivered_seqs(receiver)) == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    lines = (tmp_path / "spool" / "dead-letter" / "hook.jsonl").read_bytes().splitlines()
    assert len(lines) == 1
    dead = orjson.loads(lines[0])
    assert dead["alert"]["message"] == "poison pill" and "422" in dead["reason"]


async def test_routing_skips_alerts_the_sink_does_not_want(tmp_path: Path) -> None:
    async with WebhookReceiver() as receiver:
        sink = webhook(receiver, routing=Routing(min_severity="critical"))
        delivery = await AlertDelivery.open(tmp_path, [sink], FAST)
        await delivery.submit([numbered_alert(n, severity="critical" if n % 3 == 0 else "high")
                               for n in range(12)])
        assert await wait_until(lambda: delivery.pending()["hook"] == 0, 5)
        await delivery.close(0.1)
    assert delivered_seqs(receiver) == [0, 3, 6, 9]


async def test_retry_after_from_the_receiver_is_honoured(tmp_path: Path) -> None:
    async with WebhookReceiver() as receiver:
        receiver.script.append(Reply(503, b"busy", {"Retry-After": "1"}))
        delivery = await AlertDelivery.open(tmp_path, [webhook(receiver)], FAST)
        await delivery.submit([numbered_alert(0)])
        assert await wait_until(lambda: delivery.pending()["hook"] == 0, 5)
        await delivery.close(0.1)
    first, second = receiver.requests[0], receiver.requests[1]
    assert first.status == 503 and second.status == 200
    assert second.at - first.at >= 0.95


async def test_duplicate_sink_names_are_refused(tmp_path: Path) -> None:
    receiver = WebhookReceiver()
    with pytest.raises(ValueError, match="unique"):
        await AlertDelivery.open(tmp_path, [webhook(receiver), webhook(receiver)], FAST)


async def test_circuit_breaker_rests_then_probes_with_one_alert(tmp_path: Path) -> None:
    config = FAST.model_copy(update={"breaker_failures": 2, "breaker_open_seconds": 0.5,
                                     "initial_backoff": 0.01, "max_backoff": 0.02})
    async with WebhookReceiver() as receiver:
        receiver.script.extend([Reply(500, b"down")] * 3)
        delivery = await AlertDelivery.open(tmp_path, [webhook(receiver, max_batch=10)], config)
        await delivery.submit([numbered_alert(n) for n in range(10)])
        assert await wait_until(lambda: delivery.pending()["hook"] == 0, 5)
        await delivery.close(0.1)
    statuses = [r.status for r in receiver.requests]
    sizes = [len(orjson.loads(r.body)) for r in receiver.requests]
    assert statuses == [500, 500, 500, 200, 200]
    assert sizes == [10, 10, 1, 1, 9]  # two failures open it; probes carry one alert
    gaps = [b.at - a.at for a, b in zip(receiver.requests, receiver.requests[1:], strict=False)]
    assert gaps[1] >= 0.45 and gaps[2] >= 0.45  # rested while open


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    import random

    from logsentry.spool.backoff import Backoff

    backoff = Backoff(0.5, 8.0, random.Random(1))
    delays = [backoff.next_delay() for _ in range(12)]
    assert all(0.125 <= d <= 8.0 for d in delays)
    assert max(delays[:2]) <= 1.0 and max(delays[6:]) > 2.0
    backoff.reset()
    assert backoff.next_delay() <= 0.5


class _FailsAsItIsClosedSink:
    """A sink whose send fails at once and, the first time, starts closing the delivery
    just before failing: the close's cancellation reaches the deliverer's
    `asyncio.wait_for` after the send has finished, which Python 3.11 swallows."""

    name = "racy"

    def __init__(self) -> None:
        self.delivery: AlertDelivery | None = None
        self.closing: asyncio.Task[None] | None = None
        self.sends = 0

    async def start(self) -> None:
        return None

    async def send(self, batch: list[object]) -> None:
        self.sends += 1
        if self.closing is None and self.delivery is not None:
            self.closing = asyncio.ensure_future(self.delivery.close(0.0))
        raise SinkError("receiver down")

    async def close(self) -> None:
        return None


async def test_close_ends_delivery_even_when_the_cancellation_meets_a_failing_send(
        tmp_path: Path) -> None:
    sink = _FailsAsItIsClosedSink()
    config = WebhookSinkConfig(name="racy", url="http://127.0.0.1:9/alerts")
    delivery = await AlertDelivery.open(tmp_path, [(config, sink)], FAST)  # type: ignore[list-item]
    sink.delivery = delivery
    await delivery.submit([numbered_alert(n) for n in range(3)])
    assert await wait_until(lambda: sink.closing is not None, 5)
    assert sink.closing is not None
    # Bounded: close cancels until the deliverer has ended (one cancel would leave it
    # retrying and close waiting on it for ever).
    done, _ = await asyncio.wait({sink.closing}, timeout=5)
    assert done, "close() still waiting on a delivery task that swallowed its cancellation"
    assert delivery.pending()["racy"] == 3  # kept in the spool for the next start
