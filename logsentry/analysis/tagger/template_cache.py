"""The template cache: the model's labels of one line reused for the other lines of its event.

The structure cache (the line with its digit runs masked) misses whenever a value holds
letters: on an attack wave each new user name or host name is a new structure, and the
network would run for most lines. Drain groups such lines by their constant tokens; here
the model decides what is constant. Once it has labelled a line, its pieces split into
*constants* (tag `O`, no digit: `template_wild`) and *variables* (any other tag, or an `O`
piece holding a digit, which the structure cache already treats as a value). A later line
reuses the labels when

- it has the same *signature*: as many pieces, each with the same whitespace around it
  and of the same shape class (`signature`), and
- the same text at every constant position.

The shape class is what the model's tag of a value depends on beyond its context. It is
`input` by default: the shape id the network embeds (kind and length bucket) and, for a
word, its vocabulary id. So a variable position may hold any number, address, path, URL,
or word the vocabulary does not know (the network sees `<unk>` for each), and the
network's input differs from the cached line's only in text it never reads. Looser
classes (`kind`, `shape`, `vocab`) answer a few more lines but disagree with the model
more: measured on the evaluation data (bench/bench_template_cache.py) the share of lines
whose action, fields and template agree with the model went from 0.976/0.945/0.970
(fail2ban/CrowdSec/Loghub, `kind`) to 1.000/0.995/0.986 (`input`), where the structure
cache alone gives 1.000/0.997/0.985.

The signature is the index: a bucket holds the few templates of one signature, most
recently used first, at most `candidates` of them, so a lookup compares at most that
many templates' constants. Entries are bounded (least recently used first out).

A hit gives the cached tags and action; fields, template and timestamp are built from the
new line's own pieces (`build_analysis`: its post-rules still apply, an address must
parse...). A template also keeps a few `Layout`s, what the engine built of its hits that
depends only on the template and the line's wildcard pattern, so that a later hit of the
same pattern only cuts its field values.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from logsentry.analysis.tagger.tokenizer import (
    _LENGTH_EDGES,
    _WORDY,
    KINDS,
    PATH_KINDS,
    UNK,
    Piece,
)

# What a variable position must share with the cached piece: its kind ("kind"); its kind
# and the length bucket the model's shape id uses ("shape"); those and, for a word, whether
# the vocabulary knows it ("vocab") or its vocabulary id ("input", the default).
ShapeClass = Literal["kind", "shape", "vocab", "input"]

# Estimated bytes of a template (CPython 3.11, 64-bit), measured with tracemalloc over
# random printable lines and random word lines, on the high side: the entry (object, map
# slot, its bucket and signature), each piece (signature value, tag), each constant piece
# (its str and tuple slots) before its text.
TEMPLATE_BYTES = 1_000
TEMPLATE_PIECE_BYTES = 24
TEMPLATE_CONSTANT_BYTES = 65
# A layout (its map slot, key tuple and object, its spans tuple) before its written
# template, and per span.
LAYOUT_BYTES = 400
LAYOUT_SPAN_BYTES = 120
# Layouts kept per template: the lines of one event have one or two wildcard patterns.
LAYOUTS_PER_TEMPLATE = 4

_KIND_ID = {kind: index for index, kind in enumerate(KINDS)}
_BUCKET_OF = tuple(next((b for b, edge in enumerate(_LENGTH_EDGES) if n <= edge),
                        len(_LENGTH_EDGES)) for n in range(_LENGTH_EDGES[-1] + 2))
_LONGEST = len(_BUCKET_OF) - 1
# Per kind and length (up to `_LONGEST`, which stands for every longer piece), a piece's
# signature value before its whitespace and its word: one lookup per piece under `input`.
_SHAPE_VALUE = {kind: tuple((_KIND_ID[kind] * 8 + bucket) * 4 for bucket in _BUCKET_OF)
                for kind in KINDS}


def signature(pieces: Sequence[Piece], truncated: bool, shape: ShapeClass = "input",
              text: str = "", vocab: Mapping[str, int] | None = None,
              reads_paths: bool = False) -> tuple[int, ...]:
    """The bucket key of a line: per piece its shape class (see `ShapeClass`; `vocab` is
    the tokenizer's) and whether whitespace surrounds it; whether the line was cut at
    `max_pieces`. With `reads_paths` (a tokenizer whose paths carry n-grams) a path or
    URL's text is part of its class under `input`: the network reads it, so a probe of
    `/.git/config` must not reuse the answer to `/index.html`."""
    if shape == "input" and vocab is not None:
        return _input_signature(pieces, truncated, text, vocab, reads_paths)
    kind_id = _KIND_ID
    if shape == "kind":
        key = [kind_id[p.kind] * 4 + 2 * p.space_before + p.space_after for p in pieces]
    else:
        bucket = _BUCKET_OF
        last = len(bucket) - 1
        key = [((kind_id[p.kind] * 8 + bucket[min(p.end - p.start, last)]) * 4
                + 2 * p.space_before + p.space_after) for p in pieces]
        if shape == "vocab" and vocab is not None:
            for i, p in enumerate(pieces):
                if p.kind in _WORDY and text[p.start:p.end].lower() in vocab:
                    key[i] = -key[i] - 1
        elif shape == "input" and vocab is not None:
            for i, p in enumerate(pieces):
                if p.kind in _WORDY:
                    key[i] += 1024 * (vocab.get(text[p.start:p.end].lower(), UNK) + 1)
                elif reads_paths and p.kind in PATH_KINDS:
                    key[i] = hash((key[i], text[p.start:p.end]))
    key.append(-1 if truncated else -2)
    return tuple(key)


def _input_signature(pieces: Sequence[Piece], truncated: bool, text: str,
                     vocab: Mapping[str, int], reads_paths: bool) -> tuple[int, ...]:
    """`signature` under `input` (the default), in one pass: it runs for every line that
    the exact-text and structure caches do not answer."""
    shape_value = _SHAPE_VALUE
    longest = _LONGEST
    wordy = _WORDY
    word_id = vocab.get
    key: list[int] = []
    add = key.append
    for start, end, kind, space_before, space_after in pieces:
        length = end - start
        value = (shape_value[kind][length if length < longest else longest]
                 + 2 * space_before + space_after)
        if kind in wordy:
            value += 1024 * (word_id(text[start:end].lower(), UNK) + 1)
        elif reads_paths and kind in PATH_KINDS:
            value = hash((value, text[start:end]))
        add(value)
    add(-1 if truncated else -2)
    return tuple(key)


class _Bucket:
    """The templates of one signature, most recently used first."""

    __slots__ = ("key", "templates")

    def __init__(self, key: tuple[int, ...]) -> None:
        self.key = key
        self.templates: list[Template] = []


@dataclass(frozen=True, slots=True)
class Layout:
    """The engine's analysis of a template hit as far as it depends only on the template
    and the line's wildcard pattern: the spans of its fields, as (role, first piece, last
    piece), and its written template."""

    spans: tuple[tuple[str, int, int], ...]
    template: str


@dataclass(eq=False, slots=True)
class Template:
    """One event as the model labelled it: the tags of every piece, the action, and the
    text of each constant piece (identity-hashed: the LRU map holds the object itself)."""

    bucket: _Bucket  # shares the signature among the templates of a bucket
    positions: tuple[int, ...]  # indexes of the constant pieces
    constants: tuple[str, ...]  # their text, in the same order
    tags: tuple[int, ...]
    action: str
    confidence: float
    size: int = 0  # estimated bytes (see TEMPLATE_BYTES), its layouts' included
    # By wildcard pattern (the engine's per-piece `template_wild`): see `Layout`.
    layouts: dict[tuple[bool, ...], Layout] | None = None

    def matches(self, text: str, pieces: Sequence[Piece]) -> bool:
        for position, constant in zip(self.positions, self.constants, strict=True):
            piece = pieces[position]
            if text[piece.start:piece.end] != constant:
                return False
        return True


class TemplateCache:
    """Bounded, least-recently-used templates indexed by signature (not thread-safe: the
    analysis worker's one thread uses it)."""

    def __init__(self, capacity: int, candidates: int = 8, shape: ShapeClass = "input",
                 vocab: Mapping[str, int] | None = None, reads_paths: bool = False,
                 max_bytes: int = 0) -> None:
        self.capacity = capacity
        # Also bounded in estimated bytes (0: entries only); `bytes` is what it holds.
        self.max_bytes = max_bytes
        self.bytes = 0
        self.candidates = max(1, candidates)
        self.shape: ShapeClass = shape
        self.vocab = vocab
        self.reads_paths = reads_paths
        self._buckets: dict[tuple[int, ...], _Bucket] = {}
        self._lru: OrderedDict[Template, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._lru)

    def signature(self, text: str, pieces: Sequence[Piece], truncated: bool,
                  ) -> tuple[int, ...]:
        return signature(pieces, truncated, self.shape, text, self.vocab, self.reads_paths)

    def lookup(self, key: tuple[int, ...], text: str, pieces: Sequence[Piece],
               ) -> Template | None:
        """The template whose constants `text` repeats at the same places, if cached."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return None
        templates = bucket.templates
        for rank, template in enumerate(templates):
            if template.matches(text, pieces):
                if rank:
                    del templates[rank]
                    templates.insert(0, template)
                self._lru.move_to_end(template)
                return template
        return None

    def add(self, key: tuple[int, ...], text: str, pieces: Sequence[Piece],
            constant: Sequence[bool], tags: tuple[int, ...], action: str,
            confidence: float) -> None:
        """Remember the model's labels of `text`; `constant[i]` says whether piece `i` is
        a constant of the template. A template with the same constants is replaced."""
        if self.capacity <= 0:
            return
        positions = tuple(i for i, fixed in enumerate(constant) if fixed)
        constants = tuple(text[pieces[i].start:pieces[i].end] for i in positions)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(key)
        templates = bucket.templates
        for rank, old in enumerate(templates):
            if old.positions == positions and old.constants == constants:
                del templates[rank]
                del self._lru[old]
                self.bytes -= old.size
                break
        size = TEMPLATE_BYTES + TEMPLATE_PIECE_BYTES * len(tags)
        for text_of in constants:
            size += TEMPLATE_CONSTANT_BYTES + len(text_of)
        template = Template(bucket, positions, constants, tags, action, confidence, size)
        templates.insert(0, template)
        self._lru[template] = None
        self.bytes += size
        if len(templates) > self.candidates:
            dropped = templates.pop()
            del self._lru[dropped]
            self.bytes -= dropped.size
        self._evict()

    def add_layout(self, template: Template, wild: tuple[bool, ...], layout: Layout) -> None:
        """Keep `layout` with `template` (a cached one) for lines of wildcard pattern
        `wild`; at most LAYOUTS_PER_TEMPLATE of them, weighed with the template."""
        layouts = template.layouts
        if layouts is None:
            layouts = template.layouts = {}
        elif len(layouts) >= LAYOUTS_PER_TEMPLATE or wild in layouts:
            return
        layouts[wild] = layout
        size = (LAYOUT_BYTES + len(wild) * 8 + len(layout.template)
                + LAYOUT_SPAN_BYTES * len(layout.spans))
        template.size += size
        self.bytes += size
        self._evict()

    def _evict(self) -> None:
        while len(self._lru) > self.capacity or (
                self.max_bytes and self.bytes > self.max_bytes and len(self._lru) > 1):
            oldest, _ = self._lru.popitem(last=False)
            self.bytes -= oldest.size
            oldest.bucket.templates.remove(oldest)
            if not oldest.bucket.templates:
                del self._buckets[oldest.bucket.key]

    def clear(self) -> None:
        self._buckets.clear()
        self._lru.clear()
        self.bytes = 0
