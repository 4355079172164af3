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
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from logsentry.model.data.synthetic import family_names
from logsentry.model.example import Example

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
    # Unseen until the sixth session of November 2026, when families written from NSD's
    # and OpenLDAP slapd's documented messages joined the generator (after their errors
    # on these lines had been read).
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
    # strongSwan: unseen until November 2026, when a family written from charon's bus
    # messages joined the generator (after its errors on these lines had been read).
    "charon-ipsec-logs",
    # Nextcloud: likewise, a family written from its admin manual's log format joined the
    # generator in the sixth session (after the error on its failed-login lines was read).
    "nextcloud-logs",
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


def list_families(root: Path | None = None,
                  include_real: bool = True) -> dict[str, dict[str, object]]:
    """Every family with its origin, example count (real ones) and split.

    Synthetic families have no fixed count (the generator is unbounded); real ones
    count the examples their converters yield from the datasets under `root`.
    """
    out: dict[str, dict[str, object]] = {
        name: {"origin": "synthetic", "count": None, "split": "train"} for name in family_names()
    }
    if include_real:
        from logsentry.model.data.real import real_examples

        counts = Counter((e.family, e.origin) for e in real_examples(root))
        for (family, origin), count in sorted(counts.items()):
            tier = held_out_tier(family)
            out[family] = {"origin": origin, "count": count,
                           "split": f"held_out:{tier}" if tier else "train"}
    return out
