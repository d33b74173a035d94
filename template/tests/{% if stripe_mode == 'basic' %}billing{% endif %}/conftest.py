from __future__ import annotations

from typing import Any

import pytest

from apps.billing.models import StripeCustomer, Subscription

TEST_PLANS = [
    {
        "slug": "pro",
        "name": "Pro",
        "price_id": "price_test_123",
        "amount": 2900,
        "features": {"api_access": True, "advanced_analytics": True},
        "limits": {"api_calls": 10000},
        "is_popular": True,
    },
    {
        "slug": "enterprise",
        "name": "Enterprise",
        "price_id": "price_test_enterprise",
        "amount": 9900,
        "features": {"api_access": True, "advanced_analytics": True, "priority_support": True},
        "limits": {"api_calls": 100000},
    },
]


@pytest.fixture(autouse=True)
def billing_plans(settings: Any) -> list[dict[str, Any]]:
    settings.BILLING_PLANS = TEST_PLANS
    settings.BILLING_TRIAL_PERIOD_DAYS = 0
    return TEST_PLANS


@pytest.fixture
def customer(user: Any) -> StripeCustomer:
    return StripeCustomer.objects.create(user=user, stripe_customer_id="cus_Rkeelcustomer001")


@pytest.fixture
def make_subscription(customer: StripeCustomer) -> Any:
    def make(
        status: str = "active", price_id: str = "price_test_123", **extra: Any
    ) -> Subscription:
        return Subscription.objects.create(
            customer=customer,
            stripe_subscription_id=extra.pop("stripe_subscription_id", f"sub_test_{status}"),
            status=status,
            price_id=price_id,
            plan_name="Pro",
            **extra,
        )

    return make
