"""What an analyzer returns for one message."""

from __future__ import annotations

from dataclasses import dataclass, field

from logsentry.core.actions import ACTIONS, Outcome

# The ECS roles an analyzer may fill, in the order `analyze` prints them.
ENTITY_FIELDS: tuple[str, ...] = (
    "source.ip",
    "source.port",
    "source.address",
    "destination.ip",
    "destination.port",
    "user.name",
    "user.effective.name",
    "host.name",
    "process.name",
    "process.pid",
    "url.original",
    "http.request.method",
    "http.response.status_code",
    "user_agent.original",
    "file.path",
    "process.command_line",
    # Parts of an application log's header: the level word, the logger (class, module,
    # source file) and the thread, as written.
    "log.level",
    "log.logger",
    "process.thread.name",
)

# Level words as logging libraries write them, in upper or title case (`INFO`, `Warning`).
LEVEL_WORDS: frozenset[str] = frozenset(
    spelled for word in ("TRACE", "DEBUG", "DBG", "INFO", "NOTICE", "WARN", "WARNING",
                         "ERROR", "ERR", "CRIT", "CRITICAL", "FATAL", "SEVERE", "ALERT",
                         "EMERG")
    for spelled in (word, word.title()))

# Fields whose ECS type is a number: `analyze` emits them as integers.
INTEGER_FIELDS: frozenset[str] = frozenset(
    {"source.port", "destination.port", "process.pid", "http.response.status_code"}
)


@dataclass(slots=True)
class Analysis:
    """Labels of one message.

    `fields` maps ECS dotted names to text cut from the message exactly as
    written (never re-joined or lower-cased); conversion to numbers and IP
    validation happen when the event is built. `timestamp` is the text of a
    timestamp the analyzer found inside the message, if any.
    """

    action: str = "other"
    fields: dict[str, str] = field(default_factory=dict)
    template: str = ""
    confidence: float = 0.0
    timestamp: str | None = None

    @property
    def outcome(self) -> Outcome:
        return ACTIONS[self.action].outcome

    @property
    def category(self) -> tuple[str, ...]:
        return ACTIONS[self.action].category

    @property
    def type(self) -> tuple[str, ...]:
        return ACTIONS[self.action].type
