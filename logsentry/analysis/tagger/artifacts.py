"""The files of a shipped model, and where the shipped model lives.

A model folder holds `model.safetensors` (weights), `config.json` (network
sizes, tag and action maps), `tokenizer.json` (vocabulary) and `README.md`
(the model card). Loading reads only these files, needs no network and never
unpickles: weights go through `safetensors.numpy.load_file`, into the numpy
forward pass (the training toolkit writes them, `logsentry.train.artifacts`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors.numpy import load_file

from logsentry.analysis.tagger.location import CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE
from logsentry.analysis.tagger.network import Network, NetworkConfig
from logsentry.analysis.tagger.tokenizer import LogTokenizer
from logsentry.core.errors import ModelNotFoundError


@dataclass(slots=True)
class LoadedModel:
    """A network ready for inference with its tokenizer and the metadata saved beside it."""

    network: Network
    tokenizer: LogTokenizer
    config: NetworkConfig
    meta: dict[str, Any]
    path: Path


def read_config(path: Path) -> tuple[NetworkConfig, dict[str, Any]]:
    """The network's sizes and the metadata in a model folder's `config.json`. Older
    models' `"quantize"` stays in the metadata: inference runs float32 whatever it says."""
    doc = json.loads((path / CONFIG_FILE).read_text(encoding="utf-8"))
    return NetworkConfig.from_dict(doc["network"]), dict(doc.get("meta", {}))


def load_model(path: Path) -> LoadedModel:
    """Read a model folder; raises ModelNotFoundError without weights, ValueError when the
    weights do not fit the config."""
    if not (path / WEIGHTS_FILE).is_file():
        raise ModelNotFoundError(f"{path}: no {WEIGHTS_FILE}")
    config, meta = read_config(path)
    tokenizer = LogTokenizer.load(path / TOKENIZER_FILE)
    try:
        network = Network(config, load_file(str(path / WEIGHTS_FILE)))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return LoadedModel(network, tokenizer, config, meta, path)
