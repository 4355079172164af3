"""The seeded synthetic training-data generator.

`generate(n, seed)` draws a family (uniformly, so rare software is not drowned by
sshd), an event of it (by weight), one phrasing of that event, fresh values for
its slots and an envelope, and returns labelled `Example`s. The same seed gives
the same examples on every machine: all randomness comes from one
`random.Random(seed)`, and families are visited in a fixed order.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from logsentry.train.data import (
    families_apps,
    families_auth,
    families_generic,
    families_mail,
    families_network,
    families_neutral,
    families_security,
    families_system,
    families_web,
)
from logsentry.train.data.envelopes import Body, choose_envelope, wrap
from logsentry.train.data.template import Family, json_escape
from logsentry.train.data.values import Values
from logsentry.train.example import Example, ExampleBuilder

FAMILIES: tuple[Family, ...] = (
    *families_auth.FAMILIES,
    *families_web.FAMILIES,
    *families_mail.FAMILIES,
    *families_network.FAMILIES,
    *families_system.FAMILIES,
    *families_apps.FAMILIES,
    *families_generic.FAMILIES,
    *families_security.FAMILIES,
    *families_neutral.FAMILIES,
)
FAMILY_BY_NAME: dict[str, Family] = {family.name: family for family in FAMILIES}
if len(FAMILY_BY_NAME) != len(FAMILIES):  # a duplicate name would silently shadow a family
    raise RuntimeError("duplicate synthetic family names")


# Relative draw weights (default 1): the formats a Linux server writes most, and the
# ones evaluation leans on, get more examples; noise families teach `other`.
FAMILY_WEIGHTS: dict[str, float] = {
    "openssh": 5.0, "pam": 1.5, "sudo": 1.5, "nginx_access": 2.5, "apache_access": 2.0,
    "nginx_error": 1.5, "apache_error": 1.5, "postfix": 1.5, "dovecot": 1.5, "exim": 1.2,
    "kernel": 1.5, "systemd": 1.5, "system_noise": 2.0, "app_noise": 2.0, "json_app": 1.5,
    "iptables": 1.2, "ufw": 1.2, "generic_auth": 3.0, "generic_access": 1.5,
    "strongswan": 1.5,
    # Security meaning in general words (families_security): the same shapes with ordinary
    # or hostile content, so the action is learnt from what a line says.
    "web_requests": 3.0, "web_requests_json": 1.5, "waf_generic": 1.0, "ids_alerts": 1.5,
    "ids_json": 0.7, "firewall_generic": 1.5, "blocklist": 1.5, "auth_refusals": 3.0,
    "address_roles": 2.0, "positional_records": 1.5,
    # Neutral chatter (families_neutral): what normal logs are mostly made of.
    "protocol_steps": 2.0, "web_chatter": 1.5,
}


def family_names() -> list[str]:
    """Names of the synthetic families, in generation order."""
    return [family.name for family in FAMILIES]


@dataclass(slots=True)
class Rendered:
    """One generated example plus what the generator put in it (for tests and debugging)."""

    example: Example
    envelope: str
    chosen: list[tuple[str, str]]  # (role, raw value) of every template slot
    template: str


def render(family: Family, v: Values, envelope: str | None = None) -> Rendered:
    """Render one random event of `family`, wrapped in `envelope` (random when None)."""
    rng = v.rng
    event = rng.choices(family.events, weights=family.weights)[0]
    template = event.templates[rng.randrange(len(event.templates))]
    builder = ExampleBuilder()
    chosen: list[tuple[str, str]] = []
    template.render(builder, v, json_escape if family.escape_json else None, chosen)
    program = family.programs[rng.randrange(len(family.programs))]
    pid = v.pid() if family.style == "syslog" and rng.random() < 0.85 else None
    body = Body(builder.text, builder.spans, program, pid)
    name = envelope or choose_envelope(family.style, v)
    text, spans = wrap(body, name, family.style, v)
    example = Example(text=text, spans=spans, action=event.action, family=family.name)
    return Rendered(example, name, chosen, template.source)


def iter_rendered(seed: int, families: Iterable[str] | None = None) -> Iterator[Rendered]:
    """Endless stream of rendered examples for `seed`, over `families` (all when None)."""
    if families is None:
        pool = list(FAMILIES)
    else:
        wanted = set(families)
        unknown = wanted - FAMILY_BY_NAME.keys()
        if unknown:
            raise KeyError(f"unknown synthetic families: {sorted(unknown)}")
        pool = [family for family in FAMILIES if family.name in wanted]
    if not pool:
        return
    cumulative: list[float] = []
    total = 0.0
    for family in pool:
        total += FAMILY_WEIGHTS.get(family.name, 1.0)
        cumulative.append(total)
    v = Values(random.Random(seed))
    while True:
        yield render(pool[bisect.bisect_right(cumulative, v.rng.random() * total)], v)


def iter_examples(seed: int, families: Iterable[str] | None = None) -> Iterator[Example]:
    """Endless stream of examples for `seed` (see `iter_rendered`)."""
    for rendered in iter_rendered(seed, families):
        yield rendered.example


def generate(n: int, seed: int, families: set[str] | None = None) -> list[Example]:
    """`n` synthetic examples, identical for identical arguments."""
    out: list[Example] = []
    if n <= 0:
        return out
    for example in iter_examples(seed, families):
        out.append(example)
        if len(out) >= n:
            break
    return out
