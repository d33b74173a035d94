"""Concurrent requests on a real PostgreSQL server (SQLite serialises writers, so it cannot
show races). Run with DATABASE_URL=postgres://...; skipped otherwise."""

from __future__ import annotations

import json

import pytest
import stripe
from django.core import mail
from django.test import Client
from djstripe.models import Customer

from apps.billing.emails import BillingEmail
from apps.billing.metering import build_reports
from apps.billing.models import (
    MeterReport,
    Subscription,
    UsageCounter,
    UsageRecord,
)
from tests.concurrency import in_parallel, needs_postgresql
from tests.stripe_events import sign

from . import factories
from .conftest import WEBHOOK_SECRET, WEBHOOK_URL

pytestmark = [
    needs_postgresql,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("tests.billing.urls"),
]


def test_fifty_concurrent_requests_never_exceed_a_limit_of_ten(user):
    subscription = factories.subscription(user=user)

    def call(_: int) -> int:
        client = Client()
        client.force_login(user)
        return client.get("/api/ten/").status_code

    statuses = in_parallel(50, call)
    assert sorted(statuses) == [200] * 10 + [429] * 40
    counter = UsageCounter.objects.get(subscription_id=subscription.id, metric="api_calls")
    assert counter.count == 10
    assert UsageRecord.objects.filter(subscription_id=subscription.id).count() == 10


def test_concurrent_flushes_put_each_record_in_one_report(user):
    plan = factories.plan("usage", metered_metric="api_calls", meter_event_name="api_calls")
    plan.metered_price = plan.stripe_price
    plan.save()
    subscription = factories.subscription(user=user, plan=plan)
    UsageRecord.objects.bulk_create(
        UsageRecord(
            subscription_id=subscription.id,
            metric="api_calls",
            quantity=1,
            meter_event_name="api_calls",
            stripe_customer_id=subscription.customer_id,
        )
        for _ in range(500)
    )
    in_parallel(8, lambda _: build_reports(limit=100))
    assert not UsageRecord.objects.filter(report__isnull=True).exists()
    assert sum(MeterReport.objects.values_list("value", flat=True)) == 500


def post_event(event: dict) -> int:
    body = json.dumps(event).encode()
    response = Client().post(
        WEBHOOK_URL,
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, secret=WEBHOOK_SECRET),
    )
    return response.status_code


@pytest.mark.parametrize("newer_first", [True, False])
def test_concurrent_updates_keep_the_newer_state(user, stripe_fake, catalog, newer_first):
    created = factories.stripe_subscription(user=user, plan=catalog["pro"])
    stripe_fake.deliver()
    options = {"api_key": stripe_fake.api_key}
    stripe.Subscription.modify(created.id, cancel_at_period_end=True, **options)
    stripe.Subscription.modify(created.id, cancel_at_period_end=False, **options)
    older, newer = stripe_fake.events("customer.subscription.updated")[-2:]
    assert older["data"]["object"]["cancel_at_period_end"] is True
    events = [newer, older] if newer_first else [older, newer]
    for _ in range(3):  # several rounds to let the race go both ways
        assert in_parallel(2, lambda i: post_event(events[i])) == [200, 200]
        stored = Subscription.objects.get(id=created.id)
        assert stored.cancel_at_period_end is False  # Stripe's state now, not the older event's


def test_concurrent_deliveries_of_one_failed_payment_send_one_email(user, stripe_fake, catalog):
    subscription = factories.stripe_subscription(user=user, plan=catalog["pro"])
    stripe_fake.deliver()
    factories.fail_next_payments(subscription.customer)
    stripe_fake.advance(days=31)
    body = json.dumps(stripe_fake.events("invoice.payment_failed")[-1]).encode()

    def post(_: int) -> int:
        return (
            Client()
            .post(
                WEBHOOK_URL,
                data=body,
                content_type="application/json",
                HTTP_STRIPE_SIGNATURE=sign(body, secret=WEBHOOK_SECRET),
            )
            .status_code
        )

    statuses = in_parallel(10, post)
    assert statuses == [200] * 10
    assert BillingEmail.objects.count() == 1
    assert len(mail.outbox) == 1


def test_two_concurrent_first_checkouts_give_one_customer(django_user_model, stripe_fake, catalog):
    """Two tabs (or a double click) start a user's first checkout at once: one Stripe
    customer, one local row, and only the newest Checkout can still be paid. Several users,
    to let the race go every way."""
    for n in range(5):
        user = django_user_model.objects.create_user(email=f"racer{n}@example.com")

        def start(_: int, user=user) -> int:
            client = Client()
            client.force_login(user)
            price_id = catalog["pro"].stripe_price_id
            return client.post("/billing/checkout/", {"price_id": price_id}).status_code

        assert in_parallel(2, start) == [302, 302]
        customers = stripe.Customer.list(email=user.email, api_key=stripe_fake.api_key).data
        assert len(customers) == 1
        assert Customer.objects.get(subscriber=user).id == customers[0].id
        sessions = stripe.checkout.Session.list(
            customer=customers[0].id, api_key=stripe_fake.api_key
        ).data
        assert sorted(session.status for session in sessions) == ["expired", "open"]
