"""Alert delivery benchmarks against loopback receivers (the test servers).

Three figures, each against the issue's target:

1. outage: Slack and webhook receivers down for `--outage` seconds (60 by
   default) while `--alerts` (1,000) alerts are submitted; after recovery,
   every alert must reach both, in order per sink. Reports the time from
   recovery to fully drained.
2. isolation: time for a healthy sink (Splunk HEC) to receive `--throughput`
   alerts while Slack and the webhook are healthy, versus while they are
   down (median of 5 interleaved runs each). Target: the outage slows it by <= 5%.
3. latency: bursts of alerts routed to Slack, on top of a background load of
   alerts to the webhook and HEC; time from `submit()` of a burst's first
   alert to its arrival at the Slack receiver. Target: p99 <= 100 ms.

Run: .venv/bin/python bench/bench_sinks.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import structlog

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from logsentry.sinks.config import (  # noqa: E402
    Routing,
    SinkConfig,
    SlackSinkConfig,
    SplunkHecSinkConfig,
    WebhookSinkConfig,
)
from logsentry.sinks.factory import build_sink  # noqa: E402
from logsentry.spool.alert_delivery import AlertDelivery  # noqa: E402
from logsentry.spool.config import SpoolConfig  # noqa: E402
from tests.servers.alerts import first_occurrences, numbered_alert, seq_of  # noqa: E402
from tests.servers.hec import TOKEN, HecReceiver  # noqa: E402
from tests.servers.slack import SlackReceiver  # noqa: E402
from tests.servers.webhook import WebhookReceiver  # noqa: E402


def sink_configs(slack: SlackReceiver, hook: WebhookReceiver, hec: HecReceiver,
                 slack_routing: Routing | None = None,
                 other_routing: Routing | None = None) -> list[SinkConfig]:
    return [
        SlackSinkConfig(name="slack", webhook_url=slack.webhook_url,
                        routing=slack_routing or Routing()),
        WebhookSinkConfig(name="webhook", url=hook.url + "/alerts", max_batch=50,
                          routing=other_routing or Routing()),
        SplunkHecSinkConfig(name="hec", url=hec.url, token=TOKEN,
                            routing=other_routing or Routing()),
    ]


async def open_delivery(state: Path, configs: list[SinkConfig],
                        spool: SpoolConfig) -> AlertDelivery:
    return await AlertDelivery.open(state, [(c, build_sink(c)) for c in configs], spool)


async def wait_drained(delivery: AlertDelivery, names: list[str], timeout: float) -> float:
    start = time.monotonic()
    while any(delivery.pending()[n] for n in names):
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"not drained after {timeout}s: {delivery.pending()}")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


def slack_numbers(slack: SlackReceiver) -> list[int]:
    return [int(n) for n in re.findall(r"alert #(\d+)", "\n".join(slack.block_texts()))]


async def bench_outage(outage: float, alerts: int, spool: SpoolConfig) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as state:
        slack, hook, hec = SlackReceiver(), WebhookReceiver(), HecReceiver()
        await hec.start()  # Slack and the webhook are down from the start
        delivery = await open_delivery(Path(state), sink_configs(slack, hook, hec), spool)
        started = time.monotonic()
        per_batch = 10
        interval = outage / 2 / (alerts / per_batch)  # alerts arrive over the first half
        for first in range(0, alerts, per_batch):
            await delivery.submit([numbered_alert(n)
                                   for n in range(first, min(first + per_batch, alerts))])
            await asyncio.sleep(interval)
        await asyncio.sleep(max(0.0, outage - (time.monotonic() - started)))
        pending = dict(delivery.pending())
        await slack.start()
        await hook.start()
        recovered = time.monotonic()
        drained_at: dict[str, float] = {}
        while len(drained_at) < 3:
            for name, left in delivery.pending().items():
                if not left and name not in drained_at:
                    drained_at[name] = round(time.monotonic() - recovered, 2)
            if time.monotonic() - recovered > 600:
                raise TimeoutError(f"not drained: {delivery.pending()}")
            await asyncio.sleep(0.01)
        drained = time.monotonic() - recovered
        first_slack = slack.accepted()[0].at - recovered
        await delivery.close(1.0)
        for receiver in (slack, hook, hec):
            await receiver.stop()
    orders = {
        "slack": first_occurrences(slack_numbers(slack)) == list(range(alerts)),
        "webhook": first_occurrences([seq_of(d) for d in hook.documents()]) == list(range(alerts)),
        "hec": first_occurrences([seq_of(e["event"]) for e in hec.events()]) == list(range(alerts)),
    }
    return {"outage_s": outage, "alerts": alerts, "pending_at_recovery": pending,
            "all_delivered_in_order": orders, "slack_messages": len(slack.accepted()),
            "first_slack_message_after_recovery_s": round(first_slack, 2),
            "recovery_to_drained_s": round(drained, 2), "drained_after_s": drained_at}


async def healthy_sink_time(count: int, others_down: bool,
                            spool: SpoolConfig) -> tuple[float, float]:
    """(seconds to submit `count` alerts, seconds until HEC received them all)."""
    with tempfile.TemporaryDirectory() as state:
        slack, hook, hec = SlackReceiver(), WebhookReceiver(), HecReceiver()
        await hec.start()
        if not others_down:
            await slack.start()
            await hook.start()
        delivery = await open_delivery(Path(state), sink_configs(slack, hook, hec), spool)
        start = time.monotonic()
        for first in range(0, count, 20):
            await delivery.submit([numbered_alert(n) for n in range(first, min(first + 20, count))])
            await asyncio.sleep(0)
        submitted = time.monotonic() - start
        await wait_drained(delivery, ["hec"], timeout=600)
        elapsed = time.monotonic() - start
        assert [seq_of(e["event"]) for e in hec.events()] == list(range(count))
        await delivery.close(0.0)
        for receiver in (slack, hook, hec):
            await receiver.stop()
    return submitted, elapsed


async def bench_isolation(count: int, spool: SpoolConfig) -> dict[str, object]:
    healthy, degraded = [], []
    await healthy_sink_time(count // 4, False, spool)  # warm-up
    for _ in range(5):
        healthy.append(await healthy_sink_time(count, False, spool))
        degraded.append(await healthy_sink_time(count, True, spool))
    hs, ds = statistics.median(s for s, _ in healthy), statistics.median(s for s, _ in degraded)
    h, d = statistics.median(e for _, e in healthy), statistics.median(e for _, e in degraded)
    return {"alerts": count,
            "submit_s_all_healthy": round(hs, 3), "submit_s_slack_webhook_down": round(ds, 3),
            "submit_slowdown_pct": round((ds - hs) / hs * 100, 1),
            "hec_drain_s_all_healthy": round(h, 3),
            "hec_drain_s_slack_webhook_down": round(d, 3),
            "hec_slowdown_pct": round((d - h) / h * 100, 1)}


async def bench_latency(bursts: int, spacing: float, spool: SpoolConfig) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as state:
        async with SlackReceiver() as slack, WebhookReceiver() as hook, HecReceiver() as hec:
            configs = sink_configs(slack, hook, hec, slack_routing=Routing(rule_ids=["burst.*"]),
                                   other_routing=Routing(rule_ids=["load.*"]))
            # Pacing shorter than half the burst spacing: the digest of the burst's
            # tail goes out before the next burst, so the first alert finds the
            # rate limiter free (what a burst after a quiet period sees).
            configs[0] = configs[0].model_copy(update={"min_interval": spacing * 0.4})
            delivery = await open_delivery(Path(state), configs, spool)
            stop = asyncio.Event()

            async def background() -> None:
                n = 0
                while not stop.is_set():  # ~500 alerts/s to the webhook and HEC
                    await delivery.submit([numbered_alert(n + i, rule_id="load.x")
                                           for i in range(5)])
                    n += 5
                    await asyncio.sleep(0.01)

            load = asyncio.create_task(background())
            submitted: dict[int, float] = {}
            for burst in range(bursts):
                number = 1_000_000 + burst * 10
                submitted[number] = time.monotonic()
                await delivery.submit([numbered_alert(number, rule_id="burst.first")])
                for extra in range(1, 5):  # the rest of the burst, folded by pacing
                    await asyncio.sleep(0.005)
                    await delivery.submit([numbered_alert(number + extra, rule_id="burst.more")])
                await asyncio.sleep(spacing)
            stop.set()
            await load
            await wait_drained(delivery, ["slack"], timeout=120)
            await delivery.close(1.0)
            latencies = []
            for request in slack.accepted():
                for found in re.findall(r"alert #(\d+)", request.body.decode()):
                    if int(found) in submitted:
                        latencies.append((request.at - submitted.pop(int(found))) * 1000)
    latencies.sort()
    return {"bursts": bursts, "measured": len(latencies),
            "p50_ms": round(statistics.median(latencies), 1),
            "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
            "max_ms": round(latencies[-1], 1)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--outage", type=float, default=60.0, help="outage seconds")
    parser.add_argument("--alerts", type=int, default=1000, help="alerts during the outage")
    parser.add_argument("--throughput", type=int, default=4000, help="alerts, isolation runs")
    parser.add_argument("--bursts", type=int, default=100, help="bursts for the latency figure")
    parser.add_argument("--quick", action="store_true", help="5 s outage, fewer samples")
    parser.add_argument("--only", choices=["outage", "isolation", "latency"], default=None,
                        help="run one scenario")
    parser.add_argument("--max-backoff", type=float, default=None,
                        help="retry backoff cap (default: SpoolConfig's)")
    args = parser.parse_args()
    if args.quick:
        args.outage, args.throughput, args.bursts = 5.0, 1000, 30
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    spool = SpoolConfig()
    if args.max_backoff is not None:
        spool = spool.model_copy(update={"max_backoff": args.max_backoff,
                                         "breaker_open_seconds": args.max_backoff})
    print("spool:", spool.model_dump(include={"max_backoff", "breaker_failures",
                                              "breaker_open_seconds", "fsync"}))
    if args.only in (None, "outage"):
        print("outage:", await bench_outage(args.outage, args.alerts, spool), flush=True)
    if args.only in (None, "isolation"):
        print("isolation:", await bench_isolation(args.throughput, spool), flush=True)
    if args.only in (None, "latency"):
        print("latency:", await bench_latency(args.bursts, 0.3, spool), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
