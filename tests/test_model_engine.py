"""The inference engine: exact entity cuts, templates, caches and odd input."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from logsentry.analysis.tagger.artifacts import load_model
from logsentry.analysis.tagger.inference import (
    MAX_BATCH_POSITIONS,
    TEMPLATE_WILD_KINDS,
    Labels,
    LRUCache,
    ModelAnalyzer,
    _Decoder,
    _length_chunks,
    build_analysis,
    load_analyzer,
)
from logsentry.analysis.tagger.network import TAGS, NetworkConfig
from logsentry.analysis.tagger.tokenizer import N_SHAPES, N_SPACES, LogTokenizer, split_pieces
from logsentry.core.analysis import Analysis
from logsentry.train.artifacts import save_model
from logsentry.train.network import LogTagger, init_weights

DECODER = _Decoder.from_tags(TAGS)
TAG = {tag: i for i, tag in enumerate(TAGS)}


def analysis_for(text: str, tags: list[str], action: str = "ssh_login_failed") -> Analysis:
    pieces, truncated = split_pieces(text, 63)
    assert len(pieces) == len(tags), [text[p.start:p.end] for p in pieces]
    labels = Labels(tuple(TAG[t] for t in tags), action, 0.9)
    return build_analysis(text, [(p.start, p.end) for p in pieces], truncated, labels, DECODER)


def test_fields_are_cut_exactly_and_template_collapses_whitespace_runs() -> None:
    text = "Failed password for  Admin from 10.0.0.1 port 2222 ssh2"
    result = analysis_for(text, [
        "O", "O", "O", "B-user.name", "O", "B-source.ip", "O", "B-source.port", "O"])
    assert result.fields == {"user.name": "Admin", "source.ip": "10.0.0.1",
                             "source.port": "2222"}
    assert result.fields["user.name"] == "Admin"  # cut from the line, not re-joined
    # "for  Admin" and "for Admin" are one event, as a whitespace-splitting parser sees it.
    assert result.template == "Failed password for <*> from <*> port <*> ssh2"


def test_variable_pieces_separated_by_spaces_make_one_wildcard() -> None:
    result = analysis_for("at Sun Jul  4 02:12:33 2005 done", [
        "O", "B-variable", "B-variable", "B-variable", "B-timestamp", "B-variable", "O"])
    assert result.template == "at <*> done"
    assert result.action == "ssh_login_failed"
    assert result.confidence == pytest.approx(0.9)


def test_multi_piece_entity_joins_with_original_text() -> None:
    text = '1.2.3.4 "GET /a?id=1\' OR 1=1 HTTP/1.1" 200'
    pieces, _ = split_pieces(text, 63)
    words = [text[p.start:p.end] for p in pieces]
    tags = ["B-source.ip", "O", "B-http.request.method"]
    tags += ["B-url.original"] + ["I-url.original"] * (words.index("HTTP") - 4)
    tags += ["O"] * (len(words) - len(tags) - 1) + ["B-http.response.status_code"]
    result = analysis_for(text, tags, "web_attack_attempt")
    assert result.fields["url.original"] == "/a?id=1' OR 1=1"
    assert result.fields["http.response.status_code"] == "200"
    # The leading client is left out of the template, as a header would be.
    assert result.template == '"<*> HTTP/1.1" <*>'


def test_timestamp_goes_to_timestamp_not_fields() -> None:
    text = "2024-01-01T00:00:00Z sshd: Failed"
    result = analysis_for(text, ["B-timestamp", "B-process.name", "O", "O"])
    assert result.timestamp == "2024-01-01T00:00:00Z"
    assert "timestamp" not in result.fields
    assert result.fields == {"process.name": "sshd"}


def test_invalid_ip_moves_to_address_and_non_numeric_port_is_dropped() -> None:
    result = analysis_for("from host.example.com port ssh", [
        "O", "B-source.ip", "O", "B-source.port"])
    assert result.fields == {"source.address": "host.example.com"}


def test_an_address_tag_that_parses_wins_over_an_earlier_one_that_does_not() -> None:
    text = "web/auth/auth.go:200 Failed authentication for test1 from 2.2.2.2:39522"
    pieces, _ = split_pieces(text, 63)
    words = [text[p.start:p.end] for p in pieces]
    tags = ["B-source.ip" if w in ("auth.go", "2.2.2.2") else "O" for w in words]
    assert tags.count("B-source.ip") == 2, words
    result = analysis_for(text, tags, action="login_failed")
    assert result.fields["source.ip"] == "2.2.2.2"
    # With no mention that parses, the first one is still kept, as a host name.
    alone = analysis_for("from host.example.com port 22", [
        "O", "B-source.ip", "O", "B-source.port"])
    assert alone.fields == {"source.address": "host.example.com", "source.port": "22"}


def test_an_ipv4_mapped_address_is_reported_as_the_ipv4_address() -> None:
    result = analysis_for("rhost=::ffff:172.21.10.2 user=root", [
        "O", "O", "B-source.ip", "I-source.ip", "O", "O", "B-user.name"])
    assert result.fields["source.ip"] == "172.21.10.2"


def test_the_one_address_of_a_failed_login_is_its_source_when_the_tags_name_none() -> None:
    text = "Failed login for bob from ip address 192.0.2.7"
    result = analysis_for(text, ["O", "O", "O", "B-user.name", "O", "O", "O", "O"],
                          action="login_failed")
    assert result.fields["source.ip"] == "192.0.2.7"


def test_the_one_address_wins_over_a_dotless_word_tagged_as_the_source() -> None:
    text = "auth.go:200 Failed authentication for test from 192.0.2.7:39522"
    pieces, _ = split_pieces(text, 63)
    tags = ["B-source.address" if text[p.start:p.end] == "auth.go" else "O" for p in pieces]
    assert "B-source.address" in tags
    dotted = analysis_for(text, tags, action="login_failed")
    assert dotted.fields.get("source.address") == "auth.go"  # a dotted name: the model's call
    text = "ers/web Failed authentication for test from 192.0.2.7:39522"
    pieces, _ = split_pieces(text, 63)
    tags = ["B-source.address" if text[p.start:p.end] == "ers" else "O" for p in pieces]
    result = analysis_for(text, tags, action="login_failed")
    assert result.fields["source.ip"] == "192.0.2.7"
    assert "source.address" not in result.fields


def test_of_two_addresses_none_is_guessed_the_source_by_its_notation() -> None:
    # Which of two addresses is the peer is the model's call; a program's notation (a name
    # glued to its address) decides nothing.
    text = ("NOQUEUE: reject: RCPT from unknown[192.0.2.7]: 450 4.7.1 Client host rejected: "
            "cannot find your reverse hostname, [198.51.100.1]")
    pieces, _ = split_pieces(text, 63)
    result = analysis_for(text, ["O"] * len(pieces), action="mail_rejected")
    assert "source.ip" not in result.fields


def test_two_addresses_or_an_informational_line_get_no_guessed_source() -> None:
    two = analysis_for("Failed login from 192.0.2.7 via 198.51.100.1",
                       ["O", "O", "O", "O", "O", "O"], action="login_failed")
    assert "source.ip" not in two.fields
    info = analysis_for("listening on 192.0.2.7", ["O", "O", "O"], action="other")
    assert "source.ip" not in info.fields


def test_a_bare_number_is_no_source_address() -> None:
    result = analysis_for("query from 11 attempted to login", [
        "O", "O", "B-source.address", "O", "O", "O"], action="login_failed")
    assert "source.address" not in result.fields


@pytest.mark.parametrize("text", ["x o.a.g.r.auth.AuthenticationService y",
                                  "x ::api::identity y"])
def test_code_locations_are_no_source_address(text: str) -> None:
    pieces, _ = split_pieces(text, 63)
    tags = ["O"] + ["B-source.address"] + ["I-source.address"] * (len(pieces) - 3) + ["O"]
    result = analysis_for(text, tags, action="login_failed")
    assert "source.address" not in result.fields


@pytest.mark.parametrize("host", ["mail.example.com", "WORKSTATION01", "unknown",
                                  "dsl-1-2-3-4.pool.example.net", "DESKTOP-AB12C"])
def test_host_names_stay_source_addresses(host: str) -> None:
    result = analysis_for(f"from {host} port", ["O", "B-source.address", "O"],
                          action="login_failed")
    assert result.fields["source.address"] == host


def test_first_mention_of_a_role_wins() -> None:
    result = analysis_for("user bob user eve", ["O", "B-user.name", "O", "B-user.name"])
    assert result.fields == {"user.name": "bob"}


def test_adjacent_variable_pieces_make_one_wildcard() -> None:
    result = analysis_for("ratio 12/34 end", ["O", "B-variable", "B-variable", "B-variable", "O"])
    assert result.template == "ratio <*> end"


def test_lru_cache_is_bounded_and_evicts_least_recent() -> None:
    cache: LRUCache[str, int] = LRUCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert cache.get("b") is None
    assert len(cache) == 2


@pytest.fixture(scope="module")
def random_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny model: enough to exercise the engine's machinery."""
    torch.manual_seed(0)
    tokenizer = LogTokenizer.build(["Failed password for root from 1.2.3.4 port 22"],
                                   min_count=1)
    config = NetworkConfig(n_words=tokenizer.vocab_size, n_shapes=N_SHAPES, n_spaces=N_SPACES,
                           hidden=32, layers=1, heads=2, intermediate=64)
    network = LogTagger(config, lean=True)
    init_weights(network)
    path = tmp_path_factory.mktemp("model") / "tiny"
    # An older model's metadata: int8 asked for, float32 run.
    save_model(path, network, tokenizer, {"quantize": True})
    return path


