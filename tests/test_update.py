"""`copier update` between two tagged versions of the template.

Each test builds the template's history in a temporary git repository (this working tree,
committed and tagged as an older version), generates a project from it, commits it, lets the
user edit it, changes the template and tags a newer version, then updates the project to that
tag. Nothing comes from the network. The template changes the tests make are in files whose
exact contents they do not depend on.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from copier import run_copy, run_update

from .conftest import ROOT, SUPPORTED, UPDATED_ANSWER_SET
from .test_generated import run_generated_suite

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Keel Test",
    "GIT_AUTHOR_EMAIL": "test@keel.invalid",
    "GIT_COMMITTER_NAME": "Keel Test",
    "GIT_COMMITTER_EMAIL": "test@keel.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
}
CSS = Path("template/static/css/app.css")
SETTINGS = Path("template/config/settings/base.py")


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


class Keel:
    """A throwaway git repository of the template, with only the tags a test gives it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir()
        git(path, "init", "--quiet", "--initial-branch=main")
        files = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.split(b"\0")
        for name in filter(None, (f.decode() for f in files)):
            if (ROOT / name).is_file():  # a tracked file deleted in the working tree is skipped
                (path / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, path / name)
        git(path, "add", "-A")
        git(path, "commit", "--quiet", "-m", "Keel as in the working tree")

    def edit(self, relative: Path, change) -> None:
        file = self.path / relative
        file.write_text(change(file.read_text()))

    def release(self, tag: str) -> None:
        if git(self.path, "status", "--porcelain"):
            git(self.path, "commit", "--quiet", "-am", f"Keel {tag}")
        git(self.path, "tag", tag)


def generate(keel: Keel, project: Path, tag: str, **answers) -> Path:
    run_copy(
        str(keel.path),
        project,
        data={"stripe_mode": "basic", **answers},
        vcs_ref=tag,
        defaults=True,
        unsafe=True,
        quiet=True,
    )
    git(project, "init", "--quiet", "--initial-branch=main")
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", f"Generated from Keel {tag}")
    return project


def released_project(root: Path, tag: str = "v1.0.0", **answers) -> tuple[Keel, Path]:
    """The template released as `tag` (in `root/keel`) and a basic project generated from it."""
    keel = Keel(root / "keel")
    keel.release(tag)
    return keel, generate(keel, root / "project", tag, **answers)


def user_commit(project: Path, message: str) -> None:
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", message)


def update(project: Path, tag: str, **kwargs) -> None:
    run_update(
        project,
        vcs_ref=tag,
        defaults=True,
        unsafe=True,
        overwrite=True,
        quiet=True,
        conflict="inline",
        **kwargs,
    )


def recorded(project: Path) -> dict:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


def snapshot(project: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(project)): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(project).parts
    }


