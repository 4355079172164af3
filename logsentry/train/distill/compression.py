"""Compression of a trained student: structured pruning.

Pruning keeps the `LogTagger` architecture (so `artifacts.load_model` and the
engine load the result unchanged) and shrinks one of its dimensions:

- *width*: the feed-forward layers keep the `keep` intermediate neurons with the
  largest importance `|w_in| * |w_out|` (L2 norms of the neuron's input row and
  output column);
- *layers*: the encoder keeps a subset of its layers, in order.

A short distillation run afterwards lets the pruned student recover. Inference runs
float32 (numpy); the int8 dynamic quantization earlier models asked for with
`quantize: true` is no longer applied.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import torch

from logsentry.train.network import LogTagger

_LAYER = re.compile(r"^bert\.encoder\.layer\.(\d+)\.(.*)$")


def _rebuild(network: LogTagger, state: dict[str, torch.Tensor], intermediate: int | None = None,
             layers: int | None = None) -> LogTagger:
    config = replace(network.config,
                     intermediate=intermediate or network.config.intermediate,
                     layers=layers or network.config.layers)
    pruned = LogTagger(config, lean=False)
    missing, unexpected = pruned.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith(("position_ids", "token_type_ids"))
               and "word_embeddings" not in m.split("bert.")[-1]]
    if missing or unexpected:
        raise ValueError(f"pruned weights do not fit: missing {missing[:4]},"
                         f" unexpected {unexpected[:4]}")
    return pruned


def _state(network: LogTagger) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in network.state_dict().items()}


def neuron_importance(network: LogTagger, layer: int) -> torch.Tensor:
    """Importance of each intermediate neuron of `layer`: |input row| * |output column|."""
    state = network.state_dict()
    prefix = f"bert.encoder.layer.{layer}."
    w_in = state[prefix + "intermediate.dense.weight"]  # [intermediate, hidden]
    w_out = state[prefix + "output.dense.weight"]  # [hidden, intermediate]
    importance: torch.Tensor = w_in.norm(dim=1) * w_out.norm(dim=0)
    return importance


def prune_width(network: LogTagger, keep: int) -> LogTagger:
    """A copy of `network` whose feed-forward layers keep their `keep` most important neurons."""
    if not 0 < keep <= network.config.intermediate:
        raise ValueError(f"keep must be in 1..{network.config.intermediate}")
    state = _state(network)
    for layer in range(network.config.layers):
        chosen = neuron_importance(network, layer).topk(keep).indices.sort().values
        prefix = f"bert.encoder.layer.{layer}."
        state[prefix + "intermediate.dense.weight"] = state[
            prefix + "intermediate.dense.weight"][chosen].contiguous()
        state[prefix + "intermediate.dense.bias"] = state[
            prefix + "intermediate.dense.bias"][chosen].contiguous()
        state[prefix + "output.dense.weight"] = state[
            prefix + "output.dense.weight"][:, chosen].contiguous()
    return _rebuild(network, state, intermediate=keep)


def prune_layers(network: LogTagger, keep: Sequence[int]) -> LogTagger:
    """A copy of `network` with only the encoder layers `keep` (renumbered in order)."""
    if not keep or any(not 0 <= k < network.config.layers for k in keep):
        raise ValueError(f"layers to keep must be in 0..{network.config.layers - 1}")
    renumber = {old: new for new, old in enumerate(sorted(keep))}
    state: dict[str, torch.Tensor] = {}
    for name, tensor in _state(network).items():
        match = _LAYER.match(name)
        if match is None:
            state[name] = tensor
        elif int(match.group(1)) in renumber:
            state[f"bert.encoder.layer.{renumber[int(match.group(1))]}.{match.group(2)}"] = tensor
    return _rebuild(network, state, layers=len(renumber))
