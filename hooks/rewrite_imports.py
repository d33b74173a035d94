"""Copier migration: rewrite a project's imports of what a Keel release moved.

    python hooks/rewrite_imports.py RELEASE [PROJECT_DIR]

`copier update` runs it (see `_migrations` in copier.yml) in the project after the update was
applied, with the release whose moves to apply (`import_moves.MOVES[RELEASE]`). Every `.py` file
under PROJECT_DIR (default: the current directory; virtualenvs and hidden folders are skipped)
gets its `import` and `from ... import` statements of moved modules or names rewritten:

    from apps.billing.decorators import deny, plan_required
    ->  from apps.billing.decorators import plan_required
        from apps.billing.access import deny

Only those statements change; every other byte of the file stays as it was. Each change is
printed; so is what it cannot rewrite safely (`import old.module` without `as`, a `*` import
of a module some of whose names moved, strings naming a moved path, files that do not parse),
for the user to fix by hand. Standard library only: it runs with Copier's own Python (3.9+).
"""

from __future__ import annotations

import ast
import os
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

#: The longest line a rewritten `from ... import` may have before it is wrapped in parentheses.
MAX_LINE = 99


class Rewrite:
    """The rewrites and warnings for one source file."""

    def __init__(self) -> None:
        # (line, old statement, new statements), each on one line for the report
        self.changes: list[tuple[int, str, list[str]]] = []
        self.warnings: list[tuple[int, str]] = []


def moved(path: str, moves: Mapping[str, str]) -> str | None:
    """Where a dotted path lives now: its longest moved prefix replaced, or None if unmoved."""
    parts = path.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in moves:
            return ".".join([moves[prefix], *parts[end:]])
    return None


def package_of(relative_file: Path) -> list[str]:
    """The package a file belongs to, as parts (`apps/billing/views.py` -> apps, billing)."""
    return list(relative_file.parent.parts)


def _alias(name: str, asname: str | None) -> str:
    return f"{name} as {asname}" if asname else name


def _from_statement(module: str, names: list[str], indent: str, newline: str) -> str:
    line = f"from {module} import {', '.join(names)}"
    if len(indent) + len(line) <= MAX_LINE:
        return line
    inner = "".join(f"{indent}    {name},{newline}" for name in names)
    return f"from {module} import ({newline}{inner}{indent})"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def rewrite_source(
    source: bytes, moves: Mapping[str, str], package: list[str] | None = None
) -> tuple[bytes, Rewrite]:
    """Rewrite the import statements of moved modules and names in one file's source.

    `package` is the file's package (for relative imports); returns the new source and what
    changed. Raises SyntaxError (or UnicodeDecodeError) if the file cannot be read as Python.
    """
    text = source.decode("utf-8")
    tree = ast.parse(text)
    result = Rewrite()
    newline = "\r\n" if "\r\n" in text else "\n"
    # Byte offset of each line's start: ast columns are UTF-8 byte offsets.
    starts = [0]
    for match in re.finditer(rb"\n", source):
        starts.append(match.end())
    edits: list[tuple[int, int, bytes]] = []
    package = package or []

    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if moved(node.value, moves) and re.fullmatch(r"[\w.]+", node.value):
                result.warnings.append(
                    (node.lineno, f'the string "{node.value}" names a moved path')
                )
            continue
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        start = starts[node.lineno - 1] + node.col_offset
        end = starts[node.end_lineno - 1] + node.end_col_offset  # type: ignore[operator]
        old = source[start:end].decode("utf-8")
        line_start = source[starts[node.lineno - 1] : start].decode("utf-8")
        at_line_start = not line_start.strip()
        indent = line_start if at_line_start else ""
        statements = (
            _rewrite_import(node, moves, result)
            if isinstance(node, ast.Import)
            else _rewrite_from(node, old, moves, package, indent, newline, result)
        )
        if statements:
            new = (newline + indent if at_line_start else "; ").join(statements)
            edits.append((start, end, new.encode("utf-8")))
            result.changes.append((node.lineno, _one_line(old), [_one_line(s) for s in statements]))

    out = source
    for start, end, replacement in sorted(edits, reverse=True):
        out = out[:start] + replacement + out[end:]
    result.changes.sort()
    result.warnings.sort()
    return out, result


def _rewrite_import(
    node: ast.Import, moves: Mapping[str, str], result: Rewrite
) -> list[str] | None:
    aliases = []
    changed = False
    for alias in node.names:
        target = moved(alias.name, moves)
        if target is None:
            aliases.append(_alias(alias.name, alias.asname))
        elif alias.asname is None:
            # `import a.b` binds `a`; the code's `a.b.x` references would need rewriting too.
            result.warnings.append(
                (node.lineno, f"`import {alias.name}`: {alias.name} is now {target}")
            )
            aliases.append(alias.name)
        else:
            aliases.append(_alias(target, alias.asname))
            changed = True
    return [f"import {', '.join(aliases)}"] if changed else None


