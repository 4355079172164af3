"""The log-aware tokenizer keeps entities whole and its offsets exact."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from logsentry.analysis.tagger import tokenizer
from logsentry.analysis.tagger.tokenizer import UNK, LogTokenizer, piece_bounds, split_pieces


def texts_and_kinds(text: str) -> list[tuple[str, str]]:
    pieces, _ = split_pieces(text, 200)
    return [(text[p.start:p.end], p.kind) for p in pieces]


@pytest.mark.parametrize(
    ("text", "whole", "kind"),
    [
        ("from 192.168.10.254 port 22", "192.168.10.254", "ipv4"),
        ("from 2001:db8::7 port 22", "2001:db8::7", "ipv6"),
        ("client ::ffff:10.0.0.1 closed", "10.0.0.1", "ipv4"),  # v4-mapped: the IPv4 alone
        ("GET https://h.example:443/a/b?x=1 HTTP", "/a/b?x=1", "path"),
        ("from 1.2.3.4.50550 to", "1.2.3.4", "ipv4"),
        ("addr fe80::1:2:3:4 up", "fe80::1:2:3:4", "ipv6"),
        ("mac 00:1a:2b:3c:4d:5e seen", "00:1a:2b:3c:4d:5e", "mac"),
        ("GET https://example.com/a/b?x=1&y=2 done", "https://example.com", "url"),
        ("opened /var/log/auth.log, ok", "/var/log/auth.log", "path"),
        ("rcpt=<alice.smith@mail.example.org> ok", "alice.smith@mail.example.org", "email"),
        ("at 2024-03-01T12:30:45.123+01:00 ok", "2024-03-01T12:30:45.123+01:00", "isots"),
        ("[10/Oct/2000:13:55:36 -0700] GET", "10/Oct/2000:13:55:36 -0700", "clfts"),
        ("session 3f2a9c1e7b4d55aa closed", "3f2a9c1e7b4d55aa", "hex"),
        ("id 123e4567-e89b-12d3-a456-426614174000 x", "123e4567-e89b-12d3-a456-426614174000",
         "uuid"),
        ("resolved mail.example.com. ok", "mail.example.com", "dotted"),
        # A reverse-DNS name that starts with the address is one name, not an IP and a rest.
        ("rhost=5.36.59.76.dsl.example.net  user=root", "5.36.59.76.dsl.example.net", "dotted"),
        ("from 10-1-2-3.static.example.org port", "10-1-2-3.static.example.org", "dotted"),
        ("https://example.com|1430068525|user|192.0.2.5|https://x", "192.0.2.5", "ipv4"),
    ],
)
def test_entities_stay_one_piece(text: str, whole: str, kind: str) -> None:
    assert (whole, kind) in texts_and_kinds(text)


def test_syslog_program_and_pid_split_from_brackets() -> None:
    pieces = texts_and_kinds("sshd[1234]: Failed password for root")
    assert pieces[:5] == [("sshd", "lower"), ("[", "punct"), ("1234", "num"), ("]", "punct"),
                          (":", "punct")]


def test_ip_followed_by_port_is_two_pieces() -> None:
    assert texts_and_kinds("1.2.3.4:8080")[0] == ("1.2.3.4", "ipv4")
    assert texts_and_kinds("1.2.3.4:8080")[-1] == ("8080", "num")


def test_offsets_cut_original_text_and_cover_every_non_space() -> None:
    text = 'Jan  1 00:00:01 h sshd[9]: Invalid user ÄdmIn from 10.0.0.1\t"x" \x00 end'
    pieces, truncated = split_pieces(text, 200)
    assert not truncated
    covered = "".join(text[p.start:p.end] for p in pieces)
    assert covered == "".join(c for c in text if not c.isspace())
    assert ("ÄdmIn", "mixed") in texts_and_kinds(text)


@pytest.mark.parametrize("text", [
    "GET https://h.example:443/a?b=1 x", "a" * 100, " ".join(["w"] * 100), "",
    "1.2.3.4.5 ::ffff:1.2.3.4 http://x.y/ z"])
def test_piece_bounds_cut_like_split_pieces(text: str) -> None:
    pieces, truncated = split_pieces(text, 63)
    assert piece_bounds(text, 63) == ([(p.start, p.end) for p in pieces], truncated)


def test_long_lines_are_truncated_at_the_piece_limit() -> None:
    text = " ".join(f"w{i}" for i in range(10_000))
    pieces, truncated = split_pieces(text, 63)
    assert truncated and len(pieces) == 63


@pytest.mark.parametrize("text", ["", " ", "\x00" * 10, "\ufffd\ufffd", "a" * 1_000_000,
                                  "::::", "[[[[]]]]", "\r\n"])
def test_odd_input_never_raises(text: str) -> None:
    tokenizer = LogTokenizer.build(["hello world"], min_count=1)
    encoded = tokenizer.encode(text)
    assert len(encoded.words) == len(encoded.shapes) == len(encoded.spaces) == 1 + len(
        encoded.pieces)
    assert len(encoded.words) <= 64


def test_vocab_keeps_frequent_words_and_maps_unseen_to_unk(tmp_path: Path) -> None:
    tokenizer = LogTokenizer.build(["Failed password for root"] * 3 + ["rare"], min_count=2)
    encoded = tokenizer.encode("FAILED password for zzz")
    failed, _password, _for, zzz = encoded.words[1:]
    assert failed == tokenizer.vocab["failed"]  # lower-cased lookup
    assert zzz == UNK
    assert "rare" not in tokenizer.vocab
    tokenizer.save(tmp_path / "tokenizer.json")
    again = LogTokenizer.load(tmp_path / "tokenizer.json")
    assert again.vocab == tokenizer.vocab
    assert again.encode("Failed password for root").words == tokenizer.encode(
        "Failed password for root").words


def test_ip_pieces_use_class_token_not_vocabulary() -> None:
    tokenizer = LogTokenizer.build(["from 1.2.3.4"] * 5, min_count=1)
    a = tokenizer.encode("from 1.2.3.4")
    b = tokenizer.encode("from 99.88.77.66")
    assert a.words == b.words


def test_the_plain_word_shortcut_cuts_every_line_as_the_full_alternation_does() -> None:
    """`plain` (a word-character run before whitespace) is taken before the other kinds;
    it must never take a piece another kind would have had, nor cut one elsewhere."""
    pattern = tokenizer._PIECE.pattern
    shortcut = r"(?P<plain>\w++)(?!\S)"
    assert shortcut in pattern
    full = re.compile(pattern.replace(shortcut, r"(?!)", 1), re.VERBOSE)
    samples = Path(tokenizer.__file__).parents[2] / "samples"
    lines = [line for path in sorted(samples.glob("*.log"))
             for line in path.read_text(encoding="utf-8").splitlines()]
    lines += [
        "Failed password for root from 203.0.113.7 port 22 ssh2",
        "abc.def x", "abc- x", "user@host.example x", "see http://example.com/a x",
        "ab:cd:ef:01:23:45 x", "12:34:56 x", "\u0663\u0664 x", "foo_bar baz", "caf\u00e9 x",
        "a\tb\nc", "trailing ", "end", "1.2.3.4 x", "2024-01-01T10:00:00Z x",
        "C:\\\\Windows x", "~/x y", "::ffff:1.2.3.4 x", "fe80::1 x", "[[ x ]]", "a1b2 c3",
        "20/Jun/2024:10:00:00 +0000 x", "host-1 x", "x.y.z", "12 345 6789",
    ]
    for line in lines:
        want = [(m.span(), m.lastgroup) for m in full.finditer(line)]
        got = [(m.span(), "word" if m.lastgroup == "plain" else m.lastgroup)
               for m in tokenizer._PIECE.finditer(line)]
        assert got == want, line


def scan_whole_line(text: str, limit: int) -> tuple[list[tokenizer.Piece], bool]:
    """The tokenizer's cutting as one scan of `_PIECE` over the whole line: what the
    memoised token-by-token cutting must give."""
    pieces: list[tokenizer.Piece] = []
    n = len(text)
    for match in tokenizer._PIECE.finditer(text):
        if len(pieces) == limit:
            return pieces, True
        start, end = match.span()
        kind = match.lastgroup or "other"
        if kind in ("plain", "word"):
            kind = tokenizer._word_kind(text[start:end])
        elif kind == "url":
            slash = text.find("/", text.find("//", start, end) + 2, end)
            if slash > 0 and len(pieces) + 1 < limit:
                before = start == 0 or text[start - 1].isspace()
                pieces.append(tokenizer.Piece(start, slash, "url", before, False))
                start = slash
                kind = "path"
        before = start == 0 or text[start - 1].isspace()
        after = end == n or text[end].isspace()
        pieces.append(tokenizer.Piece(start, end, kind, before, after))
    return pieces, False


TRICKY_LINES = [
    '203.0.113.7 - - [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.1" 200 5',
    "[10/Oct/2000:13:55:36 -07001] x [10/Oct/2000:13:55:36\t+0100]",
    "t 10/Oct/2000:13:55:36 -0700 10/Oct/2000:13:55:36 -0700",
    "10/Oct/2000:13:55:36 -0700:12 10/Oct/2000:13:55:36  -0700",
    "GET https://h.example:443/a/b?x=1 http://x.y z://q https://a.b",
    "from ::ffff:10.0.0.1 port 22 fe80::1:2:3:4 1.2.3.4.50550 1.2.3.4.dsl.example.net",
    "a" * 100 + " " + "b.c/" * 30 + " x",
    " leading\tand trailing \u2028 separators\x1c\x1d ",
]


@pytest.mark.parametrize("limit", [63, 8, 3, 2, 1])
def test_token_memo_cuts_like_one_scan_of_the_line(limit: int) -> None:
    rng = __import__("random").Random(7)
    alphabet = "aZ09:./-+@[]\"'<>|,;=_\\~ \t%x\u00e9\u00b2\u0663\u2028\x1c"
    texts = TRICKY_LINES + ["".join(rng.choice(alphabet) for _ in range(rng.randrange(60)))
                            for _ in range(3000)]
    for text in texts * 2:  # the second round reads the memo
        expected = scan_whole_line(text, limit)
        assert split_pieces(text, limit) == expected, text
        assert piece_bounds(text, limit) == (
            [(p.start, p.end) for p in expected[0]], expected[1]), text
