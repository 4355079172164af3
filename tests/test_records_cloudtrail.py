"""AWS CloudTrail records: the caller, the call, its refusal and the few actions they fix."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from logsentry.envelope import EnvelopeParser
from logsentry.records.cloudtrail import decode_cloudtrail, is_cloudtrail


def record(**overrides: object) -> dict[str, object]:
    doc: dict[str, object] = {
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/ci",
                         "accountId": "111122223333", "userName": "ci"},
        "eventTime": "2024-03-01T10:00:00Z", "eventSource": "s3.amazonaws.com",
        "eventName": "ListBuckets", "awsRegion": "eu-west-1",
        "sourceIPAddress": "198.51.100.60", "userAgent": "aws-cli/2.15",
        "recipientAccountId": "111122223333",
    }
    doc.update(overrides)
    return doc


def test_a_refused_call_names_its_caller_call_and_error() -> None:
    decoded = decode_cloudtrail(record(errorCode="AccessDenied", errorMessage="not authorized"))
    assert decoded.fields["aws.cloudtrail.user_identity.arn"] == "arn:aws:iam::111122223333:user/ci"
    assert decoded.fields["aws.cloudtrail.event_name"] == "ListBuckets"
    assert decoded.fields["aws.cloudtrail.error_code"] == "AccessDenied"
    assert decoded.fields["source.ip"] == "198.51.100.60"
    assert decoded.fields["user.name"] == "ci"
    assert decoded.timestamp == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert decoded.action is None  # a refused read is no action of the vocabulary


def test_console_logins_and_iam_changes_fix_the_action() -> None:
    failed = record(eventName="ConsoleLogin", responseElements={"ConsoleLogin": "Failure"})
    assert decode_cloudtrail(failed).action == "login_failed"
    ok = record(eventName="ConsoleLogin", responseElements={"ConsoleLogin": "Success"})
    assert decode_cloudtrail(ok).action == "login_success"
    assert decode_cloudtrail(record(eventName="CreateUser")).action == "user_created"
    refused = record(eventName="CreateUser", errorCode="AccessDenied")
    assert decode_cloudtrail(refused).action is None


def test_a_service_calling_on_a_users_behalf_is_a_source_address() -> None:
    decoded = decode_cloudtrail(record(sourceIPAddress="ec2.amazonaws.com"))
    assert "source.ip" not in decoded.fields
    assert decoded.fields["source.address"] == "ec2.amazonaws.com"


def test_hostile_values_never_raise() -> None:
    decoded = decode_cloudtrail(record(userIdentity="x", eventTime="soon", eventName=7,
                                       sourceIPAddress=["1.2.3.4"]))
    assert decoded.timestamp is None
    assert "aws.cloudtrail.event_name" not in decoded.fields
    assert not is_cloudtrail({"eventName": "x"})


def test_the_envelope_decodes_a_cloudtrail_line() -> None:
    line = orjson.dumps(record(errorCode="AccessDenied")).decode()
    event = EnvelopeParser(UTC).parse(line, 0.0)
    assert event.fields["aws.cloudtrail.error_code"] == "AccessDenied"
    assert event.fields["source.ip"] == "198.51.100.60"
    assert event.timestamp == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
