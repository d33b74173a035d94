"""Hand-written SQL for the webhook ingest path (basic mode), and nowhere else.

The benchmark target it serves: basic-mode webhook ingest of at least 500 events per second
on PostgreSQL. On that path the ORM's query building costs more CPU than the statements
themselves, so the two statements of nearly every event are written here by hand:

- `update_subscription_if_newer`: one guarded UPDATE of a subscription row. Its WHERE clause
  is `webhook_handlers._is_stale` (the Python rule for "this event must not overwrite the
  row") written in SQL; `tests/billing/test_fast_sql.py` holds the two to each other on every
  combination of status, time and event type.
- `insert_row`: `WebhookEvent.save(force_insert=True)` without the ORM.

Change the rule in both places, or not at all.
"""

from __future__ import annotations

import functools
from typing import Any

from django.db import connection
from django.utils import timezone

from .lifecycle import TERMINAL_STATUSES
from .models import DEFAULT_EVENT_RANK, EVENT_RANK, StripeCustomer, Subscription, WebhookEvent


def update_subscription_if_newer(
    subscription_id: str, customer_id: str, fields: dict[str, Any]
) -> bool:
    """One UPDATE for the usual case: the row exists, belongs to this customer and the new
    state (`fields`, with the `last_event_at` and `last_event_type` it comes from) is not stale
    (`_is_stale` as a WHERE clause, which the database checks on the row it locks, so a
    concurrent newer update is never overwritten). False when any of that does not hold: the
    caller then looks closer."""
    rank = EVENT_RANK.get(fields["last_event_type"], DEFAULT_EVENT_RANK)
    if rank >= DEFAULT_EVENT_RANK:  # unranked types rank as updated: only higher ones beat it
        same_second_op, same_second_types = "NOT IN", [t for t, r in EVENT_RANK.items() if r > rank]
    else:
        same_second_op, same_second_types = "IN", [t for t, r in EVENT_RANK.items() if r <= rank]
    guarded = fields["status"] not in TERMINAL_STATUSES
    values = {**fields, "updated_at": timezone.now()}
    sql = _update_sql(
        connection.vendor, tuple(values), same_second_op, len(same_second_types), guarded
    )
    event_at = _prep("last_event_at", fields["last_event_at"])
    params = [_prep(name, value) for name, value in values.items()]
    params += [subscription_id, customer_id, event_at, event_at, *same_second_types]
    if guarded:
        params += TERMINAL_STATUSES
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount == 1


@functools.cache
def _update_sql(
    vendor: str, names: tuple[str, ...], same_second_op: str, types: int, guarded: bool
) -> str:
    q = connection.ops.quote_name
    column = {name: q(Subscription._meta.get_field(name).column) for name in names}
    last_at, last_type = q("last_event_at"), q("last_event_type")
    same_second = f"{last_at} = %s"
    if types:  # `x NOT IN ()` is not SQL: no types to exclude means no condition
        same_second += f" AND {last_type} {same_second_op} ({_marks(types)})"
    sql = (
        f"UPDATE {q(Subscription._meta.db_table)} "
        f"SET {', '.join(f'{column[name]} = %s' for name in names)} "
        f"WHERE {q('stripe_subscription_id')} = %s "
        f"AND {q('customer_id')} = (SELECT {q('id')} FROM {q(StripeCustomer._meta.db_table)} "
        f"WHERE {q('stripe_customer_id')} = %s) "
        f"AND ({last_at} IS NULL OR {last_at} < %s OR ({same_second}))"
    )
    if guarded:  # a canceled subscription stays canceled
        sql += f" AND {q('status')} NOT IN ({_marks(len(TERMINAL_STATUSES))})"
    return sql


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


def _prep(name: str, value: Any) -> Any:
    return Subscription._meta.get_field(name).get_db_prep_save(value, connection)


def insert_row(row: WebhookEvent) -> None:
    """`row.save(force_insert=True)` without the ORM's query building. Raises IntegrityError
    when the event id is stored already, like save()."""
    fields, sql, returning = _insert_sql(connection.vendor)
    params = [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if returning:
            row.pk = cursor.fetchone()[0]
    row._state.adding = False


@functools.cache
def _insert_sql(vendor: str) -> tuple[list[Any], str, bool]:
    meta = WebhookEvent._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    returning = connection.features.can_return_columns_from_insert
    if returning:
        sql += f" RETURNING {quote(meta.pk.column)}"
    return fields, sql, returning
