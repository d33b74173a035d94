from __future__ import annotations

# The package stays readable: short functions, short modules, no import cycles.
import ast
from pathlib import Path

import fakestripe

PACKAGE = Path(fakestripe.__file__).resolve().parent
MODULES = sorted(PACKAGE.glob("*.py"))
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 600


def test_no_function_is_longer_than_80_lines() -> None:
    long = []
    for path in MODULES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if length > MAX_FUNCTION_LINES:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({length} lines)")
    assert long == []


def test_no_module_is_longer_than_600_lines() -> None:
    long = [
        f"{path.name} ({n} lines)"
        for path in MODULES
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert long == []


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (at any level, TYPE_CHECKING included)."""
    graph: dict[str, set[str]] = {}
    for path in MODULES:
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    imported.add(node.module.split(".")[0])
                else:
                    imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("fakestripe."):
                imported.add(node.module.split(".")[1])  # type: ignore[union-attr]
        graph[path.stem] = imported - {path.stem}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        for imported in sorted(graph.get(module, ())):
            if imported in path:
                return path[path.index(imported) :] + [imported]
            if imported not in done:
                found = visit(imported, path + [imported])
                if found:
                    return found
        done.add(module)
        return None

    for module in sorted(graph):
        found = visit(module, [module])
        if found:
            return found
    return None


def test_the_import_graph_has_no_cycle() -> None:
    assert find_cycle(import_graph()) is None


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
