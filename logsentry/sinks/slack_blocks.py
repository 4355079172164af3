"""Slack Block Kit messages for alerts: one alert, or a digest of a burst.

Every string that can come from a log line goes through `mrkdwn.escape` (or
`mrkdwn.plain` for plain_text objects); only ATT&CK links we build ourselves
are raw mrkdwn links.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from logsentry.core.alert import SEVERITY_ORDER, Alert
from logsentry.sinks.mrkdwn import attack_link, escape, plain

SEVERITY_EMOJI: dict[str, str] = {
    "critical": ":red_circle:", "high": ":large_orange_circle:",
    "medium": ":large_yellow_circle:", "low": ":white_circle:",
}
# Slack limits: 50 blocks per message, 3000 characters per section text,
# 10 fields per section, 150 characters per header.
_SECTION_LIMIT = 2900
_MAX_FIELDS = 10


def alert_message(alert: Alert) -> dict[str, Any]:
    """The Block Kit payload of one alert."""
    emoji = SEVERITY_EMOJI.get(alert.severity, ":red_circle:")
    fields = [
        _field("Severity", alert.severity.upper()),
        _field("Count", str(alert.count)),
        _field("Window", f"{_clock(alert.start)} to {_clock(alert.end)} UTC"),
    ]
    for name, value in list(alert.group.items())[: _MAX_FIELDS - len(fields)]:
        fields.append(_field(name, str(value)))
    context = [f"rule `{escape(alert.rule_id, 100)}`", f"id {escape(alert.dedup_id, 64)}"]
    if alert.techniques:
        context.insert(0, "ATT&amp;CK " + ", ".join(attack_link(t) for t in alert.techniques))
    if alert.suppressed:
        context.append(f"{alert.suppressed} similar suppressed")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "emoji": True,
                                    "text": plain(f"{alert.severity.upper()}: {alert.rule_name}")}},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": f"{emoji} {escape(alert.message, 2500)}"}},
        {"type": "section", "fields": fields},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " | ".join(context)}]},
    ]
    return {"text": fallback_text(alert), "blocks": blocks}


def digest_message(alerts: list[Alert]) -> dict[str, Any]:
    """One message for a burst: counts per severity, then one line per alert."""
    by_severity = Counter(alert.severity for alert in alerts)
    summary = ", ".join(
        f"{by_severity[s]} {s}" for s in reversed(SEVERITY_ORDER) if by_severity[s]
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "emoji": True,
                                    "text": plain(f"{len(alerts)} alerts: {summary}")}},
    ]
    chunk: list[str] = []
    size = 0
    for alert in alerts:
        line = _digest_line(alert)
        if chunk and size + len(line) + 1 > _SECTION_LIMIT:
            blocks.append(_section("\n".join(chunk)))
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        blocks.append(_section("\n".join(chunk)))
    techniques = sorted({t for alert in alerts for t in alert.techniques})
    if techniques:
        blocks.append({"type": "context", "elements": [{
            "type": "mrkdwn",
            "text": "ATT&amp;CK " + ", ".join(attack_link(t) for t in techniques[:20]),
        }]})
    text = f"{len(alerts)} alerts ({summary}): " + "; ".join(
        fallback_text(alert) for alert in alerts[:5])
    return {"text": text[:3000], "blocks": blocks}


def fallback_text(alert: Alert) -> str:
    """The notification text (shown in push notifications), escaped."""
    severity = alert.severity.upper()
    if alert.message.lower().startswith(alert.rule_name.lower()):
        # Most summaries open with the rule's title ("SSH brute force: 5 failed ..."):
        # said once.
        return f"[{severity}] {escape(alert.message, 450)}"
    return f"[{severity}] {escape(alert.rule_name, 150)}: {escape(alert.message, 300)}"


def _digest_line(alert: Alert) -> str:
    emoji = SEVERITY_EMOJI.get(alert.severity, ":red_circle:")
    group = ", ".join(f"{escape(k, 40)}={escape(str(v), 80)}" for k, v in alert.group.items())
    line = (f"{emoji} *{alert.severity.upper()}* {escape(alert.rule_name, 100)}: "
            f"{escape(alert.message, 200)} ({alert.count}x{', ' + group if group else ''})")
    return line[:_SECTION_LIMIT // 4]


def _field(name: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": f"*{escape(name, 60)}*\n{escape(value, 300)}"}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _clock(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")
