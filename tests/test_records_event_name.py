"""A JSON record's own event name: failed logins and unknown accounts, nothing else."""

from __future__ import annotations

from datetime import UTC

import pytest

from logsentry.core.analysis import Analysis
from logsentry.envelope import EnvelopeParser
from logsentry.records.event_name import decode_event_name


@pytest.mark.parametrize(("doc", "action"), [
    ({"action": "login_failed", "client_ip": "192.0.2.1"}, "login_failed"),
    ({"type": "LOGIN_ERROR", "ipAddress": "192.0.2.1"}, "login_failed"),
    ({"event_name": "SignInFailed"}, "login_failed"),
    ({"event": "user.login", "success": False}, "login_failed"),
    ({"action": "invalid_identifier", "client_ip": "192.0.2.1"}, "invalid_user"),
    ({"eventType": "InvalidUsername"}, "invalid_user"),
])
def test_a_failure_named_by_the_record_fixes_the_action(doc: dict[str, object],
                                                       action: str) -> None:
    decoded = decode_event_name(doc)
    assert decoded is not None and decoded.action == action
    assert not decoded.names_fields  # the model still reads the fields


@pytest.mark.parametrize("doc", [
    {"action": "login"},                                    # a success: the model's call
    {"event": "user.login", "success": True},
    {"type": "error", "msg": "disk full"},                  # a failure of nothing to do with auth
    {"event": "Login failed for user bob"},                 # free text (structlog): the model's
    {"action": "password_set"},
    {"action": ["login_failed"]},
    {"sign": "error"},
])
def test_other_names_and_free_text_are_left_to_the_model(doc: dict[str, object]) -> None:
    assert decode_event_name(doc) is None


def test_the_model_keeps_naming_the_fields_of_a_record_decoded_by_its_event_name() -> None:
    line = '{"action": "login_failed", "client_ip": "192.0.2.7", "context": {"username": "x"}}'
    event = EnvelopeParser(UTC).parse(line, 0.0)
    assert event.action == "login_failed"
    event.apply(Analysis(action="other", fields={"user.name": "bob", "destination.port": "443"}))
    assert event.action == "login_failed"
    assert event.fields["user.name"] == "x"  # the record's own key first
    assert event.fields["destination.port"] == 443  # then what the model found
    assert event.fields["source.ip"] == "192.0.2.7"
