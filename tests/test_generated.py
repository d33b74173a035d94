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


#: Answer sets whose suite runs on SQLite here. The third answer set's runs in the project
#: tests/test_update.py updates (UPDATED_ANSWER_SET). With PostgreSQL at hand, basic mode's
#: suite runs on SQLite once, there, and under the default answers on PostgreSQL: a third run
#: of the same code would add a minute, not a check.
SQLITE_RUNS = [
    name
    for name in SUPPORTED
    if name != UPDATED_ANSWER_SET and (name != "basic" or not HAS_POSTGRES)
]

#: With PostgreSQL at hand, advanced mode's suite runs there in full and, on SQLite (the
#: embedded default), only the tests of the code that takes another path there: storing a
#: delivery with the ORM instead of one statement, usage counted without the audit row in the
#: same statement, no advisory lock per Stripe object, `skip_locked` a no-op, and the settings'
#: SQLite default. The rest runs the same ORM code on both databases; running it twice cost
#: ~100 s of this suite. (`make run`'s migrations on SQLite are tests/test_devserver.py's.)
SQLITE_ONLY_PATHS = {
    "advanced": [
        "tests/billing/test_fast_sql.py",
        "tests/billing/test_integration.py",
        "tests/billing/test_meter_outbox_reports.py",
        "tests/billing/test_metering.py",
        "tests/billing/test_services.py",
        "tests/billing/test_usage.py",
        "tests/billing/test_usage_limit_decisions.py",
        "tests/billing/test_usage_periods.py",
        "tests/billing/test_webhooks.py",
        "tests/test_settings.py",
    ]
}


#: The generated browser journey (tests/test_browser.py: Chromium against `make run`) runs once
#: per mode, in that mode's PostgreSQL run, or in its SQLite run without PostgreSQL; the other
#: runs skip it (BROWSER_TESTS=0). Where it runs it must not skip (BROWSER_TESTS=1): `.ci/run`
#: installs Debian's chromium when it is missing.
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


@pytest.mark.slow
@pytest.mark.parametrize("name", SQLITE_RUNS)
def test_the_generated_suite_passes_on_sqlite(name, installed):
    project = installed(name)
    env = {
        "DATABASE_URL": None,
        **browser_env(name, postgres=False),
    }
    command = ["make", "test"]
    if name in SQLITE_ONLY_PATHS and HAS_POSTGRES:
        command = [".venv/bin/pytest", *SQLITE_ONLY_PATHS[name]]
    out = run(command, project, env=env)
    assert suite_passed(out), out


@pytest.mark.slow
@pytest.mark.skipif(
    not HAS_POSTGRES,
    reason="set DATABASE_URL=postgres://user@host:5432/db to run the suites on PostgreSQL",
)
# One project per mode: the third answer set differs from basic in settings only (SQLite run).
@pytest.mark.parametrize("name", ["basic", "advanced"])
def test_the_generated_suite_passes_on_postgresql(name, installed):
    project = installed(name)
    database = "keel_" + re.sub(r"\W", "_", name)
    url = urlsplit(POSTGRES_URL)._replace(path=f"/{database}").geturl()
    browser = browser_env(name, postgres=True)
    out = run(["make", "test"], project, env={"DATABASE_URL": url, **browser})
    assert suite_passed(out), out
    # Every test runs on PostgreSQL; only the Redis ones may skip, without REDIS_URL.
    skipped = [line for line in out.splitlines() if line.startswith("SKIPPED")]
    assert all("REDIS_URL is not set" in line for line in skipped), skipped


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SUPPORTED))
def test_no_missing_migrations(name, installed):
    project = installed(name)
    run(
        [".venv/bin/python", "manage.py", "makemigrations", "--check", "--dry-run"],
        project,
        env={**TEST_ENV, "DATABASE_URL": None},
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SUPPORTED))
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
