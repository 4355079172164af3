"""Escaping attacker-controlled text for Slack's mrkdwn.

Slack parses `<...>` as links and mentions (`<!channel>`, `<@U123>`,
`<http://evil|bank.com>`), so `&`, `<` and `>` are entity-escaped as Slack
documents. Bare `@here`/`@channel`/`@everyone` are defused with a word joiner
so no client or `link_names` setting turns them into pings. Formatting
characters cannot break out of anything we build because values are never
placed inside code spans; control characters become visible.
"""

from __future__ import annotations

import re

from logsentry.sinks.control_chars import truncate, visible_controls

_BROADCAST = re.compile(r"@(here|channel|everyone)\b", re.IGNORECASE)
_TECHNIQUE = re.compile(r"^T\d{4}(?:\.\d{3})?$")


def escape(text: str, limit: int = 500) -> str:
    """`text` safe to embed in a mrkdwn field: no links, mentions or pings."""
    text = visible_controls(truncate(text, limit))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub("@\u2060\\1", text)


def plain(text: str, limit: int = 150) -> str:
    """`text` for a `plain_text` object: one line, no control characters."""
    return visible_controls(truncate(text, limit))


def attack_link(technique: str) -> str:
    """A mrkdwn link to the MITRE ATT&CK page of `technique`, or its escaped text."""
    if not _TECHNIQUE.match(technique):
        return escape(technique, 40)
    path = technique.replace(".", "/")
    return f"<https://attack.mitre.org/techniques/{path}/|{technique}>"
