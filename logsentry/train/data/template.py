"""Line templates with labelled slots, and the log families built from them.

A template is the text of one phrasing of one event with slots in braces:

- `{gen}`: a value from `Values.gen()`, labelled `variable`;
- `{gen:role}`: the same, labelled with an ECS role (short aliases below, e.g. `sip`, `user`);
  the role `src` becomes `source.ip` when the value parses as an IP, else `source.address`;
- `{gen#k:role}`: the value is drawn once per line for key `k` and repeated;
- `{@a|b|c:role}`: one of the literal words, labelled;
- `{|a|b|c}`: one of the alternatives, as template constant (a phrasing variant); the
  alternatives may themselves hold slots and choices (`{|for {user:user}|user={user:user}}`);
- `{{` and `}}`: literal braces (outside slots and choices).

Templates compile once; rendering appends to an `ExampleBuilder`, so every span
covers exactly the value that was inserted.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from logsentry.analysis.tagger.labels import SPAN_LABELS, VARIABLE
from logsentry.core.actions import ACTIONS
from logsentry.train.data.values import Values
from logsentry.train.example import ExampleBuilder

ROLE_ALIASES: dict[str, str] = {
    "sip": "source.ip",
    "sport": "source.port",
    "saddr": "source.address",
    "dip": "destination.ip",
    "dport": "destination.port",
    "user": "user.name",
    "euser": "user.effective.name",
    "host": "host.name",
    "pname": "process.name",
    "pid": "process.pid",
    "url": "url.original",
    "method": "http.request.method",
    "status": "http.response.status_code",
    "ua": "user_agent.original",
    "path": "file.path",
    "cmd": "process.command_line",
    "ts": "timestamp",
    "var": VARIABLE,
}
AUTO_SOURCE = "src"
# Generators whose values are header parts wherever a template writes them: a slot of theirs
# without a role gets this one (a level word is `log.level`, not an anonymous variable).
DEFAULT_ROLES: dict[str, str] = {"level": "log.level", "thread": "process.thread.name"}


class TemplateError(ValueError):
    """A template does not parse or names an unknown generator, role or action."""


def resolve_role(name: str) -> str:
    role = ROLE_ALIASES.get(name, name)
    if role != AUTO_SOURCE and role not in SPAN_LABELS:
        raise TemplateError(f"unknown role {name!r}")
    return role


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Slot:
    generator: str  # Values method name; empty when `literals` is used
    role: str
    key: str = ""
    literals: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Choice:
    options: tuple[tuple[Piece, ...], ...]


Piece = str | Slot | Choice


def _parse_slot(inner: str, source: str) -> Slot:
    body, _, role_name = inner.rpartition(":") if ":" in inner else (inner, "", "")
    role = resolve_role(role_name or DEFAULT_ROLES.get(body.partition("#")[0], "var"))
    if body.startswith("@"):
        return Slot("", role, literals=tuple(body[1:].split("|")))
    gen, _, key = body.partition("#")
    if not gen.isidentifier() or gen.startswith("_"):
        raise TemplateError(f"bad generator {gen!r} in template {source!r}")
    if not callable(getattr(Values, gen, None)):
        raise TemplateError(f"unknown generator {gen!r} in template {source!r}")
    return Slot(gen, role, key)


def _closing(source: str, start: int) -> int:
    """Index of the brace closing the one at `start`, counting nested slots.

    Inside a slot or choice braces always nest (`{{`/`}}` escapes apply only to
    template text outside slots), so `{|a|user={user:user}}` closes at its last brace.
    """
    depth = 0
    for i in range(start, len(source)):
        if source[i] == "{":
            depth += 1
        elif source[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    raise TemplateError(f"unclosed slot in {source!r}")


def _split_options(inner: str) -> list[str]:
    """Split a choice body at `|` signs outside nested slots."""
    out: list[str] = []
    depth = 0
    current: list[str] = []
    for ch in inner:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "|" and depth == 0:
            out.append("".join(current))
            current = []
        else:
            current.append(ch)
    out.append("".join(current))
    return out


def compile_template(source: str) -> tuple[Piece, ...]:
    """Parse one template into constant strings, slots and choices (which may nest slots)."""
    pieces: list[Piece] = []
    buf: list[str] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "{" and source.startswith("{{", i):
            buf.append("{")
            i += 2
            continue
        if ch == "}" and source.startswith("}}", i):
            buf.append("}")
            i += 2
            continue
        if ch == "{":
            end = _closing(source, i)
            if buf:
                pieces.append("".join(buf))
                buf = []
            inner = source[i + 1:end]
            if inner.startswith("|"):
                pieces.append(Choice(tuple(compile_template(option)
                                           for option in _split_options(inner[1:]))))
            else:
                pieces.append(_parse_slot(inner, source))
            i = end + 1
            continue
        if ch == "}":
            raise TemplateError(f"stray '}}' in {source!r}")
        buf.append(ch)
        i += 1
    if buf:
        pieces.append("".join(buf))
    return tuple(pieces)


def json_escape(text: str) -> str:
    """`text` as it appears inside a JSON string literal."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


