"""The inference engine: the shipped model as a `logsentry.analysis.base.Analyzer`.

The pipeline's analysis worker micro-batches lines and calls `analyze_batch`
from one thread. Per batch the engine:

1. answers lines seen before from an exact-text LRU cache;
2. looks the others' *structure* up in a second LRU cache (the line with every
   digit run masked): lines of one structure reuse the cached piece tags and
   action without running the network, while entity strings are still cut from
   the new line; a line whose masked digits came before is answered from that
   hit's *plan* (`_Plan`: spans and template) without being cut into pieces;
3. cuts the rest into pieces and looks them up in the *template cache*
   (`template_cache.py`): a line with the constant pieces of a line the model
   labelled before, at the same places, and values of the same shapes, reuses
   its tags and action (a new user name is a new structure, not a new event),
   and the template's *layout* of its wildcard pattern if it has one;
4. runs the network over what is left (its float32 forward pass in numpy), sorted
   by length so batches carry little padding: first one line per signature, then
   the lines that the templates just learnt do not answer.

Nothing here raises on odd input: empty lines, NUL bytes, replacement
characters and megabyte lines come back as an `Analysis` (the line is cut at
`max_pieces` pieces; the rest is one variable part of the template).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Generic, NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from logsentry.analysis.tagger.artifacts import LoadedModel, load_model
from logsentry.analysis.tagger.location import default_model_dir
from logsentry.analysis.tagger.network import Network
from logsentry.analysis.tagger.template import WILDCARD, canonical_template
from logsentry.analysis.tagger.template_cache import Layout, ShapeClass, Template, TemplateCache
from logsentry.analysis.tagger.tokenizer import (
    PAD,
    Encoded,
    Piece,
    piece_bounds,
    split_pieces,
)
from logsentry.core.actions import ACTIONS
from logsentry.core.analysis import INTEGER_FIELDS, LEVEL_WORDS, Analysis
from logsentry.core.metrics import CACHE_LOOKUPS, MODEL_LINES, TEMPLATE_CACHE_LOOKUPS

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")

_DIGITS = re.compile(r"\d+")
_CACHE_HITS = CACHE_LOOKUPS.labels("hit")
_CACHE_MISSES = CACHE_LOOKUPS.labels("miss")
_TEMPLATE_HITS = TEMPLATE_CACHE_LOOKUPS.labels("hit")
_TEMPLATE_MISSES = TEMPLATE_CACHE_LOOKUPS.labels("miss")
# Templates remembered when the caller leaves it to the engine (10,000 templates of 20
# pieces are about 16 MB); 0 when `cache_size` is 0, which means "no caches".
DEFAULT_TEMPLATE_CACHE = 10_000
# Bytes all four caches may hold together (`analysis.cache_max_mb`'s default).
DEFAULT_CACHE_BYTES = 128 << 20

# Estimated bytes of a cache entry (CPython 3.11, 64-bit), measured with tracemalloc over
# distinct failed logins, random printable lines and random word lines; on the high side:
# an exact-text entry (its map slot, the Analysis, its fields dict) before its text, and
# each of its fields; a structure entry (the Labels, its tuples) before its key, and per
# piece. Template entries are weighed by TemplateCache.
EXACT_ENTRY_BYTES = 200
EXACT_FIELD_BYTES = 48
STRUCTURE_ENTRY_BYTES = 240
STRUCTURE_PIECE_BYTES = 16
# A plan entry (its map slot, the _Plan, its spans tuple) before its masked text and its
# template (which the exact-text entries of its lines share), and per span.
PLAN_ENTRY_BYTES = 300
PLAN_SPAN_BYTES = 120
# The caches' share of `ModelAnalyzer(cache_bytes=...)`: their byte bounds.
_EXACT_SHARE = 0.25
_STRUCTURE_SHARE = 0.45
_PLAN_SHARE = 0.05
_TEMPLATE_SHARE = 0.25

# Exact-text cache only for lines up to this length: bounds its memory.
_EXACT_MAX_CHARS = 512
# Structure cache only for lines up to this length (the key is the masked line).
_STRUCTURE_MAX_CHARS = 4096
_TIMESTAMP = "timestamp"
# The span of a header's epoch time (`header_length`'s columns): the timestamp if no other.
_EPOCH_TIME = "\x00epoch"
_LEVEL = "log.level"
# Piece kinds that are a template wildcard even when tagged constant: templates of one event
# must not split on a counter or an address the model happened to call constant.
TEMPLATE_WILD_KINDS = frozenset({
    "num", "hex", "uuid", "ipv4", "ipv6", "v4mapped", "mac", "time", "isots", "clfts", "date"})
_IP_FIELDS = ("source.ip", "destination.ip")
_HOST_NAME = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?"
                        r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?")
# Actions whose line names a remote peer: a failed login, a rejection, a request.
_PEER_ACTIONS = frozenset(
    name for name, info in ACTIONS.items()
    if name != "other" and (info.outcome == "failure" or "web" in info.category
                            or "authentication" in info.category))
_DIGIT_CHARS = frozenset("0123456789")
# Any character for which str.isalnum() holds (re's `\w` is isalnum() or `_`): one scan in
# C instead of a generator over the characters.
_ALNUM = re.compile(r"[^\W_]")
# A dotted-quad IPv4 address exactly as `ipaddress` accepts it (ASCII digits, no leading
# zero, each octet up to 255): most addresses of a line need no `ipaddress` object, which
# costs about 4 µs to build.
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
# An IPv4 endpoint: `192.0.2.7:51234`, or `192.0.2.7|51234` in pipe-separated records
# (Oracle Communications Messaging Server's `tr="TCP|local|25|remote|4299"`).
_ENDPOINT = re.compile(r"(?<![\w.])(\d{1,3}(?:\.\d{1,3}){3})[:|](\d{1,5})(?![\w.])")


def template_wild(text: str, pieces: Sequence[Piece]) -> tuple[bool, ...]:
    """Per piece, whether the template has a wildcard there whatever the model's tag: kinds
    that are always values, any piece holding a digit (`core.4505`, `conn17`, `ens2`
    vary between the lines of one event far more often than they tell two events apart;
    Drain masks them too), and a dotted name written with a port (`github.com:443`) or as
    a URL's scheme (`com.example.sync://...`: RFC 3986 schemes may hold dots, which the
    tokenizer's URL pieces do not take)."""
    wild = [piece.kind in TEMPLATE_WILD_KINDS
            or not _DIGIT_CHARS.isdisjoint(text[piece.start:piece.end]) for piece in pieces]
    for i in range(len(pieces) - 2):
        name, colon, after = pieces[i], pieces[i + 1], pieces[i + 2]
        if (name.kind == "dotted" and colon.start == name.end and after.start == colon.end
                and text[colon.start:colon.end] == ":"
                and (after.kind == "num"
                     or (after.kind == "path" and text.startswith("//", after.start)))):
            wild[i] = True
    return tuple(wild)


