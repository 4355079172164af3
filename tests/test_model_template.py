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
    # An empty pair of brackets or quotes is an absent value.
    ("connection from <*> () at <*>", "connection from <*> (<*>) at <*>"),
    ('user "" not found', 'user "<*>" not found'),
    ("groups [] of <*>", "groups [<*>] of <*>"),
    # A sign after a key or before a comma is the value's too.
    ("orientation -<*>, got <*>", "orientation <*>, got <*>"),
    ("rotation(orient=-<*>, last=<*>)", "rotation(orient=<*>, last=<*>)"),
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
    "main() returned <*>",  # a call's parentheses are no absent value
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
    # A leading value is left out of the template as a header would be: had the host been
    # a constant, the template would start with it.
    assert templates[0] == templates[1] == "open through proxy <*>"


def test_a_dotted_url_scheme_is_part_of_its_value() -> None:
    text = "com.example.sync.x-data://DB05/Principal/p11: job skipped"
    pieces, truncated = split_pieces(text, 63)
    labels = Labels(tuple(CONSTANT for _ in pieces), "other", 0.5, template_wild(text, pieces))
    result = build_analysis(
        text, [(p.start, p.end) for p in pieces], truncated, labels, DECODER)
    # The path piece holds a digit, so it is a wildcard already; the scheme joins it (and,
    # a leading value, stays out of the template with it).
    assert result.template == "job skipped"


def test_a_dotted_class_name_before_a_message_stays_template_text() -> None:
    text = "java.io.IOException: Connection reset"
    pieces, _ = split_pieces(text, 63)
    assert not any(template_wild(text, pieces))



def _tagged(text: str, tags: dict[str, str]) -> list[int]:
    """Tag ids of `text`'s pieces: `tags` maps a piece's text to its tag, the rest are `O`."""
    pieces, _ = split_pieces(text, 63)
    return [TAGS.index(tags.get(text[p.start:p.end], "O")) for p in pieces]


def _analysis(text: str, tags: dict[str, str]) -> tuple[str, dict[str, str], str | None]:
    pieces, truncated = split_pieces(text, 63)
    labels = Labels(tuple(_tagged(text, tags)), "other", 0.5, template_wild(text, pieces))
    result = build_analysis(text, [(p.start, p.end) for p in pieces], truncated, labels, DECODER)
    return result.template, result.fields, result.timestamp


HEADER_TAGS = {
    "2015-10-18": "B-timestamp", "18:01:47,978": "I-timestamp", "081109": "B-timestamp",
    "203615": "I-timestamp", "INFO": "B-log.level", "WARN": "B-log.level",
    "main": "B-process.thread.name", "pool-3-thread-7": "B-process.thread.name",
    "org.x.Y": "B-log.logger", "dfs.DataNode": "B-log.logger", "148": "B-variable",
    "1.2.3.4": "B-source.ip", "bob": "B-user.name",
}


def test_the_template_of_a_line_is_built_from_its_message_alone() -> None:
    first = _analysis("2015-10-18 18:01:47,978 INFO [main] org.x.Y: Login of bob from 1.2.3.4",
                      HEADER_TAGS)
    other = _analysis("081109 203615 148 INFO [pool-3-thread-7] dfs.DataNode: Login of bob"
                      " from 1.2.3.4", HEADER_TAGS)
    # The level word stays, as written: the model tags it on one line and not on the next.
    assert first[0] == other[0] == "INFO Login of <*> from <*>"
    # The header's parts are still fields of the event.
    assert first[1] == {"log.level": "INFO", "process.thread.name": "main",
                        "log.logger": "org.x.Y", "user.name": "bob", "source.ip": "1.2.3.4"}
    assert first[2] == "2015-10-18 18:01:47,978"
    assert other[1]["log.level"] == "INFO"


@pytest.mark.parametrize(("text", "template"), [
    # A constant word first: the line is the message.
    ("Login of bob INFO", "Login of <*> INFO"),
    # No constant word at all: the whole line is the template.
    ("2015-10-18 18:01:47", "<*>"),
    # The level word starts the message, tagged or not, and is written as it is.
    ("2015-10-18 18:01:47,978 INFO", "INFO"),
    ("2015-10-18 18:01:47,978 [WARN] started", "[WARN] started"),
    ("2015-10-18 18:01:47,978 [notice] started", "[notice] started"),
    ("INFO in org.x.Y: started", "INFO in <*>: started"),
    # Values before the first word are no part of the event, whatever their tag.
    ("148 Login of bob", "Login of <*>"),
    ("bob logged in from 1.2.3.4 at INFO", "logged in from <*> at INFO"),
])
def test_the_message_starts_at_its_first_constant_word(text: str, template: str) -> None:
    assert _analysis(text, HEADER_TAGS)[0] == template


