"""The Slack sink against a loopback server implementing Slack's webhook contract."""

from __future__ import annotations

import asyncio
import itertools
import re
from pathlib import Path

import orjson
import pytest

from logsentry.core.errors import SinkError
from logsentry.sinks.config import SlackSinkConfig
from logsentry.sinks.slack import SlackSink
from logsentry.spool.alert_delivery import AlertDelivery
from logsentry.spool.config import SpoolConfig
from tests.servers.alerts import first_occurrences, numbered_alert
from tests.servers.http_receiver import Reply
from tests.servers.ports import wait_until
from tests.servers.slack import SlackReceiver

FAST = SpoolConfig(initial_backoff=0.05, max_backoff=0.2, breaker_failures=50,
                   breaker_open_seconds=0.2, send_timeout=5.0)


def slack(receiver: SlackReceiver, **options: object) -> tuple[SlackSinkConfig, SlackSink]:
    config = SlackSinkConfig.model_validate(
        {"name": "slack", "webhook_url": receiver.webhook_url, "timeout": 2.0, **options})
    return config, SlackSink(config, "slack")


async def test_one_alert_becomes_a_block_kit_message() -> None:
    async with SlackReceiver() as receiver:
        _, sink = slack(receiver)
        await sink.start()
        await sink.send([numbered_alert(7)])
        await sink.close()
    (message,) = receiver.messages()
    kinds = [block["type"] for block in message["blocks"]]
    assert kinds == ["header", "section", "section", "context"]
    assert message["blocks"][0]["text"]["text"] == "HIGH: SSH brute force"
    assert "alert #7" in message["blocks"][1]["text"]["text"]
    fields = [f["text"] for f in message["blocks"][2]["fields"]]
    assert "*source.ip*\n10.0.0.7" in fields and "*Severity*\nHIGH" in fields
    context = message["blocks"][3]["elements"][0]["text"]
    assert "<https://attack.mitre.org/techniques/T1110/001/|T1110.001>" in context
    assert message["text"].startswith("[HIGH] SSH brute force")


@pytest.mark.parametrize(("status", "body"), [
    (400, b"invalid_payload"), (404, b"no_service"), (410, b"channel_is_archived"),
    (403, b"action_prohibited"),
])
async def test_client_errors_other_than_429_are_permanent(status: int, body: bytes) -> None:
    async with SlackReceiver() as receiver:
        receiver.script.append(Reply(status, body))
        _, sink = slack(receiver)
        await sink.start()
        with pytest.raises(SinkError) as caught:
            await sink.send([numbered_alert(1)])
        await sink.close()
    assert caught.value.permanent
    assert body.decode() in str(caught.value)
    assert receiver.webhook_url not in str(caught.value)  # the secret URL is not logged


async def test_server_errors_and_429_are_retryable_with_retry_after() -> None:
    async with SlackReceiver() as receiver:
        receiver.script.extend([Reply(500, b"oops"), Reply(429, b"", {"Retry-After": "3"})])
        _, sink = slack(receiver)
        await sink.start()
        with pytest.raises(SinkError) as server_error:
            await sink.send([numbered_alert(1)])
        with pytest.raises(SinkError) as rate_limited:
            await sink.send([numbered_alert(1)])
        await sink.close()
    assert not server_error.value.permanent
    assert not rate_limited.value.permanent and rate_limited.value.retry_after == 3.0
    assert sink.next_send_at() - asyncio.get_running_loop().time() > 2.0


async def test_burst_is_folded_into_a_digest_and_paced_one_per_second(tmp_path: Path) -> None:
    async with SlackReceiver() as receiver:
        delivery = await AlertDelivery.open(tmp_path, [slack(receiver, min_interval=1.0)], FAST)
        await delivery.submit([numbered_alert(0)])
        assert await wait_until(lambda: len(receiver.messages()) == 1, 5)
        for n in range(1, 31):  # a burst while the rate limit holds
            await delivery.submit([numbered_alert(n)])
        assert await wait_until(lambda: delivery.pending()["slack"] == 0, 10)
        await delivery.close(0.5)
    texts = receiver.texts()
    # The first alert went alone; the burst came in few digests, not 30 messages.
    assert len(texts) <= 4
    digest_header = receiver.messages()[1]["blocks"][0]["text"]["text"]
    assert re.fullmatch(r"(1\d|20) alerts: \d+ high", digest_header), digest_header
    times = [r.at for r in receiver.accepted()]
    assert all(b - a >= 0.95 for a, b in itertools.pairwise(times))
    # Every alert appears, in order (the fallback text repeats a few: first occurrences).
    numbers = [int(n) for n in re.findall(r"alert #(\d+)", "\n".join(texts))]
    assert first_occurrences(numbers) == list(range(31))


