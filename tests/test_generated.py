"""Each rendered project lints, passes its own suite, has no missing migration and passes
Django's deployment checks under production settings."""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .conftest import ROOT, SUPPORTED, UPDATED_ANSWER_SET, run

RUFF = str(Path(sys.executable).parent / "ruff")
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "x" * 20 + "-production-secret-key-for-the-deploy-check-0123456789",
    "ALLOWED_HOSTS": "example.com",
    "DATABASE_URL": "sqlite:////tmp/keel-deploy-check.sqlite3",
    "STRIPE_PUBLIC_KEY": "pk_live_keeldeploycheck000000000000",
    "STRIPE_SECRET_KEY": "sk_live_keeldeploycheck000000000000",
    "STRIPE_WEBHOOK_SECRET": "whsec_keeldeploycheck000000000000",
    "DJSTRIPE_WEBHOOK_SECRET": "whsec_keeldeploycheck000000000000",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",  # not contacted by `check`
}
TEST_ENV = {"DJANGO_SETTINGS_MODULE": "config.settings.test"}


def test_ruff_check_and_format(rendered):
    _, project = rendered
    run([RUFF, "check", "--no-cache", "."], project)
    run([RUFF, "format", "--check", "--no-cache", "."], project)


POSTGRES_URL = os.environ.get("DATABASE_URL", "")
#: Whether PostgreSQL is at hand: the generated suites then also run on it.
HAS_POSTGRES = POSTGRES_URL.startswith("postgres")


def summary_line(out: str) -> str:
    """pytest's closing line (make may print more after it)."""
    lines = [line for line in out.splitlines() if re.match(r"^=+ .* in [\d.]+s", line)]
    return lines[-1] if lines else ""


def suite_passed(out: str) -> bool:
    summary = summary_line(out)
    return " passed" in summary and " failed" not in summary and " error" not in summary


#: Where each answer set's suite runs. The three differ only in config/project.toml (name,
#: domain, sender, currency, trial days): each mode's Python code is the same in all of them.
#: Every suite runs in full on SQLite (the embedded default, and the fastest): advanced on a
#: fresh render, basic in the project tests/test_update.py brings from an older release with
#: `copier update` (UPDATED_ANSWER_SET, the third answer set: a trial, euros). With PostgreSQL
#: at hand each mode also runs there the tests that need it or whose code takes another path
#: on it (POSTGRES_PATHS), with its browser journey; the plain basic answers then run nowhere
#: else (their code is the third answer set's). Running whole suites on both databases cost
#: ~90 s of this suite and ran the same ORM code twice.
SQLITE_RUNS = [
    name
    for name in SUPPORTED
    if name != UPDATED_ANSWER_SET and not (HAS_POSTGRES and name == "basic")
]
POSTGRES_RUNS = ["basic", "advanced"]

#: Per mode, the tests that need PostgreSQL (they skip on SQLite: concurrent workers, row
#: locks, a real Celery worker sharing the database, a dropped connection) and those of code
#: that takes another path on it: a delivery stored in one statement, usage counted with its
#: audit row in the same statement, a refused insert aborting the transaction around it
#: (tests/db_faults.py), the test backend's flush. Named by test where a file holds one or two.
POSTGRES_PATHS = {
    "basic": [
        "tests/billing/test_fast_sql.py",
        "tests/billing/test_webhooks.py",
        "tests/billing/test_webhook_reconnect.py",
        "tests/billing/test_webhook_outcomes.py::test_an_event_that_failed_twice_still_applies_later",
        "tests/billing/test_tasks.py::test_a_failing_event_is_retried_with_backoff_then_kept_for_staff",
        "tests/billing/test_tasks.py::"
        "test_the_sweep_leaves_events_waiting_for_an_unknown_customer_and_failed_ones",
        "tests/billing/test_concurrency.py",
        "tests/billing/test_team_concurrency.py",
        "tests/billing/test_worker.py",
        "tests/test_settings.py::"
        "test_the_flush_after_a_transactional_test_empties_tables_linked_by_foreign_keys",
        "tests/test_browser.py",
    ],
    "advanced": [
        "tests/billing/test_fast_sql.py",
        "tests/billing/test_webhooks.py",
        "tests/billing/test_webhook_reconnect.py",
        "tests/billing/test_services.py::"
        "test_a_retry_after_a_failed_save_gets_the_same_stripe_customer",
        "tests/billing/test_usage.py",
        "tests/billing/test_concurrency.py",
        "tests/billing/test_team_concurrency.py",
        "tests/billing/test_worker_advanced.py",
        "tests/test_settings.py::"
        "test_the_flush_after_a_transactional_test_empties_tables_linked_by_foreign_keys",
        "tests/test_browser.py",
    ],
}


