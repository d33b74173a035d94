"""The billing tasks as the beat schedules them, run in-process (as without a broker) against
the offline Stripe: usage reporting, queuing lost webhook events again, and the schedule."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
import stripe
from django.conf import settings
from django.test import Client
from django.utils import timezone
from djstripe.models import Event

from apps.billing import tasks
from apps.billing.models import MeterReport, SubscriptionMetadata, UsageRecord, WebhookEvent
from apps.billing.utils import get_active_subscription, record_usage
from config.celery import app
from tests.stripe_events import sign

from . import factories
from .conftest import WEBHOOK_SECRET, WEBHOOK_URL

pytestmark = pytest.mark.django_db


def test_every_scheduled_task_exists():
    """A misspelt task name in the schedule would be sent by beat and never run by a worker."""
    app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {
        "apps.billing.tasks.report_usage",
        "apps.billing.tasks.retry_webhook_events",
        "apps.billing.tasks.reconcile_subscriptions",
        "apps.billing.emails.send_pending_billing_emails",
    } <= scheduled
    assert scheduled <= set(app.tasks)


# --- usage reporting ----------------------------------------------------------------------------


@pytest.fixture
def metered(user, stripe_fake, catalog):
    factories.stripe_subscription(user=user, plan=catalog["usage"])
    stripe_fake.deliver()
    return get_active_subscription(user)


def billed(stripe_fake, catalog, subscription) -> float:
    now = int(time.time()) // 60 * 60
    summaries = stripe.billing.Meter.list_event_summaries(
        catalog.meter_id,
        customer=subscription.customer_id,
        start_time=now - 3600,
        end_time=now + 120,
        api_key=stripe_fake.api_key,
    )
    return sum(summary.aggregated_value for summary in summaries.data)


def test_the_periodic_usage_report_sends_the_outbox_once(stripe_fake, catalog, metered):
    for quantity in (2, 3):
        record_usage(metered, metric="api_calls", quantity=quantity)
    result = tasks.report_usage.delay().get()
    assert result == {"reports_created": 1, "sent": 1, "failed": 0}
    assert billed(stripe_fake, catalog, metered) == 5
    assert tasks.report_usage.delay().get() == {"reports_created": 0, "sent": 0, "failed": 0}
    assert billed(stripe_fake, catalog, metered) == 5


def test_the_periodic_usage_report_without_stripe_keeps_usage_pending(settings, metered):
    record_usage(metered, metric="api_calls", quantity=3)
    settings.STRIPE_SECRET_KEY = ""
    assert tasks.report_usage.delay().get() == {}
    assert UsageRecord.objects.get().report is None and not MeterReport.objects.exists()


# --- webhook events whose queued work was lost ----------------------------------------------------


@pytest.fixture
def stored_event(stripe_fake, catalog, user, django_capture_on_commit_callbacks):
    """A subscription's created event, stored by the webhook, whose queued processing was
    lost (the message never reached a worker)."""
    factories.stripe_subscription(user=user, plan=catalog["pro"])
    body = json.dumps(stripe_fake.events("customer.subscription.created")[-1]).encode()
    with django_capture_on_commit_callbacks() as queued:  # never run: the message is lost
        response = Client().post(
            WEBHOOK_URL,
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sign(body, secret=WEBHOOK_SECRET),
        )
    assert response.status_code == 200 and len(queued) == 1
    return WebhookEvent.objects.get()


def test_a_lost_event_is_queued_again_and_applied(stored_event):
    WebhookEvent.objects.filter(pk=stored_event.pk).update(
        next_attempt_at=timezone.now() - tasks.LOST_AFTER - timedelta(seconds=1)
    )
    assert tasks.retry_webhook_events.delay().get() == 1
    stored_event.refresh_from_db()
    assert stored_event.status == WebhookEvent.Status.PROCESSED
    assert Event.objects.filter(id=stored_event.stripe_event_id).exists()
    assert SubscriptionMetadata.objects.count() == 1
    assert tasks.retry_webhook_events.delay().get() == 0  # done: not queued again


def test_an_event_is_due_from_its_arrival(stored_event, monkeypatch):
    """The sweep counts from the moment the webhook stored the event: once LOST_AFTER has passed
    since then (here: no time at all), an event whose queued work was lost is queued again."""
    monkeypatch.setattr(tasks, "LOST_AFTER", timedelta(0))
    assert tasks.retry_webhook_events.delay().get() == 1
    stored_event.refresh_from_db()
    assert stored_event.status == WebhookEvent.Status.PROCESSED


def test_an_event_still_within_its_time_is_left_to_its_queued_work(stored_event):
    WebhookEvent.objects.filter(pk=stored_event.pk).update(
        next_attempt_at=timezone.now() - tasks.LOST_AFTER + timedelta(minutes=1)
    )
    assert tasks.retry_webhook_events.delay().get() == 0
    stored_event.refresh_from_db()
    assert stored_event.status == WebhookEvent.Status.RECEIVED


def test_an_event_whose_retries_gave_up_waits_for_staff(
    stored_event, django_capture_on_commit_callbacks
):
    WebhookEvent.objects.filter(pk=stored_event.pk).update(
        status=WebhookEvent.Status.FAILED, attempts=9, next_attempt_at=None
    )
    assert tasks.retry_webhook_events.delay().get() == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.requeue_webhook_events([stored_event.pk]) == 1  # staff's "Process again"
    stored_event.refresh_from_db()
    assert stored_event.status == WebhookEvent.Status.PROCESSED and stored_event.attempts == 10


# --- a batch of stored events -------------------------------------------------------------------


def test_a_batch_applies_exactly_the_events_it_names(
    django_user_model, stripe_fake, catalog, task_queue
):
    """Each id names one stored event: a worker given one event's id applies that one only,
    whatever else is waiting, and a second run of it changes nothing."""
    for n in range(2):
        user = django_user_model.objects.create_user(email=f"batch{n}@example.com")
        factories.stripe_subscription(user=user, plan=catalog["pro"])
    stripe_fake.deliver()  # stored and queued; no worker has run
    task_queue.drain()
    waiting = list(WebhookEvent.objects.order_by("pk"))
    assert len(waiting) > 2 and {event.status for event in waiting} == {"received"}
    chosen = waiting[-1]

    assert tasks.process_webhook_events.apply(args=[[chosen.pk]]).result == {"processed": 1}
    statuses = dict(WebhookEvent.objects.values_list("pk", "status"))
    assert statuses.pop(chosen.pk) == "processed"
    assert set(statuses.values()) == {"received"}  # the others still wait for their messages

    assert tasks.process_webhook_events.apply(args=[[chosen.pk]]).result == {"skipped": 1}
    chosen.refresh_from_db()
    assert chosen.attempts == 1
    assert Event.objects.filter(id=chosen.stripe_event_id).count() == 1