class LRUCache(Generic[K, V]):
    """A least-recently-used map bounded in entries and, with `weigh` (an entry's
    estimated bytes), in bytes: `bytes` is the sum of its entries' weights (not
    thread-safe: one worker thread uses it)."""

    def __init__(self, capacity: int, max_bytes: int = 0,
                 weigh: Callable[[K, V], int] | None = None) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes if weigh is not None else 0
        self._weigh = weigh
        self._data: OrderedDict[K, V] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.bytes = 0

    def get(self, key: K) -> V | None:
        if self.capacity <= 0:
            return None
        value = self._data.get(key)
        if value is None:
            self.misses += 1
            return None
        self._data.move_to_end(key)
        self.hits += 1
        return value

    def put(self, key: K, value: V) -> None:
        if self.capacity <= 0:
            return
        data = self._data
        weigh = self._weigh
        if weigh is not None:
            old = data.get(key)
            if old is not None:
                self.bytes -= weigh(key, old)
            self.bytes += weigh(key, value)
        data[key] = value
        data.move_to_end(key)
        if len(data) > self.capacity:
            oldest, dropped = data.popitem(last=False)
            if weigh is not None:
                self.bytes -= weigh(oldest, dropped)
        if self.max_bytes:
            assert weigh is not None
            while self.bytes > self.max_bytes and len(data) > 1:
                oldest, dropped = data.popitem(last=False)
                self.bytes -= weigh(oldest, dropped)

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        self._data.clear()
        self.bytes = 0


@dataclass(frozen=True, slots=True)
class Labels:
    """What the network says about one line structure."""

    tags: tuple[int, ...]  # one tag id per piece
    action: str
    confidence: float
    # Pieces that are a wildcard in the template whatever their tag (numbers, addresses...).
    wild: tuple[bool, ...] = ()


@dataclass(frozen=True, slots=True)
class _Decoder:
    """Tag ids -> (role, begins) lookups."""

    roles: tuple[str | None, ...]  # None for the constant tag
    begins: tuple[bool, ...]

    @classmethod
    def from_tags(cls, tags: Sequence[str]) -> _Decoder:
        roles: list[str | None] = []
        begins: list[bool] = []
        for tag in tags:
            if tag == "O":
                roles.append(None)
                begins.append(False)
            else:
                prefix, _, role = tag.partition("-")
                roles.append(role)
                begins.append(prefix == "B")
        return cls(tuple(roles), tuple(begins))


class Header(NamedTuple):
    """Where a line's message starts (`length` leading pieces are its header) and which
    pieces are its level word with the punctuation glued to it (`[notice]`, `INFO:`), which
    the template keeps; `level` is (first, end) or None; `columns`, where a header of
    columns ends with a time in epoch seconds, the pieces up to that time (the time is the
    last). (A tuple: one is built per line.)"""

    length: int
    level: tuple[int, int] | None = None
    columns: int = 0


# A logger or tag name as loggers write it before the message (`org.x.Y:`, `WindowManager:`,
# `com.x.Y$Inner -`): one token of name characters, starting with a letter.
_LOGGER_NAME = re.compile(r"[A-Za-z_][\w.$#]*")
# A header's time in epoch seconds (2001 to 2033; milliseconds too) as a column of its own.
_EPOCH_COLUMN = re.compile(r"(?<![^ ])(1\d{9}(?:\d{3})?)(?= )")
_FIRST_TOKEN = re.compile(r"[^ ]{1,64}(?= )")
# How many columns may come before the time, and how far into the line it is looked for.
_MAX_COLUMNS = 6
_COLUMNS_SCAN = 160
# The most pieces a bracketed thread or context group after the level word may span: a
# longer bracket is more likely the message's own.
_MAX_GROUP_PIECES = 24


