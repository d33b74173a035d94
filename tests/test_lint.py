"""The template repository's own Python (tests, hooks, benchmarks, fakestripe) and the
template's Python, read as it is in `template/` before rendering, stay ruff-clean."""

from __future__ import annotations

import pytest

from .conftest import ROOT, run
from .test_generated import RUFF


def test_repository_code_is_ruff_clean():
    run([RUFF, "check", "--no-cache", "tests", "hooks", "bench", "fakestripe"], ROOT)
    run([RUFF, "format", "--check", "--no-cache", "tests", "hooks", "bench", "fakestripe"], ROOT)


def test_template_python_is_ruff_clean_before_rendering():
    # template/ruff.toml is also the generated project's configuration.
    run([RUFF, "check", "--no-cache", "template"], ROOT)
    run([RUFF, "format", "--check", "--no-cache", "template"], ROOT)


def test_every_python_file_of_the_template_is_a_py_file():
    templated = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "template").rglob("*.jinja")
        if path.name.removesuffix(".jinja").endswith(".py")
    )
    if templated:
        pytest.fail(f"Python files that tools cannot read as Python: {templated}")
