"""The structure of a rendered project's Python: no import cycles in `apps/`.

The graph is built with `ast` from the rendered files, without importing them. It counts
module-level imports only: statements at the top of a module, including those inside a
module-level `if`/`try`, but not those inside functions or classes (they run later, when the
modules are loaded) and not those under `if TYPE_CHECKING:` (they never run). Relative imports
and absolute `apps.…` imports both count; imports of anything outside `apps` are ignored.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest


def _modules(project: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under apps/ (packages by __init__)."""
    modules = {}
    for path in sorted((project / "apps").rglob("*.py")):
        parts = list(path.relative_to(project).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements that run when the module is imported (not in functions or classes)."""
    for node in body:
        if isinstance(node, ast.If):
            if not _is_type_checking(node):
                yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _module_level(block)
            for handler in node.handlers:
                yield from _module_level(handler.body)
        elif isinstance(node, ast.With):
            yield from _module_level(node.body)
        else:
            yield node


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of `apps` that `name` imports at module level."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _module_level(ast.parse(path.read_text(), str(path)).body):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # `from . import x` / `from .pkg import mod` import submodules by name; the
            # package itself counts only when a name is not a submodule (`from .models import X`).
            submodules = [f"{source}.{alias.name}" for alias in node.names]
            targets = [sub for sub in submodules if sub in modules]
            if len(targets) < len(submodules):
                targets.append(source)
        else:
            continue
        for target in targets:
            # `import apps.billing.models` also names its packages; an attribute of a module
            # (`from .models import X`) is not a module and falls back to the module itself.
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and target.startswith("apps."):
                found.add(target)
    return found


def import_graph(project: Path) -> dict[str, set[str]]:
    modules = _modules(project)
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_cycle_finder_finds_and_names_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_reads_relative_absolute_and_skips_type_checking(tmp_path):
    billing = tmp_path / "apps" / "billing"
    billing.mkdir(parents=True)
    for name in ("__init__", "models", "selectors", "services", "late", "typing_only"):
        (billing / f"{name}.py").write_text("")
    (tmp_path / "apps" / "__init__.py").write_text("")
    (billing / "services.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from . import selectors\n"
        "from apps.billing.models import X\n"
        "if TYPE_CHECKING:\n    from .typing_only import T\n"
        "def f():\n    from .late import y\n"
    )
    graph = import_graph(tmp_path)
    assert graph["apps.billing.services"] == {"apps.billing.selectors", "apps.billing.models"}


def test_apps_have_no_import_cycles(rendered):
    name, project = rendered
    graph = import_graph(project)
    assert "apps.billing.services" in graph
    cycle = find_cycle(graph)
    assert cycle is None, f"{name}: import cycle in apps/: {' -> '.join(cycle or [])}"


@pytest.mark.parametrize(
    ("role", "module"),
    [
        ("writes to Stripe and the database", "services"),
        ("reads", "selectors"),
        ("webhook intake", "webhooks"),
        ("webhook handlers", "webhook_handlers"),
        ("the gates", "decorators"),
        ("denial responses", "access"),
        ("the public facade", "utils"),
        ("hand-written SQL", "fast_sql"),
        ("a team's billing and seats", "team_billing"),
        ("plan changes", "plan_changes"),
        ("the state plan changes read and write", "plan_state"),
    ],
)
def test_every_mode_has_the_same_module_for_each_role(rendered, role, module):
    _, project = rendered
    assert (project / "apps" / "billing" / f"{module}.py").is_file(), role
