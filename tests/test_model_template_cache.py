"""The template cache: the model's labels of a line reused for later lines of its event."""

from __future__ import annotations

import pytest

from logsentry.analysis.config import AnalysisConfig
from logsentry.analysis.tagger import load_analyzer
from logsentry.analysis.tagger.artifacts import load_model
from logsentry.analysis.tagger.inference import ModelAnalyzer
from logsentry.analysis.tagger.location import default_model_dir
from logsentry.analysis.tagger.network import TAGS
from logsentry.analysis.tagger.template_cache import Template, TemplateCache
from logsentry.analysis.tagger.tokenizer import split_pieces
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