def test_structure_cache_reuses_labels_but_cuts_new_values(random_model: Path) -> None:
    analyzer = ModelAnalyzer(load_model(random_model), cache_size=100)
    first = analyzer.analyze_batch(["Failed password for root from 1.2.3.4 port 22"])[0]
    second = analyzer.analyze_batch(["Failed password for root from 10.20.30.40 port 2222"])[0]
    stats = analyzer.cache_stats()
    assert stats["model_lines"] == 1 and stats["structure_hits"] == 1
    assert first.action == second.action
    # Whatever the untrained model tagged, values come from the new line.
    for value in second.fields.values():
        assert value in "Failed password for root from 10.20.30.40 port 2222"
    assert "1.2.3.4" not in second.template


def test_exact_cache_returns_independent_copies(random_model: Path) -> None:
    analyzer = ModelAnalyzer(load_model(random_model), cache_size=100)
    a = analyzer.analyze_batch(["x y z"])[0]
    a.fields["source.ip"] = "poison"
    b = analyzer.analyze_batch(["x y z"])[0]
    assert b.fields.get("source.ip") != "poison"
    assert analyzer.cache_stats()["exact_hits"] == 1


def test_disabled_cache_runs_the_model_every_time(random_model: Path) -> None:
    analyzer = ModelAnalyzer(load_model(random_model), cache_size=0)
    analyzer.analyze_batch(["a 1", "a 2"])
    analyzer.analyze_batch(["a 1"])
    assert analyzer.cache_stats()["structure_hits"] == 0
    assert analyzer.cache_stats()["model_lines"] == 3


