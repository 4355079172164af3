"""The log-aware tokenizer: cuts a line into pieces and turns pieces into model ids.

A regex pre-tokenizer keeps URLs, e-mail addresses, timestamps, MACs, IPv4/IPv6
addresses, paths and hex ids whole, so a line costs few pieces (sequence length
drives CPU cost) and an entity is usually one piece. Every piece keeps its
character offsets into the line, so entity strings are cut from the original
text exactly.

Each piece becomes three ids that the model embeds and sums:
- `word`: a lower-cased constant word from a vocabulary built from training
  data, or a class token (`<ipv4>`, `<num>`, `<unk>`...) for everything else;
- `shape`: the piece's kind (ipv4, path, lower-case word, number...) crossed
  with a length bucket, so an unseen word still says what it looks like;
- `space`: whether whitespace precedes and follows the piece.

Open vocabulary (version 2, optional): each word-like piece also carries the ids of
its hashed character n-grams (fastText's recipe: the lower-cased word between `<`
and `>`, every 3- to 5-gram and the whole marked word, CRC-32 into `buckets`), so a
word outside the vocabulary still gets an embedding made of parts it shares with
known words (`refused` with `refuse`, `denied` with `deny`). The network averages
them per piece beside `word`, `shape` and `space`.
"""

from __future__ import annotations

import json
import re
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote

TOKENIZER_VERSION = 2
# Folders written before hashed n-grams (version 1) still load, without n-grams.
_READABLE_VERSIONS = frozenset({1, 2})

# Ordered alternation: the first kind that matches at a position wins. `mac` takes six
# octets or more: netfilter's MAC= is the 14-octet link header, which as 27 pieces would
# push the ports of a firewall line past `max_pieces`. An IPv4 address that goes on with
# `.word` or `-word` is the start of a reverse-DNS name (`5.36.59.76.dsl.example.net`),
# one `word` piece; `.50550` stays a port (`1.2.3.4.50550`, as tcpdump and dante write).
# `|` ends a URL, as it ends a path: RFC 3986 never allows it bare, and pipe-separated
# records (Drupal's watchdog, CSV-ish exports) put a URL beside the client address.
#
# `plain` comes first and is no kind of its own: a run of word characters followed by
# whitespace or the end can only be a `word` (every other kind needs a character that is
# not a word character before the next space: `://`, `@`, `-`, `:`, `.`, `/`), so it
# is taken at once instead of after ten alternatives failed on it, most of a line's
# pieces. Possessive (`++`): a run followed by `.` or `:` gives up at once and goes
# through the alternatives as before.
_PIECE = re.compile(
    r"""
    (?P<plain>\w++)(?!\S)
  | (?P<url>[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s"'<>|]*[^\s"'<>|.,;:)\]])
  | (?P<email>[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,})
  | (?P<isots>\d{4}-\d{2}-\d{2}[T_]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)
  | (?P<clfts>\d{1,2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2}(?:\s[+-]\d{4})?)
  | (?P<mac>(?<![\w:])[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5,}(?![\w:]))
  | (?P<time>(?<![\w:])\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?![\w:]))
  | (?P<v4mapped>(?<![\w:])::[fF]{4}:(?=\d{1,3}(?:\.\d{1,3}){3}(?!\w)))
  | (?P<ipv4>(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?!\w|[.-]\d*[A-Za-z_]))
  | (?P<ipv6>(?<![\w:.])(?=[0-9A-Fa-f:.]*::|(?:[0-9A-Fa-f]{1,4}:){7})
        (?:[0-9A-Fa-f]{0,4}:){2,7}(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{1,4})?(?![\w:]|\.\d))
  | (?P<path>(?<![\w/])(?:[A-Za-z]:\\|~?\.{0,2}/)[^\s"'<>\[\](){},;|]*[^\s"'<>\[\](){},;|.:])
  | (?P<word>\w(?:[\w.-]*\w)?)
  | (?P<punct>(?P<pc>[^\w\s])(?P=pc)*)
    """,
    re.VERBOSE,
)

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX = re.compile(r"(?:0x)?[0-9a-fA-F]+")
_DATE = re.compile(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}")

