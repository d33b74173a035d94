"""Reads of the billing state (advanced mode): subscriptions, customers, plans, entitlements.

The same names as in basic mode, so the shared gates and views work on either. Nothing here
writes: a subscription whose `SubscriptionMetadata` no webhook has created yet is read from
its plan (`services.ensure_metadata` creates the row where one is needed).

Access per subscription status (`access_statuses`): active and trialing give access;
past_due too while BILLING_PAST_DUE_ACCESS is on (the default: Stripe is retrying the
payment); unpaid, canceled, incomplete, incomplete_expired and paused never do. Only the
objects of the mode in use (STRIPE_LIVE_MODE) count.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from djstripe.models import Customer
from djstripe.models import Subscription as StripeSubscription

from .lifecycle import UNENDED_STATUSES, access_statuses
from .models import PlanConfiguration, Subscription, SubscriptionMetadata, subscription_period
from .stripe_api import livemode

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.db.models import QuerySet

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
    "metadata_of",
    "plan_of",
    "plan_slug_of",
    "renews_at",
    "stripe_customer_id_of",
    "stripe_subscription_id_of",
    "subscription_history",
]


def _subscriptions_of(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Subscription]:
    return Subscription.objects.filter(customer__subscriber=user, livemode=livemode())


def get_active_subscription(user: AbstractBaseUser | AnonymousUser) -> Subscription | None:
    """The subscription that grants the user access now (see `access_statuses`): their own,
    newest first; else the newest of a team they are a member of. The gates read its plan and
    `usage_limit` counts against it, so a team's members share the team's usage."""
    if not user.is_authenticated:
        return None
    personal = (
        _subscriptions_of(user)
        .filter(stripe_data__status__in=access_statuses())
        .select_related("billing_metadata__plan")  # the gates read these; not the customer
        .order_by("-created", "-djstripe_id")
        .first()
    )
    if personal is not None:
        return personal
    return (
        Subscription.objects.filter(
            customer__team_link__team__memberships__user=user,
            livemode=livemode(),
            stripe_data__status__in=access_statuses(),
        )
        .select_related("billing_metadata__plan")
        .order_by("-created", "-djstripe_id")
        .first()
    )


def get_unended_subscription(user: AbstractBaseUser | AnonymousUser) -> Subscription | None:
    """The user's newest subscription that is not over (UNENDED_STATUSES), or None.

    Checkout refuses while there is one: a past_due or unpaid subscription is still billed by
    Stripe, and a second one would charge the customer twice.
    """
    if not user.is_authenticated:
        return None
    return (
        _subscriptions_of(user)
        .filter(stripe_data__status__in=UNENDED_STATUSES)
        .order_by("-created", "-djstripe_id")
        .first()
    )


def _datetime(timestamp: Any) -> datetime | None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        return None
    return datetime.fromtimestamp(timestamp, tz=UTC)


def cancels_at(subscription: StripeSubscription) -> datetime | None:
    """When access ends for a subscription set to cancel, else None.

    `cancel_at` when Stripe set it (the portal sets only `cancel_at` in flexible billing mode
    and leaves `cancel_at_period_end` false), else the current period's end when
    `cancel_at_period_end` is on.
    """
    data = subscription.stripe_data or {}
    if data.get("status") in ("canceled", "incomplete_expired"):
        return None
    at = _datetime(data.get("cancel_at"))
    if at is not None:
        return at
    if data.get("cancel_at_period_end"):
        return subscription_period(subscription, "current_period_end")
    return None


#: Statuses of a subscription that Stripe renews at the end of its current period.
RENEWING_STATUSES = ("active", "trialing", "past_due")


def renews_at(subscription: StripeSubscription) -> datetime | None:
    """The current period's end when the subscription renews then; None when it is set to
    cancel, has ended, or does not renew (incomplete, unpaid, paused)."""
    data = subscription.stripe_data or {}
    if data.get("status") not in RENEWING_STATUSES or cancels_at(subscription) is not None:
        return None
    return subscription_period(subscription, "current_period_end")


def get_customer(user: AbstractBaseUser | AnonymousUser) -> Customer | None:
    """The user's dj-stripe Customer (created before their first checkout), if any.

    A customer deleted at Stripe is unlinked from its user (`services.forget_customer`, or
    dj-stripe's purge on `customer.deleted`), so it is never returned here.
    """
    if not user.is_authenticated:
        return None
    return (
        Customer.objects.filter(subscriber=user, livemode=livemode(), date_purged__isnull=True)
        .order_by("-djstripe_created")
        .first()
    )


def stripe_customer_id_of(user: AbstractBaseUser | AnonymousUser) -> str | None:
    """The id (cus_...) of the user's Stripe customer, if they have one."""
    customer = get_customer(user)
    return customer.id if customer is not None else None


def subscription_history(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Subscription]:
    """All of the user's subscriptions, newest first."""
    return _subscriptions_of(user).order_by("-created", "-djstripe_id")


def get_plans() -> QuerySet[PlanConfiguration]:
    """The plans sold on the pricing page."""
    return PlanConfiguration.objects.select_related("stripe_price", "stripe_product")


def get_plan_by_price_id(price_id: str) -> PlanConfiguration | None:
    if not price_id:
        return None
    return PlanConfiguration.objects.filter(stripe_price_id=price_id).first()


def stripe_subscription_id_of(subscription: StripeSubscription) -> str:
    """The subscription's id at Stripe (sub_...)."""
    return str(subscription.id)


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
