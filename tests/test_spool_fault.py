"""SIGKILL the delivering process at random points: no alert is lost, order holds per sink."""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import sys
from pathlib import Path

from tests.servers.alerts import first_occurrences, seq_of
from tests.servers.hec import HecReceiver
from tests.servers.slack import SlackReceiver
from tests.servers.webhook import WebhookReceiver

ROOT = Path(__file__).resolve().parent.parent
COUNT = 400
KILLS = 10


async def start_child(state: Path, hook: WebhookReceiver, hec: HecReceiver,
                      slack: SlackReceiver) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.servers.delivery_child", str(state), str(COUNT),
        hook.url + "/alerts", hec.url, slack.webhook_url,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, cwd=ROOT, env=env)


async def read_line(child: asyncio.subprocess.Process, timeout: float) -> str:
    assert child.stdout is not None
    return (await asyncio.wait_for(child.stdout.readline(), timeout)).decode().strip()


async def test_every_alert_reaches_every_sink_across_random_sigkills(tmp_path: Path) -> None:
    rng = random.Random(6)
    async with WebhookReceiver() as hook, HecReceiver() as hec, SlackReceiver() as slack:
        kills = 0
        for _ in range(KILLS):
            child = await start_child(tmp_path, hook, hec, slack)
            ready = await read_line(child, 30)
            assert ready.startswith("READY"), ready
            await asyncio.sleep(rng.uniform(0.0, 0.4))
            if child.returncode is None:
                child.send_signal(signal.SIGKILL)
                kills += 1
            await child.wait()
        child = await start_child(tmp_path, hook, hec, slack)
        assert (await read_line(child, 30)).startswith("READY")
        assert await read_line(child, 60) == "DONE"
        assert await child.wait() == 0
        received = {
            "webhook": [seq_of(doc) for doc in hook.documents()],
            "hec": [seq_of(event["event"]) for event in hec.events()],
            "slack": [int(n) for n in re.findall(r"alert #(\d+)",
                                                 "\n".join(slack.block_texts()))],
        }
    assert kills >= KILLS // 2, "the children finished before most kills landed"
    for sink, seqs in received.items():
        assert first_occurrences(seqs) == list(range(COUNT)), sink
        # Duplicates are the price of at least once; report them.
        print(f"{sink}: {len(seqs)} received, {len(seqs) - COUNT} duplicates, {kills} kills")
