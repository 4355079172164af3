"""The numpy forward pass inference runs gives the logits of the torch network training
builds, from the same weights."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import torch

import logsentry
from logsentry.analysis.tagger.artifacts import load_model
from logsentry.analysis.tagger.location import default_model_dir
from logsentry.analysis.tagger.network import Network, NetworkConfig, _BagMeans, _gelu
from logsentry.analysis.tagger.tokenizer import N_SHAPES, N_SPACES, Encoded
from logsentry.envelope import EnvelopeParser
from logsentry.train.artifacts import load_tagger
from logsentry.train.network import LogTagger, init_weights, ngram_bags

Ints = npt.NDArray[np.int64]
SAMPLES = Path(logsentry.__file__).resolve().parent / "samples"


def sample_lines() -> list[str]:
    """The bundled sample attacks, as read and as the model sees them (envelope cut off)."""
    raw = [line for path in sorted(SAMPLES.glob("*.log"))
           for line in path.read_text(encoding="utf-8").splitlines() if line]
    parser = EnvelopeParser()
    return list(dict.fromkeys(raw + [parser.parse(line, 0.0).body for line in raw]))


def batch(items: list[Encoded]) -> tuple[Ints, Ints, Ints, Ints]:
    length = max(len(item.words) for item in items)
    arrays = [np.zeros((len(items), length), dtype=np.int64) for _ in range(4)]
    words, shapes, spaces, mask = arrays
    for row, item in enumerate(items):
        n = len(item.words)
        words[row, :n], shapes[row, :n], spaces[row, :n] = item.words, item.shapes, item.spaces
        mask[row, :n] = 1
    return words, shapes, spaces, mask


def torch_logits(network: LogTagger, items: list[Encoded],
                 ngrams: bool) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    words, shapes, spaces, mask = (torch.from_numpy(a) for a in batch(items))
    ids, offsets = ngram_bags([item.ngrams for item in items], words.shape[1]) if ngrams else (
        None, None)
    with torch.inference_mode():
        tags, actions = network(words, shapes, spaces, mask, ids, offsets)
    return tags.numpy(), actions.numpy()


def test_the_numpy_forward_gives_the_torch_logits_on_the_shipped_weights() -> None:
    loaded = load_model(default_model_dir())
    reference, tokenizer = load_tagger(default_model_dir(), lean=False)  # transformers' BERT
    lines = sample_lines()
    assert len(lines) >= 200
    items = sorted((tokenizer.encode(line) for line in lines), key=lambda e: len(e.words))
    worst = 0.0
    for start in range(0, len(items), 64):
        chunk = items[start:start + 64]
        words, shapes, spaces, mask = batch(chunk)
        tags, actions = loaded.network(words, shapes, spaces, mask,
                                       [item.ngrams for item in chunk])
        want_tags, want_actions = torch_logits(reference, chunk, ngrams=True)
        real = mask.astype(bool)
        worst = max(worst, float(np.abs(tags - want_tags)[real].max()),
                    float(np.abs(actions - want_actions).max()))
        assert (tags.argmax(-1) == want_tags.argmax(-1))[real].all()
        assert (actions.argmax(-1) == want_actions.argmax(-1)).all()
    assert worst < 1e-4


@pytest.mark.parametrize("context", [0, 2])
def test_the_numpy_forward_matches_a_random_network_with_padding(context: int) -> None:
    torch.manual_seed(1)
    config = NetworkConfig(n_words=50, n_shapes=N_SHAPES, n_spaces=N_SPACES, hidden=32,
                           layers=2, heads=4, intermediate=64, max_positions=16,
                           context=context, n_ngram_buckets=61)
    network = LogTagger(config, lean=True)
    init_weights(network)
    network.eval()
    weights = {name: t.numpy() for name, t in network.state_dict().items()}
    rng = np.random.default_rng(2)
    items = []
    for n in (1, 5, 12, 3):
        # Bags of every length, empty ones among them, and a long one (a path's).
        bags = [tuple(sorted(set(rng.integers(1, 62, int(rng.integers(0, 12))).tolist())))
                for _ in range(n)]
        bags[-1] = tuple(range(1, 62)) if n == 12 else bags[-1]
        items.append(Encoded([], False, rng.integers(1, 50, n).tolist(),
                             rng.integers(0, N_SHAPES, n).tolist(),
                             rng.integers(0, N_SPACES, n).tolist(), bags))
    words, shapes, spaces, mask = batch(items)
    tags, actions = Network(config, weights)(words, shapes, spaces, mask,
                                             [item.ngrams for item in items])
    want_tags, want_actions = torch_logits(network, items, ngrams=True)
    real = mask.astype(bool)
    assert np.abs(tags - want_tags)[real].max() < 1e-5
    assert np.abs(actions - want_actions).max() < 1e-5
    assert not tags[~real].any()  # padding positions give nothing


def test_a_line_gets_the_same_logits_alone_and_padded_in_a_batch() -> None:
    loaded = load_model(default_model_dir())
    tokenizer = loaded.tokenizer
    line = tokenizer.encode("Failed password for invalid user admin from 203.0.113.9 port 22")
    longer = tokenizer.encode("Accepted publickey for deploy from 198.51.100.7 port 50122 ssh2:"
                              " RSA SHA256:abcdefghijklmnopqrstuvwxyz0123456789")

    def logits(items: list[Encoded]) -> tuple[npt.NDArray[np.float32], ...]:
        return loaded.network(*batch(items), [item.ngrams for item in items])

    alone_tags, alone_action = logits([line])
    tags, actions = logits([longer, line])
    n = len(line.words)
    assert np.allclose(alone_tags[0, :n], tags[1, :n], atol=1e-5)
    assert np.allclose(alone_action[0], actions[1], atol=1e-5)


def test_weights_that_do_not_fit_the_config_are_refused() -> None:
    config = NetworkConfig(n_words=10, n_shapes=N_SHAPES, n_spaces=N_SPACES, hidden=8,
                           layers=1, heads=2, intermediate=16)
    network = LogTagger(config, lean=True)
    weights = {name: t.numpy() for name, t in network.state_dict().items()}
    Network(config, weights)
    with pytest.raises(ValueError, match="missing"):
        Network(config, {k: v for k, v in weights.items() if "layer.0.output.dense" not in k})
    with pytest.raises(ValueError, match="unexpected"):
        Network(config, {**weights, "bert.pooler.dense.weight": np.zeros((8, 8), np.float32)})


def test_gelu_is_the_exact_erf_gelu() -> None:
    x = np.linspace(-12.0, 12.0, 48_001, dtype=np.float32)
    exact = np.array([0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x.tolist()])
    assert np.abs(_gelu(x.copy()) - exact).max() < 1e-6


def test_bag_means_stay_bounded_and_give_the_same_means_after_starting_over() -> None:
    rng = np.random.default_rng(3)
    table = rng.standard_normal((200, 4)).astype(np.float32)
    bags = [tuple(range(i % 190 + 1, i % 190 + 1 + i % 7 + 1)) for i in range(2000)]
    means = _BagMeans(table, capacity=64)
    rows = [bags[i:i + 8] for i in range(0, len(bags), 8)]
    got = [means.means[means.slots([row], (1, len(row)))][0] for row in rows]
    assert len(means._slots) <= 65 and len(means.means) == 65  # with the empty bag
    want = np.stack([table[list(bag)].mean(0) for bag in bags])
    assert np.allclose(np.concatenate(got), want, atol=1e-6)
    # One batch of more distinct bags than it keeps still gets them all.
    big = bags[:300]
    slots = means.slots([big], (1, len(big)))
    assert np.allclose(means.means[slots][0], want[:300], atol=1e-6)
