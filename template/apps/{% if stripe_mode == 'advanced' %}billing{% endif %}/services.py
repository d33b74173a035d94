"""Writes to Stripe and to the database (advanced mode): the customer, checkout, the customer
portal, and each subscription's entitlements (`SubscriptionMetadata`)."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import stripe
from django.conf import settings
from django.utils import timezone
from djstripe.models import Customer, Price
from djstripe.models import Subscription as StripeSubscription

from .models import PlanConfiguration, SubscriptionMetadata, subscription_period
from .stripe_api import livemode, request_options, secret_key

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)


# --- checkout and portal --------------------------------------------------------------------


def get_or_create_customer(*, user: AbstractBaseUser) -> Customer:
    """The user's dj-stripe Customer, created in Stripe (and linked) on first use."""
    customer, _ = Customer.get_or_create(subscriber=user, livemode=livemode(), api_key=secret_key())
    return customer


def _line_items(price_id: str) -> list[dict[str, Any]]:
    """The price, plus the metered price of its plan (metered prices take no quantity)."""
    plan = (
        PlanConfiguration.objects.select_related("stripe_price", "metered_price")
        .filter(stripe_price_id=price_id)
        .first()
    )
    prices = [plan.stripe_price] if plan else list(Price.objects.filter(id=price_id)[:1])
    if plan and plan.metered_price and plan.metered_price_id != price_id:
        prices.append(plan.metered_price)
    if not prices:
        return [{"price": price_id, "quantity": 1}]
    items = []
    for price in prices:
        recurring = price.recurring or {}
        if recurring.get("usage_type") == "metered":
            items.append({"price": price.id})
        else:
            items.append({"price": price.id, "quantity": 1})
    return items


#: Django's build_absolute_uri() percent-encodes the braces of Stripe's URL placeholder.
_ENCODED_SESSION_ID = re.compile(r"%7BCHECKOUT_SESSION_ID%7D", re.IGNORECASE)


def create_checkout_session(
    user: AbstractBaseUser,
    price_id: str,
    success_url: str,
    cancel_url: str,
    metadata: dict[str, str] | None = None,
) -> stripe.checkout.Session:
    """Start a Stripe Checkout session that subscribes `user` to `price_id`.

    The session pays as the user's dj-stripe Customer (created on first checkout, with the
    `djstripe_subscriber` metadata dj-stripe links users by); `metadata` is passed through to
    the session and the subscription; a trial of BILLING_TRIAL_PERIOD_DAYS is added if set.
    `{CHECKOUT_SESSION_ID}` in `success_url` is Stripe's placeholder, also when
    `request.build_absolute_uri()` has percent-encoded its braces.
    """
    options = request_options()
    customer = get_or_create_customer(user=user)
    subscriber_key = "djstripe_subscriber"
    meta = {**(metadata or {}), subscriber_key: str(user.pk)}
    subscription_data: dict[str, Any] = {"metadata": meta}
    if settings.BILLING_TRIAL_PERIOD_DAYS > 0:
        subscription_data["trial_period_days"] = settings.BILLING_TRIAL_PERIOD_DAYS
    return stripe.checkout.Session.create(
        mode="subscription",
        customer=customer.id,
        line_items=_line_items(price_id),
        success_url=_ENCODED_SESSION_ID.sub("{CHECKOUT_SESSION_ID}", success_url),
        cancel_url=cancel_url,
        client_reference_id=str(user.pk),
        metadata=meta,
        subscription_data=subscription_data,
        **options,
    )


# --- entitlements ---------------------------------------------------------------------------


def sync_subscription_metadata(subscription: StripeSubscription) -> SubscriptionMetadata:
    """Create the subscription's metadata from its plan, or follow a change of plan.

    Entitlements are copied from the plan when the subscription starts or moves to another
    plan; edits to one subscription's metadata (in the admin) survive other updates.
    """
    plan = PlanConfiguration.for_subscription(subscription)
    starts = subscription_period(subscription, "current_period_start")
    defaults = {
        "plan": plan,
        "features": dict(plan.features) if plan else {},
        "usage_limits": dict(plan.limits) if plan else {},
        "usage_period_start": starts or subscription.created or timezone.now(),
    }
    metadata, created = SubscriptionMetadata.objects.get_or_create(
        subscription_id=subscription.id, defaults=defaults
    )
    if not created and plan is not None and metadata.plan_id != plan.pk:
        metadata.plan = plan
        metadata.features = dict(plan.features)
        metadata.usage_limits = dict(plan.limits)
        metadata.save(update_fields=["plan", "features", "usage_limits", "updated_at"])
        logger.info("Subscription %s moved to plan %s", subscription.id, plan.slug)
    return metadata


def ensure_metadata(subscription: StripeSubscription) -> SubscriptionMetadata:
    """The subscription's metadata, created from its plan if no webhook created it yet."""
    try:
        return subscription.billing_metadata
    except SubscriptionMetadata.DoesNotExist:
        metadata = sync_subscription_metadata(subscription)
        subscription.billing_metadata = metadata  # cached like a fetched relation
        return metadata
