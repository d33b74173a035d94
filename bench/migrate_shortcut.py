"""Check the dj-stripe migrate shortcut (apps/core/management/commands/migrate.py) on a render.

Usage: python bench/migrate_shortcut.py PROJECT  (an installed advanced-mode render)

Migrates two new SQLite databases, one with the shortcut (plain `migrate`) and one replaying
every migration (`migrate --no-shortcut`), times both and compares their whole sqlite_master
(every table, index and its SQL) and django_migrations. Prints JSON; exits 1 if they differ.
Run it again after upgrading dj-stripe. Takes as long as dj-stripe's migrations (a minute or more).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def migrate(project: Path, database: Path, *extra: str) -> float:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "STRIPE_SECRET_KEY": ""}
    command = [str(project / ".venv" / "bin" / "python"), "manage.py", "migrate", "--noinput"]
    started = time.perf_counter()
    subprocess.run([*command, "-v0", *extra], cwd=project, env=env, check=True)
    return time.perf_counter() - started


def schema(database: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as connection:
        master = connection.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
        ).fetchall()
        applied = connection.execute(
            "SELECT app, name FROM django_migrations ORDER BY app, name"
        ).fetchall()
    return master + applied


def main() -> None:
    project = Path(sys.argv[1]).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        shortcut, replayed = Path(tmp) / "shortcut.sqlite3", Path(tmp) / "replayed.sqlite3"
        figures = {
            "shortcut_s": round(migrate(project, shortcut), 1),
            "replayed_s": round(migrate(project, replayed, "--no-shortcut"), 1),
        }
        figures["identical"] = schema(shortcut) == schema(replayed)
    print(json.dumps(figures))
    sys.exit(0 if figures["identical"] else 1)


if __name__ == "__main__":
    main()
