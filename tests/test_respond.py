"""Active response: decisions from alerts, kept durably, served to bouncers as CrowdSec's API."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

import aiohttp
import pytest

from logsentry.core.alert import Alert
from logsentry.respond.config import RespondConfig
from logsentry.respond.decision import Decision, decision_uuid, go_duration
from logsentry.respond.policy import Policy, allowlist
from logsentry.respond.responder import Responder
from logsentry.respond.store import DecisionStore

NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Collected:
    """The alert output behind the responder."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    async def submit(self, alerts: list[Alert]) -> None:
        self.alerts += alerts


def alert(ip: object = "203.0.113.7", rule: str = "ssh.brute-force", start: float = NOW,
          severity: str = "high") -> Alert:
    group = {"source.ip": ip} if ip is not None else {}
    return Alert(rule, "SSH brute force", severity, "5 failed logins", start, start, 5,
                 group=group, tags=["attack.credential_access"])


def config(**overrides: object) -> RespondConfig:
    base: dict[str, object] = {"enabled": True, "lapi": {"enabled": False}}
    return RespondConfig.model_validate({**base, **overrides})


def test_go_durations_read_as_bouncers_parse_them() -> None:
    assert go_duration(4 * 3600) == "4h0m0s"
    assert go_duration(3 * 3600 + 59 * 60 + 58.5) == "3h59m58.5s"
    assert go_duration(-12) == "-12s"
    assert go_duration(90) == "1m30s"


def test_repeat_offenders_are_banned_longer_up_to_the_cap() -> None:
    policy = Policy(config(duration="1h", increment=3, max_duration="5h"), [])
    durations = []
    for offenses in range(3):
        verdict = policy.decide(alert(), lambda _v, n=offenses: n, NOW)
        assert verdict.decision is not None
        durations.append(verdict.decision.until - NOW)
    assert durations == [3600, 3 * 3600, 5 * 3600]


@pytest.mark.parametrize(("ip", "reason"), [
    (None, "no_source"), ("not-an-ip", "not_an_address"), ("127.0.0.1", "not_routable"),
    ("0.0.0.0", "not_routable"), ("224.0.0.1", "not_routable"),
    ("198.18.4.4", "allowlisted"), ("2001:db8::1", "allowlisted"),
])
def test_addresses_that_must_never_be_banned_yield_no_decision(ip: object, reason: str) -> None:
    policy = Policy(config(), allowlist(["198.18.0.0/15", "2001:db8::/32"]))
    verdict = policy.decide(alert(ip), lambda _v: 0, NOW)
    assert verdict.decision is None and verdict.refused == reason


def test_a_network_is_banned_when_the_prefix_says_so_unless_it_holds_an_allowed_address() -> None:
    policy = Policy(config(prefix_v4=24, prefix_v6=64), allowlist(["203.0.114.9"]))
    v4 = policy.decide(alert("203.0.113.7"), lambda _v: 0, NOW).decision
    v6 = policy.decide(alert("2a01:4f8:1:2::99"), lambda _v: 0, NOW).decision
    assert v4 is not None and v4.value == "203.0.113.0/24" and v4.scope == "Range"
    assert v6 is not None and v6.value == "2a01:4f8:1:2::/64"
    assert policy.decide(alert("203.0.114.1"), lambda _v: 0, NOW).refused == "allowlisted"


def test_the_hosts_own_addresses_are_always_allowed() -> None:
    networks = allowlist([])
    assert any(ipaddress.ip_address("127.0.0.1") in n for n in networks)
    assert any(ipaddress.ip_address("::1") in n for n in networks)


def test_selection_by_rule_severity_and_tag() -> None:
    policy = Policy(config(rules=["ssh.brute-force"], min_severity="high"), [])
    assert policy.selects(alert())
    assert not policy.selects(alert(rule="web.scan"))
    assert not policy.selects(alert(severity="medium"))
    tagged = Policy(config(tags=["attack.initial_access"]), [])
    assert not tagged.selects(alert())


