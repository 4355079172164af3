"""Sources: where log lines come from."""
