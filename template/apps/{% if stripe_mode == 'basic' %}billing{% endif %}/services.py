"""Writes to Stripe and to the database (basic mode): checkout, the customer portal, and the
link between a Stripe customer and a user."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction

from .models import StripeCustomer
from .selectors import get_customer
from .stripe_api import request_options

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)


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
    customer = get_customer(user)
    if customer is not None:
        params["customer"] = customer.stripe_customer_id
    else:
        params["customer_email"] = user.email  # type: ignore[attr-defined]
    return stripe.checkout.Session.create(**params, **request_options())


def link_customer(*, user: Any, stripe_customer_id: str) -> StripeCustomer:
    """Link a Stripe customer to a user (idempotent; the first link of a user is kept)."""
    existing = StripeCustomer.objects.filter(user=user).first()
    if existing is not None:
        if existing.stripe_customer_id != stripe_customer_id:
            logger.warning(
                "User %s already has Stripe customer %s; not relinking to %s",
                user.pk,
                existing.stripe_customer_id,
                stripe_customer_id,
            )
        return existing
    try:
        with transaction.atomic():
            return StripeCustomer.objects.create(user=user, stripe_customer_id=stripe_customer_id)
    except IntegrityError:
        return StripeCustomer.objects.get(stripe_customer_id=stripe_customer_id)