def decision(value: str, until: float = NOW + 3600, uuid: str = "") -> Decision:
    return Decision(uuid or decision_uuid(value), value, "ban", "logsentry", "ssh.brute-force",
                    NOW, until)


def test_decisions_survive_a_restart_and_expire_on_time(tmp_path: Path) -> None:
    store = DecisionStore.open(tmp_path, NOW)
    store.add([decision("203.0.113.1"), decision("203.0.113.2", until=NOW + 10)], NOW)
    reopened = DecisionStore.open(tmp_path, NOW + 20)
    assert [d.value for d in reopened.active(NOW + 20)] == ["203.0.113.1"]
    assert reopened.offenses("203.0.113.2") == 1  # remembered for escalation


def test_a_deletion_by_another_process_reaches_the_daemons_store(tmp_path: Path) -> None:
    daemon = DecisionStore.open(tmp_path, NOW)
    daemon.add([decision("203.0.113.1")], NOW)
    command_line = DecisionStore.open(tmp_path, NOW)
    command_line.delete([d.uuid for d in command_line.active_on("203.0.113.1", NOW)], NOW + 1)
    command_line.add([decision("203.0.113.9")], NOW + 1)
    seq = daemon.seq
    daemon.refresh(NOW + 1)
    changes = daemon.changes_since(seq)
    assert changes is not None
    assert [(c.kind, c.decision.value) for c in changes] == [
        ("deleted", "203.0.113.1"), ("new", "203.0.113.9")]
    assert [d.value for d in daemon.active(NOW + 1)] == ["203.0.113.9"]


def test_compaction_keeps_what_is_active_and_the_offense_counts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from logsentry.respond import store as store_module

    monkeypatch.setattr(store_module, "COMPACT_MIN_RECORDS", 500)
    store = DecisionStore.open(tmp_path, NOW)
    for i in range(600):
        store.add([decision(f"198.51.100.{i % 250}", until=NOW + 5, uuid=f"{i:032x}")], NOW)
        store.expire(NOW + 6)
    store.add([decision("203.0.113.1")], NOW + 6)
    store.delete([store.active(NOW + 6)[0].uuid], NOW + 7)
    store.add([decision("203.0.113.2")], NOW + 7)
    assert store.compact_if_worth_it(NOW + 8)
    assert len(store.path.read_text().splitlines()) < 300
    reopened = DecisionStore.open(tmp_path, NOW + 8)
    assert [d.value for d in reopened.active(NOW + 8)] == ["203.0.113.2"]
    assert reopened.offenses("198.51.100.3") >= 1


async def test_the_responder_stores_marks_and_passes_on_each_alert(tmp_path: Path) -> None:
    clock = Clock()
    responder = Responder(config(), tmp_path, clock)
    inner = Collected()
    responder.inner = inner
    await responder.start()
    try:
        first = alert()
        await responder.submit([first, alert(None)])
        assert len(inner.alerts) == 2
        marked = first.to_ecs()["logsentry"]["decision"]
        assert marked["value"] == "203.0.113.7" and marked["type"] == "ban"
        # The same alert raised again (a replay after a crash): the same decision, once.
        again = alert()
        await responder.submit([again])
        assert again.extra["decision"]["id"] == marked["id"]
        assert len(responder.store.active(clock.now)) == 1
    finally:
        await responder.close()
    assert len(DecisionStore.open(tmp_path / "decisions", clock.now).active(clock.now)) == 1


async def test_a_flood_of_attackers_stops_at_the_cap_with_counted_refusals(tmp_path: Path) -> None:
    from logsentry.core.metrics import DECISIONS_REFUSED

    refused = DECISIONS_REFUSED.labels("cap")
    before = refused._value.get()
    responder = Responder(config(max_active=50), tmp_path, Clock())
    await responder.start()
    try:
        await responder.submit([alert(f"203.0.{i // 250}.{i % 250 + 1}") for i in range(80)])
        assert len(responder.store) == 50
        assert refused._value.get() - before == 30
    finally:
        await responder.close()


