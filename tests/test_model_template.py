"""A template does not depend on how a value is written (`logsentry.analysis.tagger.template`)."""

from __future__ import annotations

import pytest

from logsentry.analysis.tagger.inference import Labels, _Decoder, build_analysis, template_wild
from logsentry.analysis.tagger.network import TAGS
from logsentry.analysis.tagger.template import canonical_template
from logsentry.analysis.tagger.tokenizer import split_pieces

CONSTANT = TAGS.index("O")
DECODER = _Decoder.from_tags(TAGS)


@pytest.mark.parametrize(("one", "other"), [
    # Loghub Proxifier: a size aside appears only above 1 KB; a lifetime is `<1 sec` or `00:02`.
    ("<*> close, <*> bytes sent, <*> bytes received, lifetime <<*> sec",
     "<*> close, <*> bytes (<*> KB) sent, <*> bytes (<*>) received, lifetime <*>:<*>"),
    ("wake time set -<*>", "wake time set +<*>"),
    ("took <*> ms", "took <*>"),
    ("uptime <*> days, load <*>", "uptime <*>, load <*>"),
    ("finished in <*> seconds.", "finished in <*>:<*>."),
])
def test_notations_of_one_value_give_one_template(one: str, other: str) -> None:
    assert canonical_template(one) == canonical_template(other)


@pytest.mark.parametrize("template", [
    "<*>:<*>",  # a line of values only keeps the punctuation that is all its structure
    "<*>|<*>",
    "msgid=<<*>>, relay=<*>",  # angle brackets around a value are structure
    "sshd[<*>]: Accepted password for <*> from <*> port <*> ssh2",
    "Dir file [<*>]-<*>, Current File [<*>]-<*>",
    "read <*> bytes",  # bytes is a word of the template, not a unit folded into the value
    "no values here",
])
def test_templates_without_such_notations_stay_as_written(template: str) -> None:
    assert canonical_template(template) == template


def test_values_joined_by_punctuation_become_one_wildcard() -> None:
    assert canonical_template("open through proxy <*>:<*> to <*>.<*>.<*>") == (
        "open through proxy <*> to <*>")


def test_a_host_name_written_with_its_port_is_a_wildcard_even_when_tagged_constant() -> None:
    texts = ["github.com:443 open through proxy 10.0.0.1:5070",
             "www.example.org:80 open through proxy 10.0.0.1:5070"]
    templates = []
    for text in texts:
        pieces, truncated = split_pieces(text, 63)
        labels = Labels(tuple(CONSTANT for _ in pieces), "other", 0.5,
                        template_wild(text, pieces))
        templates.append(build_analysis(
            text, [(p.start, p.end) for p in pieces], truncated, labels,
            DECODER).template)
    assert templates[0] == templates[1] == "<*> open through proxy <*>"


def test_a_dotted_url_scheme_is_part_of_its_value() -> None:
    text = "com.example.sync.x-data://DB05/Principal/p11: job skipped"
    pieces, truncated = split_pieces(text, 63)
    labels = Labels(tuple(CONSTANT for _ in pieces), "other", 0.5, template_wild(text, pieces))
    result = build_analysis(
        text, [(p.start, p.end) for p in pieces], truncated, labels, DECODER)
    # The path piece holds a digit, so it is a wildcard already; the scheme joins it.
    assert result.template == "<*>: job skipped"


def test_a_dotted_class_name_before_a_message_stays_template_text() -> None:
    text = "java.io.IOException: Connection reset"
    pieces, _ = split_pieces(text, 63)
    assert not any(template_wild(text, pieces))

