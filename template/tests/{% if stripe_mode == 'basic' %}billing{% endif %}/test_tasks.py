"""`apps.billing.tasks`: webhooks applied by the task queue, retried with backoff and kept when
they keep failing, the periodic sweep, and the nightly reconciliation with Stripe (through the
offline Stripe). The same code runs in-process here (no broker) and in a worker."""

from __future__ import annotations

import logging
import random
import time
from datetime import timedelta
from typing import Any

import pytest
import stripe
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client, TestCase
from django.utils import timezone

from apps.billing.emails import BillingEmail
from apps.billing.models import StripeCustomer, Subscription, WebhookEvent
from apps.billing.services import reconcile_subscription
from apps.billing.tasks import (
    MAX_RETRIES,
    RETRY_BACKOFF_CAP,
    reconcile_subscriptions,
    retry_webhook_events,
)
from apps.billing.webhook_handlers import subscription_fields, to_datetime
from apps.billing.webhooks import store_event
from config.celery import app as celery_app
from tests.celery_broker import use_broker
from tests.db_faults import refusing_inserts
from tests.stripe_events import load_fixture, make_event

from .harness import History, deliver

pytestmark = pytest.mark.django_db
Status = WebhookEvent.Status


def test_every_periodic_task_is_a_task_the_worker_knows():
    celery_app.loader.import_default_modules()  # the task modules a starting worker imports
    schedule = django_settings.CELERY_BEAT_SCHEDULE
    assert {"retry-webhook-events", "reconcile-subscriptions"} <= set(schedule)
    for entry in schedule.values():
        assert entry["task"] in celery_app.tasks, entry


# --- webhooks through the queue ---------------------------------------------------------------


def test_the_endpoint_stores_and_queues_and_a_worker_applies(client, customer, task_queue):
    event = make_event("customer.subscription.created", load_fixture("subscription"))
    response = deliver(client, event)
    assert response.json() == {"id": event["id"], "status": Status.RECEIVED}
    assert not Subscription.objects.exists()  # nothing applied inside the request
    [task] = task_queue.take()
    assert task.name == "apps.billing.tasks.process_webhook_events"
    stored = WebhookEvent.objects.get()
    assert task.args == [[stored.pk]]

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert task.run() == {Status.PROCESSED: 1}
    assert Subscription.objects.get().status == "active"
    # A redelivery of an applied event is acknowledged, and nothing is queued.
    assert deliver(client, event).json()["status"] == Status.PROCESSED
    assert task_queue.take() == []


def test_a_shuffled_history_delivered_in_process_ends_in_stripes_state(
    client, user, django_user_model
):
    """Without a broker, each delivery is applied in-process, in whatever order it arrives."""
    start = int(time.time()) - 3 * 30 * 86_400
    history = History()
    for i in range(3):
        customer_id = f"cus_InProcess{i}"
        if i == 0:
            history.link_by_checkout(customer_id, user.pk, at=start + 5)
        else:
            owner = django_user_model.objects.create_user(email=f"owner{i}@example.com")
            StripeCustomer.objects.create(user=owner, stripe_customer_id=customer_id)
        end = ("past_due", "paid", "canceled")[i]
        history.lifecycle(customer_id, f"sub_InProcess{i}", start=start + i, end=end)
    events = history.events[:]
    random.Random(7).shuffle(events)
    for event in events:
        assert deliver(client, event).status_code == 200

    for subscription_id, state in history.final.items():
        row = Subscription.objects.get(stripe_subscription_id=subscription_id)
        expected = subscription_fields(state)
        assert {name: getattr(row, name) for name in expected} == expected, subscription_id
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {Status.PROCESSED}
    assert len(mail.outbox) == len(history.emailing) == 3


# --- failures: retried with backoff, then kept for staff --------------------------------------


