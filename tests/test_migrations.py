"""The scripts copier.yml's `_migrations` run: import rewrites and the stripe_mode guard."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from .conftest import ROOT

HOOKS = ROOT / "hooks"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, HOOKS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


rewrite_imports = load("rewrite_imports")
check_stripe_mode = load("check_stripe_mode")
MOVES = load("import_moves").MOVES

SAMPLE_MOVES = {
    "apps.billing.decorators.wants_json": "apps.billing.access.wants_json",
    "apps.billing.decorators.deny": "apps.billing.access.deny",
    "apps.billing.old_plans": "apps.billing.plans",
    "apps.billing.plans.Tier": "apps.billing.catalog.Plan",
    "apps.billing.old_plans.Tier": "apps.billing.catalog.Plan",
}


def rewrite(source: str, package: str = "apps/core/x.py") -> tuple[str, object]:
    new, result = rewrite_imports.rewrite_source(
        source.encode(), SAMPLE_MOVES, rewrite_imports.package_of(Path(package))
    )
    return new.decode(), result


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # A name move.
        (
            "from apps.billing.decorators import wants_json\n",
            "from apps.billing.access import wants_json\n",
        ),
        # Only some names move: the statement is split, the others stay where they were.
        (
            "from apps.billing.decorators import deny, plan_required, wants_json as wj\n",
            "from apps.billing.decorators import plan_required\n"
            "from apps.billing.access import deny, wants_json as wj\n",
        ),
        # A module move keeps the statement's layout and comments.
        (
            "from apps.billing.old_plans import (  # plans\n    PLANS,\n    get_plan,\n)\n",
            "from apps.billing.plans import (  # plans\n    PLANS,\n    get_plan,\n)\n",
        ),
        # A renamed name is imported under the name the code uses.
        (
            "from apps.billing.plans import Tier\n",
            "from apps.billing.catalog import Plan as Tier\n",
        ),
        # A name entry wins over its module's entry, which takes the rest.
        (
            "from apps.billing.old_plans import Tier, PLANS\n",
            "from apps.billing.catalog import Plan as Tier\nfrom apps.billing.plans import PLANS\n",
        ),
        # Submodules of a moved module, `import ... as`, a moved module imported as a name.
        ("import apps.billing.old_plans.x as x\n", "import apps.billing.plans.x as x\n"),
        ("from apps.billing import old_plans\n", "from apps.billing import plans as old_plans\n"),
        # Indented (in a function) and after `;`.
        (
            "def f():\n    from apps.billing.decorators import deny, other\n",
            "def f():\n    from apps.billing.decorators import other\n"
            "    from apps.billing.access import deny\n",
        ),
        (
            "import os; from apps.billing.decorators import deny\n",
            "import os; from apps.billing.access import deny\n",
        ),
        # Windows line endings stay.
        (
            "x = 1\r\nfrom apps.billing.decorators import deny, y\r\n",
            "x = 1\r\nfrom apps.billing.decorators import y\r\n"
            "from apps.billing.access import deny\r\n",
        ),
    ],
)
def test_moved_imports_are_rewritten(before, after):
    assert rewrite(before)[0] == after


def test_everything_else_stays_byte_identical():
    source = (
        "# -*- coding: utf-8 -*-\n"
        '"""Ünïcode docstring: apps.billing.decorators.deny moved."""\n'
        "from __future__ import annotations\n\n"
        "import apps.billing.views as views  # unrelated\n"
        "from apps.billing.decorators import plan_required\n"
        "from  apps.billing.decorators  import  deny  # moved\n"
        "from .decorators import nothing_moved\n\n\n"
        "x  =  '  odd   spacing  '   \n"
        "def g():\n\treturn  'é'\n"
    )
    new, result = rewrite(source, "apps/core/x.py")
    assert new == source.replace(
        "from  apps.billing.decorators  import  deny", "from apps.billing.access  import  deny"
    )
    assert [line for line, _, _ in result.changes] == [7]


def test_relative_imports_are_resolved_from_the_file_package():
    source = "from .decorators import deny, plan_required\nfrom ..billing import old_plans\n"
    new, _ = rewrite(source, "apps/billing/x.py")
    assert new == (
        "from .decorators import plan_required\n"
        "from .access import deny\n"
        "from ..billing import plans as old_plans\n"
    )
    # The same statements in another package import something else: untouched.
    assert rewrite(source, "apps/core/x.py")[0].startswith("from .decorators import deny, plan")


def test_a_long_split_import_is_wrapped():
    names = ", ".join(f"helper_number_{i}" for i in range(6))
    new, _ = rewrite(f"from apps.billing.decorators import deny, {names}\n")
    assert new.splitlines()[0] == "from apps.billing.decorators import ("
    assert "    helper_number_5,\n)\nfrom apps.billing.access import deny\n" in new
    compile(new, "x.py", "exec")


def test_what_cannot_be_rewritten_is_reported_and_left():
    source = (
        "import apps.billing.old_plans\n"
        "from apps.billing.decorators import *\n"
        "target = 'apps.billing.decorators.deny'\n"
    )
    new, result = rewrite(source)
    assert new == source
    assert [line for line, _ in result.warnings] == [1, 2, 3]


def test_the_script_rewrites_a_project_and_prints_what_it_changed(tmp_path):
    (tmp_path / "apps" / "core").mkdir(parents=True)
    mine = tmp_path / "apps" / "core" / "mine.py"
    mine.write_text("from apps.billing.decorators import wants_json, plan_required\n")
    broken = tmp_path / "apps" / "core" / "broken.py"
    broken.write_text("<<<<<<< before updating\nfrom apps.billing.decorators import deny\n")
    venv = tmp_path / ".venv" / "lib"
    venv.mkdir(parents=True)
    (venv / "dep.py").write_text("from apps.billing.decorators import deny\n")

    proc = subprocess.run(
        [sys.executable, str(HOOKS / "rewrite_imports.py"), "0.2.0", str(tmp_path)],
        capture_output=True,
        text=True,
    )

    assert proc.returncode == 0, proc.stderr
    assert mine.read_text() == (
        "from apps.billing.decorators import plan_required\n"
        "from apps.billing.access import wants_json\n"
    )
    assert "apps/core/mine.py:1: from apps.billing.decorators import wants_json" in proc.stdout
    assert "-> from apps.billing.access import wants_json" in proc.stdout
    assert "apps/core/broken.py: not rewritten, it does not parse" in proc.stdout
    assert "rewrote 1 import(s) in 1 file(s)" in proc.stdout
    assert (venv / "dep.py").read_text() == "from apps.billing.decorators import deny\n"


def test_an_unknown_release_is_an_error(tmp_path):
    assert rewrite_imports.main(["rewrite_imports.py", "0.0.1", str(tmp_path)]) == 2


def test_every_release_with_moves_has_a_migration_and_back():
    config = yaml.safe_load((ROOT / "copier.yml").read_text())
    rewrites = {
        m["version"]
        for m in config["_migrations"]
        if "version" in m and any("rewrite_imports.py" in part for part in m["command"])
    }
    assert rewrites == set(MOVES)
    for release, moves in MOVES.items():
        for old, new in moves.items():
            assert old != new and old.startswith("apps.") and new.startswith("apps."), release


@pytest.mark.parametrize(
    ("answers", "requested", "refused"),
    [
        ("stripe_mode: basic\n", "advanced", True),
        ("stripe_mode: 'advanced'\n", "basic", True),
        ("stripe_mode: basic\n", "basic", False),
        ("stripe_mode: basic\n", "", False),  # no --data: the recorded mode is kept
        (None, "advanced", False),  # no answers file: nothing to keep
    ],
)
def test_the_stripe_mode_guard(tmp_path, answers, requested, refused):
    answers_file = tmp_path / ".copier-answers.yml"
    if answers is not None:
        answers_file.write_text(f"_commit: v0.1.0\n{answers}trial_period_days: 0\n")
    code = check_stripe_mode.main(["check_stripe_mode.py", str(answers_file), requested])
    assert code == (1 if refused else 0)
