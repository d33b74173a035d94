"""The webhook endpoint on a persistent connection the database dropped (a restart, a failover,
an idle timeout): the delivery is stored anyway, and no request pays a health-check round trip
to learn that (apps/billing/reconnect.py). On a real PostgreSQL server, whose backend is ended
from another connection; skipped on SQLite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, connections
from django.test import Client

from apps.billing.models import WebhookEvent
from tests.concurrency import needs_postgresql
from tests.stripe_events import encode, make_event, sign

pytestmark = [needs_postgresql, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def health_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The test's connection as the production settings keep it: persistent, with health checks
    on. Returns the health checks it sent (Django's `is_usable`: a `SELECT 1`)."""
    wrapper = connections[DEFAULT_DB_ALIAS]  # this thread's (`connection` is a proxy to it)
    wrapper.ensure_connection()
    monkeypatch.setattr(wrapper, "health_check_enabled", True)
    sent: list[str] = []
    is_usable = wrapper.is_usable

    def counted() -> bool:
        sent.append("SELECT 1")
        return is_usable()

    monkeypatch.setattr(wrapper, "is_usable", counted)
    return sent


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids the endpoint queued for processing (the processing itself is not the subject)."""
    ids: list[int] = []
    monkeypatch.setattr("apps.billing.tasks.queue_webhook_event", ids.append)
    return ids


@pytest.fixture
def deliver(webhook_target: Any) -> Callable[[str], int]:
    """POST a signed event to the endpoint as a request on a reused connection: Django makes
    its health check due when such a request starts."""

    def post(name: str) -> int:
        body = encode(make_event("customer.created", {"id": f"cus_{name}", "object": "customer"}))
        connection.health_check_done = False
        response = Client().post(
            webhook_target.url,
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sign(body, secret=webhook_target.secret),
        )
        return response.status_code

    return post


def admin_connection() -> psycopg.Connection[Any]:
    """Another connection to the test database."""
    return psycopg.connect(**connection.get_connection_params(), autocommit=True)


def test_a_delivery_on_a_dropped_connection_is_stored_without_a_health_check(
    deliver: Callable[[str], int], health_checks: list[str], queued: list[int]
) -> None:
    assert deliver("first") == 200
    assert health_checks == []  # no SELECT 1 before the delivery's statements
    assert WebhookEvent.objects.count() == 1

    with admin_connection() as admin:  # as a database restart would
        admin.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    assert deliver("second") == 200
    assert WebhookEvent.objects.count() == 2  # stored on a new connection
    assert queued == list(WebhookEvent.objects.order_by("pk").values_list("pk", flat=True))
    # The one check: after the statement failed, to tell a dropped connection from a refusal.
    assert health_checks == ["SELECT 1"]


@pytest.fixture
def insert_timeout() -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '200ms'")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = 0")


def test_a_statement_the_database_refuses_is_not_run_again(
    deliver: Callable[[str], int], health_checks: list[str], insert_timeout: None
) -> None:
    table = connection.ops.quote_name(WebhookEvent._meta.db_table)
    inserts: list[str] = []

    def count_inserts(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.lstrip().upper().startswith(("INSERT", "WITH")) and table in sql:
            inserts.append(sql)
        return execute(sql, params, many, context)

    with admin_connection() as admin:
        # Its lock ends with the session after 3 s: a retry (on a new connection, without
        # lock_timeout) would then store the event, and the test fail instead of hanging.
        admin.execute("SET idle_in_transaction_session_timeout = '3s'")
        admin.execute("BEGIN")
        admin.execute(f"LOCK TABLE {table} IN SHARE MODE")  # reads pass, inserts wait
        with connection.execute_wrapper(count_inserts), pytest.raises(OperationalError):
            deliver("refused")  # the insert gives up after lock_timeout
        admin.execute("ROLLBACK")
    assert len(inserts) == 1
    assert health_checks == ["SELECT 1"]  # the check that told it from a dropped connection
    assert WebhookEvent.objects.count() == 0
