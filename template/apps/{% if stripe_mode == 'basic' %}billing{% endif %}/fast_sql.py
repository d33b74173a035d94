"""Hand-written SQL for webhook ingest (basic mode), and nowhere else.

The benchmark target it serves: webhook ingest (verify, store, queue) of at least 1,000 events
per second under gunicorn on PostgreSQL. Storing an event once is, with the ORM,
`bulk_create([row], ignore_conflicts=True)` (a transaction around an INSERT) and then a SELECT
to learn the row's id and status: about 0.9 ms of CPU per request, against 0.3 ms for the one
statement here, `INSERT ... ON CONFLICT DO NOTHING RETURNING id, status`, which answers both
in one round trip.

The rule it mirrors: the row written is the one `WebhookEvent(...).save()` would write, and an
event id stored already changes nothing; `tests/billing/test_fast_sql.py` holds the statement
to the ORM's insert. Change the model and this stays right (it reads the model's fields).
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import connection

from .models import WebhookEvent
from .server_binding import server_binding_cursor


def insert_event_once(row: WebhookEvent) -> tuple[int, str] | None:
    """Insert the event unless its id is stored already: the new row's (pk, status), or None
    when it was stored before (or the database cannot return them: ask it then)."""
    fields, sql, returning = _insert_sql(connection.vendor)
    params = [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]
    with server_binding_cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchone() if returning else None
    return (int(found[0]), str(found[1])) if found else None


@functools.cache
def _insert_sql(vendor: str) -> tuple[list[Any], str, bool]:
    meta = WebhookEvent._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({quote(meta.get_field('stripe_event_id').column)}) DO NOTHING"
    )
    returning = connection.features.can_return_columns_from_insert
    if returning:
        status = quote(meta.get_field("status").column)
        sql += f" RETURNING {quote(meta.pk.column)}, {status}"
    return fields, sql, returning