def test_a_failing_event_is_retried_with_backoff_then_kept_for_staff(
    client, customer, task_queue, caplog, django_user_model
):
    event = make_event("invoice.payment_failed", load_fixture("invoice"))
    deliver(client, event)
    [batch] = task_queue.take()
    waits = []
    with refusing_inserts(BillingEmail._meta.db_table), caplog.at_level(logging.ERROR):
        # The batch's attempt fails: the event is queued again on its own, as its retry 1.
        queued_at = timezone.now()
        assert batch.run() == {Status.FAILED: 1}
        [task] = task_queue.take()
        assert (task.name, task.args, task.retries) == (
            "apps.billing.tasks.process_webhook_event",
            [WebhookEvent.objects.get().pk],
            1,
        )
        waits.append(round((task.eta - queued_at).total_seconds()))
        for attempt in range(1, MAX_RETRIES + 1):
            queued_at = timezone.now()
            assert task.run() is not None
            retry = task_queue.take()
            if attempt == MAX_RETRIES:
                assert retry == []  # given up
                break
            [task] = retry
            assert task.retries == attempt + 1
            waits.append(round((task.eta - queued_at).total_seconds()))
    assert waits == [30, 60, 120, 240, 480, 960, RETRY_BACKOFF_CAP, RETRY_BACKOFF_CAP]
    stored = WebhookEvent.objects.get()
    assert (stored.status, stored.attempts) == (Status.FAILED, MAX_RETRIES + 1)
    assert "refused (test fault)" in stored.last_error
    assert any("Gave up" in record.getMessage() for record in caplog.records)
    assert not mail.outbox

    # Staff see it, with its error, and apply it again once the fault is fixed.
    staff = django_user_model.objects.create_superuser(email="staff@example.com", password="pw")
    admin = Client()
    admin.force_login(staff)
    listing = admin.get("/admin/billing/webhookevent/", {"status__exact": "failed"})
    assert event["id"] in listing.content.decode()
    assert "refused (test fault)" in listing.content.decode()
    with TestCase.captureOnCommitCallbacks(execute=True):
        admin.post(
            "/admin/billing/webhookevent/", {"action": "retry", "_selected_action": [stored.pk]}
        )
    [task] = task_queue.take()
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert task.run() == {Status.PROCESSED: 1}
    task_queue.run_all()  # its email
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)  # queued at once, as after a real request's commit
def test_an_unreachable_broker_delays_the_event_and_loses_nothing(
    client, customer, task_queue, caplog
):
    event = make_event("customer.subscription.created", load_fixture("subscription"))
    # A port nothing listens on; publishing gives up after one retry.
    with (
        use_broker("redis://127.0.0.1:9/0", task_publish_retry_policy={"max_retries": 1}),
        caplog.at_level(logging.ERROR, logger="apps.billing.batching"),
    ):
        assert deliver(client, event).json() == {"id": event["id"], "status": Status.RECEIVED}
        deadline = time.monotonic() + 10
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.05)
    # Answered at once (the request never waits on the broker), stored, and not lost: the
    # sender thread keeps the event and sends it once the broker is back.
    assert caplog.messages[0].startswith("Could not queue 1 webhook events (attempt 1)")
    assert WebhookEvent.objects.get().status == Status.RECEIVED
    [task] = task_queue.take()
    assert task.run() == {Status.PROCESSED: 1}
    assert Subscription.objects.get().status == "active"


# --- the periodic sweep -----------------------------------------------------------------------


def test_the_sweep_applies_deferred_events_whose_customer_is_known_now(client, user):
    waiting = make_event("customer.subscription.created", load_fixture("subscription"))
    deliver(client, waiting)
    assert WebhookEvent.objects.get().status == Status.DEFERRED
    # Linked by something that does not replay what waited (a shell, a data migration).
    StripeCustomer.objects.create(user=user, stripe_customer_id="cus_Rtestcustomer001")

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert retry_webhook_events.delay().get() == {"deferred": 1, "requeued": 0}
    assert WebhookEvent.objects.get().status == Status.PROCESSED
    assert user.has_active_subscription


def test_the_sweep_leaves_events_waiting_for_an_unknown_customer_and_failed_ones(client, user):
    deliver(client, make_event("customer.subscription.created", load_fixture("subscription")))
    failed = make_event("invoice.payment_failed", load_fixture("invoice", customer="cus_Failing"))
    StripeCustomer.objects.create(user=user, stripe_customer_id="cus_Failing")
    with refusing_inserts(BillingEmail._meta.db_table):
        deliver(client, failed)
    assert retry_webhook_events.delay().get() == {"deferred": 0, "requeued": 0}
    statuses = dict(WebhookEvent.objects.values_list("stripe_event_id", "status"))
    assert statuses[failed["id"]] == Status.FAILED  # its own task retries it, then staff
    assert Status.DEFERRED in statuses.values()


def test_the_sweep_queues_an_event_that_was_stored_but_never_processed(customer):
    event = make_event("customer.subscription.created", load_fixture("subscription"))
    receipt = store_event(event)  # stored, and its message lost (a broker that lost its data)
    WebhookEvent.objects.filter(pk=receipt.pk).update(
        received_at=timezone.now() - timedelta(hours=2)
    )
    recent = store_event(make_event("customer.created", {"id": "cus_New", "object": "customer"}))

    with TestCase.captureOnCommitCallbacks(execute=True):
        assert retry_webhook_events.delay().get() == {"deferred": 0, "requeued": 1}
    assert WebhookEvent.objects.get(pk=receipt.pk).status == Status.PROCESSED
    assert WebhookEvent.objects.get(pk=recent.pk).status == Status.RECEIVED  # still queued