async def test_429_delays_the_next_message_by_retry_after(tmp_path: Path) -> None:
    async with SlackReceiver() as receiver:
        receiver.script.append(Reply(429, b"rate_limited", {"Retry-After": "1"}))
        delivery = await AlertDelivery.open(tmp_path, [slack(receiver, min_interval=0)], FAST)
        await delivery.submit([numbered_alert(0)])
        assert await wait_until(lambda: delivery.pending()["slack"] == 0, 5)
        await delivery.close(0.1)
    assert [r.status for r in receiver.requests] == [429, 200]
    assert receiver.requests[1].at - receiver.requests[0].at >= 0.95


async def test_rejected_message_is_dead_lettered_and_delivery_goes_on(tmp_path: Path) -> None:
    async with SlackReceiver() as receiver:
        receiver.script.append(Reply(400, b"invalid_payload"))
        delivery = await AlertDelivery.open(tmp_path, [slack(receiver, min_interval=0)], FAST)
        await delivery.submit([numbered_alert(0)])
        assert await wait_until(lambda: delivery.pending()["slack"] == 0, 5)
        await delivery.submit([numbered_alert(1)])
        assert await wait_until(lambda: delivery.pending()["slack"] == 0, 5)
        assert delivery.dead_lettered() == {"slack": 1}
        await delivery.close(0.1)
    dead = orjson.loads((tmp_path / "spool/dead-letter/slack.jsonl").read_bytes())
    assert dead["alert"]["message"] == "alert #0" and "invalid_payload" in dead["reason"]
    assert "alert #1" in receiver.texts()[-1]


async def test_web_api_chat_post_message_with_bot_token() -> None:
    async with SlackReceiver() as receiver:
        config = SlackSinkConfig(name="api", bot_token=receiver.bot_token, channel="#sec",
                                 api_url=receiver.api_url)
        sink = SlackSink(config, "api")
        await sink.start()
        await sink.send([numbered_alert(3)])
        await sink.close()
        bad = SlackSink(config.model_copy(update={"bot_token": "xoxb-wrong"}), "api")
        await bad.start()
        with pytest.raises(SinkError) as caught:
            await bad.send([numbered_alert(4)])
        await bad.close()
    (request, _) = receiver.requests
    assert request.path == "/api/chat.postMessage"
    assert request.headers["Authorization"] == f"Bearer {receiver.bot_token}"
    assert orjson.loads(request.body)["channel"] == "#sec"
    assert caught.value.permanent and "invalid_auth" in str(caught.value)


async def test_webhook_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async with SlackReceiver() as receiver:
        monkeypatch.setenv("SLACK_HOOK", receiver.webhook_url)
        config = SlackSinkConfig(webhook_url="${ENV:SLACK_HOOK}")
        sink = SlackSink(config)
        await sink.start()
        await sink.send([numbered_alert(1)])
        await sink.close()
    assert len(receiver.messages()) == 1
    assert "SLACK_HOOK" in repr(config) or "**" in repr(config)
    assert receiver.webhook_url not in repr(config)


async def test_the_fallback_text_says_a_title_that_opens_the_summary_once() -> None:
    summary = "SSH brute force: 5 failed logins for 3 users from 10.0.0.7 in 4 seconds"
    async with SlackReceiver() as receiver:
        _, sink = slack(receiver)
        await sink.start()
        await sink.send([numbered_alert(7, message=summary)])
        await sink.close()
    (message,) = receiver.messages()
    assert message["text"] == f"[HIGH] {summary}"
