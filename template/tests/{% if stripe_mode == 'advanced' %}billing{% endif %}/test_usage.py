"""Usage counting: atomic per-period counters, limits, and a cost that does not grow."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.billing import selectors, usage
from apps.billing.models import UsageCounter, UsageRecord
from apps.billing.utils import check_usage_limit, record_usage

from . import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscription(user):
    return factories.subscription(user=user)


def test_the_documented_api_endpoint_pattern(subscription):
    """check_usage_limit before the work, record_usage after it (the documented api_endpoint)."""
    can_use, remaining = check_usage_limit(subscription, metric="api_calls", limit=10000)
    assert (can_use, remaining) == (True, 10000)
    record_usage(subscription, metric="api_calls", quantity=1)
    assert check_usage_limit(subscription, metric="api_calls", limit=10000) == (True, 9999)
    record_usage(subscription, metric="api_calls", quantity=9999)
    assert check_usage_limit(subscription, metric="api_calls", limit=10000) == (False, 0)


def test_limit_defaults_to_the_plan(subscription):
    assert check_usage_limit(subscription, "api_calls") == (True, 10000)
    assert check_usage_limit(subscription, "storage_gb") == (False, 0)  # not in the plan
    subscription.billing_metadata.usage_limits = {"api_calls": None}  # null: unlimited
    subscription.billing_metadata.save()
    usage.forget_metadata(subscription)
    assert check_usage_limit(subscription, "api_calls") == (True, None)


def test_no_subscription_can_use_nothing():
    assert check_usage_limit(None, "api_calls", limit=10) == (False, 0)


@pytest.mark.parametrize("quantity", [0, -1, 1.5, True, "2"])
def test_record_usage_refuses_bad_quantities(subscription, quantity):
    with pytest.raises(usage.UsageError):
        record_usage(subscription, metric="api_calls", quantity=quantity)
    assert not UsageRecord.objects.exists()


@pytest.mark.parametrize("metric", ["", "x" * 101, None])
def test_record_usage_refuses_bad_metrics(subscription, metric):
    with pytest.raises(usage.UsageError):
        record_usage(subscription, metric=metric, quantity=1)


def test_consume_stops_exactly_at_the_limit(subscription):
    results = [
        usage.consume(subscription=subscription, metric="api_calls", quantity=3, limit=10)
        for _ in range(4)
    ]
    assert [r.allowed for r in results] == [True, True, True, False]
    assert [r.current for r in results] == [3, 6, 9, 9]
    assert results[2].remaining == 1
    assert usage.consume(
        subscription=subscription, metric="api_calls", quantity=1, limit=10
    ).allowed
    usage.release(results[0])
    assert usage.current_usage(subscription, "api_calls") == 7


def test_a_paid_renewal_starts_a_new_period_at_zero(subscription):
    record_usage(subscription, metric="api_calls", quantity=5)
    start = subscription.billing_metadata.usage_period_start
    assert usage.start_new_period(subscription=subscription, starts_at=start + timedelta(days=30))
    assert usage.current_usage(subscription, "api_calls") == 0
    assert check_usage_limit(subscription, "api_calls") == (True, 10000)
    # Never backwards (an old invoice event arriving late changes nothing).
    assert not usage.start_new_period(subscription=subscription, starts_at=start)
    assert UsageCounter.objects.filter(subscription_id=subscription.id).count() == 1


def queries_of_one_use(subscription):
    with CaptureQueriesContext(connection) as captured:
        consumption = usage.consume(
            subscription=subscription, metric="api_calls", quantity=1, limit=None
        )
        usage.commit(consumption, subscription=subscription)
    return [query["sql"] for query in captured.captured_queries]


def test_a_reserved_use_is_recorded_on_commit_and_forgotten_on_release(subscription):
    first = usage.reserve(subscription=subscription, metric="api_calls", quantity=2, limit=3)
    second = usage.reserve(subscription=subscription, metric="api_calls", quantity=2, limit=3)
    assert (first.allowed, second.allowed) == (True, False)
    usage.commit(first, subscription=subscription)
    third = usage.reserve(subscription=subscription, metric="api_calls", quantity=1, limit=3)
    usage.release(third)
    assert usage.current_usage(subscription, "api_calls") == 2
    record = UsageRecord.objects.get()
    assert (record.metric, record.quantity, record.meter_event_name) == ("api_calls", 2, "")


def test_a_gated_use_costs_one_statement_on_postgresql(subscription):
    first = usage.reserve(subscription=subscription, metric="api_calls", quantity=1, limit=None)
    usage.commit(first, subscription=subscription)  # the first use creates the counter
    selectors.plan_of(subscription)  # loaded with the subscription by get_active_subscription
    with CaptureQueriesContext(connection) as captured:
        consumption = usage.reserve(
            subscription=subscription, metric="api_calls", quantity=1, limit=10
        )
        usage.commit(consumption, subscription=subscription)
    statements = 1 if connection.vendor == "postgresql" else 2  # no writable CTEs in SQLite
    assert len(captured.captured_queries) == statements
    assert UsageRecord.objects.count() == 2


def test_the_cost_of_a_use_does_not_grow_with_past_usage(subscription):
    queries_of_one_use(subscription)  # first use creates the counter
    before = queries_of_one_use(subscription)
    UsageRecord.objects.bulk_create(
        UsageRecord(subscription_id=subscription.id, metric="api_calls", quantity=1)
        for _ in range(2000)
    )
    after = queries_of_one_use(subscription)
    assert len(after) == len(before)
    for sql in after:
        assert "COUNT(" not in sql.upper() and "SUM(" not in sql.upper()
        assert not ("billing_usagerecord" in sql and sql.lstrip().upper().startswith("SELECT"))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["use", "release"]), st.integers(min_value=1, max_value=7)),
        max_size=30,
    ),
    limit=st.integers(min_value=0, max_value=25),
)
def test_counters_never_pass_the_limit(subscription, steps, limit):
    UsageCounter.objects.all().delete()
    granted = []
    for action, quantity in steps:
        if action == "use":
            result = usage.consume(
                subscription=subscription, metric="api_calls", quantity=quantity, limit=limit
            )
            if result.allowed:
                granted.append(result)
        elif granted:
            usage.release(granted.pop())
        current = usage.current_usage(subscription, "api_calls")
        assert 0 <= current <= limit
        assert current == sum(result.quantity for result in granted)