def header_length(
    text: str, pieces: Sequence[tuple[int, int]], tags: Sequence[int], wild: Sequence[bool],
    roles: Sequence[str | None],
) -> Header:
    """How many leading pieces come before the message: every piece before its first
    constant word or quote (with the punctuation glued to that word's front, as in `[x`).
    So the header's timestamp, thread, pid, host and program, values and punctuation give
    fields but no template text.

    Leading values go with the header whatever their tag: `<*> open through proxy` and
    `open through proxy` must not be two events because the model called one line's host
    a header part and the next line's a peer; a value names no event. A quote starts the
    message (`1.2.3.4 "GET / HTTP/1.1" 200`). 0 when the line has no constant word.

    A level word (tagged `log.level`) is kept in the template as written, with the
    punctuation glued to it: the lines of one event share it, and the model tags `[notice]`
    `log.level` on one line and constant on the next. What loggers write after a level
    word is header too, whatever the model tags it: one bracketed group (a thread name or
    request context, `[main]`, `[pool-3-thread-7]`, `[req-1 - - -]`) and one logger name
    ending in a colon, followed by a dash or, dotted, by the bracket (`org.x.Y:`,
    `WindowManager:`, `c.x.Y -`, `nova.x.y [req-1]`),
    in either order, besides values and punctuation (`2015-10-18 18:01:47,978 INFO [main]
    org.x.Y: ...`). A second bracket starts the message (`[instance: <*>] ...`)."""
    count = min(len(pieces), len(tags))
    level: tuple[int, int] | None = None
    group = logger = False
    floor = 0  # no glued punctuation before this piece joins the message's first word
    i = 0
    columns = _epoch_column_end(text, pieces, count)
    if columns and all(roles[tags[k]] != _LEVEL for k in range(columns)):
        i = floor = columns
    else:
        columns = 0
    while i < count:
        role = roles[tags[i]]
        if role == _LEVEL or (
                role is None and level is None and i > 0 and not wild[i]
                and text[pieces[i][0]:pieces[i][1]] in LEVEL_WORDS):
            # After a header's first pieces (a time, a pid), a level word is the level
            # whether or not the model tags it so.
            role = _LEVEL
        if role == _LEVEL and level is None:
            first = i
            while (first > floor and _glued_punctuation(text, pieces, tags, wild, roles,
                                                        first - 1)
                   and pieces[first - 1][1] == pieces[first][0]):
                first -= 1  # `[` of `[notice]`
            end = i + 1
            while (end < count and pieces[end][0] == pieces[end - 1][1]
                   and _glued_punctuation(text, pieces, tags, wild, roles, end)):
                end += 1  # `]` of `[notice]`, `:` of `INFO:`
            level = (first, end)
            i = floor = end
            continue
        if role is None and not wild[i]:
            start, stop = pieces[i]
            piece = text[start:stop]
            if '"' in piece or "'" in piece:
                return Header(i, level, columns)  # a quoted request or message starts here
            if level is not None:
                if not group and piece == "[":
                    close = _closing_bracket(text, pieces, i, count)
                    if close is not None:
                        group = True
                        i = floor = close + 1
                        continue
                if not logger and (piece[0].isalpha() or piece[0] == "_"):
                    after = _logger_end(text, pieces, i, count)
                    if after is not None:
                        logger = True
                        i = floor = after
                        continue
            if _ALNUM.search(piece):
                while (i > floor and roles[tags[i - 1]] is None and not wild[i - 1]
                       and pieces[i - 1][1] == pieces[i][0]):
                    i -= 1  # `[` of `[instance: ...]`: the word's own bracket
                return Header(i, level, columns)
        i += 1
    return Header(count if level is not None else 0, level, columns)


def _epoch_column_end(text: str, pieces: Sequence[tuple[int, int]], count: int) -> int:
    """A header written as columns of values and names with the time in epoch seconds among
    them (`2594414 node-239 node temperature 1074274436 1 ambient=30`: id, node, component,
    state, time, flag): the index of the piece after that time, else 0. Only when the line
    starts with a value (a record id or a sequence number: a message seldom does) and the
    time is one of its first `_MAX_COLUMNS` tokens; the columns before the time are names
    that vary by event, not the event's words."""
    first = _FIRST_TOKEN.match(text)
    if first is None or _DIGIT_CHARS.isdisjoint(first.group()):
        return 0
    epoch = _EPOCH_COLUMN.search(text, 0, _COLUMNS_SCAN)
    if epoch is None or text.count(" ", 0, epoch.start()) >= _MAX_COLUMNS:
        return 0
    end = epoch.end(1)
    for index in range(count):
        if pieces[index][1] == end:
            return index + 1
        if pieces[index][1] > end:
            return 0
    return 0


def _glued_punctuation(
    text: str, pieces: Sequence[tuple[int, int]], tags: Sequence[int], wild: Sequence[bool],
    roles: Sequence[str | None], index: int,
) -> bool:
    """Piece `index` is constant punctuation (no letter or digit, no quote)."""
    if roles[tags[index]] is not None or wild[index]:
        return False
    piece = text[pieces[index][0]:pieces[index][1]]
    return not _ALNUM.search(piece) and '"' not in piece and "'" not in piece


def _closing_bracket(
    text: str, pieces: Sequence[tuple[int, int]], opening: int, count: int,
) -> int | None:
    """The piece that closes the `[` at `opening` (nested brackets counted), if it comes
    within `_MAX_GROUP_PIECES` pieces and no quote comes first."""
    depth = 0
    for index in range(opening, min(count, opening + _MAX_GROUP_PIECES)):
        piece = text[pieces[index][0]:pieces[index][1]]
        if '"' in piece:
            return None
        depth += piece.count("[") - piece.count("]")
        if depth <= 0:
            return index
    return None


def _logger_end(
    text: str, pieces: Sequence[tuple[int, int]], index: int, count: int,
) -> int | None:
    """When a logger name starts at piece `index` (a token of name characters after
    whitespace, ending in `:`, followed by ` - `, or dotted and followed by ` [`), the index
    of the piece after it and its colon or dash."""
    start = pieces[index][0]
    if start > 0 and not text[start - 1].isspace():
        return None
    name = _LOGGER_NAME.match(text, start)
    if name is None:
        return None
    stop = name.end()
    if text.startswith(":", stop) and (stop + 1 == len(text) or text[stop + 1].isspace()):
        stop += 1
    elif text.startswith(" - ", stop) or text.startswith(" -\t", stop):
        stop += 2
    elif not ("." in name.group() and text.startswith(" [", stop)):
        return None  # a dotted name before a bracket: `nova.x.y [req-1 - -] ...`
    after = index
    while after < count and pieces[after][1] <= stop:
        after += 1
    # The token must end at a piece boundary (`a.b:c` is no logger).
    return after if after > index and pieces[after - 1][1] == stop else None


def build_analysis(
    text: str, pieces: Sequence[tuple[int, int]], truncated: bool, labels: Labels,
    decoder: _Decoder,
) -> Analysis:
    """Fields, template and timestamp of `text` from its pieces' tags (text cut exactly).

    The template is built from the message: a leading header (`header_length`) is left
    out of it, so lines of one event group together whatever their header writes. A level
    word is written as it is, like a constant, wherever it stands."""
    spans, template_parts = _layout(text, pieces, truncated, labels, decoder)
    return _analysis(text, pieces, spans, _written(template_parts), labels)