LEVEL_ONLY = {"INFO": "B-log.level", "W": "B-log.level", "WARN": "B-log.level",
              "2015-10-18": "B-timestamp", "18:01:47,978": "I-timestamp"}


@pytest.mark.parametrize("text", [
    # Thread and logger tagged constant (as the model does on some lines and not on others)
    # are header after the level word all the same.
    "2015-10-18 18:01:47,978 INFO [main] org.x.Y: Login of bob",
    "2015-10-18 18:01:47,978 INFO [Timer for pool 7] org.x.Y: Login of bob",
    "2015-10-18 18:01:47,978 INFO org.x.Y [req-9 - - -] Login of bob",
    "2015-10-18 18:01:47,978 INFO [main] Login of bob",
    "2015-10-18 18:01:47,978 INFO Session: Login of bob",
    "2015-10-18 18:01:47,978 INFO c.x.Pool$Worker - Login of bob",
])
def test_a_thread_and_a_logger_after_the_level_word_are_header_whatever_their_tags(
        text: str) -> None:
    assert _analysis(text, LEVEL_ONLY)[0] == "INFO Login of bob"


@pytest.mark.parametrize(("text", "template"), [
    # One bracketed group is the thread or context; a second one is the message's.
    ("2015-10-18 18:01:47,978 INFO nova.x [req-9 - -] [instance: 3] Deleted",
     "INFO [instance: <*>] Deleted"),
    # Punctuation glued to the level word is written with it.
    ("2015-10-18 18:01:47,978 [WARN] [main] started", "[WARN] started"),
    # A colon inside a token is no logger's; nor is a name with a space before the colon.
    ("2015-10-18 18:01:47,978 INFO mode:fast done", "INFO mode:fast done"),
    # A single word before a bracket is the message's; a dotted name there is a logger.
    ("2015-10-18 18:01:47,978 INFO Starting [main] now", "INFO Starting [main] now"),
    ("2015-10-18 18:01:47,978 INFO Login failed: bad password",
     "INFO Login failed: bad password"),
    # Without a level word, the message starts at its first constant word, as before.
    ("2015-10-18 18:01:47,978 [main] org.x.Y: started", "[main] org.x.Y: started"),
    # A bracket that does not close is the message's.
    ("2015-10-18 18:01:47,978 W [main started", "W [main started"),
])
def test_the_header_after_a_level_word_ends_where_a_logger_writes_its_message(
        text: str, template: str) -> None:
    assert _analysis(text, LEVEL_ONLY)[0] == template


@pytest.mark.parametrize("text", [
    # Record id, node, component, state, time in epoch seconds, flag: then the message.
    "120 node-7 node status 1700000000 1 running",
    "121 switch-2 switch_module state 1700000001 0 running",
    "7 gige3 gige status 1700000000123 1 running",
])
def test_columns_before_a_time_in_epoch_seconds_are_header(text: str) -> None:
    template, _, timestamp = _analysis(text, {})
    assert template == "running"
    # The time is the event's, though the model did not tag it.
    assert timestamp == text.split()[4]


def test_a_tagged_time_wins_over_the_epoch_column() -> None:
    text = "2023-11-14 120 node status 1700000000 1 running"
    assert _analysis(text, {"2023-11-14": "B-timestamp"})[2] == "2023-11-14"


@pytest.mark.parametrize(("text", "template"), [
    # A message that starts with a word keeps it, wherever an epoch time stands.
    ("bob logged in at 1700000000 ok", "bob logged in at <*> ok"),
    # Too many columns before it: the time is the message's.
    ("1 a b c d e f 1700000000 ok", "a b c d e f <*> ok"),
])
def test_an_epoch_time_inside_a_message_is_no_header_column(text: str, template: str) -> None:
    assert _analysis(text, {})[0] == template


@pytest.mark.parametrize("text", [
    "081109 203615 148 INFO dfs.DataNode: Login of bob",
    "081109 203615 148 Info [main] Login of bob",
])
def test_a_level_word_after_the_header_start_is_the_level_even_untagged(text: str) -> None:
    # The model tags the level word on one line and not on the next: the logger and the
    # thread after it must not depend on that.
    tags = {"081109": "B-timestamp", "203615": "I-timestamp", "bob": "B-user.name"}
    template = _analysis(text, tags)[0]
    assert template == f"{text.split()[3]} Login of <*>"


def test_a_level_word_inside_the_message_starts_no_header() -> None:
    assert _analysis("Connection ERROR org.x.Y: reset", {})[0] == "Connection ERROR org.x.Y: reset"