# Kinds of pieces; the order fixes the shape ids stored with a model.
KINDS: tuple[str, ...] = (
    "pad", "cls", "url", "v4mapped", "email", "isots", "clfts", "mac", "time", "ipv4", "ipv6",
    "path", "num", "hex", "uuid", "date", "version", "dotted", "lower", "upper", "title",
    "mixed", "alnum", "under", "punct", "other",
)
_KIND_ID = {kind: index for index, kind in enumerate(KINDS)}
_LENGTH_EDGES = (1, 2, 3, 5, 8, 12, 20)  # bucket b holds lengths <= edge b; last bucket: longer
N_LENGTHS = len(_LENGTH_EDGES) + 1
N_SHAPES = len(KINDS) * N_LENGTHS
N_SPACES = 4

# Special word ids; real words follow.
SPECIALS: tuple[str, ...] = ("<pad>", "<cls>", "<unk>", *(f"<{k}>" for k in KINDS[2:]))
PAD, CLS, UNK = 0, 1, 2
# Kinds whose text goes through the vocabulary; the others always use their class token.
_WORDY = frozenset({"lower", "upper", "title", "mixed", "under", "punct", "alnum", "dotted"})


@dataclass(frozen=True, slots=True)
class NgramSettings:
    """Hashed character n-grams of word-like pieces: `min_n`..`max_n`-grams of the
    lower-cased word in boundary marks, plus the whole marked word, into `buckets` ids
    (1..buckets; 0 is no n-gram). Words are read up to `max_chars` characters."""

    buckets: int
    min_n: int = 3
    max_n: int = 5
    max_chars: int = 32
    # Paths and URLs get n-grams too, of their first `path_chars` characters once
    # percent-decoded (0: they stay a bare class token, as in tokenizers saved before).
    # Whether a request probes or attacks is in its target's text (`../`, `.git`,
    # `union select`), which a class token hides.
    path_chars: int = 0

    def to_dict(self) -> dict[str, int]:
        out = {"buckets": self.buckets, "min_n": self.min_n, "max_n": self.max_n,
               "max_chars": self.max_chars}
        if self.path_chars:
            out["path_chars"] = self.path_chars
        return out


def word_ngrams(word: str, settings: NgramSettings) -> tuple[int, ...]:
    """Bucket ids (1-based, sorted, distinct) of the n-grams of `word` (lower-cased here).

    CRC-32 rather than `hash()`: the ids must be the same in every process (Python salts
    string hashes per process) and in the weights saved with them."""
    marked = f"<{word[:settings.max_chars].lower()}>"
    buckets = settings.buckets
    grams = {marked}
    for n in range(settings.min_n, settings.max_n + 1):
        grams.update(marked[i:i + n] for i in range(len(marked) - n + 1))
    return tuple(sorted({zlib.crc32(g.encode("utf-8", "surrogatepass")) % buckets + 1
                         for g in grams}))


def path_ngrams(text: str, settings: NgramSettings) -> tuple[int, ...]:
    """Bucket ids of the 3- to 5-grams and the segments of a path or URL, percent-decoded
    twice (scanners encode `../` once or twice) and lower-cased, up to
    `settings.path_chars` characters; empty when the settings give paths no n-grams."""
    if not settings.path_chars:
        return ()
    decoded = text[:3 * settings.path_chars]
    for _ in range(2):
        if "%" not in decoded:
            break
        decoded = unquote(decoded, errors="replace")
    decoded = decoded[:settings.path_chars].lower()
    marked = f"<{decoded}>"
    buckets = settings.buckets
    grams = {marked[i:i + n] for n in range(settings.min_n, settings.max_n + 1)
             for i in range(len(marked) - n + 1)}
    # Each segment whole too (fastText's whole word, for the words of a URL: `.git`,
    # `..`, `passwd`, `union`), so one telling segment is not lost among the grams.
    grams.update(f"<{segment}>" for segment in _PATH_SEGMENT_SPLIT.split(decoded) if segment)
    return tuple(sorted({zlib.crc32(g.encode("utf-8", "surrogatepass")) % buckets + 1
                         for g in grams}))


