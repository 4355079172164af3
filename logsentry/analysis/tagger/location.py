"""Where the shipped model lives, without loading it (the CLI starts fast)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from logsentry.core.errors import ModelNotFoundError

DEFAULT_MODEL_NAME = "logsentry-tagger"
MODEL_DIR_ENV = "LOGSENTRY_MODEL_DIR"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"


def default_model_dir() -> Path:
    """The shipped model: `$LOGSENTRY_MODEL_DIR`, else `models/<name>` beside the package."""
    candidates: list[Path] = []
    env = os.environ.get(MODEL_DIR_ENV)
    if env:
        base = Path(env)
        candidates += [base, base / DEFAULT_MODEL_NAME]
    package_root = Path(__file__).resolve().parents[2]  # .../logsentry
    candidates += [
        package_root.parent / "models" / DEFAULT_MODEL_NAME,  # source checkout / editable install
        package_root / "models" / DEFAULT_MODEL_NAME,  # wheels that bundle the model in the package
        Path(sys.prefix) / "share" / "logsentry" / "models" / DEFAULT_MODEL_NAME,  # installed
    ]
    for candidate in candidates:
        if (candidate / WEIGHTS_FILE).is_file():
            return candidate
    raise ModelNotFoundError(
        "no model found; looked in " + ", ".join(str(c) for c in candidates)
        + f" (set {MODEL_DIR_ENV} to the folder holding {WEIGHTS_FILE})")


def files_size(path: Path) -> int:
    """Total bytes of the model's files."""
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file())
