"""Security families and RFC 5424 structured data in the synthetic training data."""

from __future__ import annotations

import random
import re
from itertools import islice

from logsentry.envelope import EnvelopeParser
from logsentry.train.data import attack_vocab, synthetic
from logsentry.train.data.envelopes import Body, rfc5424
from logsentry.train.data.values import Values
from logsentry.train.example import ExampleBuilder

# Marks of a probe or an attack in a request target: a path nobody serves on purpose,
# `../` in any encoding, injection syntax.
_HOSTILE = re.compile(
    r"\.git|\.env|\.svn|\.htpasswd|phpmyadmin|cgi-bin|wp-login|xmlrpc|\.\./|\.\.%|%2e%2e|"
    r"<script|union|select|etc/passwd|shell\.php|\$\{jndi|\{\{7", re.IGNORECASE)


def test_ordinary_request_targets_carry_no_probe() -> None:
    v = Values(random.Random(7))
    for _ in range(3000):
        for url in (v.url_path(), v.ordinary_url()):
            assert not _HOSTILE.search(url), url


def test_web_shapes_carry_both_actions_and_the_label_follows_the_content() -> None:
    seen = {"web_request": 0, "web_attack_attempt": 0}
    for rendered in islice(synthetic.iter_rendered(3, ["web_requests", "web_requests_json"]), 3000):
        action = rendered.example.action
        seen[action] += 1
        urls = [value for role, value in rendered.chosen if role == "url.original"]
        agents = [value for role, value in rendered.chosen if role == "user_agent.original"]
        hostile_url = any(_HOSTILE.search(u) or u in attack_vocab.FRAMEWORK_PROBES for u in urls)
        if action == "web_request":
            assert not hostile_url, rendered.example.text
            tools = ("sqlmap", "Nikto", "Nmap")
            assert not any(name in a for a in agents for name in tools), agents
    assert min(seen.values()) > 1000


def test_probe_paths_hold_no_raw_space_or_quote() -> None:
    """A raw space or double quote would split the request inside an access log's quotes."""
    rng = random.Random(11)
    for _ in range(5000):
        path = attack_vocab.probe_path(rng)
        assert " " not in path and '"' not in path, path


def test_security_actions_are_generated() -> None:
    families = [f.name for f in synthetic.FAMILIES if f.group == "security"]
    actions = {r.example.action for r in islice(synthetic.iter_rendered(5, families), 4000)}
    assert {"web_attack_attempt", "intrusion_detected", "firewall_drop", "connection_rejected",
            "login_failed", "login_success", "web_request"} <= actions


def test_several_addresses_get_distinct_roles_and_a_relay_is_no_source() -> None:
    for rendered in islice(synthetic.iter_rendered(9, ["address_roles"]), 2000):
        example = rendered.example
        sources = {example.text[s.start:s.end] for s in example.spans if s.label == "source.ip"}
        destinations = {example.text[s.start:s.end] for s in example.spans
                        if s.label == "destination.ip"}
        assert len(sources) == 1, example.text
        assert not sources & destinations, example.text


def _body(text: str, values: list[tuple[str, str]]) -> Body:
    b = ExampleBuilder()
    for i, (value, role) in enumerate(values):
        b.const(text if i == 0 else " ").var(value, role)
    return Body(b.text, b.spans, "app", "42")


def test_rfc5424_structured_data_escapes_values_and_labels_them() -> None:
    hostile = 'a"b]c\\d'
    body = _body("Login failed for ", [(hostile, "user.name"), ("203.0.113.9", "source.ip")])
    seen_sd = 0
    for seed in range(300):
        b = ExampleBuilder()
        rfc5424(b, body, Values(random.Random(seed)))
        b.extend(body.text, body.spans)
        if "[timeQuality" in b.text or hostile not in body.text:
            continue
        for span in b.spans:
            if span.label == "user.name" and b.text[span.start - 1] == '"':
                seen_sd += 1
                assert b.text[span.start:span.end] == 'a\\"b\\]c\\\\d'
    assert seen_sd > 20


def test_rfc5424_training_lines_reach_the_model_as_the_daemon_hands_them() -> None:
    """The envelope parser's body of a generated RFC 5424 line is what the generator puts
    after its header: the SD elements (transport-only ones left out), then the message."""
    parser = EnvelopeParser()
    body = _body("Accepted password for ", [("bob", "user.name"), ("198.51.100.4", "source.ip")])
    checked = 0
    for seed in range(300):
        b = ExampleBuilder()
        rfc5424(b, body, Values(random.Random(seed)))
        b.extend(body.text, body.spans)
        if not b.text.startswith("<") or "[timeQuality" in b.text:
            continue
        event = parser.parse(b.text, 0.0)
        header_end = b.text.index(event.body)
        assert b.text[header_end:] == event.body
        assert event.body.endswith(body.text)
        checked += 1
    assert checked > 50
