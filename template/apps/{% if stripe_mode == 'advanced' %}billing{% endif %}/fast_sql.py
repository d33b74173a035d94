"""Hand-written SQL (advanced mode) for two benchmark targets, and nowhere else.

Usage limits: `@usage_limit` adds at most two SQL statements to a request (finding the
subscription, then this one), and costs no more with 1,000,000 past usage records than with
none. One conditional UPDATE (PostgreSQL: with the audit row's INSERT in a data-modifying CTE)
does that; the ORM cannot write either statement. The rule it mirrors: one more use of
`quantity` fits when `count + quantity <= limit` (no limit: always), the rule
`usage.check_usage_limit` reads in Python; `tests/billing/test_fast_sql.py` holds the two to
each other. Change the rule in both places, or not at all.

Webhook ingest (at least 1,000 events/s): storing a delivery is one statement on PostgreSQL
(`store_webhook_event`: the WebhookEvent, unless its id is stored already, and dj-stripe's
delivery log beside it), where the ORM needs four (BEGIN, two INSERTs, COMMIT) and three times
the CPU; the columns and their values come from the models, as the ORM's own INSERTs would
write them (`test_fast_sql.py` compares the two). Checking the settings' endpoint row is one
plain SELECT (`endpoint_values`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, models
from django.utils import timezone
from djstripe.models import WebhookEndpoint, WebhookEventTrigger

from .models import UsageCounter, UsageRecord, WebhookEvent
from .server_binding import server_binding_cursor


def _increment_sql(key: dict[str, Any], *, quantity: int, limit: int | None) -> tuple[str, list]:
    """`UPDATE counter SET count = count + q WHERE <key> [AND count + q <= limit] RETURNING count`.

    Atomic on its own (PostgreSQL, SQLite): no transaction, no read before the write, so
    concurrent requests cannot pass the limit.
    """
    ops = connection.ops
    table = ops.quote_name(UsageCounter._meta.db_table)
    count, updated_at = ops.quote_name("count"), ops.quote_name("updated_at")
    where = " AND ".join(
        f"{ops.quote_name(column)} = %s" for column in ("subscription_id", "metric", "period_start")
    )
    params: list[Any] = [
        quantity,
        ops.adapt_datetimefield_value(timezone.now()),
        key["subscription_id"],
        key["metric"],
        ops.adapt_datetimefield_value(key["period_start"]),
    ]
    if limit is not None:
        where += f" AND {count} + %s <= %s"
        params += [quantity, limit]
    sql = f"UPDATE {table} SET {count} = {count} + %s, {updated_at} = %s WHERE {where}"
    return f"{sql} RETURNING {count}", params


def increment_counter(
    key: dict[str, Any], *, quantity: int, limit: int | None, record: bool = False
) -> tuple[int, int | None] | None:
    """Add `quantity` to the counter if that stays within `limit`, in one statement.

    Returns (new count, record id), or None when the counter is missing or the limit would be
    passed. With `record` (PostgreSQL only), the same statement also inserts the use's audit
    row, only if the counter moved (a data-modifying CTE), and returns its id; the row is not
    reportable until `commit`. Without it the record id is None.
    """
    sql, params = _increment_sql(key, quantity=quantity, limit=limit)
    if record:
        q = connection.ops.quote_name
        columns = ("subscription_id", "metric", "quantity", "timestamp")
        columns += ("meter_event_name", "stripe_customer_id")
        params += [key["subscription_id"], key["metric"], quantity, timezone.now(), "", ""]
        sql = (
            f"WITH bumped AS ({sql}), recorded AS ("
            f"INSERT INTO {q(UsageRecord._meta.db_table)} ({', '.join(map(q, columns))}) "
            f"SELECT {', '.join(['%s'] * len(columns))} FROM bumped RETURNING {q('id')}) "
            f"SELECT bumped.{q('count')}, recorded.{q('id')} FROM bumped, recorded"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    return int(row[0]), (int(row[1]) if record else None)


# --- webhook ingest -----------------------------------------------------------------------------


def endpoint_values(endpoint_id: str, names: list[str]) -> dict[str, Any] | None:
    """These columns of a WebhookEndpoint row (plain values), or None if there is no such row."""
    q = connection.ops.quote_name
    fields = [WebhookEndpoint._meta.get_field(name) for name in names]
    sql = (
        f"SELECT {', '.join(q(field.column) for field in fields)} "
        f"FROM {q(WebhookEndpoint._meta.db_table)} WHERE {q('id')} = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [endpoint_id])
        row = cursor.fetchone()
    return None if row is None else dict(zip(names, row, strict=True))


#: A column whose value is computed on each insert (not the same every time).
_COMPUTED = object()


@dataclass(frozen=True)
class _Column:
    """How the ORM's INSERT fills one column of a model (its primary key aside)."""

    field: models.Field
    quoted: str
    #: auto_now or auto_now_add: written as now
    automatic: bool
    #: the database value of a default that is the same on every insert (a plain value, or
    #: none): prepared once, not per delivery; else _COMPUTED
    constant: Any