# A span of pieces that give one field: role, start and end character.
_Span = tuple[str, int, int]


def _layout(
    text: str, pieces: Sequence[tuple[int, int]], truncated: bool, labels: Labels,
    decoder: _Decoder,
) -> tuple[list[_Span], list[str]]:
    """The spans of `build_analysis` (a B tag, a role change or a gap of constant starts a
    new one) and the text its template is joined from."""
    roles = decoder.roles
    begins = decoder.begins
    wild = labels.wild or (False,) * len(labels.tags)
    found = header_length(text, pieces, labels.tags, wild, roles)
    header = found.length
    epoch = pieces[found.columns - 1] if found.columns else None
    # Group pieces into spans: a B tag, a role change or a gap of constant starts a new one.
    spans: list[_Span] = []
    current_role: str | None = None
    template_parts: list[str] = []
    if found.level is not None:
        level_first, level_end = found.level
        # The level word and its glued punctuation, as written (see `header_length`).
        template_parts.append(text[pieces[level_first][0]:pieces[level_end - 1][1]])
    cursor = 0
    last_wild = False
    for index, ((start, end), tag, always_wild) in enumerate(
            zip(pieces, labels.tags, wild, strict=False)):
        role = roles[tag]
        if index < header:
            # Header parts give fields (log.level, the timestamp...), never template text.
            if role is None:
                current_role = None
            elif current_role == role and not begins[tag]:
                spans[-1] = (role, spans[-1][1], end)
            else:
                spans.append((role, start, end))
                current_role = role
            cursor = end
            continue
        gap = text[cursor:start] if index > header or not header else (
            " " if found.level is not None else "")
        if role is None:
            current_role = None
            if always_wild:
                if not (last_wild and (not gap or gap.isspace())):
                    template_parts.append(gap)
                    template_parts.append(WILDCARD)
                last_wild = True
            else:
                template_parts.append(gap)
                template_parts.append(text[start:end])
                last_wild = False
        else:
            continues = current_role == role and not begins[tag]
            if continues:
                spans[-1] = (role, spans[-1][1], end)
            else:
                spans.append((role, start, end))
            current_role = role
            if role == _LEVEL:
                # The level word stays as written, like a constant (see `header_length`).
                template_parts.append(gap)
                template_parts.append(text[start:end])
                last_wild = False
                cursor = end
                continue
            # One <*> for a run of variable pieces separated by nothing or whitespace: a value
            # of several words (a date, a free-text reason) must not split its event's template.
            if not (last_wild and (continues or not gap or gap.isspace())):
                template_parts.append(gap)
                template_parts.append(WILDCARD)
            last_wild = True
        cursor = end
    if truncated:
        if not last_wild:
            template_parts.append(" " if cursor < len(text) and text[cursor].isspace() else "")
            template_parts.append(WILDCARD)
    else:
        template_parts.append(text[cursor:])
    if epoch is not None:
        spans.append((_EPOCH_TIME, epoch[0], epoch[1]))
    return spans, template_parts


def _written(template_parts: list[str]) -> str:
    # Whitespace runs collapse: "Invalid user  <*>" (an empty or space-led name) is the
    # event of "Invalid user <*>", as a whitespace-splitting parser like Drain sees it.
    return canonical_template(" ".join("".join(template_parts).split()))


def _analysis(
    text: str, pieces: Sequence[tuple[int, int]] | Sequence[Piece] | None,
    spans: Sequence[_Span], template: str, labels: Labels, limit: int = 0,
) -> Analysis:
    """The Analysis of `text` from its spans and written template: the fields are cut from
    `text` and checked here. `pieces` (bounds or pieces) None: cut only if needed (at
    `limit` pieces)."""
    fields: dict[str, str] = {}
    epoch: str | None = None
    # An address role's mentions that do not parse as an address ("ers" of a code path
    # tagged source.ip): used only when no mention of that role parses.
    unparsed: dict[str, str] = {}
    timestamp: str | None = None
    for role, start, end in spans:
        if role == "variable":
            continue
        value = text[start:end]
        if role == _EPOCH_TIME:
            epoch = value
            continue
        if role == _TIMESTAMP:
            if timestamp is None:
                timestamp = value
            continue
        if role in fields:
            continue  # the first mention of a role wins
        if not _ALNUM.search(value):
            continue  # "-" and other placeholders of absent values are not entities
        if role in _IP_FIELDS and not _is_address(value):
            unparsed.setdefault(role, value)
            continue
        fields[role] = value
    if timestamp is None and epoch is not None:
        # The header's time in epoch seconds that the model did not tag.
        timestamp = epoch
    for role, value in unparsed.items():
        fields.setdefault(role, value)
    _clean_fields(fields)
    if labels.action in _PEER_ACTIONS:
        if "source.ip" not in fields:
            # A dotless "address" ("ers" of a code path, a word) loses to the line's one IP.
            host = fields.get("source.address")
            if host is None or "." not in host:
                if pieces is None:
                    pieces = piece_bounds(text, limit)[0]
                _sole_address_as_source(text, pieces, fields)
        else:
            port = fields.get("source.port")
            if port is None:
                # The port written with the address (`a.b.c.d:25`, `a.b.c.d|25`), if any.
                source = fields["source.ip"]
                at = text.find(source)
                after = at + len(source)
                if at >= 0 and text[after:after + 1] in (":", "|"):
                    digits = text[after + 1:after + 6]
                    port = digits[:len(digits) - len(digits.lstrip("0123456789"))] or None
            if port is not None and len(port) <= 3:
                _client_end(text, fields, port)
    return Analysis(action=labels.action, fields=fields, template=template,
                    confidence=labels.confidence, timestamp=timestamp)


