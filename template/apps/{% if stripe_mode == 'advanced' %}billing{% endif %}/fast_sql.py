"""Hand-written SQL for usage limits (advanced mode), and nowhere else.

The benchmark target it serves: `@usage_limit` adds at most two SQL statements to a request
(finding the subscription, then this one), and costs no more with 1,000,000 past usage records
than with none. One conditional UPDATE (PostgreSQL: with the audit row's INSERT in a
data-modifying CTE) does that; the ORM cannot write either statement.

The rule it mirrors: one more use of `quantity` fits when `count + quantity <= limit` (no
limit: always), the rule `usage.check_usage_limit` reads in Python;
`tests/billing/test_fast_sql.py` holds the two to each other. Change the rule in both places,
or not at all.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils import timezone

from .models import UsageCounter, UsageRecord


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
