"""The template cache: the model's labels of a line reused for later lines of its event."""

from __future__ import annotations

import pytest

from logsentry.analysis.config import AnalysisConfig
from logsentry.analysis.tagger import load_analyzer
from logsentry.analysis.tagger.artifacts import load_model
from logsentry.analysis.tagger.inference import (
    Labels,
    ModelAnalyzer,
    _structure_key,
    build_analysis,
)
from logsentry.analysis.tagger.location import default_model_dir
from logsentry.analysis.tagger.network import TAGS
from logsentry.analysis.tagger.template_cache import (
    LAYOUTS_PER_TEMPLATE,
    Layout,
    Template,
    TemplateCache,
)
from logsentry.analysis.tagger.tokenizer import piece_bounds, split_pieces
from logsentry.core.metrics import REGISTRY

TAG = {tag: i for i, tag in enumerate(TAGS)}
VOCAB = {"<pad>": 0, "<cls>": 1, "<unk>": 2, "failed": 3, "accepted": 4, "password": 5,
         "for": 6, "from": 7, "port": 8}
FAILED = "Failed password for qwzxkv from 203.0.113.7 port 40022"
FAILED_TAGS = ("O", "O", "O", "B-user.name", "O", "B-source.ip", "O", "B-source.port")


def remember(cache: TemplateCache, text: str, tags: tuple[str, ...] = FAILED_TAGS) -> None:
    pieces, truncated = split_pieces(text, 63)
    ids = tuple(TAG[t] for t in tags)
    cache.add(cache.signature(text, pieces, truncated), text, pieces,
              [t == "O" for t in tags], ids, "ssh_login_failed", 0.9)


def lookup(cache: TemplateCache, text: str) -> Template | None:
    pieces, truncated = split_pieces(text, 63)
    return cache.lookup(cache.signature(text, pieces, truncated), text, pieces)


def test_new_values_in_the_same_places_reuse_the_template() -> None:
    cache = TemplateCache(10, vocab=VOCAB)
    remember(cache, FAILED)
    found = lookup(cache, "Failed password for plmokn from 198.51.100.2 port 51234")
    assert found is not None
    assert found.tags == tuple(TAG[t] for t in FAILED_TAGS)
    assert found.action == "ssh_login_failed"


def test_a_different_constant_misses() -> None:
    cache = TemplateCache(10, vocab=VOCAB)
    remember(cache, FAILED)
    assert lookup(cache, "Accepted password for plmokn from 198.51.100.2 port 51234") is None


@pytest.mark.parametrize("line", [
    # A host name where an address was: another kind of piece.
    "Failed password for plmokn from host.example.org port 51234",
    # A word the vocabulary knows where an unknown one was: the network reads it.
    "Failed password for password from 198.51.100.2 port 51234",
    # A longer value: another length bucket of the network's shape ids.
    "Failed password for plmoknplmoknplmokn from 198.51.100.2 port 51234",
])
def test_a_value_of_another_shape_class_misses(line: str) -> None:
    cache = TemplateCache(10, vocab=VOCAB)
    remember(cache, FAILED)
    assert lookup(cache, line) is None


def test_a_path_the_network_reads_is_part_of_the_signature() -> None:
    """With path n-grams the network reads a request's target: a probe of `/.git/config`
    must go to the model, not reuse the answer to `/index.html`; without them (every
    tokenizer saved before) a path is a wildcard as before."""
    tags = ("O", "B-url.original", "O", "B-http.response.status_code")
    plain, probe = "GET /images/index.html status 200", "GET /images/.git/config status 200"
    for reads_paths, hit in ((True, False), (False, True)):
        cache = TemplateCache(10, vocab=VOCAB, reads_paths=reads_paths)
        remember(cache, plain, tags)
        assert lookup(cache, plain) is not None
        assert (lookup(cache, probe) is not None) is hit


def test_entries_are_bounded_least_recently_used_first_out() -> None:
    cache = TemplateCache(2, vocab=VOCAB)
    remember(cache, FAILED)
    remember(cache, "Accepted password for qwzxkv from 203.0.113.7 port 40022")
    assert lookup(cache, FAILED) is not None  # now the most recently used
    remember(cache, "a b c", ("O", "O", "O"))
    assert len(cache) == 2
    assert lookup(cache, "Accepted password for qwzxkv from 203.0.113.7 port 40022") is None
    assert lookup(cache, FAILED) is not None


