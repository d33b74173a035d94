from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.billing.lifecycle import STATUSES
from apps.billing.models import Subscription
from apps.billing.selectors import (
    UNENDED_STATUSES,
    access_statuses,
    cancels_at,
    features_of,
    get_unended_subscription,
    plan_slug_of,
    renews_at,
)
from apps.billing.utils import get_active_subscription

PERIOD_END = datetime(2026, 2, 1, tzinfo=UTC)
CANCEL_AT = datetime(2026, 1, 20, tzinfo=UTC)


@pytest.mark.django_db
@pytest.mark.parametrize("past_due_access", [True, False])
@pytest.mark.parametrize("status", STATUSES)
def test_access_by_status(user, make_subscription, settings, status, past_due_access):
    settings.BILLING_PAST_DUE_ACCESS = past_due_access
    subscription = make_subscription(status=status)
    granted = status in ("active", "trialing") or (status == "past_due" and past_due_access)
    assert (status in access_statuses()) is granted
    assert (get_active_subscription(user) == subscription) is granted
    assert user.has_active_subscription is granted
    assert subscription.is_active is granted


def test_past_due_access_is_on_by_default(settings):
    assert settings.BILLING_PAST_DUE_ACCESS is True
    assert access_statuses() == ("active", "trialing", "past_due")


@pytest.mark.django_db
@pytest.mark.parametrize("status", STATUSES)
def test_any_subscription_that_has_not_ended_blocks_another_checkout(
    user, make_subscription, status
):
    subscription = make_subscription(status=status)
    unended = status not in ("canceled", "incomplete_expired")
    assert (status in UNENDED_STATUSES) is unended
    assert (get_unended_subscription(user) == subscription) is unended


@pytest.mark.django_db
def test_the_newest_unended_subscription_is_found(user, make_subscription):
    make_subscription(status="canceled", stripe_subscription_id="sub_old")
    make_subscription(status="past_due", stripe_subscription_id="sub_a")
    newest = make_subscription(status="incomplete", stripe_subscription_id="sub_b")
    assert get_unended_subscription(user) == newest


@pytest.mark.django_db
def test_anonymous_users_have_no_unended_subscription():
    from django.contrib.auth.models import AnonymousUser

    assert get_unended_subscription(AnonymousUser()) is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "cancel_at", "at_period_end", "cancels", "renews"),
    [
        ("active", None, False, None, PERIOD_END),
        ("trialing", None, False, None, PERIOD_END),
        ("past_due", None, False, None, PERIOD_END),
        ("active", None, True, PERIOD_END, None),  # classic billing: at the period end
        ("active", CANCEL_AT, False, CANCEL_AT, None),  # flexible billing: the portal's cancel_at
        ("active", PERIOD_END, True, PERIOD_END, None),  # Stripe sets both in classic mode
        ("canceled", CANCEL_AT, False, None, None),
        ("incomplete_expired", None, False, None, None),
        ("incomplete", None, False, None, None),
    ],
)
def test_cancels_at_and_renews_at(
    make_subscription, status, cancel_at, at_period_end, cancels, renews
):
    subscription = make_subscription(
        status=status,
        current_period_end=PERIOD_END,
        cancel_at=cancel_at,
        cancel_at_period_end=at_period_end,
    )
    assert cancels_at(subscription) == cancels
    assert renews_at(subscription) == renews


@pytest.mark.django_db
def test_anonymous_users_have_no_subscription():
    from django.contrib.auth.models import AnonymousUser

    assert get_active_subscription(AnonymousUser()) is None


@pytest.mark.django_db
def test_a_subscription_is_known_by_its_plan_name_without_a_price_id(user, customer):
    # A row written with only the documented fields (no price id): the plan name identifies it.
    subscription = Subscription.objects.create(
        customer=customer, stripe_subscription_id="sub_named", status="active", plan_name="Pro"
    )
    assert plan_slug_of(subscription) == "pro"
    assert features_of(subscription) == {"api_access": True, "advanced_analytics": True}


@pytest.mark.django_db
def test_a_subscription_of_an_unknown_plan_has_no_slug_and_no_features(user, customer):
    subscription = Subscription.objects.create(
        customer=customer, stripe_subscription_id="sub_x", status="active", price_id="price_gone"
    )
    assert plan_slug_of(subscription) is None
    assert features_of(subscription) == {}
