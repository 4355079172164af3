"""A JSON record's own event name -> the action, for failed logins.

Identity providers and web applications log JSON records that name their event
in an identifier: authentik `"action": "login_failed"`, Keycloak
`"type": "LOGIN_ERROR"`, GitLab `"event_name": "failed_login"`, Teleport
`"event": "user.login", "success": false`. The model reads such a record as a
whole and, with dozens of keys around the name, often calls it `other`. The
name's words say what happened: a failure word and an authentication word make a
failed login, `invalid` with an account word an unknown account. Only names
(one identifier, no spaces) count: a free-text message under `event`
(structlog) stays the model's to read. Successes and everything else stay the
model's too: a missed failure hides an attack, a missed success does not.
"""

from __future__ import annotations

import re
from typing import Any

from logsentry.records.record import DecodedRecord

# Keys that hold an event's name, most specific first.
NAME_KEYS = ("event.action", "action", "event_name", "eventName", "event_type", "eventType",
             "type", "event")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{2,63}")
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_FAILURE = frozenset({"failed", "failure", "fail", "fails", "denied", "invalid", "error",
                      "rejected", "refused", "bad", "wrong", "incorrect"})
_AUTH = frozenset({"login", "logon", "signin", "auth", "authn", "authentication",
                   "authenticate", "authenticated", "password", "credential", "credentials",
                   "mfa", "otp", "totp", "twofactor"})
# With `invalid`: an account that does not exist (authentik's `invalid_identifier`).
_ACCOUNT = frozenset({"identifier", "user", "username", "account"})
# Names written in parts: SignIn, log_in, LogOn.
_COMPOUNDS = ((("sign", "in"), "signin"), (("log", "in"), "login"), (("log", "on"), "logon"))
_SUCCESS_FALSE_KEYS = ("success", "succeeded", "successful")


def decode_event_name(doc: dict[str, Any]) -> DecodedRecord | None:
    """`login_failed` or `invalid_user` when the record's event name says so; None
    otherwise (the model decides)."""
    for key in NAME_KEYS:
        name = doc.get(key)
        if isinstance(name, str):
            break
    else:
        return None
    if not _NAME.fullmatch(name):
        return None
    words = {word.lower() for word in _WORD.findall(name)}
    for parts, compound in _COMPOUNDS:
        if words.issuperset(parts):
            words.add(compound)
    if "invalid" in words and words & _ACCOUNT:
        return DecodedRecord(action="invalid_user", names_fields=False)
    if not words & _AUTH:
        return None
    refused = any(doc.get(key) is False for key in _SUCCESS_FALSE_KEYS)
    if words & _FAILURE or refused:
        return DecodedRecord(action="login_failed", names_fields=False)
    return None