def _sole_address_as_source(
    text: str, pieces: Sequence[tuple[int, int]] | Sequence[Piece], fields: dict[str, str],
) -> None:
    """A peer event whose model tags named no peer, and whose line holds exactly one IP
    address, maybe repeated (not the destination): that address is the peer. The model
    sometimes leaves an address untagged in a phrasing it never saw ("from ip address
    192.0.2.7")."""
    found: str | None = None
    for piece in pieces:
        start, end = piece[0], piece[1]
        if end - start < 2 or not (text[start].isdigit() or text[start] in ":abcdefABCDEF"):
            continue
        candidate = text[start:end]
        if "." not in candidate and ":" not in candidate:
            continue
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            continue
        if address.is_unspecified:
            continue  # "::" of a module path, 0.0.0.0 of a listener: never a peer
        value = str(getattr(address, "ipv4_mapped", None) or address)
        if found is not None and value != found:
            return  # two addresses: the peer is the model's call
        found = value
    if found is not None and found != fields.get("destination.ip"):
        fields["source.ip"] = found
        fields.pop("source.address", None)


def _client_end(text: str, fields: dict[str, str], port: str) -> None:
    """Swap the ends of a connection the model read backwards. A peer given with a
    well-known port (below 1024) is the server's end when the line holds one other
    `address:port` with an ephemeral port: clients connect from ephemeral ports (Exchange's
    protocol logs write `local,remote` endpoints, the local first)."""
    source = fields["source.ip"]
    if int(port) >= 1024:
        return
    others = {(match[1], match[2]) for match in _ENDPOINT.finditer(text, 0, 4096)
              if match[1] != source and int(match[2]) >= 1024}
    if len(others) != 1:
        return
    (client, client_port), = others
    fields["source.ip"], fields["source.port"] = client, client_port
    fields.setdefault("destination.ip", source)
    fields.setdefault("destination.port", port)


def _plausible_host(text: str) -> bool:
    """Whether `text` can name a host: DNS-name syntax, not a bare number, and not a
    CamelCase last label (`o.a.g.r.auth.AuthenticationService` is a Java class, `::api::x`
    a Rust module path: the model sometimes tags code locations as the peer)."""
    if text.isdigit() or not _HOST_NAME.fullmatch(text):
        return False
    last = text.rstrip(".").rsplit(".", 1)[-1]
    return not any(a.islower() and b.isupper() for a, b in pairwise(last))


def _is_address(text: str) -> bool:
    if _IPV4.fullmatch(text):
        return True
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _clean_fields(fields: dict[str, str]) -> None:
    """Keep the contract: IP fields parse as IPs, integer fields are digits."""
    for name in _IP_FIELDS:
        value = fields.get(name)
        if value is None or _IPV4.fullmatch(value):
            continue  # a dotted quad is already as written as it gets
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            del fields[name]
            if name == "source.ip" and "source.address" not in fields:
                fields["source.address"] = value
            continue
        # One spelling per client: a dual-stack daemon's `::ffff:a.b.c.d` is the IPv4
        # address, as fail2ban and most CrowdSec parsers report it (and group it).
        mapped = getattr(address, "ipv4_mapped", None)
        if mapped is not None:
            fields[name] = str(mapped)
    host = fields.get("source.address")
    if host is not None and not _plausible_host(host):
        del fields["source.address"]
    for name in INTEGER_FIELDS:
        value = fields.get(name)
        if value is not None and not (value.isascii() and value.isdigit() and len(value) <= 10):
            del fields[name]


def _copy(analysis: Analysis) -> Analysis:
    # Positional: one is made for every line the exact-text cache answers.
    return Analysis(analysis.action, analysis.fields.copy(), analysis.template,
                    analysis.confidence, analysis.timestamp)


def _exact_bytes(text: str, analysis: Analysis) -> int:
    """Estimated bytes of an exact-text cache entry (see EXACT_ENTRY_BYTES)."""
    size = EXACT_ENTRY_BYTES + len(text) + len(analysis.template)
    for value in analysis.fields.values():
        size += EXACT_FIELD_BYTES + len(value)
    return size


def _structure_bytes(key: str, labels: Labels) -> int:
    """Estimated bytes of a structure cache entry (see STRUCTURE_ENTRY_BYTES)."""
    return STRUCTURE_ENTRY_BYTES + len(key) + STRUCTURE_PIECE_BYTES * len(labels.tags)


def _structure_key(text: str) -> str:
    return _DIGITS.sub("0", text)


# Each ASCII digit written as `0` in the line's UTF-8 bytes (no other character's bytes
# hold one; bytes translate several times faster than str): the key of a line's plan.
# Two lines of one masked text differ only in the values of some ASCII digits, and nothing
# between the text and its analysis's layout reads a digit's value: the tokenizer's
# patterns and string tests see ASCII digits as one class (`\d`, `\w`, `[0-9A-Fa-f]`,
# `isalnum()`), and so do `header_length` and the template's gaps. So the two lines are
# cut into the same pieces, have one structure key (the digit runs are where they were)
# and, under the same labels, the same spans and template, unless the template writes a
# digit (a constant piece holding one): such a line gets no plan.
_MASK_DIGITS = bytes.maketrans(b"123456789", b"000000000")


@dataclass(frozen=True, slots=True)
class _Plan:
    """What `build_analysis` made of a structure cache hit that depends only on the line's
    masked text (`_MASK_DIGITS`): a later line of that masked text is answered from its
    spans and template, cutting only the field values from its own text, without cutting
    it into pieces. Valid while the structure cache holds `labels` under `key`."""

    key: str  # the structure key
    labels: Labels
    spans: tuple[_Span, ...]  # the spans that give a field (no `variable` span)
    template: str


def _plan_bytes(masked: bytes, plan: _Plan) -> int:
    """Estimated bytes of a plan cache entry (see PLAN_ENTRY_BYTES)."""
    return (PLAN_ENTRY_BYTES + len(masked) + len(plan.template)
            + PLAN_SPAN_BYTES * len(plan.spans))