@functools.cache
def _columns(model: type[models.Model]) -> tuple[_Column, ...]:
    columns = []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        automatic = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        fixed = not automatic and not (field.has_default() and callable(field.default))
        constant = field.get_db_prep_save(field.get_default(), connection) if fixed else _COMPUTED
        columns.append(_Column(field, connection.ops.quote_name(field.column), automatic, constant))
    return tuple(columns)


def _insert_values(model: type[models.Model], values: dict[str, Any], now: datetime) -> list:
    """Every column of `model` but its primary key, with what the ORM would write: the value
    given (by attname), else now for auto_now(_add) fields, else the field's default."""
    params = []
    for column in _columns(model):
        field = column.field
        if field.attname in values:
            params.append(field.get_db_prep_save(values[field.attname], connection))
        elif column.automatic:
            params.append(field.get_db_prep_save(now, connection))
        elif column.constant is not _COMPUTED:
            params.append(column.constant)
        else:
            params.append(field.get_db_prep_save(field.get_default(), connection))
    return params


@functools.cache
def _store_sql() -> tuple[str, int]:
    """The statement of `store_webhook_event`, and where the WebhookEvent's trigger id goes
    among its parameters (it takes two: the trigger table's sequence is read in SQL)."""
    q = connection.ops.quote_name
    event_meta, trigger_meta = WebhookEvent._meta, WebhookEventTrigger._meta
    trigger_fk = event_meta.get_field("trigger")
    event_columns = [column.quoted for column in _columns(WebhookEvent)]
    fk_at = event_columns.index(q(trigger_fk.column))
    event_values = ["%s"] * len(event_columns)
    event_values[fk_at] = "nextval(pg_get_serial_sequence(%s, %s))"
    trigger_columns = [column.quoted for column in _columns(WebhookEventTrigger)]
    sql = (
        f"WITH stored AS (INSERT INTO {q(event_meta.db_table)} ({', '.join(event_columns)}) "
        f"VALUES ({', '.join(event_values)}) "
        f"ON CONFLICT ({q(event_meta.get_field('stripe_event_id').column)}) DO NOTHING "
        f"RETURNING {q(event_meta.pk.column)}, {q(trigger_fk.column)}), "
        f"logged AS (INSERT INTO {q(trigger_meta.db_table)} "
        f"({q(trigger_meta.pk.column)}, {', '.join(trigger_columns)}) "
        f"SELECT stored.{q(trigger_fk.column)}, {', '.join(['%s'] * len(trigger_columns))} "
        f"FROM stored) "
        f"SELECT {q(event_meta.pk.column)} FROM stored"
    )
    return sql, fk_at


def store_webhook_event(*, event: dict[str, Any], trigger: dict[str, Any]) -> int | None:
    """PostgreSQL: store a verified delivery in one statement; the new WebhookEvent's id, or
    None when one with this Stripe event id exists already (then nothing is written).

    `event` and `trigger` are the two rows' values by attname (the WebhookEvent without its
    trigger). The WebhookEvent is inserted unless its id conflicts, taking the trigger's id
    from the trigger table's sequence, and the trigger row is inserted only if it was (the
    foreign key between them is checked at commit).
    """
    sql, fk_at = _store_sql()
    now = timezone.now()
    event_params = _insert_values(WebhookEvent, event, now)
    trigger_meta = WebhookEventTrigger._meta
    event_params[fk_at : fk_at + 1] = [trigger_meta.db_table, trigger_meta.pk.column]
    trigger_params = _insert_values(WebhookEventTrigger, trigger, now)
    with server_binding_cursor() as cursor:
        cursor.execute(sql, event_params + trigger_params)
        row = cursor.fetchone()
    return None if row is None else int(row[0])
