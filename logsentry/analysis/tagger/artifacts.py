"""The files of a shipped model, and where the shipped model lives.

A model folder holds `model.safetensors` (weights), `config.json` (network
sizes, tag and action maps), `tokenizer.json` (vocabulary) and `README.md`
(the model card). Loading reads only these files, needs no network and never
unpickles: weights go through `safetensors.torch.load_file`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from logsentry.analysis.tagger.location import CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE
from logsentry.analysis.tagger.network import LogTagger, NetworkConfig
from logsentry.analysis.tagger.tokenizer import LogTokenizer
from logsentry.core.errors import ModelNotFoundError


@dataclass(slots=True)
class LoadedModel:
    """A network in eval mode with its tokenizer and the metadata saved beside it."""

    network: LogTagger
    tokenizer: LogTokenizer
    config: NetworkConfig
    meta: dict[str, Any]
    path: Path


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


def load_model(path: Path, lean: bool = True) -> LoadedModel:
    """Read a model folder; `lean` builds the transformers-free inference network."""
    if not (path / WEIGHTS_FILE).is_file():
        raise ModelNotFoundError(f"{path}: no {WEIGHTS_FILE}")
    doc = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    config = NetworkConfig.from_dict(doc["network"])
    tokenizer = LogTokenizer.load(path / TOKENIZER_FILE)
    network = LogTagger(config, lean=lean)
    state = load_file(str(path / WEIGHTS_FILE))
    missing, unexpected = network.load_state_dict(state, strict=False)
    missing = [name for name in missing if not name.endswith(("position_ids", "token_type_ids"))]
    if missing or unexpected:
        raise ValueError(f"{path}: weights do not fit the config (missing {missing[:5]},"
                         f" unexpected {unexpected[:5]})")
    network.eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    return LoadedModel(network, tokenizer, config, dict(doc.get("meta", {})), path)


_ = torch  # torch is imported first so safetensors' torch backend is ready