_PATH_SEGMENT_SPLIT = re.compile(r"[/?&=#;,+\s\\]+")

# Kinds whose text a tokenizer with `path_chars` reads through n-grams.
PATH_KINDS = frozenset({"path", "url"})


class Piece(NamedTuple):
    """One piece of a line: `text[start:end]` and what it looks like. A named tuple, not a
    frozen dataclass: a line makes one per piece, and a tuple is built in a third of the
    time."""

    start: int
    end: int
    kind: str
    space_before: bool
    space_after: bool


# No piece spans whitespace: no alternative of `_PIECE` matches a whitespace character, but
# the zone after an access-log time (`10/Oct/2000:13:55:36 -0700`), and every other
# character starts a piece (`word` or `punct`). So a line is cut token by token (runs of
# non-whitespace), and a token's cuts are memoised by its text: the lookarounds only ask
# whether a non-whitespace character is there, which whitespace and the token's ends answer
# alike. Most tokens of a log stream come back (`Failed`, `password`, `from`, `port`).
# The only whitespace a piece takes: the zone of a `clfts` time, as `_PIECE` writes it.
_CLF_ZONE = re.compile(r"\s[+-]\d{4}")
# One cut: start and end (in the token, or in the line where it is cut in place), kind,
# and where a URL's path starts (-1: no path, or no URL).
_Cut = tuple[int, int, str, int]
# Tokens up to this length are memoised, in two generations: a full young generation
# becomes the old one (the previous old one is dropped), and a token found in the old one
# moves back to the young: the tokens in use stay, the values seen once (an attack wave's
# new user names and ports) go. A generation holds at most `_MEMO_TOKENS` tokens and
# `_MEMO_CUTS` cuts of tokens cut in several pieces (a token and its map slot are about
# 100 bytes, a cut as much): some 20 MB at most, whatever the input.
_MEMO_TOKEN_CHARS = 64
_MEMO_TOKENS = 65_536
_MEMO_CUTS = 65_536
_young: dict[str, tuple[_Cut, ...]] = {}
_old: dict[str, tuple[_Cut, ...]] = {}
_young_cuts = 0
# The cuts of one-piece tokens by (start, end, kind, path): at most 64 lengths x the kinds.
_whole: dict[_Cut, tuple[_Cut, ...]] = {}


def _cut(text: str, pos: int, endpos: int) -> tuple[_Cut, ...]:
    """The cuts of `text[pos:endpos]`, as `_PIECE` scans it, at positions in `text`."""
    cuts: list[_Cut] = []
    for match in _PIECE.finditer(text, pos, endpos):
        start, end = match.span()
        kind = match.lastgroup or "other"
        path = -1
        if kind == "plain" or kind == "word":
            kind = _word_kind(text[start:end])
        elif kind == "url":
            # Scheme and authority, then the path as its own piece: some logs want the path alone.
            path = text.find("/", text.find("//", start, end) + 2, end)
        cuts.append((start, end, kind, path))
    return tuple(cuts)


def _token_cuts(token: str) -> tuple[_Cut, ...]:
    """`_cut` of a whole token, memoised (see `_MEMO_TOKENS`)."""
    global _young, _old, _young_cuts
    found = _young.get(token)
    if found is not None:
        return found
    found = _old.get(token)
    if found is None:
        # A run of word characters (a user name, a pid) is one `plain` piece, as `_PIECE`
        # cuts it (its `\w` is `str.isalnum()` or `_`): no scan needed.
        found = (((0, len(token), _word_kind(token), -1),) if token.isalnum()
                 else _cut(token, 0, len(token)))
        if len(found) == 1:
            # Most tokens are one piece: they share the cuts of their length and kind.
            found = _whole.setdefault(found[0], found)
    if len(_young) >= _MEMO_TOKENS or _young_cuts >= _MEMO_CUTS:
        _old = _young
        _young = {}
        _young_cuts = 0
    _young[token] = found
    if len(found) > 1:
        _young_cuts += len(found)
    return found


