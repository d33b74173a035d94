"""The billing API the rest of the project uses (advanced mode, dj-stripe).

from apps.billing.utils import (
    create_checkout_session, get_customer_portal_url, get_active_subscription,
    record_usage, check_usage_limit,
)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import stripe

from . import services
from .models import ACTIVE_STATUSES, Subscription
from .stripe_api import livemode
from .usage import check_usage_limit, record_usage

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

__all__ = [
    "check_usage_limit",
    "create_checkout_session",
    "get_active_subscription",
    "get_customer_portal_url",
    "record_usage",
]


def create_checkout_session(
    user: AbstractBaseUser,
    price_id: str,
    success_url: str,
    cancel_url: str,
    metadata: dict[str, str] | None = None,
) -> stripe.checkout.Session:
    """Start a Stripe Checkout session that subscribes `user` to `price_id` (see services)."""
    return services.create_checkout_session(
        user=user,
        price_id=price_id,
        success_url=success_url,
        cancel_url=cancel_url,
        metadata=metadata,
    )


def get_customer_portal_url(user: AbstractBaseUser, return_url: str) -> str:
    """A one-time URL of Stripe's Customer Portal for the user's Stripe customer.

    Raises `services.NoStripeCustomerError` if the user never started a checkout.
    """
    return services.get_customer_portal_url(user=user, return_url=return_url)


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