def test_a_signature_holds_at_most_its_candidates() -> None:
    cache = TemplateCache(100, candidates=2, vocab=VOCAB)
    for verb in ("alpha", "bravo", "delta"):
        remember(cache, f"{verb} password for qwzxkv from 203.0.113.7 port 40022")
    assert len(cache) == 2
    assert lookup(cache, "alpha password for qwzxkv from 203.0.113.7 port 40022") is None
    assert lookup(cache, "delta password for plmokn from 203.0.113.9 port 40023") is not None


def test_templates_are_bounded_in_estimated_bytes_too() -> None:
    one = TemplateCache(100, vocab=VOCAB)
    remember(one, FAILED)
    size = one.bytes
    assert size > 1000
    cache = TemplateCache(100, vocab=VOCAB, max_bytes=int(size * 2.5))
    for verb in ("alpha", "bravo", "delta", "echo"):  # other constants: other templates
        remember(cache, f"{verb} password for qwzxkv from 203.0.113.7 port 40022")
    assert len(cache) == 2 and size < cache.bytes <= size * 2.5
    assert lookup(cache, "alpha password for qwzxkv from 203.0.113.7 port 40022") is None
    assert lookup(cache, "echo password for plmokn from 203.0.113.9 port 40023") is not None
    cache.clear()
    assert cache.bytes == 0


def test_analyzer_caches_hold_distinct_lines_within_their_byte_bound() -> None:
    # Distinct lines of distinct structures (random bytes, a flood of new values): each is
    # a new entry, which the entry counts alone let grow to about 200 MB.
    analyzer = load_analyzer(threads=1, cache_size=100_000, cache_max_bytes=200_000)
    lines = [f"GET /{'x' * (n % 37)}{n}/{'q' * (n % 11)} user{n} id=k{n}z" for n in range(600)]
    for start in range(0, len(lines), 64):
        analyzer.analyze_batch(lines[start:start + 64])
    stats = analyzer.cache_stats()
    assert 0 < analyzer.cache_bytes <= 200_000
    assert stats["exact_size"] < 600 and stats["structure_size"] < 600
    # Within the bound, nothing is left out for the bytes.
    roomy = load_analyzer(threads=1, cache_size=100_000, cache_max_bytes=1 << 30)
    for start in range(0, len(lines), 64):
        roomy.analyze_batch(lines[start:start + 64])
    assert roomy.cache_stats()["exact_size"] == 600
    assert roomy.cache_bytes > 200_000


def test_zero_capacity_remembers_nothing() -> None:
    cache = TemplateCache(0, vocab=VOCAB)
    remember(cache, FAILED)
    assert len(cache) == 0 and lookup(cache, FAILED) is None


def hits() -> float:
    return REGISTRY.get_sample_value(
        "logsentry_analysis_template_cache_lookups_total", {"result": "hit"}) or 0.0


def test_cache_hit_gives_what_the_model_gives() -> None:
    analyzer = load_analyzer(threads=1, cache_size=1000)
    uncached = ModelAnalyzer(load_model(default_model_dir()), cache_size=0)
    first = "Failed password for invalid user qwzxkv from 203.0.113.7 port 40022 ssh2"
    second = "Failed password for invalid user plmokn from 198.51.100.2 port 51234 ssh2"
    before = hits()
    analyzer.analyze_batch([first])
    cached = analyzer.analyze_batch([second])[0]
    stats = analyzer.cache_stats()
    assert stats["model_lines"] == 1 and stats["template_hits"] == 1
    assert hits() == before + 1
    model = uncached.analyze_batch([second])[0]
    assert (cached.action, cached.fields, cached.template) == (
        model.action, model.fields, model.template)
    assert cached.fields["user.name"] == "plmokn"
    assert cached.fields["source.ip"] == "198.51.100.2"


def test_lines_of_one_event_in_one_batch_run_the_model_once() -> None:
    analyzer = load_analyzer(threads=1, cache_size=1000)
    analyzer.analyze_batch([
        "Failed password for invalid user qwzxkv from 203.0.113.7 port 40022 ssh2",
        "Failed password for invalid user plmokn from 198.51.100.2 port 51234 ssh2",
        "Failed password for invalid user zxcvbn from 198.51.100.9 port 51299 ssh2"])
    assert analyzer.cache_stats()["model_lines"] == 1


