"""Concurrent deliveries on a real PostgreSQL server (SQLite serialises writers, so it cannot
show races). Run with DATABASE_URL=postgres://...; skipped otherwise."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from django.db import connection, connections
from django.test import Client

from apps.billing.models import Subscription, WebhookEvent
from tests.stripe_events import encode, load_fixture, make_event, sign

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL: set DATABASE_URL=postgres://user@host:5432/name",
    ),
    pytest.mark.django_db(transaction=True),
]


def in_parallel(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(i) in `count` threads released together; each thread has its own connection."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # surfaced by the assertions below
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def post(event: dict[str, Any]) -> int:
    body = encode(event)
    response = Client().post(
        "/billing/webhook/",
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body),
    )
    return response.status_code


def test_twenty_concurrent_deliveries_of_one_event_have_one_effect(customer):
    event = make_event("invoice.payment_failed", load_fixture("invoice"))
    statuses = in_parallel(20, lambda _: post(event))
    assert statuses == [200] * 20
    assert WebhookEvent.objects.count() == 1
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    assert len(mail.outbox) == 1


def test_twenty_concurrent_deliveries_create_one_subscription(customer):
    event = make_event("customer.subscription.created", load_fixture("subscription"))
    statuses = in_parallel(20, lambda _: post(event))
    assert statuses == [200] * 20
    assert Subscription.objects.count() == 1


@pytest.mark.parametrize("newer_first", [True, False])
def test_concurrent_updates_keep_the_newer_state(customer, newer_first):
    now = int(time.time())
    post(
        make_event("customer.subscription.created", load_fixture("subscription"), created=now - 100)
    )
    newer = make_event(
        "customer.subscription.updated",
        load_fixture("subscription", status="past_due"),
        created=now,
    )
    older = make_event(
        "customer.subscription.updated",
        load_fixture("subscription", status="active", cancel_at_period_end=True),
        created=now - 50,
    )
    events = [newer, older] if newer_first else [older, newer]
    for _ in range(5):  # several rounds to let the race go both ways
        assert in_parallel(2, lambda i: post(events[i])) == [200, 200]
        sub = Subscription.objects.get()
        assert (sub.status, sub.cancel_at_period_end) == ("past_due", False)