@dataclass(slots=True)
class _Line:
    """A line no exact-text or structure entry answered, on its way to a template or the
    network."""

    index: int  # position in the batch
    text: str
    key: str | None  # structure key (None: too long for the structure cache)
    pieces: list[Piece]
    truncated: bool
    signature: tuple[int, ...] = ()


class ModelAnalyzer:
    """The model as an Analyzer: caches, batching by length, float32 CPU inference."""

    def __init__(
        self, model: LoadedModel, cache_size: int = 100_000, max_batch: int = 128,
        exact_cache: bool = True, template_cache_size: int | None = None,
        template_shape: ShapeClass = "input", cache_max_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self.model = model
        self.tokenizer = model.tokenizer
        self.max_batch = max_batch
        self._decoder = _Decoder.from_tags(model.config.tags)
        self._actions = tuple(model.config.actions)
        # Bounded in bytes as well as entries (`cache_max_bytes`, 0: entries only): on
        # distinct or random input each entry holds a new line, and 100,000 structure
        # entries of long random lines came to about 100 MB.
        self._structure_cache: LRUCache[str, Labels] = LRUCache(
            cache_size, int(cache_max_bytes * _STRUCTURE_SHARE), _structure_bytes)
        # Structure hits whose masked text came before skip the tokenizer (`_Plan`).
        self._plans: LRUCache[bytes, _Plan] = LRUCache(
            cache_size, int(cache_max_bytes * _PLAN_SHARE), _plan_bytes)
        # Exact-text hits skip even the tokenizer; half the entries, short lines only.
        self._exact_cache: LRUCache[str, Analysis] = LRUCache(
            cache_size // 2 if exact_cache else 0, int(cache_max_bytes * _EXACT_SHARE),
            _exact_bytes)
        if template_cache_size is None:
            template_cache_size = DEFAULT_TEMPLATE_CACHE if cache_size > 0 else 0
        self._templates = TemplateCache(template_cache_size, shape=template_shape,
                                        vocab=self.tokenizer.vocab,
                                        reads_paths=self.tokenizer.reads_paths,
                                        max_bytes=int(cache_max_bytes * _TEMPLATE_SHARE))
        self.network: Network = model.network
        self._lock = threading.Lock()  # analyze_batch is meant for one thread; be safe anyway
        self.lines = 0
        self.model_lines = 0
        self.template_hits = 0
        self.layout_hits = 0

    def analyze_batch(self, messages: list[str]) -> list[Analysis]:
        """One Analysis per message, in order; never raises on odd input."""
        with self._lock:
            try:
                return self._analyze(messages)
            except Exception:  # a bug must not take the daemon down; count and log it
                log.exception("model analysis failed for a batch of %d lines", len(messages))
                return [self._fallback(m) for m in messages]

    def _fallback(self, message: object) -> Analysis:
        text = message if isinstance(message, str) else repr(message)
        return Analysis(action="other", fields={}, template=text[:200], confidence=0.0)

    def _analyze(self, messages: list[str]) -> list[Analysis]:
        results: list[Analysis | None] = [None] * len(messages)
        pending: list[tuple[int, str, str | None]] = []
        exact = self._exact_cache
        structure = self._structure_cache
        plans = self._plans
        limit = self.tokenizer.max_pieces
        self.lines += len(messages)
        for index, message in enumerate(messages):
            if not isinstance(message, str):
                message = str(message)
            short = len(message) <= _EXACT_MAX_CHARS
            if short:
                cached = exact.get(message)
                if cached is not None:
                    results[index] = _copy(cached)
                    continue
            if len(message) > _STRUCTURE_MAX_CHARS:
                pending.append((index, message, None))
                continue
            masked = message.encode("utf-8", "surrogatepass").translate(_MASK_DIGITS)
            if _EPOCH_COLUMN.search(message, 0, _COLUMNS_SCAN) is not None:
                masked = b""  # an epoch column reads digit values: no plan
            plan = plans.get(masked) if masked else None
            key = plan.key if plan is not None else _structure_key(message)
            labels = structure.get(key)
            if labels is not None:
                if plan is not None and plan.labels is labels:
                    analysis = _analysis(message, None, plan.spans, plan.template, labels,
                                         limit)
                else:
                    bounds, truncated = piece_bounds(message, limit)
                    if len(labels.tags) != len(bounds):
                        pending.append((index, message, key))
                        continue
                    analysis = self._planned(message, masked, key, bounds, truncated, labels)
                if short:
                    exact.put(message, analysis)
                results[index] = _copy(analysis) if short else analysis
                continue
            pending.append((index, message, key))
        # Per batch, not per line: the cache hit rate on /metrics.
        _CACHE_HITS.inc(len(messages) - len(pending))
        _CACHE_MISSES.inc(len(pending))
        if pending:
            self._from_templates(pending, results)
        return [r if r is not None else self._fallback(m) for r, m in zip(results, messages,
                                                                          strict=True)]

    def _planned(self, text: str, masked: bytes, key: str, bounds: list[tuple[int, int]],
                 truncated: bool, labels: Labels) -> Analysis:
        """`build_analysis` of a structure cache hit, remembering its plan for the later
        lines of its masked text."""
        spans, template_parts = _layout(text, bounds, truncated, labels, self._decoder)
        template = _written(template_parts)
        if masked and all(_DIGIT_CHARS.isdisjoint(part) for part in template_parts):
            self._plans.put(masked, _Plan(key, labels, tuple(
                span for span in spans if span[0] != "variable"), template))
        return _analysis(text, bounds, spans, template, labels)

    def _from_templates(
        self, pending: list[tuple[int, str, str | None]], results: list[Analysis | None],
    ) -> None:
        """Answer `pending` lines from the template cache, the rest from the network: one
        line per signature first, then the others that its template does not answer (the
        lines of one event in one batch run the network once)."""
        templates = self._templates
        limit = self.tokenizer.max_pieces
        lines: list[_Line] = []
        for index, message, key in pending:
            pieces, truncated = split_pieces(message, limit)
            lines.append(_Line(index, message, key, pieces, truncated))
        if templates.capacity <= 0:
            self._run_network(lines, results)
            return
        first: list[_Line] = []
        later: list[_Line] = []
        signatures: set[tuple[int, ...]] = set()
        for line in lines:
            line.signature = templates.signature(line.text, line.pieces, line.truncated)
            if self._answer_from_template(line, results):
                continue
            if line.signature in signatures:
                later.append(line)
            else:
                signatures.add(line.signature)
                first.append(line)
        self._run_network(first, results)
        still = [line for line in later if not self._answer_from_template(line, results)]
        self._run_network(still, results)
        missed = len(first) + len(still)
        self.template_hits += len(lines) - missed
        _TEMPLATE_HITS.inc(len(lines) - missed)
        _TEMPLATE_MISSES.inc(missed)

    def _answer_from_template(self, line: _Line, results: list[Analysis | None]) -> bool:
        template = self._templates.lookup(line.signature, line.text, line.pieces)
        if template is None:
            return False
        wild = template_wild(line.text, line.pieces)
        labels = Labels(template.tags, template.action, template.confidence, wild)
        if line.key is not None:
            self._structure_cache.put(line.key, labels)
        layout = (template.layouts.get(wild) if template.layouts is not None
                  and _EPOCH_COLUMN.search(line.text, 0, _COLUMNS_SCAN) is None else None)
        if layout is not None:
            self.layout_hits += 1
            pieces = line.pieces
            analysis = _analysis(
                line.text, pieces,
                [(role, pieces[first].start, pieces[last].end)
                 for role, first, last in layout.spans],
                layout.template, labels)
        else:
            analysis = self._laid_out(line, template, labels)
        if len(line.text) <= _EXACT_MAX_CHARS:
            self._exact_cache.put(line.text, analysis)
            analysis = _copy(analysis)
        results[line.index] = analysis
        return True

    def _laid_out(self, line: _Line, template: Template, labels: Labels) -> Analysis:
        """`build_analysis` of a template hit, keeping its `Layout` with the template when
        it depends only on the template and the line's wildcard pattern: the pieces that
        the template writes as they are are its constants (no other piece's text reaches
        the template), and no piece is a level word (whose text the template writes, and
        after which `header_length` reads the pieces of a bracket or a logger name).
        Everything else `_layout` reads the signature fixes: the tags, the wildcard
        pattern, and whether whitespace separates two pieces (only whitespace lies between
        pieces, and the template collapses its runs)."""
        text = line.text
        bounds = [(piece.start, piece.end) for piece in line.pieces]
        spans, template_parts = _layout(text, bounds, line.truncated, labels, self._decoder)
        written = _written(template_parts)
        roles = self._decoder.roles
        wild = labels.wild
        if (header_length(text, bounds, labels.tags, wild, roles).level is None
                and _EPOCH_COLUMN.search(text, 0, _COLUMNS_SCAN) is None
                and [i for i, (tag, always) in enumerate(zip(labels.tags, wild, strict=True))
                     if roles[tag] is None and not always] == list(template.positions)):
            first_of = {start: index for index, (start, _) in enumerate(bounds)}
            last_of = {end: index for index, (_, end) in enumerate(bounds)}
            self._templates.add_layout(template, wild, Layout(tuple(
                (role, first_of[start], last_of[end]) for role, start, end in spans
                if role != "variable"), written))
        return _analysis(text, bounds, spans, written, labels)

    def _finish(self, line: _Line, labels: Labels, results: list[Analysis | None]) -> None:
        analysis = build_analysis(line.text, [(p.start, p.end) for p in line.pieces],
                                  line.truncated, labels, self._decoder)
        if len(line.text) <= _EXACT_MAX_CHARS:
            self._exact_cache.put(line.text, analysis)
            analysis = _copy(analysis)
        results[line.index] = analysis

    def _run_network(self, lines: list[_Line], results: list[Analysis | None]) -> None:
        if not lines:
            return
        self.model_lines += len(lines)
        MODEL_LINES.inc(len(lines))
        # Identical structures inside one batch run once.
        first_of: dict[str, int] = {}
        unique: list[int] = []
        for position, line in enumerate(lines):
            if line.key is None or line.key not in first_of:
                if line.key is not None:
                    first_of[line.key] = position
                unique.append(position)
        tokenizer = self.tokenizer
        encoded = {p: tokenizer.encode_pieces(lines[p].text, lines[p].pieces, lines[p].truncated)
                   for p in unique}
        labels_of: dict[int, Labels] = {}
        order = sorted(unique, key=lambda p: len(encoded[p].words))
        chunks = _length_chunks(order, [len(encoded[p].words) for p in order], self.max_batch)
        answers = self._predict_chunks(
            [([encoded[p] for p in chunk], [lines[p].text for p in chunk]) for chunk in chunks])
        for chunk, answer in zip(chunks, answers, strict=True):
            for position, labels in zip(chunk, answer, strict=True):
                labels_of[position] = labels
        roles = self._decoder.roles
        for position, line in enumerate(lines):
            found = labels_of.get(position)
            if found is None:
                assert line.key is not None  # every line without a key ran itself
                found = labels_of[first_of[line.key]]
                if len(found.tags) != len(line.pieces):
                    found = self._predict_chunks([([tokenizer.encode_pieces(
                        line.text, line.pieces, line.truncated)], [line.text])])[0][0]
            elif line.key is not None:
                self._structure_cache.put(line.key, found)
            if position in labels_of and line.signature:
                self._templates.add(
                    line.signature, line.text, line.pieces,
                    [roles[tag] is None and not wild
                     for tag, wild in zip(found.tags, found.wild, strict=True)],
                    found.tags, found.action, found.confidence)
            self._finish(line, found, results)

    def _predict_chunks(
        self, chunks: list[tuple[list[Encoded], list[str]]],
    ) -> list[list[Labels]]:
        """The network's labels of each chunk of lines; a subclass may run them elsewhere
        (`logsentry.analysis.workers` runs them in worker processes)."""
        return [self._predict(items, texts) for items, texts in chunks]

    def _predict(self, items: Sequence[Encoded], texts: Sequence[str]) -> list[Labels]:
        length = max(len(item.words) for item in items)
        size = len(items)
        words = np.full((size, length), PAD, dtype=np.int64)
        shapes = np.zeros((size, length), dtype=np.int64)
        spaces = np.zeros((size, length), dtype=np.int64)
        mask = np.zeros((size, length), dtype=np.int64)
        for row, item in enumerate(items):
            n = len(item.words)
            words[row, :n] = item.words
            shapes[row, :n] = item.shapes
            spaces[row, :n] = item.spaces
            mask[row, :n] = 1
        ngrams = [item.ngrams for item in items] if self.tokenizer.ngrams is not None else None
        tag_logits, action_logits = self.network(words, shapes, spaces, mask, ngrams)
        tag_ids, tag_best = _best(tag_logits)
        action_ids, action_best = _best(action_logits)
        tag_ids_list = tag_ids.tolist()
        tag_best_list = tag_best.tolist()
        action_ids_list = action_ids.tolist()
        action_best_list = action_best.tolist()
        out: list[Labels] = []
        for row, (item, text) in enumerate(zip(items, texts, strict=True)):
            n = len(item.words)
            tags = tuple(tag_ids_list[row][1:n])
            token_conf = min(tag_best_list[row][1:n], default=1.0)
            action = self._actions[action_ids_list[row]]
            if action not in ACTIONS:
                action = "other"
            confidence = float(action_best_list[row]) * (0.5 + 0.5 * float(token_conf))
            out.append(Labels(tags, action, round(confidence, 4), template_wild(text, item.pieces)))
        return out

    def cache_stats(self) -> dict[str, int]:
        """Hits and sizes of the caches, and lines that reached the network."""
        return {
            "lines": self.lines,
            "model_lines": self.model_lines,
            "exact_hits": self._exact_cache.hits,
            "exact_size": len(self._exact_cache),
            "structure_hits": self._structure_cache.hits,
            "structure_size": len(self._structure_cache),
            "plan_hits": self._plans.hits,
            "plan_size": len(self._plans),
            "template_hits": self.template_hits,
            "template_size": len(self._templates),
            "layout_hits": self.layout_hits,
            "cache_bytes": self.cache_bytes,
        }

    @property
    def cache_bytes(self) -> int:
        """Estimated bytes the caches hold (what grows with distinct lines). Read from
        other threads: a sum of ints."""
        return (self._exact_cache.bytes + self._structure_cache.bytes + self._plans.bytes
                + self._templates.bytes)

    def clear_cache(self) -> None:
        self._exact_cache.clear()
        self._structure_cache.clear()
        self._plans.clear()
        self._templates.clear()


# Most padded positions (items x longest) in one network batch. The activations of a
# batch grow with it, and the allocator keeps what a batch once used: 128 random-byte
# lines of 64 pieces (8,192 positions) left the process 160-200 MB larger, where ordinary
# lines (a few pieces, most answered by the caches) cost under 10 MB. 2,048 positions
# still fill `max_batch` with lines of up to 16 pieces.
MAX_BATCH_POSITIONS = 2048


def _length_chunks(order: list[int], lengths: list[int], max_batch: int,
                   max_positions: int = MAX_BATCH_POSITIONS) -> list[list[int]]:
    """Cut length-sorted items into batches whose longest is at most ~1.3x the shortest
    (+4), so little compute goes to padding; at most `max_batch` items and about
    `max_positions` padded positions each (a single longer item still runs alone)."""
    chunks: list[list[int]] = []
    current: list[int] = []
    shortest = 0
    for item, length in zip(order, lengths, strict=True):
        if current and (len(current) >= max_batch or length > shortest * 1.3 + 4
                        or (len(current) + 1) * length > max_positions):
            chunks.append(current)
            current = []
        if not current:
            shortest = length
        current.append(item)
    if current:
        chunks.append(current)
    return chunks


def _best(logits: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.intp],
                                                     npt.NDArray[np.float32]]:
    """The most likely class over the last axis and its softmax probability."""
    ids = logits.argmax(-1)
    top = np.take_along_axis(logits, ids[..., None], -1)
    best: npt.NDArray[np.float32] = 1 / np.exp(logits - top).sum(-1)
    return ids, best


