"""Concurrent requests and workers on a real PostgreSQL server (SQLite serialises writers, so
it cannot show races). Run with DATABASE_URL=postgres://...; skipped otherwise.

Workers are threads running the tasks the webhook queued (Celery's in-memory broker holds
them: `task_queue`), several at once, in shuffled order, each message twice (as when a worker
dies after applying an event and its message is delivered again)."""

from __future__ import annotations

import json
import random
import threading
import time

import pytest
import stripe
from django.core import mail
from django.db import connections, transaction
from django.test import Client
from djstripe.models import Customer, Event, WebhookEventTrigger

from apps.billing.emails import BillingEmail
from apps.billing.metering import build_reports
from apps.billing.models import (
    MeterReport,
    Subscription,
    SubscriptionMetadata,
    UsageCounter,
    UsageRecord,
    WebhookEvent,
)
from apps.billing.services import lock_stripe_object
from apps.billing.webhook_handlers import apply_webhook_event
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


# --- the webhook's events, applied by several workers ----------------------------------------

PROCESS = "apps.billing.tasks.process_webhook_events"
SEND_EMAIL = "apps.billing.emails.send_billing_email"


def run_as_workers(task_queue, messages, *, workers: int = 4, seed: int = 0) -> list:
    """Each message twice, shuffled, split among `workers` threads running at once; what each
    run returned (for a batch of events: each event's outcome)."""
    work = list(messages) * 2
    random.Random(seed).shuffle(work)
    shares = [work[i::workers] for i in range(workers)]
    results = in_parallel(workers, lambda i: [task_queue.run(m) for m in shares[i]])
    assert not [r for r in results if isinstance(r, Exception)], results
    outcomes = []
    for outcome in (outcome for share in results for outcome in share):
        if isinstance(outcome, dict):  # {outcome: how many events of the batch}
            outcomes += [name for name, count in outcome.items() for _ in range(count)]
        else:
            outcomes.append(outcome)
    return outcomes


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_events_applied_by_several_workers_in_any_order_have_one_effect_each(
    django_user_model, stripe_fake, catalog, task_queue, seed
):
    options = {"api_key": stripe_fake.api_key}
    subscriptions = [
        factories.stripe_subscription(
            user=django_user_model.objects.create_user(email=f"worker{n}@example.com"),
            plan=catalog["pro"],
        )
        for n in range(4)
    ]
    first, toggled, canceled, failing = subscriptions
    stripe.Subscription.modify(first.id, cancel_at_period_end=True, **options)
    stripe.Subscription.modify(toggled.id, cancel_at_period_end=True, **options)
    stripe.Subscription.modify(toggled.id, cancel_at_period_end=False, **options)
    stripe.Subscription.cancel(canceled.id, **options)
    factories.fail_next_payments(failing.customer)
    stripe_fake.advance(days=31)  # renewals: one paid, one failed; `first` ends
    stripe_fake.deliver()  # the webhook stores each event and queues it

    stored = WebhookEvent.objects.count()
    assert stored == len(stripe_fake.delivered_event_ids()) and not Event.objects.exists()
    messages = task_queue.drain()
    assert {name for name, _ in messages} == {PROCESS}
    assert sorted(pk for _, [pks] in messages for pk in pks) == sorted(
        WebhookEvent.objects.values_list("pk", flat=True)
    )  # each stored event queued once

    outcomes = run_as_workers(task_queue, messages, seed=seed)
    emails = task_queue.drain()
    assert {name for name, _ in emails} <= {SEND_EMAIL}
    run_as_workers(task_queue, emails, seed=seed)

    # Each event applied by exactly one of its two messages; the other found it done or busy.
    assert sorted(set(outcomes)) == ["processed", "skipped"]
    assert outcomes.count("processed") == stored
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert not WebhookEventTrigger.objects.filter(processed=False).exists()
    assert sorted(Event.objects.values_list("id", flat=True)) == sorted(
        WebhookEvent.objects.values_list("stripe_event_id", flat=True)
    )  # one Event per stored event: each applied once
    for subscription in subscriptions:
        remote = stripe.Subscription.retrieve(subscription.id, **options)
        local = Subscription.objects.get(id=subscription.id)
        assert (local.status, local.cancel_at_period_end) == (
            remote.status,
            remote.cancel_at_period_end,
        )  # Stripe's state now, whatever order the events came in
    assert SubscriptionMetadata.objects.count() == len(subscriptions)
    failed_payments = len(stripe_fake.events("invoice.payment_failed"))
    assert failed_payments >= 1
    assert BillingEmail.objects.filter(sent_at__isnull=False).count() == failed_payments
    assert len(mail.outbox) == failed_payments == BillingEmail.objects.count()


def test_concurrent_deliveries_of_one_event_store_it_once_and_apply_it_once(
    user, stripe_fake, catalog, task_queue
):
    factories.stripe_subscription(user=user, plan=catalog["pro"])
    event = stripe_fake.events("customer.subscription.created")[-1]
    assert in_parallel(10, lambda _: post_event(event)) == [200] * 10
    assert WebhookEvent.objects.count() == WebhookEventTrigger.objects.count() == 1
    messages = task_queue.drain()
    # Deliveries that found it stored and not done yet queued it again: harmless.
    assert 1 <= len(messages) <= 10
    outcomes = run_as_workers(task_queue, messages, workers=5)
    assert outcomes.count("processed") == 1 and set(outcomes) <= {"processed", "skipped"}
    assert Event.objects.count() == 1 and SubscriptionMetadata.objects.count() == 1


def test_a_worker_waits_while_another_applies_an_event_about_the_same_object(
    django_user_model, stripe_fake, catalog, task_queue
):
    """Events about one Stripe object are applied one at a time (the later reader of Stripe
    writes later); events about other objects are not held up."""
    users = [django_user_model.objects.create_user(email=f"lock{n}@example.com") for n in (1, 2)]
    held, other = (factories.stripe_subscription(user=user, plan=catalog["pro"]) for user in users)
    stripe_fake.deliver()
    task_queue.drain()

    def event_of(subscription):
        return WebhookEvent.objects.get(
            type="customer.subscription.created",
            trigger__body__contains=subscription.id,
        )

    locked, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        try:
            with transaction.atomic():
                lock_stripe_object(held.id)  # another worker, busy with this subscription
                locked.set()
                release.wait(timeout=30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert locked.wait(timeout=10)
    waiting = threading.Thread(
        target=lambda: (apply_webhook_event(event_of(held).pk), connections.close_all())
    )
    waiting.start()
    try:
        assert apply_webhook_event(event_of(other).pk) == "processed"  # not held up
        time.sleep(0.5)
        assert event_of(held).status == WebhookEvent.Status.RECEIVED  # still waiting
    finally:
        release.set()
        holder.join(timeout=30)
        waiting.join(timeout=30)
    assert event_of(held).status == WebhookEvent.Status.PROCESSED