def test_odd_input_gives_one_analysis_each_in_order(random_model: Path) -> None:
    analyzer = load_analyzer(str(random_model), threads=1, cache_size=10)
    odd = ["", " ", "\x00\x00\x00", "\ufffd" * 50, "x" * 1_000_000,
           " ".join(["word"] * 5000), "\r", "ä" * 10, "1.2.3.4"]
    results = analyzer.analyze_batch(odd)
    assert len(results) == len(odd)
    for result in results:
        assert 0.0 <= result.confidence <= 1.0
        assert len(result.template) <= 1_000_010
    assert results[5].template.endswith("<*>") or results[5].template.endswith("word")
    assert analyzer.analyze_batch([]) == []


def test_a_model_that_asks_for_int8_still_loads_and_runs_in_float32(random_model: Path) -> None:
    loaded = load_model(random_model)
    assert loaded.meta["quantize"] is True
    lines = ["Failed password for root from 1.2.3.4 port 22", "a b c"]
    assert len(ModelAnalyzer(loaded).analyze_batch(lines)) == 2


def test_loading_never_unpickles(random_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("nothing may be unpickled")

    monkeypatch.setattr(torch, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "load", forbidden)
    assert load_model(random_model).network is not None


def test_placeholder_values_are_not_entities() -> None:
    result = analysis_for('"-" bob', ["O", "B-user.effective.name", "O", "B-user.name"])
    assert result.fields == {"user.name": "bob"}


def test_numbers_tagged_constant_are_still_template_wildcards() -> None:
    text = "disconnect from 1.2.3.4: 11: bye"
    pieces, truncated = split_pieces(text, 63)
    labels = Labels(tuple(TAG["O"] for _ in pieces), "other", 0.5,
                    tuple(p.kind in TEMPLATE_WILD_KINDS for p in pieces))
    result = build_analysis(text, [(p.start, p.end) for p in pieces], truncated, labels, DECODER)
    assert result.template == "disconnect from <*>: <*>: bye"
    assert result.fields == {}


def test_a_peer_on_a_well_known_port_is_swapped_for_the_ephemeral_end() -> None:
    # Exchange protocol logs write the local endpoint before the remote one.
    text = "2022-07-20T21:28:50Z,0E,2,192.0.2.241:143,198.51.100.212:35070,alice,AuthFailed"
    pieces, _ = split_pieces(text, 63)
    words = [text[p.start:p.end] for p in pieces]
    tags = ["O"] * len(words)
    tags[words.index("192.0.2.241")] = "B-source.ip"
    tags[words.index("143")] = "B-source.port"
    result = analysis_for(text, tags, action="login_failed")
    assert (result.fields["source.ip"], result.fields["source.port"]) == ("198.51.100.212",
                                                                          "35070")
    assert (result.fields["destination.ip"], result.fields["destination.port"]) == (
        "192.0.2.241", "143")


def test_a_peer_on_a_well_known_port_stays_when_no_single_ephemeral_end_exists() -> None:
    text = "refused 192.0.2.241:53 to 198.51.100.1:53"
    pieces, _ = split_pieces(text, 63)
    words = [text[p.start:p.end] for p in pieces]
    tags = ["O"] * len(words)
    tags[words.index("192.0.2.241")] = "B-source.ip"
    tags[words.index("53")] = "B-source.port"
    result = analysis_for(text, tags, action="connection_rejected")
    assert result.fields["source.ip"] == "192.0.2.241"


def test_a_pipe_separated_server_endpoint_yields_to_the_client_end() -> None:
    text = 'tr="TCP|192.0.2.223|25|198.51.100.78|4299" ap="SMTP" mi="Bad password"'
    pieces, _ = split_pieces(text, 63)
    words = [text[p.start:p.end] for p in pieces]
    tags = ["O"] * len(words)
    tags[words.index("192.0.2.223")] = "B-source.ip"
    result = analysis_for(text, tags, action="mail_auth_failed")
    assert result.fields["source.ip"] == "198.51.100.78"
    assert result.fields["destination.port"] == "25"


def test_long_lines_run_in_smaller_batches_so_activations_stay_bounded() -> None:
    # 300 lines of 64 pieces (random bytes look like this): at most MAX_BATCH_POSITIONS
    # padded positions a batch, where max_batch alone let 128 of them (8,192) through.
    chunks = _length_chunks(list(range(300)), [64] * 300, max_batch=128)
    assert sum(len(c) for c in chunks) == 300
    assert all(len(c) * 64 <= MAX_BATCH_POSITIONS for c in chunks)
    # Short lines still fill max_batch.
    assert [len(c) for c in _length_chunks(list(range(256)), [12] * 256, 128)] == [128, 128]
    # One line longer than the budget still runs (alone).
    assert _length_chunks([0, 1], [5000, 5000], 128) == [[0], [1]]
