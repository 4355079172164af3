"""Open vocabulary: hashed character n-grams beside the closed word vocabulary, and the
word tables started from a pretrained embedding matrix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from logsentry.analysis.tagger.artifacts import load_model
from logsentry.analysis.tagger.inference import ModelAnalyzer
from logsentry.analysis.tagger.location import CONFIG_FILE, TOKENIZER_FILE
from logsentry.analysis.tagger.network import NetworkConfig
from logsentry.analysis.tagger.tokenizer import (
    N_SHAPES,
    N_SPACES,
    SPECIALS,
    UNK,
    LogTokenizer,
    NgramSettings,
    path_ngrams,
    word_ngrams,
)
from logsentry.train.artifacts import save_model
from logsentry.train.loop import PATH_NGRAM_CHARS, build_network, train
from logsentry.train.network import LogTagger, init_weights, ngram_bags
from logsentry.train.pretrained_init import init_from_teacher
from tests.test_model_training import TINY, hand_examples

NGRAMS = NgramSettings(buckets=97)


def test_word_ngrams_are_the_same_in_every_process() -> None:
    # Python salts str hashes per process: the ids must not depend on it.
    code = ("from logsentry.analysis.tagger.tokenizer import NgramSettings, word_ngrams;"
            "print(list(word_ngrams('Refused', NgramSettings(buckets=97))))")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2")}
    assert runs == {f"{list(word_ngrams('refused', NGRAMS))}\n"}


def test_word_ngrams_are_in_range_lowercased_and_shared_by_related_words() -> None:
    refused = set(word_ngrams("REFUSED", NGRAMS))
    assert refused == set(word_ngrams("refused", NGRAMS))
    assert all(1 <= g <= NGRAMS.buckets for g in refused)
    # `<re`, `ref`, `efu`, `fus`... are shared; a word of other letters shares (nearly) none.
    assert len(refused & set(word_ngrams("refuse", NGRAMS))) >= 8
    assert len(refused & set(word_ngrams("quack", NGRAMS))) <= 3


def test_word_ngrams_read_a_bounded_prefix_of_a_huge_word() -> None:
    assert word_ngrams("a" * 1_000_000, NGRAMS) == word_ngrams("a" * 32, NGRAMS)


def test_an_unseen_word_gets_ngrams_and_class_pieces_get_none() -> None:
    tokenizer = LogTokenizer.build(["connection refused from 1.2.3.4"] * 3, min_count=1,
                                   ngrams=NGRAMS)
    encoded = tokenizer.encode("Connection DENIED from 1.2.3.4")
    assert encoded.words[2] == UNK
    assert encoded.ngrams[0] == ()  # [CLS]
    assert encoded.ngrams[2] == word_ngrams("denied", NGRAMS)
    assert encoded.ngrams[4] == ()  # the address is a class token
    assert len(encoded.ngrams) == len(encoded.words)


def test_a_closed_vocabulary_tokenizer_makes_no_ngrams() -> None:
    tokenizer = LogTokenizer.build(["connection refused"], min_count=1)
    assert tokenizer.encode("connection refused").ngrams == []


def test_ngram_settings_survive_save_and_load(tmp_path: Path) -> None:
    tokenizer = LogTokenizer.build(["connection refused"], min_count=1, ngrams=NGRAMS)
    tokenizer.save(tmp_path / "tokenizer.json")
    again = LogTokenizer.load(tmp_path / "tokenizer.json")
    assert again.ngrams == NGRAMS
    assert again.encode("refused x").ngrams == tokenizer.encode("refused x").ngrams


def test_ngram_bags_pad_every_row_to_the_batch_length() -> None:
    ids, offsets = ngram_bags([[(), (3, 4)], [(5,)]], 3)
    assert ids.tolist() == [3, 4, 5]
    assert offsets.tolist() == [0, 0, 2, 2, 3, 3]


def test_ngrams_change_the_embedding_of_an_unseen_word() -> None:
    torch.manual_seed(0)
    config = NetworkConfig(n_words=40, n_shapes=N_SHAPES, n_spaces=N_SPACES, hidden=16,
                           layers=1, heads=2, intermediate=32, n_ngram_buckets=97)
    network = LogTagger(config, lean=True)
    init_weights(network)
    network.eval()
    words = torch.tensor([[1, UNK]])
    shapes = torch.tensor([[1, 5]])
    spaces = torch.zeros((1, 2), dtype=torch.long)
    mask = torch.ones((1, 2), dtype=torch.long)
    outputs = []
    for word in ("denied", "accepted"):
        ids, offsets = ngram_bags([[(), word_ngrams(word, NGRAMS)]], 2)
        with torch.inference_mode():
            outputs.append(network(words, shapes, spaces, mask, ids, offsets)[0])
    assert not torch.allclose(outputs[0], outputs[1])


def test_an_open_vocabulary_model_trains_saves_and_serves(tmp_path: Path) -> None:
    settings = replace(TINY, epochs=2.0, ngram_buckets=97)
    result = train(hand_examples(64, seed=5), settings)
    assert result.network.ngram_embeddings is not None
    save_model(tmp_path, result.network, result.tokenizer, {"quantize": False})
    loaded = load_model(tmp_path)
    assert loaded.tokenizer.ngrams == NgramSettings(buckets=97, path_chars=PATH_NGRAM_CHARS)
    assert loaded.config.n_ngram_buckets == 97
    analyzer = ModelAnalyzer(loaded, cache_size=0)
    out = analyzer.analyze_batch(["Failed password for zzyzx from 10.0.0.1 port 22 ssh2", ""])
    assert len(out) == 2


def test_a_model_folder_of_the_first_format_still_loads(tmp_path: Path) -> None:
    # Written before n-grams: tokenizer version 1 without "ngrams", no n_ngram_buckets.
    result = train(hand_examples(32, seed=2), replace(TINY, epochs=1.0))
    save_model(tmp_path, result.network, result.tokenizer, {"quantize": False})
    doc = json.loads((tmp_path / TOKENIZER_FILE).read_text(encoding="utf-8"))
    doc["version"] = 1
    del doc["ngrams"]
    (tmp_path / TOKENIZER_FILE).write_text(json.dumps(doc), encoding="utf-8")
    config = json.loads((tmp_path / CONFIG_FILE).read_text(encoding="utf-8"))
    del config["network"]["n_ngram_buckets"]
    (tmp_path / CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")
    loaded = load_model(tmp_path)
    assert loaded.tokenizer.ngrams is None and loaded.config.n_ngram_buckets == 0
    assert len(ModelAnalyzer(loaded, cache_size=0).analyze_batch(["Failed password"])) == 1


def test_the_shipped_model_still_loads() -> None:
    loaded = load_model(Path(__file__).resolve().parents[1] / "models" / "logsentry-tagger")
    assert len(ModelAnalyzer(loaded, cache_size=0).analyze_batch(["sshd started"])) == 1


def fake_teacher() -> tuple[torch.Tensor, list[str], object]:
    """A 6-token WordPiece vocabulary with 8-wide vectors: `refused` and `denied` alike,
    `accepted` far from both; `refusing` is cut into `refus` + `##ing`."""
    vocab = ["[PAD]", "refused", "denied", "accepted", "refus", "##ing"]
    table = torch.zeros((6, 8))
    table[1, 0] = table[2, 0] = 1.0
    table[1, 1], table[2, 1] = 0.1, -0.1
    table[3, 2] = 1.0
    table[4, 0] = 0.8
    table[5, 3] = 0.5

    def pieces(word: str) -> list[int]:
        if word in vocab:
            return [vocab.index(word)]
        if word == "refusing":
            return [4, 5]
        return []

    return table, vocab, pieces


@pytest.mark.parametrize("buckets", [0, 97])
def test_word_tables_start_from_the_teachers_vectors(buckets: int) -> None:
    torch.manual_seed(0)
    tokenizer = LogTokenizer.build(["refused denied accepted refusing"] * 2, min_count=1,
                                   ngrams=NgramSettings(buckets) if buckets else None)
    network = build_network(tokenizer, replace(TINY, hidden=4, ngram_buckets=buckets))
    before = network.word_embeddings.weight.detach().clone()
    counts = init_from_teacher(network, tokenizer, fake_teacher())  # type: ignore[arg-type]
    table = network.word_embeddings.weight.detach()
    vocab = tokenizer.vocab
    assert counts["words"] == 4
    assert not torch.equal(table[vocab["refused"]], before[vocab["refused"]])
    assert torch.equal(table[UNK], before[UNK])  # specials keep their start

    def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
        return float(torch.nn.functional.cosine_similarity(a, b, dim=0))

    refused, denied, accepted = (table[vocab[w]] for w in ("refused", "denied", "accepted"))
    assert cosine(refused, denied) > cosine(refused, accepted) + 0.5
    if buckets:
        bag = network.ngram_embeddings
        assert bag is not None and counts["ngram_buckets"] > 0

        def word_vector(word: str) -> torch.Tensor:
            ids = torch.tensor(word_ngrams(word, NgramSettings(buckets)))
            return bag(ids, torch.tensor([0]))[0].detach()

        # The n-grams alone rebuild the vectors (the part an unseen word gets).
        assert cosine(word_vector("refused"), denied) > cosine(word_vector("accepted"), denied)


def test_paths_reach_the_network_only_with_path_ngrams() -> None:
    """A probe and an ordinary request differ only in a path: a tokenizer with
    `path_chars` gives them different n-grams (percent-encoding undone); one without (every
    tokenizer saved before) keeps a path a bare class token, so older models run unchanged."""
    line = 'GET {} HTTP/1.1" 404'
    probe, plain = line.format("/a/..%252f..%252fetc/passwd"), line.format("/a/bb/cc/dd/ee/ff.html")
    reading = LogTokenizer({t: i for i, t in enumerate(SPECIALS)},
                           ngrams=NgramSettings(buckets=4093, path_chars=96))
    bags = [reading.encode(text).ngrams[2] for text in (probe, plain)]
    assert bags[0] and bags[1] and bags[0] != bags[1]
    assert set(path_ngrams("/a/../../etc/passwd", reading.ngrams or NGRAMS)) == set(bags[0])
    old = LogTokenizer({t: i for i, t in enumerate(SPECIALS)}, ngrams=NGRAMS)
    assert old.encode(probe).ngrams[2] == ()
    assert NgramSettings(**NGRAMS.to_dict()).path_chars == 0
    assert "path_chars" not in NGRAMS.to_dict()
