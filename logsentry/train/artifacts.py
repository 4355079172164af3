"""A trained torch network written as a model folder, and read back to train on.

The folder's format is `logsentry.analysis.tagger.artifacts`'s (which inference reads
without torch): weights in `model.safetensors` under `LogTagger`'s parameter names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from logsentry.analysis.tagger.artifacts import read_config
from logsentry.analysis.tagger.location import CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE
from logsentry.analysis.tagger.tokenizer import LogTokenizer
from logsentry.core.errors import ModelNotFoundError
from logsentry.train.network import LogTagger


def save_model(
    path: Path, network: LogTagger, tokenizer: LogTokenizer, meta: dict[str, Any],
) -> None:
    """Write weights, config and tokenizer into `path` (created if missing)."""
    path.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().contiguous().clone() for name, tensor in
             network.state_dict().items()}
    # BertModel's unused word table and buffers like position_ids do not ship.
    state = {name: t for name, t in state.items()
             if not name.endswith("position_ids") and not name.endswith("token_type_ids")}
    save_file(state, str(path / WEIGHTS_FILE), metadata={"format": "pt"})
    config_doc = {"network": network.config.to_dict(), "meta": meta}
    (path / CONFIG_FILE).write_text(json.dumps(config_doc, indent=2) + "\n", encoding="utf-8")
    tokenizer.save(path / TOKENIZER_FILE)


def load_tagger(path: Path, lean: bool = False) -> tuple[LogTagger, LogTokenizer]:
    """The torch network of a model folder (eval mode, no gradients) and its tokenizer;
    `lean` builds the transformers-free `LeanBert` encoder."""
    if not (path / WEIGHTS_FILE).is_file():
        raise ModelNotFoundError(f"{path}: no {WEIGHTS_FILE}")
    config, _ = read_config(path)
    network = LogTagger(config, lean=lean)
    state: dict[str, torch.Tensor] = load_file(str(path / WEIGHTS_FILE))
    missing, unexpected = network.load_state_dict(state, strict=False)
    missing = [name for name in missing if not name.endswith(("position_ids", "token_type_ids"))]
    if missing or unexpected:
        raise ValueError(f"{path}: weights do not fit the config (missing {missing[:5]},"
                         f" unexpected {unexpected[:5]})")
    network.eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    return network, LogTokenizer.load(path / TOKENIZER_FILE)
