"""The network's forward pass at inference, in numpy (float32).

A small BERT encoder over piece embeddings, with a token head and a line head. Training
builds it in torch (`logsentry.train.network.LogTagger`, the same parameter names); the
daemon runs it here, so it never imports torch: importing torch alone took 2 s and
~200 MB per process, more than the whole network costs. `tests/test_model_numpy_forward.py`
proves both give the same logits on the shipped weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import chain
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from logsentry.analysis.tagger.labels import SPAN_LABELS
from logsentry.core.actions import ACTION_NAMES

CONSTANT_TAG = "O"
TAGS: tuple[str, ...] = (
    CONSTANT_TAG, *(f"{prefix}-{label}" for label in SPAN_LABELS for prefix in ("B", "I")))
"""Token tags: `O` (template constant), then `B-`/`I-` for every span label."""

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]

_LAYER_NORM_EPS = 1e-12  # BERT's, as the network was trained with
# Weights the file may hold that inference does not read: BertModel's word table (pieces
# are embedded by our own tables).
_UNUSED = ("bert.embeddings.word_embeddings.weight",)


@dataclass(slots=True)
class NetworkConfig:
    """Sizes of the network and the label maps it was trained with."""

    n_words: int
    n_shapes: int
    n_spaces: int
    hidden: int = 128
    layers: int = 2
    heads: int = 4
    intermediate: int = 256
    max_positions: int = 64
    dropout: float = 0.1
    # Radius of the local-context mix added to the piece embeddings (0: none, as in the
    # first shipped models). Most fields are told by their neighbours (`rip=`, `from`,
    # `port`); giving every piece its neighbours directly spares the two small attention
    # layers from learning "the key two pieces back", which they did only half the time.
    context: int = 0
    # Hashed character n-gram buckets (the tokenizer's `NgramSettings.buckets`), averaged per
    # piece and added to its embedding; 0: none (every model before the open vocabulary).
    n_ngram_buckets: int = 0
    tags: list[str] = field(default_factory=lambda: list(TAGS))
    actions: list[str] = field(default_factory=lambda: list(ACTION_NAMES))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetworkConfig:
        return cls(**data)

    def bert_config(self) -> dict[str, Any]:
        """Keyword arguments of `transformers.BertConfig` for this network (training)."""
        return {
            "vocab_size": 1,  # pieces are embedded by our own tables, passed as inputs_embeds
            "hidden_size": self.hidden,
            "num_hidden_layers": self.layers,
            "num_attention_heads": self.heads,
            "intermediate_size": self.intermediate,
            "max_position_embeddings": self.max_positions,
            "type_vocab_size": 1,
            "hidden_dropout_prob": self.dropout,
            "attention_probs_dropout_prob": self.dropout,
            "hidden_act": "gelu",
            "layer_norm_eps": 1e-12,
        }

    def weight_names(self) -> list[str]:
        """The weights the forward pass reads, by their names in `model.safetensors`."""
        names = ["word_embeddings.weight", "shape_embeddings.weight", "space_embeddings.weight",
                 "bert.embeddings.position_embeddings.weight",
                 "bert.embeddings.token_type_embeddings.weight",
                 "bert.embeddings.LayerNorm.weight", "bert.embeddings.LayerNorm.bias"]
        if self.n_ngram_buckets > 0:
            names.append("ngram_embeddings.weight")
        linears = ["token_head", "action_head"]
        if self.context > 0:
            linears.append("context_mix")
        for i in range(self.layers):
            layer = f"bert.encoder.layer.{i}"
            linears += [f"{layer}.attention.self.query", f"{layer}.attention.self.key",
                        f"{layer}.attention.self.value", f"{layer}.attention.output.dense",
                        f"{layer}.intermediate.dense", f"{layer}.output.dense"]
            names += [f"{layer}.attention.output.LayerNorm.weight",
                      f"{layer}.attention.output.LayerNorm.bias",
                      f"{layer}.output.LayerNorm.weight", f"{layer}.output.LayerNorm.bias"]
        return names + [f"{name}.{part}" for name in linears for part in ("weight", "bias")]


class Network:
    """`LogTagger`'s forward pass in eval mode: piece embeddings -> encoder -> per-piece tag
    logits and per-line action logits."""

    def __init__(self, config: NetworkConfig, weights: Mapping[str, npt.NDArray[Any]]) -> None:
        expected = config.weight_names()
        missing = [name for name in expected if name not in weights]
        unexpected = [name for name in weights if name not in expected and name not in _UNUSED]
        if missing or unexpected:
            raise ValueError(f"weights do not fit the config (missing {missing[:5]},"
                             f" unexpected {unexpected[:5]})")
        self.config = config
        self.parameters = sum(int(weights[name].size) for name in weights)
        # Linear weights transposed once, contiguous: `x @ w` with no copy per call.
        w = {name: np.ascontiguousarray(weights[name].T if _is_linear(name) else weights[name],
                                        dtype=np.float32)
             for name in expected}
        # Query, key and value in one product of three times the width.
        for i in range(config.layers):
            attention = f"bert.encoder.layer.{i}.attention.self"
            for part in ("weight", "bias"):
                w[f"{attention}.qkv.{part}"] = np.concatenate(
                    [w.pop(f"{attention}.{name}.{part}") for name in ("query", "key", "value")],
                    axis=-1)
        self._w = w
        self._averages = np.full((config.hidden, 1), 1 / config.hidden, dtype=np.float32)
        self._bags = _BagMeans(w["ngram_embeddings.weight"]) if config.n_ngram_buckets else None

    def __call__(
        self, words: Ints, shapes: Ints, spaces: Ints, mask: Ints,
        ngrams: Sequence[Sequence[tuple[int, ...]]] | None = None,
    ) -> tuple[Floats, Floats]:
        """Tag logits `[B, T, tags]` (zeros on padding) and action logits `[B, actions]` (of
        each line's first position, its `[CLS]`); `mask`: 1 on pieces, a prefix of each row.
        `ngrams`: per line, the n-gram bucket ids of each of its positions (missing
        positions are empty bags); ignored by a network without n-grams."""
        batch, length = words.shape
        # Only the pieces run through the position-wise layers (all but attention),
        # packed row after row: padding was a sixth of the positions of a batch.
        real = np.flatnonzero(mask.reshape(-1))
        hidden = self._encode(words, shapes, spaces, mask, ngrams, real)
        tags = np.zeros((batch * length, len(self.config.tags)), dtype=np.float32)
        tags[real] = self._linear(hidden, "token_head")
        first = np.searchsorted(real, np.arange(batch) * length)
        return tags.reshape(batch, length, -1), self._linear(hidden[first], "action_head")

    def _encode(
        self, words: Ints, shapes: Ints, spaces: Ints, mask: Ints,
        ngrams: Sequence[Sequence[tuple[int, ...]]] | None, real: Ints,
    ) -> Floats:
        """The encoder's last hidden states of the `real` positions, `[P, hidden]`."""
        w = self._w
        config = self.config
        batch, length = words.shape
        x = (w["word_embeddings.weight"][words.reshape(-1)[real]]
             + w["shape_embeddings.weight"][shapes.reshape(-1)[real]]
             + w["space_embeddings.weight"][spaces.reshape(-1)[real]])
        if self._bags is not None and ngrams is not None:
            x += self._bags.means[self._bags.slots(ngrams, words.shape).reshape(-1)[real]]
        if config.context > 0:
            mixed = _local_context(_unpack(x, real, batch, length), config.context)
            x += self._linear(mixed.reshape(batch * length, -1)[real], "context_mix")
        x += w["bert.embeddings.position_embeddings.weight"][real % length]
        x += w["bert.embeddings.token_type_embeddings.weight"][0]
        x = self._norm(x, "bert.embeddings.LayerNorm")
        bias: Floats | None = None
        if len(real) < batch * length:
            # Additive mask over keys, as BertModel builds it: padding gets float32's minimum.
            bias = ((1 - mask[:, None, None, :]).astype(np.float32)
                    * np.finfo(np.float32).min)
        for i in range(config.layers):
            x = self._layer(x, bias, real, batch, length, f"bert.encoder.layer.{i}")
        return x

    def _layer(self, x: Floats, bias: Floats | None, real: Ints, batch: int, length: int,
               prefix: str) -> Floats:
        hidden = x.shape[1]
        heads = self.config.heads
        size = hidden // heads
        attention = f"{prefix}.attention"
        # [3, B, heads, T, size]: query, key, value split into heads.
        qkv = _unpack(self._linear(x, f"{attention}.self.qkv"), real, batch, length).reshape(
            batch, length, 3, heads, size).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = cast(Floats, q @ k.transpose(0, 1, 3, 2))
        scores *= np.float32(size ** -0.5)
        if bias is not None:
            scores += bias
        scores -= scores.max(-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(-1, keepdims=True)
        context = cast(Floats, scores @ v).transpose(0, 2, 1, 3).reshape(-1, hidden)[real]
        x = self._norm(self._linear(context, f"{attention}.output.dense") + x,
                       f"{attention}.output.LayerNorm")
        inner = _gelu(self._linear(x, f"{prefix}.intermediate.dense"))
        return self._norm(self._linear(inner, f"{prefix}.output.dense") + x,
                          f"{prefix}.output.LayerNorm")

    def _linear(self, x: Floats, name: str) -> Floats:
        out: Floats = x @ self._w[f"{name}.weight"]
        out += self._w[f"{name}.bias"]
        return out

    def _norm(self, x: Floats, name: str) -> Floats:
        # Means as a product with a column of 1/hidden (one BLAS call, not numpy's generic
        # reduction) and one reciprocal per row instead of a division per element: 40%
        # less time, within 2e-6 of the division.
        averages = self._averages
        centred: Floats = x - x @ averages
        scale: Floats = np.square(centred) @ averages
        scale += np.float32(_LAYER_NORM_EPS)
        np.sqrt(scale, out=scale)
        np.reciprocal(scale, out=scale)
        centred *= scale
        centred *= self._w[f"{name}.weight"]
        centred += self._w[f"{name}.bias"]
        return centred


_FEW_BAGS = 8


class _BagMeans:
    """Each piece's n-gram bag as the mean of its rows of the n-gram table, as
    `nn.EmbeddingBag(mode="mean", padding_idx=0)` gives it: an empty bag (and row 0, the
    padding id) counts as nothing.

    The means of the last `capacity` distinct bags are kept: the same words come back
    line after line (93% of the bags of 6,000 distinct Loghub lines were seen among the
    4,096 before them), and averaging their ~15 rows again was a fifth of the forward
    pass."""

    def __init__(self, table: Floats, capacity: int = 4096) -> None:
        self._table = table
        # Row 0: the empty bag.
        self.means = np.zeros((capacity + 1, table.shape[1]), dtype=np.float32)
        self._slots: dict[tuple[int, ...], int] = {(): 0}  # the empty bag: row 0

    def slots(self, rows: Sequence[Sequence[tuple[int, ...]]], shape: tuple[int, ...]) -> Ints:
        """`[B, T]`: the row of `means` of each position's bag (`rows[b][t]`, empty past a
        row's end); valid until the next call."""
        slots = self._slots
        seen = set(chain.from_iterable(rows))
        new = seen.difference(slots)
        if len(slots) + len(new) > len(self.means):
            # Bounded: start over rather than track recency per bag.
            self._slots = slots = {(): 0}
            new = seen.difference(slots)
            if len(new) >= len(self.means):  # one batch of more bags than it keeps
                self.means = np.zeros((len(new) + 1, self.means.shape[1]), dtype=np.float32)
        if new:
            bags = list(new)
            start = len(slots)
            self.means[start:start + len(bags)] = self._average(bags)
            slots.update(zip(bags, range(start, start + len(bags)), strict=True))
        index = np.zeros(shape, dtype=np.int64)
        slot = slots.__getitem__
        for r, row in enumerate(rows):
            index[r, :len(row)] = list(map(slot, row))
        return index

    def _average(self, bags: list[tuple[int, ...]]) -> Floats:
        table = self._table
        sizes = np.fromiter(map(len, bags), dtype=np.int64, count=len(bags))
        ids = np.fromiter(chain.from_iterable(bags), dtype=np.int64, count=int(sizes.sum()))
        # Longest first: the bags that still have a j-th id are a prefix, so the sum is one
        # gather and one in-place add per place j in a bag (`np.add.reduceat` took 4x),
        # until a few long ones (paths, URLs) are left: each of those adds its rest at once.
        # Either way a bag's rows are added in order, so its mean is the same in any batch.
        order = np.argsort(-sizes, kind="stable")
        sizes, starts = sizes[order], (np.cumsum(sizes) - sizes)[order]
        longer = np.searchsorted(-sizes, -np.arange(sizes[0]), side="left")  # bags > j ids
        sums = np.zeros((len(bags), table.shape[1]), dtype=np.float32)
        for j, count in enumerate(longer.tolist()):
            if count < _FEW_BAGS:
                for i in range(count):
                    rest = table[ids[starts[i] + j:starts[i] + sizes[i]]]
                    rest[0] += sums[i]
                    sums[i] = rest.sum(0)
                break
            sums[:count] += table[ids[starts[:count] + j]]
        padding = ids == 0
        if padding.any():  # padding ids count neither in the sum nor in the mean
            kept = np.concatenate(([0], np.cumsum(~padding)))
            real = kept[starts + sizes] - kept[starts]
            sums -= (sizes - real)[:, None].astype(np.float32) * table[0]
            sizes = real
        out = np.zeros_like(sums)
        out[order] = sums / np.maximum(sizes, 1)[:, None].astype(np.float32)
        return out


def _is_linear(name: str) -> bool:
    return name.endswith(".weight") and not name.endswith(("embeddings.weight",
                                                           "LayerNorm.weight"))


def _unpack(packed: Floats, real: Ints, batch: int, length: int) -> Floats:
    """`[B, T, F]` from the rows of the `real` positions, zeros on padding."""
    out = np.zeros((batch * length, packed.shape[1]), dtype=np.float32)
    out[real] = packed
    return out.reshape(batch, length, -1)


def _local_context(embeds: Floats, radius: int) -> Floats:
    """`[B, T, (2r+1)H]`: each piece's embedding beside those of its `radius` neighbours on
    either side, zeros past the ends and on padding (so a line pads the same way alone and
    in a batch). `embeds` is zeros on padding."""
    batch, length, hidden = embeds.shape
    padded = np.zeros((batch, length + 2 * radius, hidden), dtype=np.float32)
    padded[:, radius:radius + length] = embeds
    return np.concatenate([padded[:, i:i + length] for i in range(2 * radius + 1)], axis=-1)


# Abramowitz & Stegun 7.1.26: erf to 1.5e-7 absolute, which float32 rounding already
# reaches; numpy has no erf, and GELU must be the exact (erf) one BERT was trained with.
# With e = exp(-x^2/2) and t = 1 / (1 + p|x|/sqrt 2), erf(|x|/sqrt 2) = 1 - poly(t) e, so
# x Phi(x) = x/2 (1 + sign(x) erf(|x|/sqrt 2)) = max(x, 0) - |x|/2 poly(t) e: the 1/sqrt 2
# folded into p, the -1/2 into the coefficients, no sign to copy back.
_ERF_P_HALF = np.float32(0.3275911 / math.sqrt(2))
_ERF_A_HALF = tuple(np.float32(-0.5 * a) for a in (
    1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592))


def _gelu(x: Floats) -> Floats:
    """`x * Phi(x)` with the exact normal CDF, as `torch.nn.functional.gelu`; overwrites
    `x` (this runs on every position's feed-forward activations: 20 passes over them
    where the form with Phi took 23, and 3 temporaries)."""
    size = np.abs(x)
    t = size * _ERF_P_HALF
    t += 1
    np.reciprocal(t, out=t)
    tail = t * _ERF_A_HALF[0]
    for a in _ERF_A_HALF[1:]:
        tail += a
        tail *= t
    gauss = np.square(x, out=t)
    gauss *= np.float32(-0.5)
    np.exp(gauss, out=gauss)
    tail *= gauss
    tail *= size  # -|x|/2 (1 - erf(|x| / sqrt 2))
    np.maximum(x, 0, out=x)
    x += tail
    return x