def _segments(text: str, limit: int) -> list[tuple[int, tuple[_Cut, ...]]]:
    """The cuts of `text` in order, as (offset, cuts) pairs: a cut's positions plus the
    offset are positions in `text`. Stops once more than `limit` cuts are known."""
    segments: list[tuple[int, tuple[_Cut, ...]]] = []
    count = 0
    resume = 0  # the end of a time zone that ran into the next token
    end = 0
    # `str.split()` cuts at `str.isspace()` characters, which are `\s`'s. Every token but
    # one swallowed by a time zone has a cut, so 2 x (limit + 1) tokens give more than
    # `limit` cuts: what lies beyond them (a megabyte of words) is never split up.
    words = text.split(None, 2 * limit + 2)
    rest = words.pop() if len(words) > 2 * limit + 2 else None
    find = text.find
    memo = _young
    for word in words:
        start = find(word, end)
        end = start + len(word)
        if start < resume:
            # The rest of the token behind a zone: cut in place, where the lookbehinds
            # see the zone's digits.
            offset, cuts = 0, _cut(text, resume, end)
            if not cuts:
                continue
        elif end - start <= _MEMO_TOKEN_CHARS:
            offset, cuts = start, memo.get(word) or _token_cuts(word)
        else:
            offset, cuts = 0, _cut(text, start, end)
        last = cuts[-1]
        if last[2] == "clfts" and last[1] + offset == end:
            zone = _CLF_ZONE.match(text, end)
            if zone is not None:
                resume = zone.end()
                cuts = (*cuts[:-1], (last[0], resume - offset, "clfts", -1))
        segments.append((offset, cuts))
        count += len(cuts)
        if count > limit:
            break
    else:
        if rest is not None:
            cuts = _cut(text, max(find(rest, end), resume), len(text))
            if cuts:
                segments.append((0, cuts))
    return segments


# A Piece built by `tuple.__new__` directly: the named tuple's own `__new__` is a Python
# function that does just that, and a line makes one Piece per piece.
_new_tuple = tuple.__new__


def split_pieces(text: str, limit: int) -> tuple[list[Piece], bool]:
    """Cut `text` into at most `limit` pieces; the flag tells whether text was left over."""
    pieces: list[Piece] = []
    n = len(text)
    new = _new_tuple
    for offset, cuts in _segments(text, limit):
        for start, end, kind, path in cuts:
            if len(pieces) == limit:
                return pieces, True
            start += offset
            end += offset
            if path >= 0 and len(pieces) + 1 < limit:
                before = start == 0 or text[start - 1].isspace()
                pieces.append(new(Piece, (start, path + offset, "url", before, False)))
                start = path + offset
                kind = "path"
            before = start == 0 or text[start - 1].isspace()
            after = end == n or text[end].isspace()
            pieces.append(new(Piece, (start, end, kind, before, after)))
    return pieces, False


def piece_bounds(text: str, limit: int) -> tuple[list[tuple[int, int]], bool]:
    """Only the `(start, end)` of each piece, as `split_pieces` cuts them; the fast path for
    lines whose labels come from the cache."""
    bounds: list[tuple[int, int]] = []
    for offset, cuts in _segments(text, limit):
        for start, end, _, path in cuts:
            if len(bounds) == limit:
                return bounds, True
            if path >= 0 and len(bounds) + 1 < limit:
                bounds.append((start + offset, path + offset))
                bounds.append((path + offset, end + offset))
            else:
                bounds.append((start + offset, end + offset))
    return bounds, False


