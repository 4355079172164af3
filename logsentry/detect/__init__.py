"""Detection: rules and correlation that turn labelled events into alerts."""
