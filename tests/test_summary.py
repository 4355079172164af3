"""Summaries say things right: no `?`, a missing value drops its clause, numbers agree
with nouns, values are bounded and trimmed; one finding raises one alert."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from logsentry.core.event import Event
from logsentry.core.summary import summarize
from logsentry.detect.config import DetectionConfig
from logsentry.detect.detector import Detector
from logsentry.detect.summary import render_summary

BRUTE = ("SSH brute force: {count} failed logins for {distinct.user.name} users from "
         "{source.ip} on {values.host.name} in {duration}")


@pytest.mark.parametrize(("template", "values", "expected"), [
    ("{process.name} crashed on {host.name}: {message}", {"message": "syncing data ... ok"},
     "Crashed: syncing data ... ok"),
    (BRUTE, {"count": 4, "distinct.user.name": "0", "source.ip": "192.0.2.7",
             "values.host.name": "web-1", "duration": "3 seconds"},
     "SSH brute force: 4 failed logins from 192.0.2.7 on web-1 in 3 seconds"),
    (BRUTE, {"count": 5, "distinct.user.name": "1", "source.ip": "192.0.2.7",
             "duration": "3 seconds"},
     "SSH brute force: 5 failed logins for 1 user from 192.0.2.7 in 3 seconds"),
    ("Web scanning: {count} requests for {source.ip} ({distinct.url.original} URLs)",
     {"count": 1, "source.ip": "192.0.2.7", "distinct.url.original": "1"},
     "Web scanning: 1 request for 192.0.2.7 (1 URL)"),
    ("Group membership of {user.name} changed on {host.name}: {message}",
     {"host.name": "web-1", "message": "Creating group 'x' with GID 999.\r"},
     "Group membership changed on web-1: Creating group 'x' with GID 999."),
    ("{process.name|'A process'} stopped (after {suppressed} restarts)", {"suppressed": 0},
     "A process stopped"),
])
def test_a_missing_value_drops_its_clause(template: str, values: dict[str, object],
                                          expected: str) -> None:
    text = render_summary(template, values.get)
    assert text == expected
    assert "?" not in text


def test_a_long_value_is_cut() -> None:
    text = render_summary("Seen: {message}", {"message": "x" * 5000}.get)
    assert len(text) < 220 and text.endswith("…")


@pytest.mark.parametrize(("action", "fields", "expected"), [
    ("sudo_command", {"user.name": "alice"}, "alice ran a command with sudo"),
    ("web_attack_attempt", {"source.ip": "192.0.2.7"}, "Web attack attempt from 192.0.2.7"),
    ("group_changed", {}, "Group membership changed"),
])
def test_event_summaries_never_show_a_question_mark(action: str, fields: dict[str, object],
                                                     expected: str) -> None:
    assert summarize(action, dict(fields), "the line") == expected


def test_one_line_with_an_xss_payload_raises_one_alert() -> None:
    # web.xss (the payload) and web.attack-reported (the analyzer's reading): one finding.
    event = Event(
        '198.51.100.9 - - [12/Dec/2021:10:00:00 +0000] "GET /search?q=<script>alert(1)</script>'
        ' HTTP/1.1" 200 512 "-" "Mozilla/5.0"',
        timestamp=datetime(2021, 12, 12, 10, tzinfo=UTC), action="web_attack_attempt",
        confidence=0.95,
        fields={"source.ip": "198.51.100.9", "http.request.method": "GET",
                "url.original": "/search?q=<script>alert(1)</script>",
                "http.response.status_code": 200})
    alerts = Detector.from_config(DetectionConfig(), None).process([event])
    assert [a.rule_id for a in alerts] == ["web.xss"]
    (alert,) = alerts
    assert alert.extra["also_matched"] == ["web.attack-reported"]
    # The finding keeps the highest severity of the rules it met.
    assert alert.severity == "high"
    assert alert.to_ecs()["logsentry"]["also_matched"] == ["web.attack-reported"]


def test_one_template_filled_with_and_without_a_value_drops_the_clause_only_when_missing(
) -> None:
    # A template's clause layout is worked out once per set of missing values: the same
    # template alternating between full and partial values must not reuse the other's.
    template = "Login failed for {user.name} from {source.ip} on {host.name}"
    full = {"user.name": "bob", "source.ip": "192.0.2.7", "host.name": "web-1"}
    partial = {"source.ip": "192.0.2.8"}
    for _ in range(2):
        assert render_summary(template, full.get) == \
            "Login failed for bob from 192.0.2.7 on web-1"
        assert render_summary(template, partial.get) == "Login failed from 192.0.2.8"


def test_a_summary_filled_once_per_set_of_values_still_follows_each_event() -> None:
    """Summaries are remembered by action and the values their template reads: a
    repeated set of values gives the same text, a new one its own, and an event whose
    summary falls back to its line gets its own line, not the one seen first."""
    fields = {"user.name": "root", "source.ip": "192.0.2.7", "process.pid": 7}
    first = summarize("ssh_login_failed", fields, "line one")
    assert first == "SSH login failed for root from 192.0.2.7"
    assert summarize("ssh_login_failed", dict(fields, **{"process.pid": 8}), "x") == first
    assert summarize("ssh_login_failed", dict(fields, **{"user.name": "admin"}), "x") == (
        "SSH login failed for admin from 192.0.2.7")
    assert summarize("ssh_login_failed", {"source.address": "h.example"}, "x") == (
        "SSH login failed from h.example")
    assert summarize("ssh_login_failed", {}, "first line") == "first line"
    assert summarize("ssh_login_failed", {}, "second line ") == "second line"
    # 1 == 1.0: a float is never part of a key, or it would take the int's summary.
    assert summarize("invalid_user", {"user.name": 1}, "a") == (
        "Login attempt for unknown user 1")
    assert summarize("invalid_user", {"user.name": 1.0}, "a") == (
        "Login attempt for unknown user 1.0")