def _word_kind(word: str) -> str:
    if word.isdigit():
        return "num"
    if word.isalpha():
        if word.islower():
            return "lower"
        if word.isupper():
            return "upper" if len(word) > 1 else "title"
        if word[0].isupper() and word[1:].islower():
            return "title"
        return "mixed"
    if _UUID.fullmatch(word):
        return "uuid"
    has_digit = any(c.isdigit() for c in word)
    if has_digit and len(word) >= 6 and _HEX.fullmatch(word):
        return "hex"
    if "." in word:
        stripped = word.replace(".", "")
        if stripped.isdigit():
            return "version"
        if _DATE.fullmatch(word):
            return "date"
        return "dotted"
    if ("-" in word or "/" in word) and _DATE.fullmatch(word):
        return "date"
    if "_" in word or "-" in word:
        return "under"
    if has_digit:
        return "alnum"
    return "mixed"


def _length_bucket(length: int) -> int:
    for index, edge in enumerate(_LENGTH_EDGES):
        if length <= edge:
            return index
    return len(_LENGTH_EDGES)


# The shape id of each kind and length (`_KIND_ID[kind] * N_LENGTHS + _length_bucket`), by
# length up to the last edge + 1, which stands for every longer piece.
_LONGEST_BUCKETED = _LENGTH_EDGES[-1] + 1
_SHAPE_IDS = {kind: tuple(_KIND_ID[kind] * N_LENGTHS + _length_bucket(length)
                          for length in range(_LONGEST_BUCKETED + 1)) for kind in KINDS}


def vocab_key(text: str, piece: Piece) -> str | None:
    """The vocabulary entry a piece would use, or None for class-token kinds."""
    if piece.kind not in _WORDY:
        return None
    return text[piece.start:piece.end].lower()


@dataclass(slots=True)
class Encoded:
    """A line turned into model input: ids for `[CLS] + pieces`."""

    pieces: list[Piece]
    truncated: bool
    words: list[int]
    shapes: list[int]
    spaces: list[int]
    # Per `[CLS] + piece`, its n-gram bucket ids (empty for [CLS] and class-token kinds);
    # an empty list when the tokenizer has no n-grams.
    ngrams: list[tuple[int, ...]] = field(default_factory=list)


# Distinct words whose n-gram ids are kept: bounds memory when lines are random text.
_NGRAM_MEMO_SIZE = 50_000


