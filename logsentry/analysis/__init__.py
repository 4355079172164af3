"""Analysis stage: turns a log message into labelled fields and an event action."""
