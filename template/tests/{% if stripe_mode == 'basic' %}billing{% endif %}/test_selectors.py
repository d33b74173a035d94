from __future__ import annotations

import pytest

from apps.billing.models import Subscription
from apps.billing.selectors import features_of, plan_slug_of
from apps.billing.utils import get_active_subscription


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "active"),
    [("active", True), ("trialing", True), ("past_due", False), ("canceled", False)],
)
def test_active_subscription_counts_active_and_trialing(user, make_subscription, status, active):
    subscription = make_subscription(status=status)
    assert (get_active_subscription(user) == subscription) is active
    assert user.has_active_subscription is active


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
