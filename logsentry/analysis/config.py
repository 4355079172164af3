"""Configuration of the analysis stage."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from logsentry.core.config_base import StrictModel


class AnalysisConfig(StrictModel):
    # "model": the shipped transformer; "none": no labelling (benchmarks, pure forwarding).
    analyzer: Literal["model", "none"] = "model"
    # Folder of the model to load; empty means the one shipped in models/.
    model_path: str | None = None
    max_batch: int = Field(default=64, ge=1)
    max_wait_ms: float = Field(default=5.0, ge=0)
    cache_size: int = Field(default=100_000, ge=0)
    # Templates the model labelled, reused for later lines of the same event (0: off).
    template_cache_size: int = Field(default=10_000, ge=0)
    # Estimated megabytes the caches hold at most together (0: bounded in entries
    # only). The daemon counts what they hold against `detection.memory_cap_mb`.
    cache_max_mb: int = Field(default=128, ge=0)
    threads: int | None = Field(default=None, ge=1)
    # Worker processes that run the analyzer, each with its own copy of the model and one
    # BLAS thread; 1 runs it in the daemon's own analysis thread.
    workers: int = Field(default=1, ge=1)
