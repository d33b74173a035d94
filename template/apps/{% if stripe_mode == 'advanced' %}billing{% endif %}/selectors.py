"""Reads of the billing state (advanced mode): subscriptions, customers, plans, entitlements.

The same names as in basic mode, so the shared gates and views work on either. Nothing here
writes: a subscription whose `SubscriptionMetadata` no webhook has created yet is read from
its plan (`services.ensure_metadata` creates the row where one is needed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from djstripe.models import Customer
from djstripe.models import Subscription as StripeSubscription

from .models import ACTIVE_STATUSES, PlanConfiguration, Subscription, SubscriptionMetadata
from .stripe_api import livemode

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.db.models import QuerySet


def get_active_subscription(user: AbstractBaseUser | AnonymousUser) -> Subscription | None:
    """The user's subscription that grants access now (active or trialing), newest first."""
    if not user.is_authenticated:
        return None
    return (
        Subscription.objects.filter(
            customer__subscriber=user,
            livemode=livemode(),
            stripe_data__status__in=ACTIVE_STATUSES,
        )
        .select_related("billing_metadata__plan")  # the gates read these; not the customer
        .order_by("-created", "-djstripe_id")
        .first()
    )


def get_customer(user: AbstractBaseUser | AnonymousUser) -> Customer | None:
    """The user's dj-stripe Customer (created by their first checkout), if any."""
    if not user.is_authenticated:
        return None
    return (
        Customer.objects.filter(subscriber=user, livemode=livemode())
        .order_by("-djstripe_created")
        .first()
    )


def stripe_customer_id_of(user: AbstractBaseUser | AnonymousUser) -> str | None:
    """The id (cus_...) of the user's Stripe customer, if they have one."""
    customer = get_customer(user)
    return customer.id if customer is not None else None


def subscription_history(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Subscription]:
    """All of the user's subscriptions, newest first."""
    return Subscription.objects.filter(customer__subscriber=user, livemode=livemode()).order_by(
        "-created"
    )


def get_plans() -> QuerySet[PlanConfiguration]:
    """The plans sold on the pricing page."""
    return PlanConfiguration.objects.select_related("stripe_price", "stripe_product")


def get_plan_by_price_id(price_id: str) -> PlanConfiguration | None:
    if not price_id:
        return None
    return PlanConfiguration.objects.filter(stripe_price_id=price_id).first()


def metadata_of(subscription: StripeSubscription) -> SubscriptionMetadata | None:
    """The subscription's entitlements row, or None while no webhook has created it."""
    try:
        return subscription.billing_metadata
    except SubscriptionMetadata.DoesNotExist:
        return None


def plan_of(subscription: StripeSubscription) -> PlanConfiguration | None:
    """The subscription's plan: the one its metadata names, else the one of its price."""
    metadata = metadata_of(subscription)
    if metadata is not None and metadata.plan_id is not None:
        return metadata.plan
    return PlanConfiguration.for_subscription(subscription)


def plan_slug_of(subscription: StripeSubscription) -> str | None:
    plan = plan_of(subscription)
    return plan.slug if plan is not None else None


def features_of(subscription: StripeSubscription) -> dict[str, Any]:
    """The subscription's features: its metadata's (editable per subscription), else its
    plan's."""
    metadata = metadata_of(subscription)
    if metadata is not None:
        return dict(metadata.features or {})
    plan = PlanConfiguration.for_subscription(subscription)
    return dict(plan.features) if plan is not None else {}
