"""`migrate`, with a shortcut for dj-stripe's migrations on an empty SQLite database.

dj-stripe 2.11's migrations take a minute or more of CPU on a fresh database (0002_2_10 alone:
514 RemoveField operations). Profiled, 90% of that is Django re-rendering the migration state of
dj-stripe's ~60 interrelated models after each operation; the SQL is about 6%. The schema they
end with is simply their final migration state. So when the database has no tables at all (a
fresh clone's first `make run`), this command

1. applies, the normal way, the migrations dj-stripe's migrations depend on (auth, accounts, ...);
2. creates dj-stripe's tables from the state at the end of its migrations on disk (the state
   Django itself builds from those files, not the models) and records those migrations as
   applied, in one transaction;
3. runs the normal `migrate` for everything else, signals included.

This is correct because those migrations only change the schema (no RunPython or RunSQL:
checked below, else the shortcut is off) and the tables are empty, so replaying them and
creating their end state give the same tables. Nothing of dj-stripe is copied: its later
migrations (an upgrade to 2.12) are not recorded and apply normally. A database with any
table in it, PostgreSQL, `--no-shortcut`, or any option beyond the plain `migrate` (an app label,
--fake, --plan, ...) takes Django's own path. Both paths were compared on dj-stripe 2.11: the
whole sqlite_master and django_migrations are identical, byte for byte; after upgrading
dj-stripe, compare them again (`migrate --no-shortcut` into another empty database).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.core.management.commands import migrate
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.operations.base import Operation
from django.db.migrations.operations.special import RunPython, RunSQL, SeparateDatabaseAndState

SHORTCUT_APP = "djstripe"
OPTIONS_THAT_DISABLE_IT = (
    "no_shortcut",
    "app_label",
    "fake",
    "fake_initial",
    "plan",
    "check_unapplied",
    "prune",
)


class Command(migrate.Command):
    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--no-shortcut",
            action="store_true",
            help="Apply dj-stripe's migrations one by one even on an empty SQLite database.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not any(options.get(name) for name in OPTIONS_THAT_DISABLE_IT):
            self.verbosity = options["verbosity"]
            self.shortcut(options["database"])
        super().handle(*args, **options)

    def shortcut(self, database: str) -> None:
        connection = connections[database]
        if connection.vendor != "sqlite" or connection.introspection.table_names():
            return
        executor = MigrationExecutor(connection, self.migration_progress_callback)
        graph = executor.loader.graph
        leaves = [key for key in graph.leaf_nodes() if key[0] == SHORTCUT_APP]
        if not leaves:
            return  # dj-stripe is not installed, or its migrations are disabled (tests)
        plan = [m for m, _ in executor.migration_plan(leaves) if m.app_label == SHORTCUT_APP]
        if not all(schema_only(op) for migration in plan for op in migration.operations):
            return
        # 1. What dj-stripe's migrations depend on, migrated the normal way.
        outside = {
            parent.key
            for migration in plan
            for parent in graph.node_map[(migration.app_label, migration.name)].parents
            if parent.key[0] != SHORTCUT_APP
        }
        if self.verbosity >= 1:
            self.stdout.write(self.style.MIGRATE_HEADING("Running migrations dj-stripe needs:"))
        executor.migrate(sorted(outside))
        # 2. dj-stripe's tables from its final migration state, and its migrations recorded.
        state = executor.loader.project_state(leaves, at_end=True)
        app_config = state.apps.get_app_config(SHORTCUT_APP)
        with connection.schema_editor() as editor:
            for model in app_config.get_models():
                if model._meta.can_migrate(connection):
                    editor.create_model(model)
            for migration in plan:
                executor.record_migration(migration)
        if self.verbosity >= 1:
            names = ", ".join(migration.name for migration in plan)
            self.stdout.write(
                f"  Created dj-stripe's tables from the end state of its migrations ({names}) "
                "and recorded them as applied (empty SQLite database)."
            )


def schema_only(operation: Operation) -> bool:
    """A Django schema operation: its effect on empty tables is all in the migration state."""
    return type(operation).__module__.startswith(
        "django.db.migrations.operations."
    ) and not isinstance(operation, RunPython | RunSQL | SeparateDatabaseAndState)
