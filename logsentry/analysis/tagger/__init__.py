"""The token-classification model: labelled examples, training data, tokenizer, training, inference.

`load_analyzer()` is the entry point the daemon uses; it imports numpy and the weights
lazily so that importing this package (e.g. for the `Example` format) stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from logsentry.analysis.tagger.inference import ModelAnalyzer


def load_analyzer(
    path: str | None = None, threads: int | None = None, cache_size: int = 100_000,
    template_cache_size: int | None = None, cache_max_bytes: int | None = None,
) -> ModelAnalyzer:
    """The model in folder `path` (None: the shipped one) as an `Analyzer`.

    `threads`: numpy's BLAS threads (None: the CPUs available, at most 4).
    `cache_size`: entries of the structure cache (the exact-line cache holds half).
    `template_cache_size`: templates remembered (None: the engine's default, 0 when
    `cache_size` is 0).
    `cache_max_bytes`: estimated bytes the caches hold at most (None: the engine's
    default, 0: bounded in entries only).
    Raises `logsentry.analysis.tagger.location.ModelNotFoundError` when no model is found.
    """
    from logsentry.analysis.tagger.inference import load_analyzer as _load

    return _load(path, threads=threads, cache_size=cache_size,
                 template_cache_size=template_cache_size, cache_max_bytes=cache_max_bytes)


__all__ = ["load_analyzer"]
