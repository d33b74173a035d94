"""Template tests: every supported answer set is rendered once per session, then checked."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_copie.plugin import Copie, Result

ROOT = Path(__file__).resolve().parent.parent

# Every project this suite installs gets its .pyc at install time (uv's compile-bytecode): the
# suite starts dozens of Python processes per project (its suite, `make run`, workers,
# gunicorn, manage.py), and where PYTHONDONTWRITEBYTECODE is set (this machine, CI) each one
# would otherwise compile ~1,200 modules first (pytest's start: 9.4 s instead of 3.6 s).
# Generated projects do not set it: on a developer's machine Python caches them itself, and
# compiling at install would add ~8 s to the first `make run`.
os.environ.setdefault("UV_COMPILE_BYTECODE", "1")

#: Answer sets a user may give; each must render, lint and pass its own suite.
SUPPORTED: dict[str, dict[str, Any]] = {
    "basic": {"stripe_mode": "basic"},
    "advanced": {"stripe_mode": "advanced"},
    "basic-trial-eur": {
        "stripe_mode": "basic",
        "project_name": "Acme Cloud",
        "trial_period_days": 14,
        "currency": "eur",
        "domain_name": "acme.io",
        "author_email": "billing@acme.io",
    },
}
#: The answer set whose suite runs in a project updated with `copier update` (tests/test_update.py)
#: instead of a fresh render: one run checks both.
UPDATED_ANSWER_SET = "basic-trial-eur"
#: Answer sets that must be refused, with the message the user sees.
UNSUPPORTED: dict[str, tuple[dict[str, Any], str]] = {
    "unknown-mode": ({"stripe_mode": "premium"}, "Invalid choice for 'stripe_mode'"),
    "slug-not-identifier": ({"project_slug": "my-app"}, "valid lowercase Python identifier"),
    "slug-starts-with-digit": ({"project_slug": "1app"}, "valid lowercase Python identifier"),
    "bad-email": ({"author_email": "not-an-email"}, "is not a valid email address"),
    "domain-with-scheme": ({"domain_name": "https://example.com"}, "not a valid lowercase domain"),
    "negative-trial": ({"trial_period_days": -1}, "between 0 and 730 days"),
    "trial-too-long": ({"trial_period_days": 731}, "between 0 and 730 days"),
    "bad-currency": ({"currency": "dollars"}, "three-letter lowercase ISO code"),
    "empty-name": ({"project_name": "   "}, "cannot be empty"),
}

TIMINGS: dict[str, float] = {}


def run(
    cmd: list[str], cwd: Path, env: dict[str, str | None] | None = None, timeout: int = 900
) -> str:
    """Run a command (env values of None unset a variable); failures show the output."""
    started = time.perf_counter()
    # A pytest run inside (a generated suite) gets a temporary root of its own: in the shared
    # one it would delete the numbered folders of earlier runs, renders with their virtualenvs
    # included (seconds of this suite spent removing files).
    temproot = tempfile.mkdtemp(prefix="keel-pytest-")
    full_env = {**os.environ, "PYTEST_DEBUG_TEMPROOT": temproot, **(env or {})}
    try:
        proc = subprocess.run(
            cmd,
            cwd=cwd,
            env={key: value for key, value in full_env.items() if value is not None},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    finally:
        shutil.rmtree(temproot, ignore_errors=True)
    label = f"{cwd.name}: {' '.join(cmd)[:60]}"
    if str((env or {}).get("DATABASE_URL") or "").startswith("postgres"):
        label += " (PostgreSQL)"
    TIMINGS[label] = time.perf_counter() - started
    assert proc.returncode == 0, f"{' '.join(cmd)} failed in {cwd}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


class Renders:
    """Renders each answer set at most once per session."""

    def __init__(self, copie: Copie) -> None:
        self.copie = copie
        self.results: dict[str, Result] = {}

    def get(self, name: str) -> Result:
        if name not in self.results:
            started = time.perf_counter()
            self.results[name] = self.copie.copy(extra_answers=SUPPORTED[name])
            TIMINGS[f"render {name}"] = time.perf_counter() - started
        return self.results[name]


@pytest.fixture(scope="session")
def copie_session(tmp_path_factory: pytest.TempPathFactory) -> Copie:
    config = tmp_path_factory.mktemp("copier-config") / "config.yml"
    config.write_text("{}\n")
    return Copie(
        default_template_dir=ROOT,
        test_dir=tmp_path_factory.mktemp("renders"),
        config_file=config,
    )


@pytest.fixture(scope="session")
def renders(copie_session: Copie) -> Renders:
    return Renders(copie_session)


@pytest.fixture(scope="session", params=list(SUPPORTED))
def rendered(request: pytest.FixtureRequest, renders: Renders) -> Iterator[tuple[str, Path]]:
    result = renders.get(request.param)
    assert result.exit_code == 0, result.exception
    assert result.project_dir is not None
    yield request.param, result.project_dir


@pytest.fixture(scope="session")
def installed(renders: Renders) -> Any:
    """A rendered project with its dependencies installed (`make install`), once per answer set."""
    done: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in done:
            result = renders.get(name)
            assert result.exit_code == 0, result.exception
            assert result.project_dir is not None
            run(["make", "install"], result.project_dir)
            done[name] = result.project_dir
        return done[name]

    return get


#: Parameters that name an answer set.
ANSWER_SET_PARAMS = ("rendered", "name", "mode")
#: Module-scoped fixtures whose tests must share a worker, or the fixture is built twice.
SHARED_FIXTURES = ("clean_update", "newer_release")
#: The two shares of `make test`'s two workers: each xdist group is one share, so a worker
#: takes one at the start and keeps it (pytest-xdist hands a worker another group whenever it
#: has two tests left, which left to itself gave one worker the long groups one after another).
#: Each answer set's tests stay on one worker. Measured last: advanced ~105 s (its full SQLite
#: suite, `make run` with a broker), basic on PostgreSQL ~36 s; advanced on PostgreSQL ~50 s,
#: basic ~30 s, the updated project ~48 s. Tests in no group (~35 s) go to whichever is free.
SHARES = {
    "advanced": "first",
    "basic-postgresql": "first",
    "basic-trial-eur": "first",
    "newer_release": "first",
    "advanced-postgresql": "second",
    "basic": "second",
    "clean_update": "second",
}


def xdist_group(item: pytest.Item) -> str | None:
    """The group of a test: each answer set's tests share a worker, so each project is rendered
    and installed once per worker; a generated suite's PostgreSQL run is a group of its own (it
    renders and installs again, in the other share, for an even split: SHARES)."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    names = [params[key] for key in ANSWER_SET_PARAMS if params.get(key) in SUPPORTED]
    fixtures = set(getattr(item, "fixturenames", ()))
    if names and item.name.startswith("test_the_generated_suite_passes_on_postgresql"):
        return f"{names[0]}-postgresql"
    if names:
        return names[0]
    if {"renders", "installed"} & fixtures:
        return "basic"  # unparametrized: the default answer set
    return next((name for name in SHARED_FIXTURES if name in fixtures), None)


# First: pytest-xdist's worker reads the xdist_group markers in its own hook of this name.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """With pytest-xdist (`make test` runs two workers, `--dist loadgroup`), the tests of one
    share (SHARES) run in one worker, in collection order; the shares go first."""
    shares = {item.nodeid: SHARES.get(xdist_group(item) or "") for item in items}
    for item in items:
        if shares[item.nodeid]:
            item.add_marker(pytest.mark.xdist_group(shares[item.nodeid]))
    items.sort(key=lambda item: shares[item.nodeid] is None)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        terminalreporter.section("Keel timings (seconds)")
        for label, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{seconds:8.1f}  {label}")
