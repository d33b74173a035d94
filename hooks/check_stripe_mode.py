"""Copier migration (before the update): refuse to change `stripe_mode` on an existing project.

    python hooks/check_stripe_mode.py ANSWERS_FILE REQUESTED_MODE

`copier update` runs it in the project before it touches any file (see `_migrations` in
copier.yml), with the mode asked for by `--data`/`--data-file` (empty if none). It reads the
mode the project was generated with from ANSWERS_FILE and exits 1 with an explanation if the two
differ: the modes have different billing models and migrations, and switching would replace
`apps/billing/migrations/0001_initial.py` under a database that already applied the other one.
Standard library only: it runs with Copier's own Python (3.9+).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

MESSAGE = """\
Keel cannot change stripe_mode from {old!r} to {new!r} with `copier update`.

The two modes have different billing models and database migrations: the update would replace
apps/billing/migrations/0001_initial.py under a database that already applied the other one.
Nothing was changed.

To switch, generate a new project in the other mode and move your code and data into it:
    copier copy --trust --data stripe_mode={new} <keel> <new-project>
To update this project, keep its mode (drop `--data stripe_mode=...`, or answer {old!r}).
"""


def recorded_mode(answers_file: Path) -> str | None:
    """The `stripe_mode:` line of a .copier-answers.yml (no YAML parser in the stdlib)."""
    if not answers_file.is_file():
        return None
    match = re.search(
        r"""^stripe_mode:[ \t]*["']?([A-Za-z0-9_-]+)["']?[ \t]*$""",
        answers_file.read_text(encoding="utf-8"),
        re.M,
    )
    return match.group(1) if match else None


def refusal(old: str | None, new: str) -> str | None:
    """The message refusing a change of mode, or None when the update may go ahead."""
    if old and new and old != new:
        return MESSAGE.format(old=old, new=new)
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(f"usage: {Path(argv[0]).name} ANSWERS_FILE REQUESTED_MODE", file=sys.stderr)
        return 2
    message = refusal(recorded_mode(Path(argv[1])), argv[2].strip())
    if message:
        print(message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
