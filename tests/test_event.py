"""Merging an analyzer's labels into an event."""

from __future__ import annotations

import pytest

from logsentry.core.analysis import Analysis
from logsentry.core.event import Event


def applied(action: str, status: str | None, envelope_status: int | None = None) -> Event:
    event = Event("a request line", body="a request line")
    if envelope_status is not None:
        event.fields["http.response.status_code"] = envelope_status
    fields = {"source.ip": "192.0.2.7"}
    if status is not None:
        fields["http.response.status_code"] = status
    event.apply(Analysis(action=action, fields=fields, template="<*>", confidence=0.9))
    return event


@pytest.mark.parametrize("status", ["401", "407"])
def test_a_request_answered_with_an_auth_challenge_is_a_failed_web_login(status: str) -> None:
    event = applied("web_request", status)
    assert event.action == "web_auth_failed"
    assert event.outcome == "failure"


def test_the_envelope_status_counts_as_much_as_the_model_status() -> None:
    assert applied("web_request", None, envelope_status=401).action == "web_auth_failed"


@pytest.mark.parametrize(("action", "status"), [
    ("web_request", "200"), ("web_request", "403"), ("web_request", None),
    ("web_attack_attempt", "401"),
])
def test_other_requests_keep_the_analyzer_action(action: str, status: str | None) -> None:
    assert applied(action, status).action == action


def test_an_event_summary_drops_a_trailing_unknown_value() -> None:
    from logsentry.core.summary import summarize

    assert summarize("process_started", {"process.name": "base64"}, "type=SYSCALL") == \
        "base64 ran"
    assert summarize("process_started", {"process.name": "sh", "process.command_line": "sh -c x"},
                     "type=SYSCALL") == "sh ran sh -c x"
    # Nothing known: the line tells more than a summary of question marks.
    assert summarize("process_started", {}, "type=SYSCALL comm=x") == "type=SYSCALL comm=x"


def test_header_parts_the_model_found_go_into_the_ecs_document() -> None:
    event = Event("2024-01-02 10:00:00 WARN [main] org.x.Auth: denied", body="x")
    event.apply(Analysis(action="other", template="denied", confidence=0.9, fields={
        "log.level": "WARN", "log.logger": "org.x.Auth", "process.thread.name": "main"}))
    doc = event.to_ecs()
    assert doc["log"] == {"level": "WARN", "logger": "org.x.Auth"}
    assert doc["process"] == {"thread": {"name": "main"}}


@pytest.mark.parametrize(("text", "kept"), [
    ("192.0.2.7", True), ("0.0.0.0", True), ("255.255.255.255", True),
    ("[192.0.2.7]", True), ("2001:db8::1", True),
    # What `ipaddress` refuses the fast dotted-quad check refuses too.
    ("192.0.2.07", False), ("256.0.2.7", False), ("192.0.2", False), ("192.0.2.7 ", False),
    ("١٩٢.0.2.7", False), ("ers", False),
])
def test_an_address_field_keeps_only_text_that_parses_as_an_address(text: str,
                                                                    kept: bool) -> None:
    from logsentry.core.event import typed_field

    assert (typed_field("source.ip", text) is not None) is kept
