"""The fixed vocabulary of line-level actions and their ECS categorisation.

Every analyzer (the model, rules, users' test cases) speaks this vocabulary, so
detection rules can select on `event.action` without knowing the log format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Outcome = Literal["success", "failure", "unknown"]


@dataclass(frozen=True, slots=True)
class ActionInfo:
    """ECS categorisation of one action."""

    category: tuple[str, ...]
    type: tuple[str, ...]
    outcome: Outcome
    summary: str  # format string over ECS fields, see analysis.summary


ACTIONS: dict[str, ActionInfo] = {
    "ssh_login_failed": ActionInfo(
        ("authentication",), ("start",), "failure",
        "SSH login failed for {user.name} from {source}"),
    "ssh_login_success": ActionInfo(
        ("authentication", "session"), ("start",), "success",
        "SSH login succeeded for {user.name} from {source}"),
    "login_failed": ActionInfo(
        ("authentication",), ("start",), "failure",
        "{process.name} login failed for {user.name} from {source}"),
    "login_success": ActionInfo(
        ("authentication",), ("start",), "success",
        "{process.name} login succeeded for {user.name} from {source}"),
    "invalid_user": ActionInfo(
        ("authentication",), ("start", "user"), "failure",
        "Login attempt for unknown user {user.name} from {source}"),
    "session_opened": ActionInfo(
        ("session",), ("start",), "success",
        "Session opened for {user.name}"),
    "session_closed": ActionInfo(
        ("session",), ("end",), "success",
        "Session closed for {user.name}"),
    "sudo_command": ActionInfo(
        ("process", "iam"), ("start", "admin"), "success",
        "{user.name} ran a command as {user.effective.name} with sudo"),
    "sudo_auth_failure": ActionInfo(
        ("authentication", "iam"), ("admin",), "failure",
        "sudo authentication failed for {user.name}"),
    "su_session": ActionInfo(
        ("authentication", "session", "iam"), ("start", "admin"), "success",
        "su session opened for {user.effective.name} by {user.name}"),
    "su_failed": ActionInfo(
        ("authentication", "iam"), ("admin",), "failure",
        "su failed for {user.effective.name} by {user.name}"),
    "user_created": ActionInfo(
        ("iam",), ("user", "creation"), "success", "User {user.name} created"),
    "user_deleted": ActionInfo(
        ("iam",), ("user", "deletion"), "success", "User {user.name} deleted"),
    "user_changed": ActionInfo(
        ("iam",), ("user", "change"), "success", "User {user.name} changed"),
    "group_changed": ActionInfo(
        ("iam",), ("group", "change"), "success", "Group membership of {user.name} changed"),
    "password_changed": ActionInfo(
        ("iam",), ("user", "change"), "success", "Password of {user.name} changed"),
    "firewall_drop": ActionInfo(
        ("network",), ("denied", "connection"), "failure",
        "Firewall dropped traffic from {source} to port {destination.port}"),
    "connection_rejected": ActionInfo(
        ("network",), ("denied", "connection"), "failure",
        "Connection from {source} rejected by {process.name}"),
    "connection_opened": ActionInfo(
        ("network",), ("connection", "start"), "success",
        "Connection from {source} to {process.name}"),
    "connection_closed": ActionInfo(
        ("network",), ("connection", "end"), "unknown",
        "Connection from {source} closed"),
    "web_request": ActionInfo(
        ("web", "network"), ("access",), "unknown",
        "{http.request.method} {url.original} from {source} ({http.response.status_code})"),
    "web_auth_failed": ActionInfo(
        ("web", "authentication"), ("access",), "failure",
        "Web authentication failed for {user.name} from {source}"),
    "web_attack_attempt": ActionInfo(
        ("web", "intrusion_detection"), ("access", "denied"), "failure",
        "Web attack attempt from {source}: {url.original}"),
    "rate_limited": ActionInfo(
        ("web", "network"), ("denied",), "failure",
        "Requests from {source} rate-limited"),
    "mail_auth_failed": ActionInfo(
        ("authentication", "email"), ("start",), "failure",
        "Mail authentication failed for {user.name} from {source}"),
    "mail_rejected": ActionInfo(
        ("email", "network"), ("denied",), "failure",
        "Mail from {source} rejected"),
    "malware_detected": ActionInfo(
        ("malware", "intrusion_detection"), ("info",), "failure",
        "Malware detected in {file.path}"),
    "intrusion_detected": ActionInfo(
        ("intrusion_detection",), ("info", "denied"), "failure",
        "Intrusion detection alert from {source}"),
    "service_crash": ActionInfo(
        ("process",), ("end", "error"), "failure", "{process.name} crashed"),
    "service_start": ActionInfo(
        ("process",), ("start",), "success", "{process.name} started"),
    "service_stop": ActionInfo(
        ("process",), ("end",), "success", "{process.name} stopped"),
    "process_started": ActionInfo(
        ("process",), ("start",), "success", "{process.name} ran {process.command_line}"),
    "config_change": ActionInfo(
        ("configuration",), ("change",), "success", "Configuration changed: {file.path}"),
    "privilege_escalation": ActionInfo(
        ("iam", "intrusion_detection"), ("admin",), "unknown",
        "Privilege change for {user.name}"),
    "other": ActionInfo(("host",), ("info",), "unknown", ""),
}

ACTION_NAMES: tuple[str, ...] = tuple(ACTIONS)


# HTTP statuses that answer a request with "authenticate first" (RFC 9110 §15.5.2, §15.5.8).
_AUTH_CHALLENGE_STATUSES = frozenset({401, 407, "401", "407"})


def refine_action(action: str, status: object) -> str:
    """The action after the one fixed refinement the model cannot make itself; `status` is
    the event's `http.response.status_code` (int or text), if any.

    The tokenizer reads every number as its shape, so a request answered 200 and one
    answered 401 look alike to the line head: both are `web_request`. A 401/407 answer is
    the server refusing the client's credentials (or their absence), which fail2ban's
    `*-auth` filters and CrowdSec's `http-bf` count as failed logins.
    """
    if action == "web_request" and status in _AUTH_CHALLENGE_STATUSES:
        return "web_auth_failed"
    return action
