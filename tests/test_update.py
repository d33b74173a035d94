"""`copier update` brings template changes into a project and keeps the user's edits."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from copier import run_copy, run_update

from .conftest import ROOT

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Keel Test",
    "GIT_AUTHOR_EMAIL": "test@keel.invalid",
    "GIT_COMMITTER_NAME": "Keel Test",
    "GIT_COMMITTER_EMAIL": "test@keel.invalid",
}


def git(cwd: Path, *args: str) -> str:
    import os

    proc = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_update_keeps_user_edits_and_brings_template_changes(tmp_path):
    # The template as it is at HEAD: the "older" version the project is generated from.
    template = tmp_path / "keel"
    git(tmp_path, "clone", "--quiet", str(ROOT), str(template))
    old_commit = git(template, "rev-parse", "HEAD")

    project = tmp_path / "project"
    run_copy(str(template), project, data={"stripe_mode": "basic"}, defaults=True, unsafe=True)
    env_before = (project / ".env").read_text()
    git(project, "init", "--quiet")
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "Generated from Keel")

    # The user edits the project.
    views = project / "apps" / "core" / "views.py"
    views.write_text(
        views.read_text()
        + "\n\ndef about(request: HttpRequest) -> HttpResponse:\n"
        + '    return render(request, "core/about.html")\n'
    )
    git(project, "commit", "--quiet", "-am", "Add an about page")

    # The template moves on: a new stylesheet rule and a new line in the settings.
    css = template / "template" / "static" / "css" / "app.css"
    css.write_text(css.read_text() + ".keel-update-marker { color: inherit; }\n")
    base = template / "template" / "config" / "settings" / "base.py.jinja"
    base.write_text(base.read_text() + "\nKEEL_UPDATE_MARKER = True\n")
    git(template, "commit", "--quiet", "-am", "Template upgrade")
    new_commit = git(template, "rev-parse", "HEAD")
    assert new_commit != old_commit

    run_update(project, defaults=True, unsafe=True, overwrite=True, vcs_ref="HEAD", quiet=True)

    assert "def about(request" in views.read_text()  # the user's edit survived
    assert ".keel-update-marker" in (project / "static" / "css" / "app.css").read_text()
    assert "KEEL_UPDATE_MARKER = True" in (project / "config" / "settings" / "base.py").read_text()
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"].startswith(new_commit[:7]) or new_commit.startswith(
        answers["_commit"]
    )
    assert answers["stripe_mode"] == "basic"
    assert (project / ".env").read_text() == env_before  # the project's secrets are untouched
    assert not list(project.rglob("*.rej"))
