"""The template repository's own Python (tests, hooks, benchmarks, fakestripe) stays ruff-clean."""

from __future__ import annotations

from .conftest import ROOT, run
from .test_generated import RUFF


def test_repository_code_is_ruff_clean():
    run([RUFF, "check", "--no-cache", "tests", "hooks", "bench", "fakestripe"], ROOT)
    run([RUFF, "format", "--check", "--no-cache", "tests", "hooks", "bench", "fakestripe"], ROOT)
