"""Reads of the billing state (basic mode): subscriptions, customers, plans.

The same names as in advanced mode, so the shared gates and views work on either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .models import ACTIVE_STATUSES, StripeCustomer, Subscription
from .plans import get_plan_by_price_id, get_plans

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

__all__ = [
    "features_of",
    "get_active_subscription",
    "get_customer",
    "get_plan_by_price_id",
    "get_plans",
    "plan_slug_of",
    "stripe_customer_id_of",
    "subscription_history",
]


def get_active_subscription(user: AbstractBaseUser | AnonymousUser) -> Subscription | None:
    """The user's subscription that grants access now (active or trialing), newest first."""
    if not user.is_authenticated:
        return None
    return (
        Subscription.objects.filter(customer__user=user, status__in=ACTIVE_STATUSES)
        .order_by("-created_at")
        .first()
    )


def get_customer(user: AbstractBaseUser | AnonymousUser) -> StripeCustomer | None:
    """The user's Stripe customer (linked by the first checkout's webhook), if any."""
    if not user.is_authenticated:
        return None
    return getattr(user, "stripe_customer", None)  # None when the reverse row is missing


def stripe_customer_id_of(user: AbstractBaseUser | AnonymousUser) -> str | None:
    """The id (cus_...) of the user's Stripe customer, if they have one."""
    customer = get_customer(user)
    return customer.stripe_customer_id if customer is not None else None


def subscription_history(user: AbstractBaseUser | AnonymousUser) -> Any:
    """All of the user's subscriptions, newest first."""
    customer = get_customer(user)
    return customer.subscriptions.all() if customer else []


def plan_slug_of(subscription: Subscription) -> str | None:
    """The slug of the configured plan the subscription pays for (None if not configured)."""
    plan = subscription.plan
    return plan.slug if plan is not None else None


def features_of(subscription: Subscription) -> dict[str, Any]:
    """The features of the subscription's plan (BILLING_PLANS `features`)."""
    plan = subscription.plan
    return dict(plan.features) if plan is not None else {}
