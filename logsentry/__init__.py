"""logsentry: real-time security log analysis with a small distilled transformer on CPU."""

__version__ = "0.1.0"
