"""Concurrent deliveries and checkouts on a real PostgreSQL server (SQLite serialises writers,
so it cannot show races). Run with DATABASE_URL=postgres://...; skipped otherwise."""

from __future__ import annotations

import time
from typing import Any

import pytest
import stripe
from django.core import mail
from django.test import Client
from django.urls import reverse

from apps.billing.models import StripeCustomer, Subscription, WebhookEvent
from tests.concurrency import in_parallel, needs_postgresql
from tests.stripe_events import encode, load_fixture, make_event, sign

pytestmark = [
    needs_postgresql,
    pytest.mark.django_db(transaction=True),
]


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
    stored = WebhookEvent.objects.get()
    assert (stored.status, stored.attempts) == (WebhookEvent.Status.PROCESSED, 1)


def test_twenty_concurrent_deliveries_of_an_update_are_stored_once(customer):
    post(make_event("customer.subscription.created", load_fixture("subscription")))
    event = make_event(
        "customer.subscription.updated", load_fixture("subscription", status="past_due")
    )
    statuses = in_parallel(20, lambda _: post(event))
    assert statuses == [200] * 20
    assert Subscription.objects.get().status == "past_due"
    stored = WebhookEvent.objects.get(stripe_event_id=event["id"])
    assert (stored.status, stored.attempts) == (WebhookEvent.Status.PROCESSED, 1)


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


def test_two_concurrent_first_checkouts_give_one_customer(offline, user):
    """Two tabs (or a double click) start the first checkout at once: one Stripe customer, one
    link, and only the newer Checkout page can still be paid."""
    clients = [Client(), Client()]
    for client in clients:
        client.force_login(user)

    def checkout(i: int) -> str:
        response = clients[i].post(reverse("billing:checkout"), {"price_id": offline.pro})
        assert response.status_code == 302, response.content
        return str(response["Location"]).rsplit("/", 1)[1]

    session_ids = in_parallel(2, checkout)
    assert all(isinstance(session_id, str) for session_id in session_ids), session_ids
    key = offline.fake.api_key
    [customer] = stripe.Customer.list(api_key=key).data
    assert StripeCustomer.objects.get().stripe_customer_id == customer.id
    sessions = [stripe.checkout.Session.retrieve(i, api_key=key) for i in session_ids]
    assert {session.customer for session in sessions} == {customer.id}
    assert sorted(session.status for session in sessions) == ["expired", "open"]