# --- nightly reconciliation with Stripe -------------------------------------------------------


def after_the_last_event(offline: Any) -> None:
    """Stripe's times are whole seconds, and a state read in the second of an event applied
    here does not overwrite it: start reading in the next second."""
    last = max(event["created"] for event in offline.fake.events())
    while int(time.time()) <= last:
        time.sleep(0.05)


def test_reconciliation_corrects_what_lost_webhooks_left_wrong_and_logs_it(
    offline, user, other_user, caplog
):
    offline.subscribe()
    offline.deliver()
    subscription = Subscription.objects.get()
    sub_id = subscription.stripe_subscription_id
    customer_id = subscription.customer.stripe_customer_id
    key = offline.fake.api_key
    # Changed at Stripe, the webhooks never arriving: a cancellation requested, a second seat
    # bought, and a second subscription (made in the dashboard) never recorded here.
    stripe.Subscription.modify(sub_id, cancel_at_period_end=True, api_key=key)
    item = stripe.Subscription.retrieve(sub_id, api_key=key)["items"]["data"][0]
    stripe.SubscriptionItem.modify(item["id"], quantity=2, api_key=key)
    second = stripe.Subscription.create(
        customer=customer_id,
        items=[{"price": offline.enterprise}],
        default_payment_method="pm_card_visa",
        api_key=key,
    )
    after_the_last_event(offline)

    with caplog.at_level(logging.WARNING, logger="apps.billing.services"):
        assert reconcile_subscriptions.delay().get() >= 3
    subscription.refresh_from_db()
    assert (subscription.cancel_at_period_end, subscription.quantity) == (True, 2)
    assert Subscription.objects.get(stripe_subscription_id=second.id).plan.slug == "enterprise"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"{sub_id}: cancel_at_period_end: False → True" in logged
    assert f"{sub_id}: quantity: 1 → 2" in logged
    assert f"{second.id}: subscription: None → 'active'" in logged

    # The webhooks, late: the same state, nothing failed.
    offline.deliver()
    subscription.refresh_from_db()
    assert (subscription.cancel_at_period_end, subscription.quantity) == (True, 2)
    assert not WebhookEvent.objects.filter(status__in=[Status.FAILED, Status.DEFERRED]).exists()


def test_reconciliation_ends_access_canceled_at_stripe_and_changes_nothing_when_in_sync(
    offline, user, caplog
):
    offline.subscribe()
    offline.deliver()
    after_the_last_event(offline)
    assert reconcile_subscriptions.delay().get() == 0  # in sync: nothing to correct

    sub_id = Subscription.objects.get().stripe_subscription_id
    stripe.Subscription.cancel(sub_id, api_key=offline.fake.api_key)
    after_the_last_event(offline)
    with caplog.at_level(logging.WARNING, logger="apps.billing.services"):
        assert reconcile_subscriptions.delay().get() >= 1
    assert Subscription.objects.get().status == "canceled"
    assert not user.has_active_subscription
    assert f"Reconciled with Stripe: {sub_id}: status: 'active' → 'canceled'" in caplog.messages


def test_reconciliation_never_overwrites_a_newer_webhook(offline, user):
    """A state read from Stripe is applied at the time Stripe answered: a webhook of a later
    change, applied first, stays."""
    offline.subscribe()
    offline.deliver()
    sub_id = Subscription.objects.get().stripe_subscription_id
    after_the_last_event(offline)
    # The reconciliation reads now; a change made a second later arrives (by webhook) first.
    listing_time = int(time.time())
    while int(time.time()) <= listing_time:
        time.sleep(0.05)
    stripe.Subscription.modify(sub_id, cancel_at_period_end=True, api_key=offline.fake.api_key)
    offline.deliver()

    customer_id = user.stripe_customer.stripe_customer_id
    stale = load_fixture("subscription", id=sub_id, customer=customer_id)
    assert reconcile_subscription(stale, at=to_datetime(listing_time)) == []
    assert Subscription.objects.get().cancel_at_period_end is True


def test_reconciliation_without_stripe_keys_reads_nothing(settings, make_subscription, caplog):
    settings.STRIPE_SECRET_KEY = ""
    make_subscription(status="active")
    with caplog.at_level(logging.INFO, logger="apps.billing.services"):
        assert reconcile_subscriptions.delay().get() == 0
    assert "Stripe is not configured: no subscriptions to reconcile" in caplog.messages
    assert Subscription.objects.get().status == "active"
