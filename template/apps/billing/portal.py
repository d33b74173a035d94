"""Stripe's Customer Portal, the same in both billing modes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import stripe

from .errors import NoStripeCustomerError
from .selectors import stripe_customer_id_of
from .services import forget_customer
from .stripe_api import request_options

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def get_customer_portal_url(customer: AbstractBaseUser | str, return_url: str) -> str:
    """A one-time URL of Stripe's Customer Portal.

    `customer` is a user (their Stripe customer is used) or a Stripe customer id (`cus_...`).
    Raises `NoStripeCustomerError` for a user who never started a checkout, and for a customer
    Stripe no longer has (deleted in the Dashboard): that link is dropped, so the user can
    subscribe again instead of meeting an error on every visit.
    """
    customer_id = customer if isinstance(customer, str) else stripe_customer_id_of(customer)
    if not customer_id:
        raise NoStripeCustomerError("This user has no Stripe customer yet.")
    try:
        session = stripe.billing_portal.Session.create(
            customer=customer_id, return_url=return_url, **request_options()
        )
    except stripe.InvalidRequestError as exc:
        if exc.code != "resource_missing" or exc.param != "customer":
            raise
        forget_customer(customer_id)
        raise NoStripeCustomerError("This customer no longer exists at Stripe.") from exc
    return str(session.url)