class LogTokenizer:
    """Pieces and ids for log lines; `vocab` maps lower-cased words to ids; `ngrams`, when
    set, adds hashed character n-grams to word-like pieces."""

    def __init__(
        self, vocab: dict[str, int], max_pieces: int = 63, ngrams: NgramSettings | None = None,
    ) -> None:
        self.vocab = vocab
        self.max_pieces = max_pieces
        self.ngrams = ngrams
        self._kind_word = {kind: vocab[f"<{kind}>"] for kind in KINDS[2:]}
        self._ngram_memo: dict[str, tuple[int, ...]] = {}

    def piece_ngrams(self, word: str) -> tuple[int, ...]:
        """`word_ngrams` of `word` under this tokenizer's settings, memoised per word."""
        settings = self.ngrams
        if settings is None:
            return ()
        memo = self._ngram_memo
        found = memo.get(word)
        if found is None:
            if len(memo) >= _NGRAM_MEMO_SIZE:
                memo.clear()  # crude but bounded; frequent words come straight back
            found = memo[word] = word_ngrams(word, settings)
        return found

    def path_piece_ngrams(self, text: str) -> tuple[int, ...]:
        """`path_ngrams` of a path or URL, memoised beside the words (a NUL first: no word
        holds one), since the pages of a site come back often."""
        settings = self.ngrams
        if settings is None:
            return ()
        memo = self._ngram_memo
        key = "\x00" + text
        found = memo.get(key)
        if found is None:
            if len(memo) >= _NGRAM_MEMO_SIZE:
                memo.clear()
            found = memo[key] = path_ngrams(text, settings)
        return found

    @property
    def reads_paths(self) -> bool:
        """Whether paths and URLs carry n-grams (their text reaches the network)."""
        return self.ngrams is not None and self.ngrams.path_chars > 0

    @property
    def vocab_size(self) -> int:
        return max(self.vocab.values()) + 1

    def encode(self, text: str) -> Encoded:
        """Pieces of `text` and their ids, `[CLS]` first; never raises."""
        pieces, truncated = split_pieces(text, self.max_pieces)
        return self.encode_pieces(text, pieces, truncated)

    def encode_pieces(self, text: str, pieces: list[Piece], truncated: bool) -> Encoded:
        """`encode` of a line already cut by `split_pieces` (the engine cuts it once for
        its template cache, then encodes only the lines the cache cannot answer)."""
        words = [CLS]
        shapes = [_KIND_ID["cls"] * N_LENGTHS]
        spaces = [0]
        vocab_get = self.vocab.get
        kind_word = self._kind_word
        with_ngrams = self.ngrams is not None
        paths = self.reads_paths
        ngrams: list[tuple[int, ...]] = [()] if with_ngrams else []
        memo_get = self._ngram_memo.get
        # Bound methods and the shape table looked up once: this loop runs for every piece
        # of every line the caches do not answer.
        add_word, add_shape, add_space, add_ngrams = (
            words.append, shapes.append, spaces.append, ngrams.append)
        longest = _LONGEST_BUCKETED
        for piece in pieces:
            start, end, kind, space_before, space_after = piece
            if kind in _WORDY:
                word = text[start:end].lower()
                add_word(vocab_get(word, UNK))
                if with_ngrams:
                    found = memo_get(word)
                    add_ngrams(found if found is not None else self.piece_ngrams(word))
            else:
                add_word(kind_word[kind])
                if paths and kind in PATH_KINDS:
                    add_ngrams(self.path_piece_ngrams(text[start:end]))
                elif with_ngrams:
                    add_ngrams(())
            length = end - start
            add_shape(_SHAPE_IDS[kind][length if length < longest else longest])
            add_space(2 * space_before + space_after)
        return Encoded(pieces, truncated, words, shapes, spaces, ngrams)

    @classmethod
    def build(
        cls, texts: Iterable[str], max_words: int = 8000, min_count: int = 3,
        max_pieces: int = 63, ngrams: NgramSettings | None = None,
    ) -> LogTokenizer:
        """Build the vocabulary from the most frequent word-like pieces of `texts`."""
        counts: Counter[str] = Counter()
        for text in texts:
            pieces, _ = split_pieces(text, max_pieces)
            for piece in pieces:
                key = vocab_key(text, piece)
                if key is not None:
                    counts[key] += 1
        vocab = {token: index for index, token in enumerate(SPECIALS)}
        for word, count in counts.most_common():
            if len(vocab) >= max_words + len(SPECIALS) or count < min_count:
                break
            vocab.setdefault(word, len(vocab))
        return cls(vocab, max_pieces, ngrams)

    def save(self, path: Path) -> None:
        """Write the vocabulary and settings as JSON."""
        data = {
            "version": TOKENIZER_VERSION,
            "max_pieces": self.max_pieces,
            "kinds": list(KINDS),
            "length_edges": list(_LENGTH_EDGES),
            "ngrams": self.ngrams.to_dict() if self.ngrams is not None else None,
            "vocab": self.vocab,
        }
        path.write_text(json.dumps(data, ensure_ascii=False, indent=0), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> LogTokenizer:
        """Read a tokenizer written by `save` (this version or an older one); refuses one
        built for other kinds."""
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") not in _READABLE_VERSIONS or tuple(data["kinds"]) != KINDS:
            raise ValueError(f"{path}: tokenizer built by an incompatible version")
        if tuple(data["length_edges"]) != _LENGTH_EDGES:
            raise ValueError(f"{path}: tokenizer length buckets differ from this version")
        vocab = {str(k): int(v) for k, v in data["vocab"].items()}
        raw = data.get("ngrams")
        ngrams = NgramSettings(**{k: int(v) for k, v in raw.items()}) if raw else None
        return cls(vocab, int(data["max_pieces"]), ngrams)
