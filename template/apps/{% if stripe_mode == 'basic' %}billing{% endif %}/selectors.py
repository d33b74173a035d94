"""Reads of the billing state (basic mode): subscriptions, customers, plans.

The same names as in advanced mode, so the shared gates and views work on either.

Access by subscription status: active and trialing give access; past_due gives access while
BILLING_PAST_DUE_ACCESS is on (the default: Stripe is retrying the payment); unpaid, canceled,
incomplete, incomplete_expired and paused never do.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Q

from .lifecycle import TERMINAL_STATUSES, UNENDED_STATUSES, access_statuses
from .models import StripeCustomer, Subscription
from .plans import Plan, get_plan_by_price_id, get_plans

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

__all__ = [
    "UNENDED_STATUSES",
    "access_statuses",
    "cancels_at",
    "features_of",
    "get_active_subscription",
    "get_customer",
    "get_plan_by_price_id",
    "get_plans",
    "get_unended_subscription",
    "plan_of",
    "plan_slug_of",
    "renews_at",
    "stripe_customer_id_of",
    "stripe_subscription_id_of",
    "subscription_history",
]


def get_active_subscription(user: AbstractBaseUser | AnonymousUser) -> Subscription | None:
    """The subscription that grants the user access now (see `access_statuses`): their own,
    newest first; else the newest of a team they are a member of. The gates read its plan, so
    a member of a team on Enterprise passes `plan_required("enterprise")`."""
    if not user.is_authenticated:
        return None
    live = Subscription.objects.filter(status__in=access_statuses()).order_by("-created_at", "-pk")
    personal = live.filter(customer__user=user).first()
    if personal is not None:
        return personal
    return live.filter(customer__team__memberships__user=user).first()


def get_unended_subscription(user: AbstractBaseUser | AnonymousUser) -> Subscription | None:
    """The user's newest subscription that has not ended (Stripe may still bill it), if any:
    while there is one, checkout sends the user to manage it instead of buying another."""
    if not user.is_authenticated:
        return None
    return (
        Subscription.objects.filter(customer__user=user, status__in=UNENDED_STATUSES)
        .order_by("-created_at", "-pk")
        .first()
    )


def cancels_at(subscription: Subscription) -> datetime | None:
    """When access ends for a subscription set to cancel: `cancel_at` (the portal sets it in
    flexible billing mode, where `cancel_at_period_end` stays false), else the period end when
    it cancels at period end; None when it is not set to cancel, or has ended already."""
    if subscription.status in TERMINAL_STATUSES:
        return None
    if subscription.cancel_at is not None:
        return subscription.cancel_at
    if subscription.cancel_at_period_end:
        return subscription.current_period_end
    return None


def renews_at(subscription: Subscription) -> datetime | None:
    """When the subscription renews (its current period's end, read from its items); None when
    it is set to cancel, has ended, or never started (incomplete)."""
    if subscription.status in TERMINAL_STATUSES or subscription.status == "incomplete":
        return None
    if cancels_at(subscription) is not None:
        return None
    return subscription.current_period_end


def get_customer(user: AbstractBaseUser | AnonymousUser) -> StripeCustomer | None:
    """The user's Stripe customer (created before their first checkout), if any."""
    if not user.is_authenticated:
        return None
    return getattr(user, "stripe_customer", None)  # None when the reverse row is missing


def stripe_customer_id_of(user: AbstractBaseUser | AnonymousUser) -> str | None:
    """The id (cus_...) of the user's Stripe customer, if they have one."""
    customer = get_customer(user)
    return customer.stripe_customer_id if customer is not None else None


def subscription_history(user: AbstractBaseUser | AnonymousUser) -> Any:
    """All of the user's subscriptions, newest first, including those of a Stripe customer
    they had before (deleted at Stripe)."""
    if not user.is_authenticated:
        return Subscription.objects.none()
    return (
        Subscription.objects.filter(Q(customer__user=user) | Q(customer__former_user=user))
        .select_related("customer")
        .order_by("-created_at", "-pk")
    )


def stripe_subscription_id_of(subscription: Subscription) -> str:
    """The subscription's id at Stripe (sub_...)."""
    return subscription.stripe_subscription_id


def plan_of(subscription: Subscription) -> Plan | None:
    """The configured plan the subscription pays for (None if not configured)."""
    return subscription.plan


def plan_slug_of(subscription: Subscription) -> str | None:
    """The slug of the configured plan the subscription pays for (None if not configured)."""
    plan = subscription.plan
    return plan.slug if plan is not None else None


def features_of(subscription: Subscription) -> dict[str, Any]:
    """The features of the subscription's plan (BILLING_PLANS `features`)."""
    plan = subscription.plan
    return dict(plan.features) if plan is not None else {}
