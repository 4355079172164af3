"""The neutral chatter families: protocol steps and web-server chatter teach that a line
about a connection, a key exchange or a missing favicon is no offense."""

from __future__ import annotations

import random
from collections import Counter

from logsentry.train.data import families_neutral
from logsentry.train.data.synthetic import FAMILY_BY_NAME, FAMILY_WEIGHTS, generate, render
from logsentry.train.data.values import Values
from logsentry.train.evaluation import is_offense
from logsentry.train.example import Example

NEUTRAL = [family.name for family in families_neutral.FAMILIES]


def masked(example: Example) -> str:
    """The line with every labelled value replaced by its role: its wording alone."""
    text, end = [], 0
    for span in sorted(example.spans, key=lambda s: s.start):
        text.append(example.text[end:span.start])
        text.append(f"<{span.label}>")
        end = span.end
    text.append(example.text[end:])
    return "".join(text)


def test_neutral_families_are_drawn_by_the_generator() -> None:
    drawn = Counter(e.family for e in generate(4000, seed=3))
    for name in NEUTRAL:
        assert name in FAMILY_BY_NAME
        assert drawn[name] > 0


def test_no_neutral_line_is_labelled_an_offense() -> None:
    v = Values(random.Random(11))
    actions: Counter[str] = Counter()
    for name in NEUTRAL:
        for _ in range(3000):
            actions[render(FAMILY_BY_NAME[name], v).example.action] += 1
    assert actions, "nothing rendered"
    assert not [action for action in actions if is_offense(action)]
    # Both connection steps and plain chatter are taught, not one neutral label only.
    assert {"other", "connection_opened", "connection_closed", "web_request"} <= actions.keys()


def test_neutral_lines_vary_in_wording_and_share_failure_marks() -> None:
    # Compositional: thousands of lines, almost all distinct once values are masked out,
    # and `[preauth]`-style stage marks appear on neutral lines too.
    v = Values(random.Random(5))
    rendered = [render(FAMILY_BY_NAME["protocol_steps"], v) for _ in range(3000)]
    shapes = {masked(r.example) for r in rendered}
    assert len(shapes) > 1500
    assert any("[preauth]" in r.example.text and r.example.action == "other" for r in rendered)


def test_failure_families_keep_their_draw_weights_relative_to_each_other() -> None:
    # The neutral families add weight; they take none from the families that teach failures.
    for name, weight in {"openssh": 5.0, "generic_auth": 3.0, "auth_refusals": 3.0,
                         "pam": 1.5, "web_requests": 3.0}.items():
        assert FAMILY_WEIGHTS[name] == weight


def test_generation_with_neutral_families_stays_deterministic() -> None:
    first = [e.to_dict() for e in generate(500, seed=21, families=set(NEUTRAL))]
    second = [e.to_dict() for e in generate(500, seed=21, families=set(NEUTRAL))]
    assert first == second


def test_package_lines_name_security_programs_and_stay_neutral() -> None:
    # Installing sudo, nmap or clamav is no privilege change, attack or malware: such
    # names appear as varying package names on lines labelled `other`.
    v = Values(random.Random(9))
    rendered = [render(FAMILY_BY_NAME["package_manager"], v) for _ in range(2000)]
    assert {r.example.action for r in rendered} == {"other"}
    named = [r for r in rendered
             if any(r.example.text[s.start:s.end].split(":")[0] in {"sudo", "nmap", "clamav"}
                    and s.label == "variable" for s in r.example.spans)]
    assert len(named) > 10
