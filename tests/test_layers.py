"""The import layers of ARCHITECTURE.md hold: each is checked on the source, statically."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "logsentry"

# Packages of the data path and the parts they are built from: none may reach up
# into what assembles them.
UPPER = ("logsentry.assembly", "logsentry.daemon", "logsentry.cli", "logsentry.analyze",
         "logsentry.topology", "logsentry.pipeline", "logsentry.replay",
         "logsentry.analyze_console")
PARTS = ("logsentry.sources", "logsentry.sinks", "logsentry.spool", "logsentry.analysis",
         "logsentry.detect", "logsentry.service", "logsentry.records", "logsentry.envelope")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports(name: str, path: Path, *, top_level_only: bool = False) -> Iterator[str]:
    """The logsentry modules `path` imports (anywhere in it, or only when it is loaded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("logsentry"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            if base.startswith("logsentry"):
                yield base


def within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_the_foundation_layer_imports_nothing_of_the_project_above_it() -> None:
    bad = [(name, target) for name, path in modules().items() if within(name, ("logsentry.core",))
           for target in imports(name, path) if not within(target, ("logsentry.core",))]
    assert bad == []


def test_transport_imports_only_the_foundation() -> None:
    allowed = ("logsentry.core", "logsentry.transport")
    bad = [(name, target) for name, path in modules().items()
           if within(name, ("logsentry.transport",))
           for target in imports(name, path) if not within(target, allowed)]
    assert bad == []


def test_the_daemon_never_imports_the_training_toolkit() -> None:
    bad = [(name, target) for name, path in modules().items()
           if not within(name, ("logsentry.train",))
           for target in imports(name, path) if within(target, ("logsentry.train",))]
    assert bad == []


def test_pipeline_parts_never_import_what_assembles_them() -> None:
    bad = [(name, target) for name, path in modules().items() if within(name, PARTS)
           for target in imports(name, path) if within(target, UPPER)]
    assert bad == []


def test_module_level_imports_form_no_cycle() -> None:
    found = modules()
    graph = {name: {t for t in imports(name, path, top_level_only=True) if t in found}
             for name, path in found.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*trail[trail.index(target):], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []
