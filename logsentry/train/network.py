"""The network in torch, as training builds it: a small BERT encoder over piece embeddings,
with a token head and a line head.

Training builds the encoder from `transformers.BertModel`; `LeanBert` is the same
computation written directly in torch with the same parameter names (importing
transformers costs seconds). The daemon runs neither: it runs the same weights in numpy
(`logsentry.analysis.tagger.network`, whose `NetworkConfig` both share).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from logsentry.analysis.tagger.network import NetworkConfig


class LogTagger(nn.Module):
    """Piece embeddings -> encoder -> per-piece tag logits and per-line action logits."""

    def __init__(self, config: NetworkConfig, lean: bool) -> None:
        super().__init__()
        self.config = config
        self.word_embeddings = nn.Embedding(config.n_words, config.hidden, padding_idx=0)
        self.shape_embeddings = nn.Embedding(config.n_shapes, config.hidden)
        self.space_embeddings = nn.Embedding(config.n_spaces, config.hidden)
        # Row 0 is "no n-gram" (padding); bucket ids run 1..n_ngram_buckets.
        self.ngram_embeddings: nn.EmbeddingBag | None = None
        if config.n_ngram_buckets > 0:
            self.ngram_embeddings = nn.EmbeddingBag(
                config.n_ngram_buckets + 1, config.hidden, mode="mean", padding_idx=0)
        self.bert: nn.Module
        if lean:
            self.bert = LeanBert(config)
        else:
            from transformers import BertConfig, BertModel

            self.bert = BertModel(BertConfig(**config.bert_config()), add_pooling_layer=False)
        self.context_mix: nn.Linear | None = None
        if config.context > 0:
            self.context_mix = nn.Linear((2 * config.context + 1) * config.hidden, config.hidden)
        self.token_head = nn.Linear(config.hidden, len(config.tags))
        self.action_head = nn.Linear(config.hidden, len(config.actions))

    def forward(
        self, words: torch.Tensor, shapes: torch.Tensor, spaces: torch.Tensor,
        mask: torch.Tensor, ngram_ids: torch.Tensor | None = None,
        ngram_offsets: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Tag logits `[B, T, tags]` and action logits `[B, actions]`; `mask`: 1 on pieces.
        `ngram_ids`/`ngram_offsets`: the n-gram bags of the `B*T` positions, row-major
        (`ngram_bags`); ignored by a network without n-grams."""
        hidden = self.encode(words, shapes, spaces, mask, ngram_ids, ngram_offsets)
        return self.token_head(hidden), self.action_head(hidden[:, 0])

    def encode(
        self, words: torch.Tensor, shapes: torch.Tensor, spaces: torch.Tensor,
        mask: torch.Tensor, ngram_ids: torch.Tensor | None = None,
        ngram_offsets: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """The encoder's last hidden states `[B, T, hidden]`, before both heads."""
        embeds = (
            self.word_embeddings(words) + self.shape_embeddings(shapes)
            + self.space_embeddings(spaces))
        if self.ngram_embeddings is not None and ngram_ids is not None:
            # Empty bags (padding, [CLS], class-token pieces) average to zeros.
            bags = self.ngram_embeddings(ngram_ids, ngram_offsets)
            embeds = embeds + bags.view(embeds.shape)
        if self.context_mix is not None:
            embeds = embeds + self.context_mix(local_context(embeds, mask, self.config.context))
        out = self.bert(inputs_embeds=embeds, attention_mask=mask)
        hidden: torch.Tensor = out.last_hidden_state
        return hidden


def ngram_bags(
    rows: Sequence[Sequence[tuple[int, ...]]], length: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The n-gram ids of a batch padded to `length` positions, flat, with the offset of each
    of the `len(rows) * length` bags (row-major; positions past a row's end are empty):
    the input of `nn.EmbeddingBag`."""
    ids: list[int] = []
    offsets: list[int] = []
    for row in rows:
        for bag in row:
            offsets.append(len(ids))
            ids.extend(bag)
        offsets.extend([len(ids)] * (length - len(row)))
    return torch.tensor(ids, dtype=torch.long), torch.tensor(offsets, dtype=torch.long)


def local_context(embeds: torch.Tensor, mask: torch.Tensor, radius: int) -> torch.Tensor:
    """`[B, T, (2r+1)H]`: each piece's embedding beside those of its `radius` neighbours on
    either side, zeros past the ends and on padding (so a line pads the same way alone and
    in a batch)."""
    masked = embeds * mask[..., None].to(embeds.dtype)
    padded = F.pad(masked, (0, 0, radius, radius))
    length = embeds.shape[1]
    return torch.cat([padded[:, i:i + length] for i in range(2 * radius + 1)], dim=-1)


@dataclass(slots=True)
class _Output:
    last_hidden_state: torch.Tensor


class _Embeddings(nn.Module):
    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(1, config.hidden)  # unused, kept for the weight names
        self.position_embeddings = nn.Embedding(config.max_positions, config.hidden)
        self.token_type_embeddings = nn.Embedding(1, config.hidden)
        self.LayerNorm = nn.LayerNorm(config.hidden, eps=1e-12)

    def forward(self, embeds: torch.Tensor) -> torch.Tensor:
        length = embeds.shape[1]
        added = self.position_embeddings.weight[:length] + self.token_type_embeddings.weight[0]
        out: torch.Tensor = self.LayerNorm(embeds + added)
        return out


class _SelfAttention(nn.Module):
    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.query = nn.Linear(config.hidden, config.hidden)
        self.key = nn.Linear(config.hidden, config.hidden)
        self.value = nn.Linear(config.hidden, config.hidden)


class _DenseNorm(nn.Module):
    def __init__(self, inputs: int, hidden: int) -> None:
        super().__init__()
        self.dense = nn.Linear(inputs, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=1e-12)


class _Attention(nn.Module):
    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.self = _SelfAttention(config)
        self.output = _DenseNorm(config.hidden, config.hidden)


class _Intermediate(nn.Module):
    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden, config.intermediate)


class _Layer(nn.Module):
    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.heads = config.heads
        self.attention = _Attention(config)
        self.intermediate = _Intermediate(config)
        self.output = _DenseNorm(config.intermediate, config.hidden)

    def forward(self, x: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        batch, length, hidden = x.shape
        heads = self.heads
        size = hidden // heads
        attn = self.attention.self

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, heads, size).transpose(1, 2)

        q, k, v = split(attn.query(x)), split(attn.key(x)), split(attn.value(x))
        # Plain matmul-softmax-matmul: on CPU with sequences of ~10-100 pieces it runs about
        # twice as fast as scaled_dot_product_attention with a padding mask.
        scores = torch.matmul(q, k.transpose(-1, -2)) * (size ** -0.5)
        if bias is not None:
            scores = scores + bias
        context = torch.matmul(scores.softmax(-1), v)
        context = context.transpose(1, 2).reshape(batch, length, hidden)
        out = self.attention.output
        x = out.LayerNorm(out.dense(context) + x)
        inner = F.gelu(self.intermediate.dense(x))
        last = self.output
        result: torch.Tensor = last.LayerNorm(last.dense(inner) + x)
        return result


class _Encoder(nn.Module):
    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer(config) for _ in range(config.layers))


class LeanBert(nn.Module):
    """BERT's encoder forward pass (eval mode) in plain torch, with BertModel's parameter names."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.embeddings = _Embeddings(config)
        self.encoder = _Encoder(config)

    def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> _Output:
        x = self.embeddings(inputs_embeds)
        bias: torch.Tensor | None = None
        if not bool(attention_mask.all()):
            # Additive mask over keys, as BertModel builds it: padding gets the dtype's minimum.
            bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * torch.finfo(x.dtype).min
        for layer in self.encoder.layer:
            x = layer(x, bias)
        return _Output(x)


def parameter_count(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters())


def init_weights(module: nn.Module, std: float = 0.02) -> None:
    """BERT's initialisation for the tables and heads we add around the encoder."""
    for sub in module.modules():
        if isinstance(sub, nn.Linear):
            nn.init.normal_(sub.weight, std=std)
            if sub.bias is not None:
                nn.init.zeros_(sub.bias)
        elif isinstance(sub, (nn.Embedding, nn.EmbeddingBag)):
            nn.init.normal_(sub.weight, std=std)
            if sub.padding_idx is not None:
                with torch.no_grad():
                    sub.weight[sub.padding_idx].zero_()
        elif isinstance(sub, nn.LayerNorm):
            nn.init.ones_(sub.weight)
            nn.init.zeros_(sub.bias)


