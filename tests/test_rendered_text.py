"""A generated project speaks of itself only: nothing in it names the template, its issues,
its documents or files that exist only in the template repository."""

from __future__ import annotations

import re

#: What a project's user never saw: the template's name (but for the name of the offline Stripe's
#: package, a dependency like any other), the document it was built from, issue numbers, and
#: paths of the template repository.
FOREIGN = re.compile(
    r"\bkeel\b(?!-fakestripe)|keel(?!_fakestripe)[_a-z]|\bspec\b|\bspec_|/spec/|issue #\d"
    r"|bench/results|the template repo",
    re.IGNORECASE,
)
#: Files and folders whose words are not the project's own: answers, lock file, installs, and the
#: caches that other tests' runs of the project's tools leave behind in the shared render.
NOT_OURS = {
    ".copier-answers.yml",
    "uv.lock",
    ".venv",
    ".tools",
    ".git",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    "staticfiles",
}


def test_no_rendered_file_names_the_template(rendered):
    _, project = rendered
    found = []
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project)
        if not path.is_file() or NOT_OURS & set(relative.parts) or path.suffix in {".whl", ".pyc"}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if FOREIGN.search(line):
                found.append(f"{relative}:{number}: {line.strip()[:120]}")
    assert not found, "rendered files speak of the template:\n" + "\n".join(found)