@pytest.fixture(scope="module")
def clean_update(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose settings the user and the template both changed, in different places.

    It has the answers of UPDATED_ANSWER_SET (basic mode, a trial, euros, its own name and
    domain): its suite, run after the update, is that answer set's run and basic mode's full
    SQLite run (see tests/test_generated.py)."""
    answers = dict(SUPPORTED[UPDATED_ANSWER_SET])
    keel, project = released_project(tmp_path_factory.mktemp("clean-update"), **answers)

    settings = project / "config" / "settings" / "base.py"
    settings.write_text(settings.read_text() + "\nUSER_SETTING = 'kept'\n")
    user_commit(project, "A setting of our own")

    keel.edit(SETTINGS, lambda text: "# Keel 1.1.0: a change at the top.\n" + text)
    keel.release("v1.1.0")
    update(project, "v1.1.0")
    return project


def test_a_clean_update_merges_both_changes_to_one_file(clean_update):
    project = clean_update
    settings = (project / "config" / "settings" / "base.py").read_text()
    assert settings.startswith("# Keel 1.1.0: a change at the top.\n")  # the template's change
    assert settings.endswith("\nUSER_SETTING = 'kept'\n")  # the user's
    assert not re.search(r"^(<<<<<<<|=======|>>>>>>>)", settings, re.M)
    assert not list(project.rglob("*.rej"))
    assert not git(project, "ls-files", "--unmerged")
    answers = recorded(project)
    assert answers["_commit"] == "v1.1.0"
    assert answers["stripe_mode"] == "basic"


@pytest.mark.slow
def test_the_project_suite_passes_after_a_clean_update(clean_update):
    run_generated_suite(UPDATED_ANSWER_SET, clean_update, postgres=False)


def test_an_update_shows_a_conflict_inline_and_keeps_the_rest(tmp_path):
    keel, project = released_project(tmp_path)
    env_before = (project / ".env").read_text()

    css = project / "static" / "css" / "app.css"
    first, rest = css.read_text().split("\n", 1)
    css.write_text("/* the user's first line */\n" + rest)
    user_commit(project, "Our own first line")

    keel.edit(CSS, lambda text: "/* the template's first line */\n" + text.split("\n", 1)[1])
    keel.edit(SETTINGS, lambda text: text + "\nKEEL_UPDATE_MARKER = True\n")
    keel.release("v1.1.0")
    update(project, "v1.1.0")

    merged = css.read_text()
    assert re.search(
        r"^<<<<<<< before updating\n/\* the user's first line \*/\n=======\n"
        r"/\* the template's first line \*/\n>>>>>>> after updating\n",
        merged,
        re.M,
    ), merged
    assert merged.endswith(rest)  # the rest of the file is as it was
    assert git(project, "diff", "--name-only", "--diff-filter=U") == "static/css/app.css"
    assert not list(project.rglob("*.rej"))
    # The other change of the release arrived; the project's secrets are untouched.
    assert "KEEL_UPDATE_MARKER = True" in (project / "config/settings/base.py").read_text()
    assert (project / ".env").read_text() == env_before
    assert recorded(project)["_commit"] == "v1.1.0"


def test_an_update_to_0_2_0_rewrites_imports_of_moved_names(tmp_path, capfd):
    keel, project = released_project(tmp_path, "v0.1.0")

    helpers = project / "apps" / "core" / "billing_helpers.py"
    helpers.write_text(
        '"""Our own module, written against Keel 0.1.0."""\n\n'
        "from apps.billing.decorators import wants_json\n"
        "from apps.billing.decorators import deny as refuse, plan_required\n\n"
        "__all__ = ['plan_required', 'refuse', 'wants_json']\n"
    )
    user_commit(project, "Billing helpers of our own")

    keel.edit(CSS, lambda text: text + "/* Keel 0.2.0 */\n")
    keel.release("v0.2.0")
    capfd.readouterr()
    update(project, "v0.2.0")

    assert helpers.read_text() == (
        '"""Our own module, written against Keel 0.1.0."""\n\n'
        "from apps.billing.access import wants_json\n"
        "from apps.billing.decorators import plan_required\n"
        "from apps.billing.access import deny as refuse\n\n"
        "__all__ = ['plan_required', 'refuse', 'wants_json']\n"
    )
    out = capfd.readouterr().out
    assert "apps/core/billing_helpers.py:3: from apps.billing.decorators import wants_json" in out
    assert "-> from apps.billing.access import wants_json" in out
    assert recorded(project)["_commit"] == "v0.2.0"


@pytest.fixture(scope="module")
def newer_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project of v1.0.0 while the template is at v1.1.0 (a stylesheet change). The tests
    that share it must change nothing, and each asserts so."""
    keel, project = released_project(tmp_path_factory.mktemp("newer-release"))
    keel.edit(CSS, lambda text: text + "/* Keel 1.1.0 */\n")
    keel.release("v1.1.0")
    return project


def test_an_update_refuses_to_change_the_stripe_mode(newer_release):
    project = newer_release
    before = snapshot(project)

    proc = subprocess.run(
        [sys.executable, "-m", "copier", "update", "--trust", "--defaults", "--quiet"]
        + ["--vcs-ref", "v1.1.0", "--data", "stripe_mode=advanced"],
        cwd=project,
        capture_output=True,
        text=True,
    )

    assert proc.returncode != 0
    assert "cannot change stripe_mode from 'basic' to 'advanced'" in proc.stderr
    assert "copier copy --trust --data stripe_mode=advanced" in proc.stderr
    assert snapshot(project) == before  # no file changed
    assert not git(project, "status", "--porcelain")
    assert recorded(project)["_commit"] == "v1.0.0"


def test_the_update_prompt_offers_only_the_project_mode(newer_release, monkeypatch):
    project = newer_release
    before = snapshot(project)

    class Asked(Exception):
        """Stops the update once the mode was asked."""

    disabled: dict[str, str] = {}

    def prompt(questions, answers):  # stands in for the interactive prompt
        (question,) = questions
        if question["name"] != "stripe_mode":
            return answers  # the recorded answer, as a user pressing Enter
        disabled.update({choice.value: choice.disabled for choice in question["choices"]})
        raise Asked

    monkeypatch.setattr("copier._main.unsafe_prompt", prompt)
    with pytest.raises(Asked):
        run_update(project, vcs_ref="v1.1.0", unsafe=True, overwrite=True, quiet=True)

    assert disabled == {
        "basic": "",
        "advanced": "this project uses basic mode; switching needs a new project "
        "(docs/updating.md)",
    }
    assert snapshot(project) == before


@pytest.mark.parametrize("user_defaults", [{}, {"stripe_mode": "advanced"}], ids=["none", "own"])
def test_a_new_project_may_choose_either_mode(tmp_path, monkeypatch, user_defaults):
    disabled: dict[str, str] = {}

    def prompt(questions, answers):
        (question,) = questions
        if question["name"] == "stripe_mode":
            disabled.update({choice.value: choice.disabled for choice in question["choices"]})
        return answers

    monkeypatch.setattr("copier._main.unsafe_prompt", prompt)
    run_copy(
        str(ROOT), tmp_path, user_defaults=user_defaults, unsafe=True, quiet=True, vcs_ref="HEAD"
    )
    assert disabled == {"basic": "", "advanced": ""}
