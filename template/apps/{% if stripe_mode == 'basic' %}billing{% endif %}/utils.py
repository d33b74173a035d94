"""The billing API the rest of the project uses (basic mode).

from apps.billing.utils import (
    create_checkout_session, get_customer_portal_url, get_active_subscription,
)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import stripe
from django.conf import settings

from .models import ACTIVE_STATUSES, Subscription
from .stripe_api import request_options

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


def create_checkout_session(
    user: AbstractBaseUser,
    price_id: str,
    success_url: str,
    cancel_url: str,
    metadata: dict[str, str] | None = None,
) -> stripe.checkout.Session:
    """Start a Stripe Checkout session that subscribes `user` to `price_id`.

    A user who already has a Stripe customer pays as that customer; otherwise Checkout creates
    the customer and the `checkout.session.completed` webhook links it to the user (by
    `client_reference_id`). The user id also travels in the subscription's metadata, so
    subscription webhooks can find the user even if they arrive first.
    """
    meta = {**(metadata or {}), "user_id": str(user.pk)}
    subscription_data: dict[str, Any] = {"metadata": meta}
    if settings.BILLING_TRIAL_PERIOD_DAYS > 0:
        subscription_data["trial_period_days"] = settings.BILLING_TRIAL_PERIOD_DAYS
    params: dict[str, Any] = {
        "mode": "subscription",
        "line_items": [{"price": price_id, "quantity": 1}],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "client_reference_id": str(user.pk),
        "metadata": meta,
        "subscription_data": subscription_data,
    }
    customer = getattr(user, "stripe_customer", None)  # None when the reverse row is missing
    if customer is not None:
        params["customer"] = customer.stripe_customer_id
    else:
        params["customer_email"] = user.email  # type: ignore[attr-defined]
    return stripe.checkout.Session.create(**params, **request_options())


def get_customer_portal_url(stripe_customer_id: str, return_url: str) -> str:
    """A one-time URL of Stripe's Customer Portal for this customer."""
    session = stripe.billing_portal.Session.create(
        customer=stripe_customer_id, return_url=return_url, **request_options()
    )
    return session.url


def get_active_subscription(user: AbstractBaseUser | AnonymousUser) -> Subscription | None:
    """The user's subscription that grants access now (active or trialing), newest first."""
    if not user.is_authenticated:
        return None
    return (
        Subscription.objects.filter(customer__user=user, status__in=ACTIVE_STATUSES)
        .order_by("-created_at")
        .first()
    )
