"""Reads of the billing state: which statuses give access, which block a second checkout, when
a subscription renews or cancels, and which plan a subscription of several items pays for."""

from __future__ import annotations

import pytest
import stripe

from apps.billing.lifecycle import STATUSES
from apps.billing.models import Subscription
from apps.billing.selectors import (
    UNENDED_STATUSES,
    access_statuses,
    cancels_at,
    get_active_subscription,
    get_unended_subscription,
    plan_slug_of,
    renews_at,
)

from . import factories

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.billing.urls")]
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.mark.parametrize("past_due_access", [True, False])
@pytest.mark.parametrize("status", STATUSES)
def test_access_per_status(client, settings, user, status, past_due_access):
    settings.BILLING_PAST_DUE_ACCESS = past_due_access
    factories.subscription(user=user, status=status)
    client.force_login(user)
    allowed = status in ("active", "trialing") or (status == "past_due" and past_due_access)
    assert (get_active_subscription(user) is not None) is allowed
    assert client.get("/examples/premium/", **JSON).status_code == (200 if allowed else 403)
    assert user.has_active_subscription is allowed


def test_access_statuses_follow_the_setting_at_call_time(settings):
    assert access_statuses() == ("active", "trialing", "past_due")  # the default
    settings.BILLING_PAST_DUE_ACCESS = False
    assert access_statuses() == ("active", "trialing")


@pytest.mark.parametrize("status", STATUSES)
def test_an_unended_subscription_is_found_whatever_its_access(user, status):
    subscription = factories.subscription(user=user, status=status)
    found = get_unended_subscription(user)
    if status in ("canceled", "incomplete_expired"):
        assert found is None
    else:
        assert status in UNENDED_STATUSES
        assert found == subscription


def test_the_newest_unended_subscription_is_returned(user):
    factories.subscription(user=user, status="canceled")
    older = factories.subscription(user=user, status="past_due")
    assert get_unended_subscription(user) == older
    newer = factories.subscription(user=user, status="active")
    assert get_unended_subscription(user) == newer


def test_anonymous_users_have_nothing(rf):
    from django.contrib.auth.models import AnonymousUser

    assert get_unended_subscription(AnonymousUser()) is None
    assert get_active_subscription(AnonymousUser()) is None


# --- renews or cancels, read from what Stripe sent (the offline Stripe, over webhooks) -----------


@pytest.fixture
def live(stripe_fake, catalog, user):
    """A Pro subscription made at Stripe and synced by its webhooks; returns a re-reader."""
    created = factories.stripe_subscription(user=user, plan=catalog["pro"])
    stripe_fake.deliver()

    def read() -> Subscription:
        stripe_fake.deliver()
        return Subscription.objects.get(id=created.id)

    read.id = created.id  # type: ignore[attr-defined]
    return read


def test_a_plain_subscription_renews_at_its_period_end(live):
    subscription = live()
    assert subscription.current_period_end is not None
    assert renews_at(subscription) == subscription.current_period_end
    assert cancels_at(subscription) is None


def test_cancel_at_period_end_cancels_at_the_period_end(live, stripe_fake):
    stripe.Subscription.modify(live.id, cancel_at_period_end=True, api_key=stripe_fake.api_key)
    subscription = live()
    assert cancels_at(subscription) == subscription.current_period_end
    assert renews_at(subscription) is None


def test_cancel_at_alone_cancels_then(live, stripe_fake):
    """Flexible billing mode: the portal sets cancel_at and leaves cancel_at_period_end false."""
    period_end = live().current_period_end
    at = int(period_end.timestamp()) - 10 * 86400
    stripe.Subscription.modify(live.id, cancel_at=at, api_key=stripe_fake.api_key)
    subscription = live()
    assert subscription.cancel_at_period_end is False
    assert cancels_at(subscription).timestamp() == at
    assert renews_at(subscription) is None
    # Stripe ends it then: access ends, nothing renews.
    stripe_fake.advance(days=21)
    subscription = live()
    assert subscription.status == "canceled"
    assert cancels_at(subscription) is None and renews_at(subscription) is None


def test_a_canceled_subscription_neither_renews_nor_cancels(live, stripe_fake):
    stripe.Subscription.cancel(live.id, api_key=stripe_fake.api_key)
    subscription = live()
    assert subscription.status == "canceled"
    assert renews_at(subscription) is None and cancels_at(subscription) is None


# --- several items ---------------------------------------------------------------------------


def test_the_plan_is_found_on_any_item(client, user, stripe_fake, catalog):
    """A base plan plus an add-on: the add-on's price (not a plan) comes first."""
    options = {"api_key": stripe_fake.api_key}
    addon = stripe.Price.create(
        product_data={"name": "Extra seats"},
        unit_amount=500,
        currency="usd",
        recurring={"interval": "month"},
        **options,
    )
    customer = factories.stripe_customer(user=user)
    stripe.Subscription.create(
        customer=customer.id,
        items=[{"price": addon.id}, {"price": catalog["enterprise"].stripe_price_id}],
        **options,
    )
    stripe_fake.deliver()
    subscription = get_active_subscription(user)
    assert subscription.price_ids[0] == addon.id
    assert plan_slug_of(subscription) == "enterprise"
    assert subscription.billing_metadata.plan == catalog["enterprise"]
    client.force_login(user)
    assert client.get("/examples/pro-or-enterprise/", **JSON).status_code == 200
    assert client.get("/examples/pro/", **JSON).status_code == 403
