"""Stripe's subscription lifecycle as both billing modes read it, and the checkout rules they
share: which statuses give access, which have not ended, and one checkout per user at a time."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import stripe
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

#: Every status a Stripe subscription can have.
STATUSES = (
    "active",
    "trialing",
    "past_due",
    "unpaid",
    "canceled",
    "incomplete",
    "incomplete_expired",
    "paused",
)
#: Subscription statuses that grant access to paid features (see `access_statuses`).
ACTIVE_STATUSES = ("active", "trialing")
#: Statuses of a subscription that has not ended: Stripe may still bill it, or it may come
#: back. A user with one of these cannot start a second subscription at checkout.
UNENDED_STATUSES = ("active", "trialing", "past_due", "unpaid", "incomplete", "paused")
#: Statuses a subscription never leaves (Stripe cannot reactivate them).
TERMINAL_STATUSES = ("canceled", "incomplete_expired")


def access_statuses() -> tuple[str, ...]:
    """The statuses that grant access now: active and trialing, plus past_due (Stripe's retry
    window after a failed renewal) while BILLING_PAST_DUE_ACCESS is on. Read at call time, so
    a changed setting applies at once. unpaid, canceled, incomplete, incomplete_expired and
    paused never give access."""
    if settings.BILLING_PAST_DUE_ACCESS:
        return (*ACTIVE_STATUSES, "past_due")
    return ACTIVE_STATUSES


def is_missing(exc: stripe.StripeError) -> bool:
    """Stripe answered that the object does not exist (deleted, or never in this account)."""
    return isinstance(exc, stripe.InvalidRequestError) and exc.code == "resource_missing"


def customer_exists_at_stripe(customer_id: str, options: dict[str, Any]) -> bool:
    """False when Stripe deleted the customer (it answers with a `deleted` stub) or never
    had it (resource_missing, e.g. a database restored from another account or mode)."""
    try:
        found = stripe.Customer.retrieve(customer_id, **options)
    except stripe.InvalidRequestError as exc:
        if is_missing(exc):
            return False
        raise
    return not found.to_dict().get("deleted", False)


def lock_user(user: AbstractBaseUser) -> None:
    """Hold the user's row until the transaction ends: one first customer, and one checkout,
    of a user at a time."""
    list(get_user_model().objects.select_for_update().filter(pk=user.pk).values_list("pk"))


def expire_open_sessions(customer_id: str, options: dict[str, Any]) -> None:
    """Expire the customer's open subscription Checkouts: only the newest can be paid."""
    sessions = stripe.checkout.Session.list(
        customer=customer_id, status="open", limit=100, **options
    )
    for session in sessions.auto_paging_iter():
        if session["mode"] != "subscription":
            continue
        try:
            stripe.checkout.Session.expire(session["id"], **options)
        except stripe.InvalidRequestError as exc:
            # Completed or expired since it was listed: a completed one is a subscription on
            # its way, which the admin and the error log show if it makes a second one.
            logger.info("Checkout Session %s was no longer open: %s", session["id"], exc)


def start_subscription_checkout(
    *,
    user: AbstractBaseUser,
    customer_id: str,
    had_subscription: Callable[[], bool],
    subscription_data: dict[str, Any],
    options: dict[str, Any],
    **session: Any,
) -> stripe.checkout.Session:
    """Create a subscription Checkout Session for the user's customer, as the only open one.

    The user's row stays locked until the session exists: a second tab's checkout waits, then
    expires this session before making its own, so two tabs can never both pay. The free trial
    (BILLING_TRIAL_PERIOD_DAYS) is asked for only when `had_subscription()` says the customer
    never had one: Stripe gives a trial to every new subscription that asks. With
    BILLING_ALLOW_PROMOTION_CODES on, Checkout accepts promotion codes.
    """
    with transaction.atomic():
        lock_user(user)
        expire_open_sessions(customer_id, options)
        trial_days = settings.BILLING_TRIAL_PERIOD_DAYS
        if trial_days > 0 and not had_subscription():
            subscription_data = {**subscription_data, "trial_period_days": trial_days}
        if settings.BILLING_ALLOW_PROMOTION_CODES:
            # Checkout then shows a promotion code box; the codes are made in Stripe's dashboard.
            session = {**session, "allow_promotion_codes": True}
        return stripe.checkout.Session.create(
            mode="subscription",
            customer=customer_id,
            client_reference_id=str(user.pk),
            subscription_data=subscription_data,
            **session,
            **options,
        )
