"""AWS CloudTrail records -> ECS fields and, for the few API calls the vocabulary names,
an action.

A CloudTrail record (one JSON object per line, as `aws cloudtrail lookup-events`,
Firehose or a Lambda flattening a trail's `Records` array write it) names the API call
(`eventName` on `eventSource`), who made it (`userIdentity`) and whether it was refused
(`errorCode`). Field names follow Elastic's aws.cloudtrail module: the caller's ARN is
`aws.cloudtrail.user_identity.arn`, the identity detection groups by; the call is
`aws.cloudtrail.event_name` (Elastic puts it in `event.action`, which logsentry keeps for
its vocabulary).
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Any

from logsentry.records.record import DecodedRecord, clip

# API calls whose meaning the vocabulary names (IAM changes; console logins are below).
_CALL_ACTIONS = {
    "CreateUser": "user_created",
    "DeleteUser": "user_deleted",
    "UpdateUser": "user_changed",
    "AddUserToGroup": "group_changed",
    "RemoveUserFromGroup": "group_changed",
    "CreateLoginProfile": "password_changed",
    "UpdateLoginProfile": "password_changed",
    "ChangePassword": "password_changed",
}


def is_cloudtrail(doc: dict[str, Any]) -> bool:
    """Whether a JSON document is a CloudTrail record (the keys every record has)."""
    return "eventSource" in doc and "eventName" in doc and "userIdentity" in doc


def decode_cloudtrail(doc: dict[str, Any]) -> DecodedRecord:
    """ECS fields, time and action of one CloudTrail record."""
    fields: dict[str, Any] = {"cloud.provider": "aws"}
    _text(fields, "event.provider", doc.get("eventSource"))
    name = doc.get("eventName")
    _text(fields, "aws.cloudtrail.event_name", name)
    _text(fields, "aws.cloudtrail.error_code", doc.get("errorCode"))
    _text(fields, "aws.cloudtrail.error_message", doc.get("errorMessage"))
    _text(fields, "cloud.region", doc.get("awsRegion"))
    _text(fields, "cloud.account.id", doc.get("recipientAccountId"))
    _text(fields, "user_agent.original", doc.get("userAgent"))
    identity = doc.get("userIdentity")
    if isinstance(identity, dict):
        _text(fields, "aws.cloudtrail.user_identity.arn", identity.get("arn"))
        _text(fields, "aws.cloudtrail.user_identity.type", identity.get("type"))
        _text(fields, "aws.cloudtrail.user_identity.access_key_id", identity.get("accessKeyId"))
        _text(fields, "user.name", identity.get("userName"))
    address = doc.get("sourceIPAddress")
    if isinstance(address, str) and address:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            # AWS services call on a user's behalf: "ec2.amazonaws.com".
            fields["source.address"] = clip(address)
        else:
            fields["source.ip"] = address
    action: str | None = None
    if name == "ConsoleLogin":
        response = doc.get("responseElements")
        result = response.get("ConsoleLogin") if isinstance(response, dict) else None
        action = "login_failed" if result == "Failure" or doc.get("errorMessage") else (
            "login_success" if result == "Success" else None)
    elif isinstance(name, str) and "errorCode" not in doc:
        action = _CALL_ACTIONS.get(name)
    stamp = doc.get("eventTime")
    return DecodedRecord(fields, timestamp=_time(stamp) if isinstance(stamp, str) else None,
                         action=action)


def _text(fields: dict[str, Any], name: str, value: object) -> None:
    if isinstance(value, str) and value:
        fields[name] = clip(value)


def _time(text: str) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    return stamp if stamp.tzinfo is not None else None
