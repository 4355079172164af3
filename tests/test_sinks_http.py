"""The generic webhook and Splunk HEC sinks against loopback receivers."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import ValidationError

from logsentry.core.errors import SecretError, SinkError
from logsentry.sinks.config import SlackSinkConfig, SplunkHecSinkConfig, WebhookSinkConfig
from logsentry.sinks.splunk_hec import SplunkHecSink
from logsentry.sinks.webhook import WebhookSink
from logsentry.spool.alert_delivery import AlertDelivery
from logsentry.spool.config import SpoolConfig
from logsentry.transport.secrets import check_secrets
from logsentry.transport.tls import TlsConfig
from tests.servers.alerts import numbered_alert, seq_of
from tests.servers.hec import TOKEN, HecReceiver, hec_reply
from tests.servers.http_receiver import HttpReceiver, Reply
from tests.servers.ports import wait_until
from tests.servers.tls_cert import make_self_signed
from tests.servers.webhook import WebhookReceiver

FAST = SpoolConfig(initial_backoff=0.05, max_backoff=0.2, breaker_failures=50,
                   breaker_open_seconds=0.2, send_timeout=5.0)


# --- webhook ---------------------------------------------------------------------------------


async def test_webhook_signs_with_hmac_and_sends_custom_headers(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret_file = tmp_path / "hmac"
    secret_file.write_text("s3cret\n")
    monkeypatch.setenv("HOOK_TOKEN", "Bearer abc")
    async with WebhookReceiver(secret=b"s3cret") as receiver:
        config = WebhookSinkConfig(
            url=receiver.url + "/in", hmac_secret=f"${{FILE:{secret_file}}}",
            headers={"Authorization": "${ENV:HOOK_TOKEN}", "X-Team": "secops"})
        sink = WebhookSink(config)
        await sink.start()
        await sink.send([numbered_alert(1)])
        await sink.close()
    (request,) = receiver.accepted()
    assert request.headers["Authorization"] == "Bearer abc"
    assert request.headers["X-Team"] == "secops"
    assert request.headers["X-Logsentry-Signature"].startswith("sha256=")
    assert seq_of(receiver.documents()[0]) == 1


async def test_webhook_with_a_wrong_secret_is_rejected_permanently() -> None:
    async with WebhookReceiver(secret=b"right") as receiver:
        sink = WebhookSink(WebhookSinkConfig(url=receiver.url, hmac_secret="wrong"))
        await sink.start()
        with pytest.raises(SinkError) as caught:
            await sink.send([numbered_alert(1)])
        await sink.close()
    assert caught.value.permanent and "401" in str(caught.value)


async def test_webhook_batches_as_a_json_array() -> None:
    async with WebhookReceiver() as receiver:
        sink = WebhookSink(WebhookSinkConfig(url=receiver.url, max_batch=5))
        await sink.start()
        await sink.send([numbered_alert(n) for n in range(5)])
        await sink.close()
    assert len(receiver.requests) == 1
    assert [seq_of(d) for d in receiver.documents()] == [0, 1, 2, 3, 4]


async def test_webhook_tls_is_verified_by_default_and_a_ca_file_makes_it_work(
        tmp_path: Path) -> None:
    cert = make_self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert.cert, cert.key)
    got: list[bytes] = []

    async def handle(request: web.Request) -> web.Response:
        got.append(await request.read())
        return web.Response(text="{}")

    app = web.Application()
    app.router.add_post("/", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = runner.addresses[0][1]
    try:
        untrusted = WebhookSink(WebhookSinkConfig(url=f"https://localhost:{port}/"))
        await untrusted.start()
        with pytest.raises(SinkError) as caught:
            await untrusted.send([numbered_alert(1)])
        await untrusted.close()
        assert not got and not caught.value.permanent
        trusted = WebhookSink(WebhookSinkConfig(url=f"https://localhost:{port}/",
                                                tls=TlsConfig(ca_file=str(cert.cert))))
        await trusted.start()
        await trusted.send([numbered_alert(2)])
        await trusted.close()
    finally:
        await runner.cleanup()
    assert len(got) == 1


# --- Splunk HEC ------------------------------------------------------------------------------


def hec(receiver: HttpReceiver, token: str = TOKEN, max_batch: int = 50) -> SplunkHecSink:
    return SplunkHecSink(SplunkHecSinkConfig(name="hec", url=receiver.url, token=token,
                                             index="security", max_batch=max_batch,
                                             timeout=2.0), "hec")


async def test_hec_receives_batched_events_with_token_auth(tmp_path: Path) -> None:
    async with HecReceiver() as receiver:
        sink = hec(receiver, max_batch=25)
        delivery = await AlertDelivery.open(
            tmp_path, [(SplunkHecSinkConfig(name="hec", url=receiver.url, token=TOKEN), sink)],
            FAST)
        await delivery.submit([numbered_alert(n) for n in range(60)])
        assert await wait_until(lambda: delivery.pending()["hec"] == 0, 5)
        await delivery.close(0.1)
    events = receiver.events()
    assert [seq_of(e["event"]) for e in events] == list(range(60))
    assert all(e["index"] == "security" and e["sourcetype"] == "logsentry:alert" for e in events)
    assert events[0]["time"] == pytest.approx(numbered_alert(0).end)
    assert len(receiver.requests) == 3  # 25 + 25 + 10


@pytest.mark.parametrize(("reply", "permanent"), [
    (hec_reply(503, 9, "Server is busy"), False),
    (hec_reply(500, 8, "Internal server error"), False),
    (hec_reply(503, 18, "HEC is unhealthy"), False),
    (hec_reply(403, 4, "Invalid token"), True),
    (hec_reply(403, 1, "Token disabled"), True),
    (hec_reply(400, 7, "Incorrect index"), True),
    (hec_reply(400, 6, "Invalid data format"), True),
])
async def test_hec_error_codes(reply: Reply, permanent: bool) -> None:
    async with HecReceiver() as receiver:
        receiver.script.append(reply)
        sink = hec(receiver)
        await sink.start()
        with pytest.raises(SinkError) as caught:
            await sink.send([numbered_alert(1)])
        await sink.send([numbered_alert(2)])  # the next request succeeds
        await sink.close()
    assert caught.value.permanent is permanent


async def test_hec_wrong_token_is_refused_by_the_receiver() -> None:
    async with HecReceiver() as receiver:
        sink = hec(receiver, token="not-the-token")
        await sink.start()
        with pytest.raises(SinkError) as caught:
            await sink.send([numbered_alert(1)])
        await sink.close()
    assert caught.value.permanent and "code 4" in str(caught.value)
    assert "not-the-token" not in str(caught.value)


async def test_hec_busy_is_retried_until_accepted(tmp_path: Path) -> None:
    async with HecReceiver() as receiver:
        receiver.script.extend([hec_reply(503, 9, "Server is busy")] * 3)
        sink = hec(receiver)
        delivery = await AlertDelivery.open(
            tmp_path, [(SplunkHecSinkConfig(name="hec", url=receiver.url, token=TOKEN), sink)],
            FAST)
        await delivery.submit([numbered_alert(n) for n in range(3)])
        assert await wait_until(lambda: delivery.pending()["hec"] == 0, 5)
        await delivery.close(0.1)
    assert [r.status for r in receiver.requests] == [503, 503, 503, 200]
    assert [seq_of(e["event"]) for e in receiver.events()] == [0, 1, 2]


@pytest.mark.parametrize(("kind", "key", "url", "problem"), [
    ("slack", "webhook_url", "hooks.slack.com/services/T0/B0/x", "scheme none"),
    ("webhook", "url", "htps://siem.example/in", "scheme 'htps'"),
    ("webhook", "url", "https:///in", "no host"),
    ("webhook", "url", "https://siem.example:99999/in", "not a URL"),
    ("webhook", "url", "https://siem.example/in put", "spaces or control characters"),
    ("splunk_hec", "url", "splunk:8088", "not an http(s) URL"),
])
def test_a_sink_url_that_is_not_http_is_refused_when_the_configuration_loads(
    kind: str, key: str, url: str, problem: str,
) -> None:
    models = {"slack": SlackSinkConfig, "webhook": WebhookSinkConfig,
              "splunk_hec": SplunkHecSinkConfig}
    extra = {"splunk_hec": {"token": "t"}}.get(kind, {})
    with pytest.raises(ValidationError) as caught:
        models[kind].model_validate({"type": kind, key: url, **extra})
    assert problem in str(caught.value)


def test_a_url_secret_reference_is_checked_once_resolved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A reference is accepted as written; what it resolves to must be a URL too.
    config = WebhookSinkConfig.model_validate({"type": "webhook", "url": "${ENV:SIEM_HOOK}"})
    monkeypatch.setenv("SIEM_HOOK", "siem.example/in")
    with pytest.raises(SecretError, match="url: not an http"):
        check_secrets(config)
    monkeypatch.setenv("SIEM_HOOK", "https://siem.example/in")
    check_secrets(config)