def test_a_line_with_another_constant_goes_to_the_model() -> None:
    analyzer = load_analyzer(threads=1, cache_size=1000)
    analyzer.analyze_batch(["Failed password for invalid user qwzxkv from 203.0.113.7"])
    analyzer.analyze_batch(["Accepted password for invalid user plmokn from 198.51.100.2"])
    stats = analyzer.cache_stats()
    assert stats["model_lines"] == 2 and stats["template_hits"] == 0


def test_template_cache_size_is_configured_beside_cache_size() -> None:
    assert AnalysisConfig().template_cache_size > 0
    assert AnalysisConfig(template_cache_size=0).template_cache_size == 0


# Lines whose digits alone change: each is answered from the plan of its masked text once
# a line of that text hit the structure cache.
PLANNED = [
    "Failed password for invalid user qwzxkv from 203.0.113.7 port 40022 ssh2",
    "Received disconnect from 203.0.113.7: 11: Bye Bye [preauth]",
    "Connection from 10.0.0.1 port 51234 on 10.0.0.2 port 22",
    "pid 0x1f2e3d4c exited with status 255 after 12:34:56",
    "GET /index.php?id=12345 HTTP/1.1 200 512",
    "2015-10-18 18:01:47,978 INFO [main] org.apache.App: started 3 workers in 1.25 s",
    "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 rhost=192.168.1.20",
    "error 404 at node r12n34 rack 7 after 3 retries",
    "10/Oct/2000:13:55:36 -0700 GET /a 200",
    "Accepted publickey for deploy from 999.1.2.3 port 1 ssh2",
    "user \u0663\u0664 failed from 1.2.3.4 port 7",
    # A 10-digit column whose first digit becomes 6 in one variant and 1 in the other: a
    # header rule that read a digit's value (an epoch time starts with 1) would have to
    # key the plans by it.
    "2594414 node-239 node temperature 9074274436 1 ambient=30",
]


def digits_changed(text: str, shift: int) -> str:
    """`text` with each ASCII digit replaced by another: the same masked text."""
    return "".join(str((int(c) * 7 + shift) % 10) if c in "0123456789" else c for c in text)


def test_a_line_whose_digits_alone_differ_is_answered_from_its_plan() -> None:
    analyzer = load_analyzer(threads=1, cache_size=1000)
    line = PLANNED[0]
    for text in (line, digits_changed(line, 3), digits_changed(line, 8)):
        analyzer.analyze_batch([text])  # the model, a structure hit, its plan
    assert analyzer.cache_stats()["plan_hits"] == 1


@pytest.mark.parametrize("line", PLANNED)
def test_a_line_answered_from_its_plan_gets_the_analysis_built_anew(line: str) -> None:
    analyzer = load_analyzer(threads=1, cache_size=1000)
    first, second = digits_changed(line, 3), digits_changed(line, 8)
    assert first != second
    analyzer.analyze_batch([line])
    analyzer.analyze_batch([first])  # a structure hit: its plan is made
    planned = analyzer.analyze_batch([second])[0]
    assert analyzer.cache_stats()["plan_hits"] <= 1
    labels = analyzer._structure_cache.get(_structure_key(second))
    assert labels is not None
    bounds, truncated = piece_bounds(second, 63)
    built = build_analysis(second, bounds, truncated, labels, analyzer._decoder)
    assert planned == built


def test_a_plan_is_not_used_once_its_structure_has_other_labels() -> None:
    analyzer = load_analyzer(threads=1, cache_size=1000)
    line = PLANNED[0]
    analyzer.analyze_batch([line, digits_changed(line, 3)])
    key = _structure_key(line)
    labels = analyzer._structure_cache.get(key)
    assert labels is not None
    other = Labels(labels.tags, "other", 0.5, labels.wild)
    analyzer._structure_cache.put(key, other)
    second = digits_changed(line, 8)
    result = analyzer.analyze_batch([second])[0]
    assert analyzer.cache_stats()["plan_hits"] == 0
    bounds, truncated = piece_bounds(second, 63)
    assert result == build_analysis(second, bounds, truncated, other, analyzer._decoder)
    assert result.action == "other"


def test_a_template_that_writes_a_digit_gets_no_plan() -> None:
    analyzer = load_analyzer(threads=1, cache_size=1000)
    line = "session opened for user deploy by uid 1000"
    key = _structure_key(line)
    pieces, _ = split_pieces(line, 63)
    # Every piece constant and not wild: the template writes `1000` as it stands.
    analyzer._structure_cache.put(key, Labels((TAG["O"],) * len(pieces), "other", 0.9,
                                              (False,) * len(pieces)))
    analyzer.analyze_batch([digits_changed(line, 3)])
    result = analyzer.analyze_batch([digits_changed(line, 8)])[0]
    assert analyzer.cache_stats()["plan_hits"] == 0
    assert result.template == digits_changed(line, 8)


