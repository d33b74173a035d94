"""Real database failures for tests: a trigger makes the server refuse writes to a table."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

_TRIGGER = "test_refuse_insert"


@contextmanager
def refusing_inserts(table: str) -> Iterator[None]:
    """While active, every INSERT into `table` fails inside the database itself."""
    quoted = connection.ops.quote_name(table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE FUNCTION {_TRIGGER}() RETURNS trigger AS $$ BEGIN "
                f"RAISE EXCEPTION 'insert into {table} refused (test fault)'; END $$ "
                "LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER {_TRIGGER} BEFORE INSERT ON {quoted} "
                f"FOR EACH ROW EXECUTE FUNCTION {_TRIGGER}()"
            )
        elif connection.vendor == "sqlite":
            cursor.execute(
                f"CREATE TRIGGER {_TRIGGER} BEFORE INSERT ON {quoted} BEGIN "
                f"SELECT RAISE(ABORT, 'insert into {table} refused (test fault)'); END"
            )
        else:  # pragma: no cover
            raise NotImplementedError(connection.vendor)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(f"DROP TRIGGER {_TRIGGER} ON {quoted}")
                cursor.execute(f"DROP FUNCTION {_TRIGGER}()")
            else:
                cursor.execute(f"DROP TRIGGER {_TRIGGER}")
