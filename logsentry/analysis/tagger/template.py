"""The written form of a line's template: one event, one string.

The engine writes a template from the model's tags: constant pieces as they are, variable
ones as `<*>`. Several notations still split one event into many templates although only
the way a value is written differs: `lifetime 00:02` against `lifetime <1 sec`,
`1190 bytes (1.16 KB) sent` against `0 bytes sent`, `set -3600` against `set +60`.
A template must not depend on how a value is written: `sys.new-template` alerts on the
first appearance of a template, and a grouping of lines by event is only as good as its
templates (Loghub's grouping accuracy). `canonical_template` folds those notations into
the one wildcard they are part of.
"""

from __future__ import annotations

import re
from functools import lru_cache

WILDCARD = "<*>"

# A sign or comparison glued to the front of a value that stands alone (`<1 sec`,
# `set -3600`, `~5`): it belongs to the value. Not inside a word or brackets:
# `msgid=<<*>@<*>>` keeps its angle brackets.
_SIGNED = re.compile(r"(?<!\S)[<>~+-](?=<\*>(?:[\s,;)]|$))|(?<=[=:(,])[+-](?=<\*>(?:[\s,;)]|$))")
# An empty pair of brackets or quotes where a value is written (`connection from <*> ()`
# against `(host.example)`): the value is absent, not another event.
_EMPTY = re.compile(r"(?<![\w<>])(?:\(\)|\[\]|\{\}|\"\"|'')(?![\w<>])")
# Values joined by one or two punctuation marks and no space (`00:02`, `10.0.0.1:80`,
# `3/4`, `1-5`): one value, whatever number of parts it is written with. Brackets stay:
# `[<*>]-<*>` is a structure, not a value.
_JOINED = re.compile(r"<\*>(?:[^\w\s<>()\[\]{}\"']{1,2}<\*>)+")
# A unit after a value (`5 sec`, `3 KB`): part of how the value is written.
_UNIT = re.compile(
    r"<\*> (?:s|sec|secs|seconds?|ms|us|min|mins|minutes?|h|hrs?|hours?|days?"
    r"|B|[KMGTP]i?B|kB)(?![\w-]|\.\w)")
# An aside in parentheses that only restates a value (`(1.16 KB)` after `1190 bytes`):
# it is written only when the value is large enough, so it must not make another event.
_ASIDE = re.compile(r" \(<\*>\)")


# Lines of one event share a template: remembering the last few thousand spares the
# regular expressions on almost every line (bounded: templates are attacker-controlled).
@lru_cache(maxsize=8192)
def canonical_template(template: str) -> str:
    """`template` with each value written as one `<*>` (see the module's docstring). A
    template of values only (`<*>:<*>`, `<*>|<*>`) keeps its punctuation: that is all the
    structure its lines have."""
    if WILDCARD not in template and not _EMPTY.search(template):
        return template
    written = _EMPTY.sub(_absent_value, template)
    written = _SIGNED.sub("", written)
    written = _JOINED.sub(WILDCARD, written)
    written = _UNIT.sub(WILDCARD, written)
    written = _ASIDE.sub("", written)
    if written != template and not any(
            c.isalpha() for c in written.replace(WILDCARD, "")):
        return template
    return written


def _absent_value(empty: re.Match[str]) -> str:
    pair = empty.group()
    return f"{pair[0]}{WILDCARD}{pair[1]}"
