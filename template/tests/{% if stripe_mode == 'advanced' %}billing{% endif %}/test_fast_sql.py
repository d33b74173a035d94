"""`apps.billing.fast_sql`: the hand-written usage increment, held to the rule it mirrors (one
more use fits when `count + quantity <= limit`, the rule `check_usage_limit` reads), and the
webhook's one-statement store, held to what the ORM writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.utils import timezone
from djstripe.models import WebhookEndpoint

from apps.billing import usage
from apps.billing.fast_sql import increment_counter, store_webhook_event
from apps.billing.models import UsageCounter, UsageRecord, WebhookEvent
from apps.billing.webhooks import (
    ENV_ENDPOINT_ID,
    settings_endpoint_id,
    settings_webhook_endpoint,
    store_event_with_orm,
)

from . import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscription(user):
    return factories.subscription(user=user)


@pytest.mark.parametrize("count", [0, 1, 2, 3])
@pytest.mark.parametrize("quantity", [1, 2])
@pytest.mark.parametrize("limit", [None, 0, 1, 2, 3])
def test_the_increment_follows_the_limit_rule(subscription, count, quantity, limit):
    key = {
        "subscription_id": subscription.id,
        "metric": "api_calls",
        "period_start": subscription.billing_metadata.usage_period_start,
    }
    UsageCounter.objects.create(**key, count=count)
    fits = limit is None or count + quantity <= limit
    if quantity == 1:  # the Python reading of the same rule
        assert usage.check_usage_limit(subscription, "api_calls", limit=limit)[0] is fits
    result = increment_counter(key, quantity=quantity, limit=limit)
    assert (result is not None) is fits
    assert UsageCounter.objects.get(**key).count == (count + quantity if fits else count)
    if fits:
        assert result == (count + quantity, None)


def test_the_increment_writes_the_audit_row_in_the_same_statement_on_postgresql(subscription):
    if connection.vendor != "postgresql":
        pytest.skip("writable CTEs are PostgreSQL's")
    key = {
        "subscription_id": subscription.id,
        "metric": "api_calls",
        "period_start": subscription.billing_metadata.usage_period_start,
    }
    UsageCounter.objects.create(**key, count=0)
    count, record_id = increment_counter(key, quantity=2, limit=2, record=True)
    assert count == 2
    assert UsageRecord.objects.get(pk=record_id).quantity == 2
    assert increment_counter(key, quantity=1, limit=2, record=True) is None
    assert UsageRecord.objects.count() == 1


needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="writable CTEs are PostgreSQL's"
)


#: One time for every delivery here, so rows written at different moments compare equal.
RECEIVED = timezone.now()


def delivery(event_id: str) -> tuple[dict, dict]:
    event = {"stripe_event_id": event_id, "type": "invoice.paid", "next_attempt_at": RECEIVED}
    trigger = {
        "headers": {"Stripe-Signature": "t=1,v1=00", "Content-Type": "application/json"},
        "body": f'{{"id": "{event_id}", "object": "event"}}',
        "remote_ip": "203.0.113.9",
        "valid": True,
        "webhook_endpoint_id": settings_endpoint_id(),
        "stripe_trigger_account_id": None,
    }
    return event, trigger


def stored_rows(event_id: str) -> tuple[dict, dict]:
    """Both rows of a stored delivery, without what differs by nature (ids, times, event id)."""
    stored = WebhookEvent.objects.select_related("trigger").get(stripe_event_id=event_id)
    event = model_to_dict(stored, exclude=["id", "stripe_event_id", "trigger", "received_at"])
    trigger = model_to_dict(stored.trigger, exclude=["id", "body", "created", "updated"])
    assert timezone.now() - stored.received_at < timedelta(minutes=1)
    assert timezone.now() - stored.trigger.created < timedelta(minutes=1)
    return event, trigger


@needs_postgresql
def test_the_one_statement_store_writes_what_the_orm_writes():
    by_sql = store_webhook_event(event=delivery("evt_sql")[0], trigger=delivery("evt_sql")[1])
    by_orm = store_event_with_orm(event=delivery("evt_orm")[0], trigger=delivery("evt_orm")[1])
    assert by_sql is not None and by_orm is not None
    event_sql, trigger_sql = stored_rows("evt_sql")
    event_orm, trigger_orm = stored_rows("evt_orm")
    assert event_sql == event_orm and trigger_sql == trigger_orm
    assert event_sql["status"] == "received" and trigger_sql["valid"] is True


@needs_postgresql
def test_the_one_statement_store_writes_nothing_for_a_stored_event():
    event, trigger = delivery("evt_twice")
    assert store_webhook_event(event=event, trigger=trigger) is not None
    assert store_webhook_event(event=event, trigger=trigger) is None
    assert store_event_with_orm(event=event, trigger=trigger) is None
    assert WebhookEvent.objects.count() == 1
    assert WebhookEvent.objects.get().trigger.body == trigger["body"]


def test_the_plain_endpoint_check_agrees_with_the_orm(settings, django_assert_num_queries):
    """One read while the endpoint row holds the settings; the write when they changed."""
    settings_webhook_endpoint()
    with django_assert_num_queries(1):
        assert settings_endpoint_id() == ENV_ENDPOINT_ID
    settings.DJSTRIPE_WEBHOOK_SECRET = "whsec_rotated"
    settings.STRIPE_WEBHOOK_TOLERANCE = 120
    settings_endpoint_id()
    endpoint = WebhookEndpoint.objects.get(id=ENV_ENDPOINT_ID)
    assert (endpoint.secret, endpoint.djstripe_tolerance) == ("whsec_rotated", 120)
    with django_assert_num_queries(1):
        settings_endpoint_id()
