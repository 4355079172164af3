"""A stand-in daemon for the SIGKILL fault test: spool + real sinks, alerts flowing.

It behaves like the pipeline around `AlertDelivery`: it "reads" alerts
0..count-1 from a source whose committed offset lives in `progress` (written
atomically only after `submit()` returned, as the pipeline commits source
offsets), submits them in small batches, then waits until every sink drained
and prints DONE. Killed at any point and restarted, it resumes from the
committed offset; the spool resumes every sink at its cursor.

Run: python -m tests.servers.delivery_child STATE_DIR COUNT WEBHOOK_URL HEC_URL SLACK_URL
"""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

import structlog

from logsentry.core.atomicfile import write_atomic
from logsentry.sinks.config import SlackSinkConfig, SplunkHecSinkConfig, WebhookSinkConfig
from logsentry.sinks.factory import build_sink
from logsentry.spool.alert_delivery import AlertDelivery
from logsentry.spool.config import SpoolConfig
from tests.servers.alerts import numbered_alert
from tests.servers.hec import TOKEN

CONFIG = SpoolConfig(initial_backoff=0.05, max_backoff=0.3, breaker_failures=20,
                     breaker_open_seconds=0.3, send_timeout=5.0, segment_bytes=16 * 1024)


async def main(state_dir: Path, count: int, webhook_url: str, hec_url: str,
               slack_url: str) -> None:
    configs = [
        WebhookSinkConfig(name="webhook", url=webhook_url, max_batch=7, timeout=2.0),
        SplunkHecSinkConfig(name="hec", url=hec_url, token=TOKEN, max_batch=13, timeout=2.0),
        SlackSinkConfig(name="slack", webhook_url=slack_url, min_interval=0.05, timeout=2.0),
    ]
    delivery = await AlertDelivery.open(state_dir, [(c, build_sink(c)) for c in configs], CONFIG)
    progress = state_dir / "progress"
    offset = int(progress.read_text()) if progress.exists() else 0
    print("READY", offset, flush=True)
    rng = random.Random()
    while offset < count:
        size = min(rng.randint(1, 6), count - offset)
        await delivery.submit([numbered_alert(n) for n in range(offset, offset + size)])
        offset += size
        write_atomic(progress, str(offset).encode())
        await asyncio.sleep(rng.uniform(0, 0.01))
    while any(delivery.pending().values()):
        await asyncio.sleep(0.02)
    await delivery.close(1.0)
    print("DONE", flush=True)


if __name__ == "__main__":
    # Logs to stderr: stdout carries only the READY/DONE protocol.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    state, number, webhook, hec, slack = sys.argv[1:6]
    asyncio.run(main(Path(state), int(number), webhook, hec, slack))
