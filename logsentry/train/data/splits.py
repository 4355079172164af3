"""Which families train the model and which are held out to measure generalisation.

The point of the held-out sets is to show the model labels formats it never saw.
They come in two tiers, reported separately:

- *unseen*: software for which the repository has no synthetic family at all and
  whose real lines never reach training. Scores here measure generalisation to
  new formats, the claim logsentry makes against hand-written parsers.
- *independent*: software the synthetic generator does cover, with templates
  written from the programs' documentation and source (OpenSSH, Postfix, Dovecot,
  Exim, nginx...), never from these datasets' sample lines; the real lines of these
  filters/tests never reach training. Scores here measure how well independently
  written templates transfer to real-world variants of a known format.

Every other real family (fail2ban filters, CrowdSec tests, Loghub systems) may be
used for training. The fail2ban `sshd` filter, the largest, is deliberately *not*
held out: it is the family users care most about and the most varied, so it trains.

The held-out families are split once more, by a fixed hash of the family name
(`split_of`), into *validation* and *sealed*:

- validation: the figures to decide on (what to ship, which method works); its
  lines and errors may be read;
- sealed: reported once per shipped model, as aggregates only (micro over lines,
  macro over families). No sealed line or error is ever printed or read, and none is
  used to write generator families, engine rules or tokenizer rules.

The gap between validation and sealed figures estimates how much the validation
figures flatter the model. The held-out sets are closed: adding a family to them would
move others between validation and sealed. A real family that joins the datasets
later trains, or starts a held-out set of its own.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from logsentry.train.example import Example

HELD_OUT_FAIL2BAN_UNSEEN: frozenset[str] = frozenset({
    "3proxy", "counter-strike", "dante", "directadmin", "drupal-auth", "ejabberd-auth",
    "groupoffice", "gssftpd", "guacamole", "monit", "murmur", "nagios",
    "openwebmail", "oracleims", "perdition", "phpmyadmin-syslog",
    "sogo-auth", "squirrelmail", "zoneminder",
})
HELD_OUT_FAIL2BAN_INDEPENDENT: frozenset[str] = frozenset({
    "dovecot", "exim", "postfix", "nginx-http-auth", "nginx-limit-req", "selinux-ssh",
    # Formats the generator covers though the application is new: Cyrus "badlogin:"
    # (sieve), combined access logs (php-url-fopen, openhab), pam_unix-style
    # "authentication failure; rhost= user=" (proxmox).
    "sieve", "php-url-fopen", "openhab", "proxmox",
    # Families written from NSD's and OpenLDAP slapd's documented messages, after
    # their errors on these lines had been read: no longer unseen.
    "nsd", "slapd",
})
HELD_OUT_FAIL2BAN: frozenset[str] = HELD_OUT_FAIL2BAN_UNSEEN | HELD_OUT_FAIL2BAN_INDEPENDENT

HELD_OUT_CROWDSEC_UNSEEN: frozenset[str] = frozenset({
    "adguardhome-logs", "baikal-logs", "bitwarden-logs",
    "filebrowser-logs", "fireflyiii-bf", "fireflyiii-logs", "harbor-logs", "immich-logs",
    "keycloak-logs", "litellm-logs", "ntfy-logs", "odoo-bf_user-enum",
    "opnsense-gui-auth", "overseerr-logs", "paperless-ngx-logs", "pfsense-gui-auth",
    "prowlarr-logs", "radarr-logs", "sabnzbd-logs", "teamspeak-bf", "zimbra-logs",
    "zoneminder-logs",
})
HELD_OUT_CROWDSEC_INDEPENDENT: frozenset[str] = frozenset({
    "sshd-logs", "sshd-success-logs", "nginx_http-logs", "dovecot-logs", "exim-logs",
    "postfix-logs", "haproxy-logs", "vsftpd-logs", "mongodb-logs", "pgsql-logs", "iptables-logs",
    # New applications in covered formats: pam_unix-style failures, combined access log.
    "proxmox-logs", "cpanel-logs",
    # strongSwan (charon's bus messages) and Nextcloud (its admin manual's log format):
    # families written after their errors on these lines had been read.
    "charon-ipsec-logs", "nextcloud-logs",
})
HELD_OUT_CROWDSEC: frozenset[str] = HELD_OUT_CROWDSEC_UNSEEN | HELD_OUT_CROWDSEC_INDEPENDENT

HELD_OUT_LOGHUB_UNSEEN: frozenset[str] = frozenset({
    "BGL", "HDFS", "HealthApp", "Mac", "Proxifier", "Zookeeper",
})
# OpenSSH and Apache error logs are formats the generator covers.
HELD_OUT_LOGHUB_INDEPENDENT: frozenset[str] = frozenset({"Apache", "OpenSSH"})
HELD_OUT_LOGHUB: frozenset[str] = HELD_OUT_LOGHUB_UNSEEN | HELD_OUT_LOGHUB_INDEPENDENT

HELD_OUT: frozenset[str] = frozenset(
    {f"fail2ban:{name}" for name in HELD_OUT_FAIL2BAN}
    | {f"crowdsec:{name}" for name in HELD_OUT_CROWDSEC}
    | {f"loghub:{name}" for name in HELD_OUT_LOGHUB}
)
"""Family names (as in `Example.family`) that must never be trained on."""

HELD_OUT_UNSEEN: frozenset[str] = frozenset(
    {f"fail2ban:{name}" for name in HELD_OUT_FAIL2BAN_UNSEEN}
    | {f"crowdsec:{name}" for name in HELD_OUT_CROWDSEC_UNSEEN}
    | {f"loghub:{name}" for name in HELD_OUT_LOGHUB_UNSEEN}
)
"""The held-out families whose software and format have no synthetic family."""


def is_held_out(family: str) -> bool:
    """True when examples of `family` are reserved for evaluation."""
    return family in HELD_OUT


def held_out_tier(family: str) -> str | None:
    """`"unseen"`, `"independent"` or None (a training family)."""
    if family not in HELD_OUT:
        return None
    return "unseen" if family in HELD_OUT_UNSEEN else "independent"


def without_held_out(examples: list[Example]) -> list[Example]:
    """`examples` without the held-out families."""
    return [e for e in examples if e.family not in HELD_OUT]


def only_held_out(examples: list[Example]) -> list[Example]:
    """The examples of held-out families."""
    return [e for e in examples if e.family in HELD_OUT]


Split = Literal["train", "validation", "sealed"]

SPLIT_SALT = "logsentry-split-v1"
"""Part of the hash that orders the held-out families: changing it reshuffles the split."""


def _placement(families: frozenset[str]) -> dict[str, Split]:
    """Within each origin, the families ranked by SHA-256 of their salted name alternate
    validation, sealed, validation, ...: both splits get every origin, and half of each."""
    placed: dict[str, Split] = {}
    origins = sorted({family.split(":", 1)[0] for family in families})
    for origin in origins:
        ranked = sorted((f for f in families if f.split(":", 1)[0] == origin),
                        key=lambda f: hashlib.sha256(f"{SPLIT_SALT}:{f}".encode()).digest())
        for rank, family in enumerate(ranked):
            placed[family] = "validation" if rank % 2 == 0 else "sealed"
    return placed


_PLACED = _placement(HELD_OUT)


def split_of(family: str) -> Split:
    """`train` for a training family; `validation` or `sealed` for a held-out one."""
    return _PLACED.get(family, "train")


VALIDATION: frozenset[str] = frozenset(f for f, s in _PLACED.items() if s == "validation")
"""The held-out families to decide on."""

SEALED: frozenset[str] = frozenset(f for f, s in _PLACED.items() if s == "sealed")
"""The held-out families reported as aggregates only, never read."""
