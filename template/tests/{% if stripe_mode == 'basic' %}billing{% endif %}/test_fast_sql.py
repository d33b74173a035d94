"""`apps.billing.fast_sql`: the hand-written SQL of webhook ingest, held to the Python rule it
mirrors (`webhook_handlers._is_stale`)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from apps.billing.fast_sql import update_subscription_if_newer
from apps.billing.models import READ_FROM_API, StripeCustomer, Subscription
from apps.billing.webhook_handlers import _is_stale, subscription_fields, to_datetime
from tests.stripe_events import load_fixture, make_event

pytestmark = pytest.mark.django_db


def subscription_event(
    event_type: str = "customer.subscription.created", *, created: int = 0, **fields: Any
) -> dict[str, Any]:
    return make_event(event_type, load_fixture("subscription", **fields), created=created or None)


TYPES = [
    READ_FROM_API,  # the success page's state, read from Stripe's API
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
]


@pytest.mark.parametrize("row_status", ["active", "canceled"])
@pytest.mark.parametrize("new_status", ["past_due", "canceled"])
@pytest.mark.parametrize("row_type", ["", *TYPES])
@pytest.mark.parametrize("event_type", TYPES)
@pytest.mark.parametrize("age", [None, -1, 0, 1])
def test_the_one_statement_update_follows_the_staleness_rule(
    customer, row_status, new_status, row_type, event_type, age
):
    """`_update_if_newer` (SQL, the usual path) and `_is_stale` (Python, which explains a skip)
    are one rule written twice: they must agree on every combination."""
    now = int(time.time())
    row = Subscription.objects.create(
        customer=customer,
        stripe_subscription_id="sub_rule",
        status=row_status,
        last_event_at=None if age is None else to_datetime(now + age),
        last_event_type="" if age is None else row_type,
    )
    event = subscription_event(event_type, created=now, id="sub_rule", status=new_status)
    fields = subscription_fields(event["data"]["object"])
    fields.update(last_event_at=to_datetime(now), last_event_type=event_type)
    expected = _is_stale(row, fields) == ""
    applied = update_subscription_if_newer("sub_rule", customer.stripe_customer_id, fields)
    assert applied is expected
    row.refresh_from_db()
    assert row.status == (new_status if expected else row_status)


def test_the_one_statement_update_needs_the_rows_own_customer(customer, other_user):
    other = StripeCustomer.objects.create(user=other_user, stripe_customer_id="cus_Other")
    Subscription.objects.create(customer=other, stripe_subscription_id="sub_x", status="active")
    event = subscription_event("customer.subscription.updated", id="sub_x", status="past_due")
    fields = subscription_fields(event["data"]["object"])
    fields.update(last_event_at=to_datetime(event["created"]), last_event_type=event["type"])
    assert not update_subscription_if_newer("sub_x", customer.stripe_customer_id, fields)
    assert not update_subscription_if_newer("sub_x", "cus_Unknown", fields)
    assert Subscription.objects.get().status == "active"
