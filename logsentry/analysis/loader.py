"""Choosing and loading the configured analyzer."""

from __future__ import annotations

from logsentry.analysis.base import Analyzer
from logsentry.analysis.config import AnalysisConfig
from logsentry.analysis.noop import NoopAnalyzer
from logsentry.core.errors import AnalyzerUnavailable


def load_analyzer(config: AnalysisConfig) -> Analyzer:
    """The analyzer `config` asks for, loaded and ready to label."""
    if config.analyzer == "none":
        return NoopAnalyzer()
    if config.workers > 1:
        from logsentry.analysis.workers import ProcessPoolAnalyzer

        return ProcessPoolAnalyzer(config, config.workers)
    try:
        from logsentry.analysis.tagger import load_analyzer as load_model
    except ImportError as exc:
        raise AnalyzerUnavailable(
            f"the model analyzer is not available in this build ({exc}); "
            "set analysis.analyzer: none to forward lines without labels"
        ) from exc
    try:
        return load_model(config.model_path, threads=config.threads,
                          cache_size=config.cache_size,
                          template_cache_size=config.template_cache_size,
                          cache_max_bytes=config.cache_max_mb << 20)
    except (OSError, ValueError, KeyError) as exc:
        raise AnalyzerUnavailable(f"cannot load the model: {exc}") from exc


def close_analyzer(analyzer: Analyzer | None) -> None:
    """Release what an analyzer holds (worker processes); a no-op for in-thread ones."""
    close = getattr(analyzer, "close", None)
    if callable(close):
        close()