# Lines of one event with new words where values go: template hits, not structure hits.
LAID_OUT = [
    ("Failed password for invalid user qwzxkv from 203.0.113.7 port 40022 ssh2",
     "Failed password for invalid user plmokn from 198.51.100.2 port 51234 ssh2",
     "Failed password for invalid user zxcvbn from 198.51.100.9 port 51299 ssh2"),
    ("Invalid user qwzxkv from 203.0.113.7",
     "Invalid user plmokn from 198.51.100.2",
     "Invalid user zxcvbn from 198.51.100.9"),
    ("input_userauth_request: invalid user qwzxkv [preauth]",
     "input_userauth_request: invalid user plmokn [preauth]",
     "input_userauth_request: invalid user zxcvbn [preauth]"),
]


@pytest.mark.parametrize("lines", LAID_OUT)
def test_a_template_hit_of_a_known_wildcard_pattern_is_answered_from_its_layout_as_built_anew(
        lines: tuple[str, str, str]) -> None:
    analyzer = load_analyzer(threads=1, cache_size=1000)
    first, second, third = lines
    analyzer.analyze_batch([first])
    analyzer.analyze_batch([second])  # a template hit: its layout is kept
    laid_out = analyzer.analyze_batch([third])[0]
    stats = analyzer.cache_stats()
    assert stats["model_lines"] == 1 and stats["template_hits"] == 2
    assert stats["layout_hits"] == 1
    labels = analyzer._structure_cache.get(_structure_key(third))
    assert labels is not None
    bounds, truncated = piece_bounds(third, 63)
    assert laid_out == build_analysis(third, bounds, truncated, labels, analyzer._decoder)


def test_a_template_with_a_level_word_keeps_no_layout() -> None:
    # Level words the vocabulary does not know share a signature, and each line's template
    # writes its own.
    analyzer = load_analyzer(threads=1, cache_size=1000)
    text = "WARNQ session qwzxkv closed"
    pieces, truncated = split_pieces(text, 63)
    tags = ("B-log.level", "O", "B-user.name", "O")
    cache = analyzer._templates
    cache.add(cache.signature(text, pieces, truncated), text, pieces,
              [t == "O" for t in tags], tuple(TAG[t] for t in tags), "other", 0.9)
    lines = ["WARNX session plmokn closed", "WARNY session zxcvbn closed",
             "WARNZ session qazwsx closed"]
    results = analyzer.analyze_batch(lines)
    stats = analyzer.cache_stats()
    assert stats["template_hits"] == 3 and stats["layout_hits"] == 0
    assert [result.template.split()[0] for result in results] == ["WARNX", "WARNY", "WARNZ"]


def test_layouts_are_bounded_per_template_and_weighed_with_it() -> None:
    cache = TemplateCache(10, vocab=VOCAB)
    remember(cache, FAILED)
    template = lookup(cache, FAILED)
    assert template is not None
    size = cache.bytes
    for n in range(LAYOUTS_PER_TEMPLATE + 2):
        cache.add_layout(template, (False,) * n, Layout((("user.name", 3, 3),), "x <*>"))
    assert template.layouts is not None and len(template.layouts) == LAYOUTS_PER_TEMPLATE
    assert cache.bytes > size and cache.bytes == template.size
    remember(cache, FAILED)  # the same constants: a new template replaces it
    assert cache.bytes == size


def test_a_hit_that_writes_a_piece_of_its_own_keeps_no_layout() -> None:
    # `a-1` held a digit (a wildcard whatever its tag), `a-b` and `a-c` hold none: the
    # template writes them as they are, so each line's template is its own.
    analyzer = load_analyzer(threads=1, cache_size=1000)
    text = "token a-1 closed"
    pieces, truncated = split_pieces(text, 63)
    cache = analyzer._templates
    cache.add(cache.signature(text, pieces, truncated), text, pieces, [True, False, True],
              (TAG["O"],) * 3, "other", 0.9)
    results = analyzer.analyze_batch(["token a-b closed", "token a-c closed"])
    stats = analyzer.cache_stats()
    assert stats["template_hits"] == 2 and stats["layout_hits"] == 0
    assert [result.template for result in results] == ["token a-b closed", "token a-c closed"]
