"""One error tree: every error logsentry raises on purpose is a `LogsentryError`.

Callers catch the branch they can handle (`ConfigError` at start-up, `SinkError`
in the spool's retry loop); a bare `LogsentryError` catches them all. Classes
that also derive from a built-in (`ValueError`, `FileNotFoundError`) keep the
meaning that built-in has for code outside the project.
"""

from __future__ import annotations


class LogsentryError(Exception):
    """Base of every error logsentry raises on purpose."""


class ConfigError(LogsentryError):
    """The configuration cannot be used. The message is meant for the operator."""


class SecretError(ConfigError, ValueError):
    """A secret reference that cannot be resolved. The message never holds the secret."""


class KafkaTopicError(ConfigError):
    """The broker refused to create a topic (authorization, policy, replication...)."""


class SinkError(LogsentryError):
    """Delivery failed. `permanent` means retrying the same batch cannot succeed."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class OutputClosedError(SinkError):
    """The reader of a sink's output went away (stdout of `logsentry demo | head -1`).

    Nothing more can be delivered there; the daemon stops, quietly.
    """

    def __init__(self, message: str):
        super().__init__(message, permanent=True)


class SpoolError(LogsentryError):
    """The alert spool refused an alert."""


class SpoolFullError(SpoolError):
    """The spool is full and `on_full: error` is configured."""


class SpoolClosedError(SpoolError):
    """`submit()` after `close()`."""


class AnalyzerUnavailable(LogsentryError):
    """The configured analyzer cannot be loaded (missing model files, ...)."""


class ModelNotFoundError(LogsentryError, FileNotFoundError):
    """No model folder where one was expected."""