def configure_threads(threads: int | None) -> int:
    """Set the threads of numpy's BLAS (the network's matrix products): `threads`, else
    half the CPUs this process may use (at least 1, at most 4).

    Half, because the daemon's event loop (reading, envelope parsing, detection, sinks)
    needs a core too, and the server runs the services logsentry protects: OpenMP threads
    that compete for busy cores spin and lose far more than they gain (measured on 2 shared
    cores: 1 thread ~8x faster than 2).
    """
    if threads is None:
        try:
            available = len(os.sched_getaffinity(0))
        except AttributeError:
            available = os.cpu_count() or 1
        threads = max(1, min(4, available // 2))
    # Kept for the process (not a `with` block): BLAS would otherwise start one thread per
    # core in every analysis worker.
    threadpool_limits(limits=threads, user_api="blas")
    return threads


def load_analyzer(
    path: str | None = None, threads: int | None = None, cache_size: int = 100_000,
    template_cache_size: int | None = None, cache_max_bytes: int | None = None,
) -> ModelAnalyzer:
    """Load a model folder (None: the shipped model) as an Analyzer ready for `analyze_batch`."""
    configure_threads(threads)
    folder = Path(path) if path else default_model_dir()
    return ModelAnalyzer(load_model(folder), cache_size=cache_size,
                         template_cache_size=template_cache_size,
                         cache_max_bytes=(DEFAULT_CACHE_BYTES if cache_max_bytes is None
                                          else cache_max_bytes))