async def test_dry_run_marks_alerts_and_stores_nothing(tmp_path: Path) -> None:
    responder = Responder(config(dry_run=True), tmp_path, Clock())
    await responder.start()
    try:
        marked = alert()
        await responder.submit([marked])
        assert marked.extra["decision"]["dry_run"] is True
        assert len(responder.store) == 0
    finally:
        await responder.close()


async def lapi_responder(tmp_path: Path, clock: Clock) -> tuple[Responder, str, str]:
    from logsentry.respond.bouncer_keys import BouncerKeys

    key = BouncerKeys(tmp_path / "bouncers.json").add("firewall")
    responder = Responder(config(lapi={"port": 0}), tmp_path, clock)
    await responder.start()
    from logsentry.respond.lapi import LapiServer

    assert isinstance(responder._lapi, LapiServer)
    return responder, f"http://127.0.0.1:{responder._lapi.port}", key


async def test_bouncers_stream_new_and_deleted_decisions_with_their_key(tmp_path: Path) -> None:
    clock = Clock()
    responder, url, key = await lapi_responder(tmp_path, clock)
    headers = {"X-Api-Key": key}
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{url}/v1/decisions/stream?startup=true",
                                headers={"X-Api-Key": "wrong"}) as response:
                assert response.status == 401
            await responder.submit([alert("203.0.113.7"), alert("2a01:4f8::5")])
            async with http.get(f"{url}/v1/decisions/stream?startup=true",
                                headers=headers) as response:
                body = await response.json()
            assert body["deleted"] is None
            assert sorted(d["value"] for d in body["new"]) == ["203.0.113.7", "2a01:4f8::5"]
            first = body["new"][0]
            assert {"id", "origin", "type", "scope", "value", "duration", "scenario"} <= set(first)
            assert first["origin"] == "logsentry" and first["scope"] == "Ip"
            assert first["duration"].startswith("3h59m") or first["duration"] == "4h0m0s"
            # Nothing changed: nothing new.
            async with http.get(f"{url}/v1/decisions/stream", headers=headers) as response:
                assert await response.json() == {"new": None, "deleted": None}
            # One deleted by hand, one expired: both reported deleted.
            ipv4 = responder.store.active_on("203.0.113.7", clock.now)[0]
            responder.store.delete([ipv4.uuid], clock.now)
            clock.now += 5 * 3600
            async with http.get(f"{url}/v1/decisions/stream", headers=headers) as response:
                body = await response.json()
            assert body["new"] is None
            assert sorted(d["value"] for d in body["deleted"]) == ["203.0.113.7", "2a01:4f8::5"]
    finally:
        await responder.close()


async def test_a_bouncer_asking_about_one_address_gets_the_decisions_that_cover_it(
        tmp_path: Path) -> None:
    clock = Clock()
    responder, url, key = await lapi_responder(tmp_path, clock)
    responder.store.add([decision("192.0.2.0/24")], clock.now)
    try:
        async with aiohttp.ClientSession(headers={"X-Api-Key": key}) as http:
            async with http.get(f"{url}/v1/decisions?ip=192.0.2.77") as response:
                found = await response.json()
            async with http.get(f"{url}/v1/decisions?ip=192.0.3.1") as response:
                none = await response.json()
            async with http.get(f"{url}/v1/decisions?scopes=ip&origins=cscli") as response:
                everything = await response.json()
        assert [d["value"] for d in found] == ["192.0.2.0/24"] and found[0]["scope"] == "Range"
        assert none is None
        assert everything is not None
    finally:
        await responder.close()


async def test_a_late_bouncer_gets_every_active_decision_at_startup(tmp_path: Path) -> None:
    clock = Clock()
    responder, url, key = await lapi_responder(tmp_path, clock)
    try:
        await responder.submit([alert(f"203.0.113.{i}") for i in range(1, 21)])
        await asyncio.sleep(0)
        async with (aiohttp.ClientSession(headers={"X-Api-Key": key}) as http,
                    http.get(f"{url}/v1/decisions/stream?startup=true") as response):
            body = await response.json()
        assert len(body["new"]) == 20
    finally:
        await responder.close()
