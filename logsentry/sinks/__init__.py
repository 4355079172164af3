"""Sinks: where events and alerts leave logsentry."""
