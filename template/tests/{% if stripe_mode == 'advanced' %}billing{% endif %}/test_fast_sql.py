"""`apps.billing.fast_sql`: the hand-written usage increment, held to the rule it mirrors (one
more use fits when `count + quantity <= limit`, the rule `check_usage_limit` reads)."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.billing import usage
from apps.billing.fast_sql import increment_counter
from apps.billing.models import UsageCounter, UsageRecord

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