@dataclass(frozen=True, slots=True)
class Template:
    source: str
    pieces: tuple[Piece, ...]

    def render(self, builder: ExampleBuilder, values: Values,
               escape: Callable[[str], str] | None = None,
               chosen: list[tuple[str, str]] | None = None) -> None:
        """Append one rendering; `chosen` receives (role, raw value) for each slot."""
        _render(self.pieces, builder, values, escape, chosen, {})


def _render(pieces: tuple[Piece, ...], builder: ExampleBuilder, values: Values,
            escape: Callable[[str], str] | None, chosen: list[tuple[str, str]] | None,
            cache: dict[str, str]) -> None:
    rng = values.rng
    for piece in pieces:
        if isinstance(piece, str):
            builder.const(piece)
        elif isinstance(piece, Choice):
            option = piece.options[rng.randrange(len(piece.options))]
            _render(option, builder, values, escape, chosen, cache)
        else:
            if piece.literals:
                value = piece.literals[rng.randrange(len(piece.literals))]
            elif piece.key and piece.key in cache:
                value = cache[piece.key]
            else:
                value = getattr(values, piece.generator)()
                if piece.key:
                    cache[piece.key] = value
            role = piece.role
            if role == AUTO_SOURCE:
                role = "source.ip" if is_ip(value) else "source.address"
            if chosen is not None:
                chosen.append((role, value))
            builder.var(escape(value) if escape else value, role)


@dataclass(frozen=True, slots=True)
class EventTemplates:
    """The phrasings of one event (one action) of a family."""

    action: str
    templates: tuple[Template, ...]
    weight: float = 1.0


STYLES = ("syslog", "file", "json")


@dataclass(frozen=True, slots=True)
class Family:
    """One log family: a program (or set of programs) and the events it writes.

    `style` decides which envelopes its bodies arrive in: `syslog` bodies are the
    MSG part of a syslog record; `file` bodies are complete lines of a log file
    the program writes itself (access logs); `json` bodies are JSON documents.
    """

    name: str
    group: str
    programs: tuple[str, ...]
    style: str
    events: tuple[EventTemplates, ...]
    escape_json: bool = False
    weights: tuple[float, ...] = field(default=())

    def actions(self) -> set[str]:
        return {event.action for event in self.events}


EventSpec = Sequence[str] | tuple[float, Sequence[str]]


def make_family(name: str, group: str, programs: Sequence[str], style: str,
                events: Sequence[tuple[str, EventSpec]] | Mapping[str, EventSpec],
                escape_json: bool = False) -> Family:
    """Build a `Family`; `events` maps an action to templates or `(weight, templates)`."""
    if style not in STYLES:
        raise TemplateError(f"unknown style {style!r}")
    items = list(events.items()) if isinstance(events, Mapping) else list(events)
    compiled: list[EventTemplates] = []
    for action, spec in items:
        if action not in ACTIONS:
            raise TemplateError(f"unknown action {action!r} in family {name!r}")
        if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], float | int):
            weight = float(spec[0])
            sources: Sequence[str] = spec[1]
        else:
            weight = 1.0
            sources = spec
        templates = tuple(Template(s, compile_template(s)) for s in sources)
        if not templates:
            raise TemplateError(f"no templates for {action!r} in family {name!r}")
        compiled.append(EventTemplates(action, templates, weight))
    return Family(name, group, tuple(programs), style, tuple(compiled), escape_json,
                  tuple(e.weight for e in compiled))
