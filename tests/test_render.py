"""What a render produces, for every supported answer set."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT, SUPPORTED

SHARED_BILLING = {
    "__init__.py",
    "deploy_checks.py",
    "portal.py",
    "access.py",
    "apps.py",
    "errors.py",
    "gates.py",
    "urls.py",
    "stripe_objects.py",
    "views.py",
    "money.py",
    "emails.py",
    "checkout_state.py",
    "lifecycle.py",
    "seats.py",
    "email_admin.py",
    "management/commands/billing_send_emails.py",
    "webhook_json.py",
    "batching.py",
    "reconnect.py",
    "middleware.py",
    "server_binding.py",
    "plan_changes.py",
    "plan_types.py",
    "overview.py",
    "offline_promotions.py",
    "migrations/__init__.py",
    "templatetags/__init__.py",
    "templatetags/billing_tags.py",
    "management/__init__.py",
    "management/commands/__init__.py",
    # the same roles under the same names in both modes
    "admin.py",
    "checks.py",
    "decorators.py",
    "examples.py",
    "seat_limits.py",
    "team_billing.py",
    "migrations/0004_team_billing.py",
    "fast_sql.py",
    "models.py",
    "offline.py",
    "page_urls.py",
    "plans.py",
    "plan_state.py",
    "selectors.py",
    "services.py",
    "stripe_api.py",
    "utils.py",
    "webhook_handlers.py",
    "webhook_urls.py",
    "webhook_views.py",
    "webhooks.py",
    "migrations/0001_initial.py",
}
BILLING_FILES = {
    "basic": SHARED_BILLING
    | {
        "customers.py",
        "management/commands/billing_retry_events.py",
        "migrations/0002_customer_unlinking_and_billing_emails.py",
        "migrations/0003_subscription_last_event_id_webhook_retries.py",
        "migrations/0005_subscription_schedules.py",
        "tasks.py",
    },
    "advanced": SHARED_BILLING
    | {
        "metering.py",
        "notifications.py",
        "usage.py",
        "usage_page.py",
        "templatetags/usage_tags.py",
        "management/commands/billing_flush_outbox.py",
        "management/commands/billing_sync_plans.py",
        "migrations/0002_billing_emails_ignored_events.py",
        "migrations/0003_webhook_events.py",
        "reconciliation.py",
        "tasks.py",
    },
}


def mode(name: str) -> str:
    return SUPPORTED[name]["stripe_mode"]


def test_answers_are_recorded_for_copier_update(rendered):
    name, project = rendered
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    for key, value in SUPPORTED[name].items():
        assert answers[key] == value
    assert answers["_src_path"]
    assert answers["_commit"]


def test_billing_files_match_the_mode(rendered):
    name, project = rendered
    billing = project / "apps" / "billing"
    files = {
        str(path.relative_to(billing))
        for path in billing.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert files == BILLING_FILES[mode(name)]


def test_a_file_and_its_tests_share_the_mode(rendered):
    name, project = rendered
    tests = {p.name for p in (project / "tests" / "billing").glob("test_*.py")}
    if mode(name) == "basic":
        assert {"test_webhooks.py", "test_services.py", "test_gates.py", "test_views.py"} <= tests
        assert "djstripe" not in (project / "pyproject.toml").read_text()
    else:
        assert "dj-stripe>=2.11" in (project / "pyproject.toml").read_text()
        assert {"test_webhooks.py", "test_usage.py", "test_decorators.py", "test_views.py"} <= tests
        assert "--no-migrations" in (project / "pyproject.toml").read_text()


def test_no_template_syntax_is_left_over(rendered):
    """Names never keep Jinja; files rendered from `.jinja` sources keep none of it either.
    (Verbatim files may hold Django template syntax on purpose.)"""
    _, project = rendered
    leftovers = [
        str(path)
        for path in project.rglob("*")
        if re.search(r"\{\{|\{%|%\}|\}\}", path.name) and ".venv" not in path.parts
    ]
    for source in (ROOT / "template").rglob("*.jinja"):
        relative = str(source.relative_to(ROOT / "template"))[: -len(".jinja")]
        relative = relative.replace("{{_copier_conf.answers_file}}", ".copier-answers.yml")
        target = project / relative
        if "{%" in relative or not target.exists():
            continue
        if re.search(r"\{\{|\{%|\{#", target.read_text()):
            leftovers.append(str(target))
    assert leftovers == []


def test_the_project_gets_its_own_secret_key_in_an_ignored_env_file(rendered, renders):
    name, project = rendered
    env = (project / ".env").read_text()
    key = re.search(r"^SECRET_KEY=(.+)$", env, re.M)
    assert key and len(key.group(1)) >= 50
    assert ".env\n" in (project / ".gitignore").read_text()
    # The secret appears in no other file of the project.
    for path in project.rglob("*"):
        if path.is_file() and path.name != ".env" and ".venv" not in path.parts:
            assert key.group(1) not in path.read_text(errors="ignore"), path
    # And each project has its own.
    other = "advanced" if name != "advanced" else "basic"
    other_env = (renders.get(other).project_dir / ".env").read_text()
    assert key.group(0) not in other_env


def test_git_would_not_track_the_env_file(rendered, tmp_path):
    _, project = rendered
    result = subprocess.run(
        ["git", "check-ignore", "-q", "--no-index", ".env"], cwd=project, capture_output=True
    )
    # check-ignore needs a repository: init one in place if the render is not one yet.
    if result.returncode == 128:
        subprocess.run(["git", "init", "-q"], cwd=project, check=True)
        result = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=project)
    assert result.returncode == 0


def test_env_example_documents_every_stripe_variable(rendered):
    name, project = rendered
    example = (project / ".env.example").read_text()
    for variable in (
        "STRIPE_PUBLIC_KEY",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "SECRET_KEY",
    ):
        assert re.search(rf"^#? ?{variable}=", example, re.M), variable
    if mode(name) == "advanced":
        assert "DJSTRIPE_WEBHOOK_SECRET=" in example


def test_answers_reach_the_settings(rendered):
    name, project = rendered
    answers = SUPPORTED[name]
    # The settings read the answers from config/project.toml (base.py is plain Python).
    project_toml = tomllib.loads((project / "config" / "project.toml").read_text())
    assert project_toml == {
        "name": answers.get("project_name", "My SaaS"),
        "domain": answers.get("domain_name", "example.com"),
        "from_email": answers.get("author_email", "dev@example.com"),
        "currency": answers.get("currency", "usd"),
        "trial_period_days": answers.get("trial_period_days", 0),
    }
    readme = (project / "README.md").read_text()
    assert readme.startswith(f"# {answers.get('project_name', 'My SaaS')}")
    assert "make run" in readme and "make test" in readme


@pytest.mark.parametrize("path", ["manage.py", "Makefile", "pyproject.toml", "README.md"])
def test_project_layout(rendered, path):
    _, project = rendered
    assert (project / path).is_file()
    for folder in (
        "config/settings",
        "apps/accounts",
        "apps/billing",
        "templates",
        "static",
        "tests",
    ):
        assert (project / folder).is_dir()
    settings = {p.name for p in Path(project / "config" / "settings").glob("*.py")}
    assert {"base.py", "local.py", "test.py", "production.py"} <= settings


def test_the_project_ships_a_ci_workflow(rendered):
    _, project = rendered
    workflow = yaml.safe_load((project / ".github" / "workflows" / "ci.yml").read_text())
    job = workflow["jobs"]["test"]
    assert job["services"]["postgres"]["image"].startswith("postgres")
    assert job["env"]["DATABASE_URL"].startswith("postgres://")
    steps = {step.get("name"): step for step in job["steps"] if "name" in step}
    assert {"Ruff", "Migrations are up to date", "Deploy checks", "Tests (PostgreSQL)"} <= set(
        steps
    )
    assert "ruff check" in steps["Ruff"]["run"] and "ruff format --check" in steps["Ruff"]["run"]
    assert "makemigrations --check" in steps["Migrations are up to date"]["run"]
    assert "check --deploy" in steps["Deploy checks"]["run"]
    assert "pytest" in steps["Tests (PostgreSQL)"]["run"]