def _rewrite_from(
    node: ast.ImportFrom,
    old: str,
    moves: Mapping[str, str],
    package: list[str],
    indent: str,
    newline: str,
    result: Rewrite,
) -> list[str] | None:
    """The statements replacing a `from ... import`, or None if nothing it imports moved."""
    written = "." * node.level + (node.module or "")
    if node.level:
        if node.level - 1 > len(package):
            return None  # beyond the top-level package: Python refuses it anyway
        base = package[: len(package) - (node.level - 1)]
        absolute = ".".join(base + ([node.module] if node.module else []))
    else:
        base = []
        absolute = node.module or ""

    def spell(module: str) -> str:
        """A new module, written relative again when the import was and it still can be."""
        prefix = ".".join(base)
        if node.level and (module == prefix or module.startswith(prefix + ".")):
            return "." * node.level + module[len(prefix) :].lstrip(".")
        return module

    groups: dict[str, list[str]] = {written: []}
    changed = False
    for alias in node.names:
        if alias.name == "*":
            target = moved(absolute, moves)
            if target is not None:
                groups.setdefault(spell(target), []).append("*")
                changed = True
            else:
                groups[written].append("*")
                if any(key.startswith(absolute + ".") for key in moves):
                    result.warnings.append(
                        (node.lineno, f"`from {written} import *`: some of its names moved")
                    )
            continue
        target = moved(f"{absolute}.{alias.name}", moves)
        if target is None:
            groups[written].append(_alias(alias.name, alias.asname))
            continue
        module, _, name = target.rpartition(".")
        # Keep the name the code uses: a renamed name is imported `as` its old name.
        asname = alias.asname or (alias.name if name != alias.name else None)
        groups.setdefault(spell(module), []).append(_alias(name, asname))
        changed = True
    if not changed:
        return None
    if not groups[written]:
        del groups[written]
    if len(groups) == 1 and next(iter(groups.values())) == [
        _alias(a.name, a.asname) for a in node.names
    ]:
        # The module moved and nothing else changed: replace just its name, keep the layout.
        (module,) = groups
        pattern = rf"^from\s+{re.escape(written)}(?=\s)"
        renamed, count = re.subn(pattern, lambda _: f"from {module}", old)
        if count:
            return [renamed]
    return [_from_statement(m, names, indent, newline) for m, names in groups.items()]


def python_files(root: Path) -> Iterator[Path]:
    """The project's .py files, without virtualenvs, caches and hidden folders."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d not in {"__pycache__", "node_modules"}
            and not (Path(folder, d) / "pyvenv.cfg").exists()
        )
        for name in sorted(files):
            if name.endswith(".py"):
                yield Path(folder, name)


def rewrite_project(root: Path, moves: Mapping[str, str]) -> tuple[int, int]:
    """Rewrite every file under root in place, print each change; returns (changes, files)."""
    changes = files = 0
    for path in python_files(root):
        relative = path.relative_to(root)
        source = path.read_bytes()
        try:
            new, result = rewrite_source(source, moves, package_of(relative))
        except (SyntaxError, UnicodeDecodeError, ValueError) as error:
            # Worth a word only if it may import something that moved (module or name).
            if any(old.rpartition(".")[0].encode() in source for old in moves):
                print(f"{relative}: not rewritten, it does not parse ({error}); check it by hand")
            continue
        for line, old, statements in result.changes:
            print(f"{relative}:{line}: {old}")
            for statement in statements:
                print(f"    -> {statement}")
        for line, warning in result.warnings:
            print(f"{relative}:{line}: check by hand: {warning}")
        if new != source:
            path.write_bytes(new)
            changes += len(result.changes)
            files += 1
    return changes, files


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(f"usage: {Path(argv[0]).name} RELEASE [PROJECT_DIR]", file=sys.stderr)
        return 2
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from import_moves import MOVES

    release = argv[1]
    if release not in MOVES:
        print(f"Keel {release} moved nothing (no entry in hooks/import_moves.py)", file=sys.stderr)
        return 2
    root = Path(argv[2] if len(argv) == 3 else ".").resolve()
    print(f"Keel {release}: rewriting imports of moved modules and names in {root}")
    changes, files = rewrite_project(root, MOVES[release])
    if changes:
        print(f"Keel {release}: rewrote {changes} import(s) in {files} file(s); review `git diff`")
        print("(`ruff check --fix` puts the rewritten imports back in order)")
    else:
        print(f"Keel {release}: no import of a moved module or name")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
