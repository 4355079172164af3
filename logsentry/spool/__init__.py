"""The durable on-disk alert spool and at-least-once delivery to the sinks."""
