"""Copier task: give a freshly generated project its own secrets.

Writes `.env` next to the project's `.env.example` with a random SECRET_KEY. It runs after
`copier copy` and `copier update`; an existing `.env` is never touched, so a user's keys survive.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path


def make_secret_key() -> str:
    # URL-safe characters only: nothing that a .env parser could read as a quote or comment.
    return secrets.token_urlsafe(50)


def write_env(project_dir: Path) -> bool:
    env_file = project_dir / ".env"
    if env_file.exists():
        return False
    example = project_dir / ".env.example"
    lines = example.read_text().splitlines() if example.exists() else []
    out: list[str] = []
    for line in lines:
        if line.startswith("SECRET_KEY="):
            line = f"SECRET_KEY={make_secret_key()}"
        out.append(line)
    if not any(line.startswith("SECRET_KEY=") for line in out):
        out.insert(0, f"SECRET_KEY={make_secret_key()}")
    env_file.write_text("\n".join(out) + "\n")
    env_file.chmod(0o600)
    return True


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
    write_env(target)
