"""A cursor that sends parameters apart from the SQL (PostgreSQL), for webhook ingest only.

Django's psycopg cursors bind on the client: psycopg quotes every value into the statement's
text and the server parses them back out of it. The statement that stores a webhook delivery
carries the largest values the project writes per request (the event's JSON in basic mode,
the body and headers in advanced), and quoting them was ~8% of a delivery's CPU (advanced,
measured in-process: 0.77 ms a request with it, 0.71 ms without). psycopg's server-side
binding sends the values apart. Everything else keeps Django's default, client-side binding,
which suits every ORM query (server-side binding does not: see Django's PostgreSQL notes).
Whether statements are also prepared stays as configured: Django turns that off, for
connection poolers, and OPTIONS["prepare_threshold"] turns it on.
"""

from __future__ import annotations

from django.db import connection
from django.db.backends.utils import CursorWrapper


def server_binding_cursor() -> CursorWrapper:
    """`connection.cursor()`, with server-side binding on PostgreSQL (psycopg 3): the same
    wrapping (database errors as Django's, query logging, `execute_wrapper`s). The other
    databases get `connection.cursor()` itself: SQLite's driver binds apart already."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor  # psycopg 3 only

    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = ServerBindingCursor(connection.connection)
    # Django's own step from a driver cursor to the wrapper `connection.cursor()` returns.
    return connection._prepare_cursor(cursor)