@pytest.mark.parametrize("name", POSTGRES_RUNS)
def test_every_test_that_needs_postgresql_is_run_there(name, renders):
    """A test module that skips without PostgreSQL, or checks which database it is on, is in
    its mode's POSTGRES_PATHS: otherwise no run of this suite would ever run it there."""
    project = renders.get(name).project_dir
    marked = re.compile(r'needs_postgresql|vendor [!=]= "postgresql"')
    needing = {
        path.relative_to(project).as_posix()
        for path in (project / "tests").rglob("test_*.py")
        if marked.search(path.read_text())
    }
    assert needing <= {entry.split("::")[0] for entry in POSTGRES_PATHS[name]}


#: The generated browser journey (tests/test_browser.py: Chromium against `make run`) runs once
#: per mode, in the run of the answer set named for the mode: on PostgreSQL, or on SQLite
#: without it; the other runs skip it (BROWSER_TESTS=0). Where it runs it must not skip
#: (BROWSER_TESTS=1): `.ci/run` installs Debian's chromium when it is missing.
BROWSER_MODES = ("basic", "advanced")


#: Where the journeys' screenshots are kept, one folder per mode (git-ignored), so a run's
#: pages can be looked at after it: each run replaces its mode's folder.
SCREENSHOTS = ROOT / ".artifacts" / "browser-screenshots"


def browser_env(name: str, *, postgres: bool) -> dict[str, str]:
    """The environment of one generated-suite run: whether it drives the browser, and where
    its screenshots go."""
    if name not in BROWSER_MODES or postgres != HAS_POSTGRES:
        return {"BROWSER_TESTS": "0"}
    folder = SCREENSHOTS / name
    shutil.rmtree(folder, ignore_errors=True)
    return {"BROWSER_TESTS": "1", "BROWSER_SCREENSHOTS_DIR": str(folder)}


def run_generated_suite(name: str, project: Path, *, postgres: bool) -> None:
    """Run the suite of `project` (rendered with the answer set `name`): in full on SQLite, or
    its POSTGRES_PATHS on PostgreSQL (a database of its own); check that it passed."""
    env: dict[str, str | None] = {"DATABASE_URL": None, **browser_env(name, postgres=postgres)}
    command = ["make", "test"]
    if postgres:
        database = "keel_" + re.sub(r"\W", "_", name)
        env["DATABASE_URL"] = urlsplit(POSTGRES_URL)._replace(path=f"/{database}").geturl()
        command = [".venv/bin/pytest", *POSTGRES_PATHS[name]]
    out = run(command, project, env=env)
    assert suite_passed(out), out
    if postgres:
        # Every test runs on PostgreSQL; only the Redis ones may skip, without REDIS_URL.
        skipped = [line for line in out.splitlines() if line.startswith("SKIPPED")]
        assert all("REDIS_URL is not set" in line for line in skipped), skipped


@pytest.mark.slow
@pytest.mark.parametrize("name", SQLITE_RUNS)
def test_the_generated_suite_passes_on_sqlite(name, installed):
    run_generated_suite(name, installed(name), postgres=False)


@pytest.mark.slow
@pytest.mark.skipif(
    not HAS_POSTGRES,
    reason="set DATABASE_URL=postgres://user@host:5432/db to run the suites on PostgreSQL",
)
@pytest.mark.parametrize("name", POSTGRES_RUNS)
def test_the_generated_suite_passes_on_postgresql(name, installed):
    run_generated_suite(name, installed(name), postgres=True)


#: One project per mode for the checks of models and settings modules: the third answer set's
#: are basic's (its answers fill config/project.toml only, which its suite reads).
ONE_PER_MODE = ["basic", "advanced"]


@pytest.mark.slow
@pytest.mark.parametrize("name", ONE_PER_MODE)
def test_no_missing_migrations(name, installed):
    project = installed(name)
    run(
        [".venv/bin/python", "manage.py", "makemigrations", "--check", "--dry-run"],
        project,
        env={**TEST_ENV, "DATABASE_URL": None},
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", ONE_PER_MODE)
def test_production_settings_pass_the_deploy_check(name, installed):
    project = installed(name)
    run(
        [".venv/bin/python", "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        project,
        env=PRODUCTION_ENV,
    )


@pytest.mark.slow
def test_production_settings_refuse_to_start_without_a_secret_key(installed):
    import subprocess

    project = installed("basic")
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    proc = subprocess.run(
        [".venv/bin/python", "manage.py", "check"],
        cwd=project,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "Set the SECRET_KEY environment variable" in proc.stderr
