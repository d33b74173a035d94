"""Writes to Stripe and to the database (basic mode): the user's Stripe customer, checkout and
its confirmation, closing the billing account when a user deletes theirs, and the nightly
reconciliation of subscriptions with Stripe's."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import stripe
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .checkout_state import CheckoutConfirmation, CheckoutOutcome
from .customers import link_customer, unlink_customer
from .errors import StripeNotConfiguredError
from .lifecycle import (
    ACTIVE_STATUSES,
    UNENDED_STATUSES,
    customer_exists_at_stripe,
    is_missing,
    lock_user,
    start_subscription_checkout,
)
from .models import READ_FROM_API, StripeCustomer, Subscription
from .stripe_api import is_configured, request_options
from .stripe_objects import object_id
from .webhook_handlers import (
    DeferEventError,
    apply_subscription,
    link_checkout_customer,
    subscription_fields,
)
from .webhooks import replay_deferred

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

__all__ = [
    "close_billing_account",
    "confirm_checkout_session",
    "create_checkout_session",
    "forget_customer",
    "get_or_create_customer",
    "link_customer",
    "reconcile_subscriptions",
]

logger = logging.getLogger(__name__)


# --- the customer -----------------------------------------------------------------------------


def _idempotency_key(user: AbstractBaseUser, email: str) -> str:
    """The same key for the same user, email and generation (how many customers the user had
    before): a retried or concurrent create returns the one customer Stripe made."""
    generation = StripeCustomer.objects.filter(former_user=user).count()
    digest = hashlib.sha256(email.encode()).hexdigest()[:16]
    return f"customer-for-user-{user.pk}-{generation}-{digest}"


def get_or_create_customer(*, user: AbstractBaseUser) -> StripeCustomer:
    """The user's Stripe customer, created at Stripe (and linked) before their first checkout.

    Idempotent: the user's row is locked while the customer is made, and Stripe gets an
    idempotency key derived from the user, so two concurrent first checkouts give one customer.
    A linked customer Stripe no longer has (deleted without its webhook arriving yet) is
    unlinked and a new one created.
    """
    options = request_options()
    with transaction.atomic():
        lock_user(user)
        customer = StripeCustomer.objects.filter(user=user).first()
        if customer is not None:
            if customer_exists_at_stripe(customer.stripe_customer_id, options):
                return customer
            logger.warning("Stripe no longer has customer %s", customer.stripe_customer_id)
            unlink_customer(customer.stripe_customer_id)
        email = str(getattr(user, "email", "") or "")
        params: dict[str, Any] = {"metadata": {"user_id": str(user.pk)}}
        if email:
            params["email"] = email
        created = stripe.Customer.create(
            **params, idempotency_key=_idempotency_key(user, email), **options
        )
        customer = link_customer(user=user, stripe_customer_id=created.id)
    user.stripe_customer = customer  # type: ignore[attr-defined]  (this object reads it too)
    return customer


def forget_customer(stripe_customer_id: str) -> None:
    """Unlink a customer Stripe says no longer exists (resource_missing), so its user can start
    over with a new one. Its rows stay, unlinked (see `customers.unlink_customer`)."""
    unlink_customer(stripe_customer_id)


# --- checkout ---------------------------------------------------------------------------------


def _had_subscription(
    user: AbstractBaseUser, customer: StripeCustomer, options: dict[str, Any]
) -> bool:
    """Whether the user ever subscribed: here (with any of their customers), or at Stripe."""
    if Subscription.objects.filter(Q(customer__user=user) | Q(customer__former_user=user)).exists():
        return True
    found = stripe.Subscription.list(
        customer=customer.stripe_customer_id, status="all", limit=1, **options
    )
    return bool(found.data)


def create_checkout_session(
    user: AbstractBaseUser,
    price_id: str,
    success_url: str,
    cancel_url: str,
    metadata: dict[str, str] | None = None,
) -> stripe.checkout.Session:
    """Start a Stripe Checkout session that subscribes `user` to `price_id`.

    The session pays as the user's Stripe customer (created first, see
    `get_or_create_customer`), whose other open Checkout sessions are expired first. The free
    trial (BILLING_TRIAL_PERIOD_DAYS) is offered only to a customer who never had a
    subscription. The user id also travels in the metadata of the session and of the
    subscription, so every webhook can find the user.
    """
    options = request_options()
    meta = {**(metadata or {}), "user_id": str(user.pk)}
    customer = get_or_create_customer(user=user)  # committed on its own: never made twice
    return start_subscription_checkout(
        user=user,
        customer_id=customer.stripe_customer_id,
        had_subscription=lambda: _had_subscription(user, customer, options),
        subscription_data={"metadata": meta},
        options=options,
        line_items=[{"price": price_id, "quantity": 1}],
        success_url=success_url,
        cancel_url=cancel_url,
        metadata=meta,
    )


def _stripe_time(obj: Any) -> datetime:
    """When Stripe answered (its Date header, the clock its events' `created` use), else now."""
    response = getattr(obj, "last_response", None)
    headers = getattr(response, "headers", None) or {}
    date = next((value for key, value in headers.items() if key.lower() == "date"), None)
    if date:
        try:
            return parsedate_to_datetime(date)
        except (TypeError, ValueError):
            pass
    return timezone.now().replace(microsecond=0)


def _belongs_to(session: dict[str, Any], user: AbstractBaseUser) -> bool:
    if session.get("client_reference_id") == str(user.pk):
        return True
    customer_id = object_id(session.get("customer"))
    return (
        bool(customer_id)
        and StripeCustomer.objects.filter(user=user, stripe_customer_id=customer_id).exists()
    )


def confirm_checkout_session(*, user: AbstractBaseUser, session_id: str) -> CheckoutConfirmation:
    """What the success page can tell about a Checkout session, read from Stripe.

    A complete session's subscription is applied right away, through the code the webhook runs
    (`webhook_handlers.apply_subscription`, ordered with the webhooks whichever comes first),
    so a paying customer has access before the webhook arrives. Never raises for Stripe
    problems: UNAVAILABLE says Stripe could not be asked.
    """
    if not session_id.startswith("cs_"):
        return CheckoutConfirmation(CheckoutOutcome.NOT_FOUND)
    try:
        session = stripe.checkout.Session.retrieve(
            session_id, expand=["subscription"], **request_options()
        )
    except StripeNotConfiguredError:
        return CheckoutConfirmation(CheckoutOutcome.UNAVAILABLE)
    except stripe.InvalidRequestError:  # malformed or unknown id
        return CheckoutConfirmation(CheckoutOutcome.NOT_FOUND)
    except stripe.StripeError as exc:
        logger.warning("Could not read Checkout session %s: %s", session_id, exc)
        return CheckoutConfirmation(CheckoutOutcome.UNAVAILABLE)
    data = session.to_dict()  # plain dicts, as webhooks deliver them
    if data.get("mode") != "subscription" or not _belongs_to(data, user):
        return CheckoutConfirmation(CheckoutOutcome.NOT_FOUND)
    if data.get("status") == "open":
        return CheckoutConfirmation(CheckoutOutcome.OPEN)
    if data.get("status") != "complete":
        return CheckoutConfirmation(CheckoutOutcome.EXPIRED)
    subscription = data.get("subscription")
    if not isinstance(subscription, dict):  # not created yet
        return CheckoutConfirmation(CheckoutOutcome.PROCESSING)
    try:
        with transaction.atomic():
            linked = link_checkout_customer(data).linked_customer_id
            outcome = apply_subscription(
                subscription, at=_stripe_time(session), source=READ_FROM_API
            )
    except DeferEventError:  # its customer is nobody's yet: the webhooks will settle it
        return CheckoutConfirmation(CheckoutOutcome.PROCESSING)
    for customer_id in {linked, outcome.linked_customer_id} - {""}:
        replay_deferred(stripe_customer_id=customer_id)
    local = Subscription.objects.filter(stripe_subscription_id=subscription["id"]).first()
    paid = data.get("payment_status") in ("paid", "no_payment_required")
    if local is None or not paid or local.status not in ACTIVE_STATUSES:
        return CheckoutConfirmation(CheckoutOutcome.PROCESSING, local)
    return CheckoutConfirmation(CheckoutOutcome.CONFIRMED, local)


# --- closing the account ----------------------------------------------------------------------


def close_billing_account(*, user: AbstractBaseUser) -> None:
    """Stop billing a user whose account is being deleted: cancel every subscription of their
    Stripe customer that has not ended (at once, no proration credit), then delete the customer
    at Stripe. A customer Stripe already deleted counts as done.

    The local rows are left unlinked, not removed (see `customers.unlink_customer`): access
    ends at once, the user can then be deleted without touching them, and the cancellation
    webhooks still find and update them. Raises the StripeError when Stripe fails: the caller
    keeps the user and retries (it is idempotent). Nothing to do for a user who never had a
    customer.
    """
    customer = StripeCustomer.objects.filter(user=user).first()
    if customer is None:
        return
    options = request_options()
    customer_id = customer.stripe_customer_id
    try:
        subscriptions = stripe.Subscription.list(
            customer=customer_id, status="all", limit=100, **options
        )
        for subscription in subscriptions.auto_paging_iter():
            if subscription["status"] in UNENDED_STATUSES:
                stripe.Subscription.cancel(subscription.id, **options)
        stripe.Customer.delete(customer_id, **options)
    except stripe.InvalidRequestError as exc:
        if not is_missing(exc):
            raise
        logger.info("Stripe customer %s was already deleted", customer_id)
    unlink_customer(customer_id)


# --- reconciliation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Correction:
    """A local subscription's field that differed from Stripe's, and was set to Stripe's."""

    subscription_id: str
    field: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.subscription_id}: {self.field}: {self.old!r} → {self.new!r}"


#: The fields a subscription's state sets (those `webhook_handlers.subscription_fields` reads).
STATE_FIELDS = tuple(subscription_fields({}))


def _state(subscription_id: str) -> dict[str, Any] | None:
    row = Subscription.objects.filter(stripe_subscription_id=subscription_id).first()
    if row is None:
        return None
    return {name: getattr(row, name) for name in STATE_FIELDS}


def reconcile_subscription(data: dict[str, Any], *, at: datetime) -> list[Correction]:
    """Apply a subscription as Stripe has it now (read at `at`) through the webhook's own code,
    ordered with the webhooks, and return what that changed. One ended at Stripe and here (or
    never known here) is left alone."""
    subscription_id = str(data.get("id") or "")
    before = _state(subscription_id)
    if data.get("status") not in UNENDED_STATUSES and (
        before is None or before["status"] not in UNENDED_STATUSES
    ):
        return []
    with transaction.atomic():
        apply_subscription(data, at=at, source=READ_FROM_API)
    after = _state(subscription_id) or {}
    if before is None:
        return [Correction(subscription_id, "subscription", None, after.get("status"))]
    return [
        Correction(subscription_id, name, before[name], after[name])
        for name in before
        if before[name] != after[name]
    ]


def reconcile_subscriptions() -> list[Correction]:
    """Re-read from Stripe the subscriptions of every linked customer and correct local state.

    What a lost or mis-configured webhook left wrong (a cancellation never received, a plan
    change, a subscription never recorded) is set to Stripe's state, and each correction is
    logged (field: old → new). A state read from Stripe never overwrites a webhook that is newer
    (`webhook_handlers.apply_subscription`). One request per linked customer (100
    subscriptions a page): run it nightly (`tasks.reconcile_subscriptions`). A customer Stripe
    cannot answer for is logged and skipped. Without Stripe keys there is nothing to read.
    """
    if not is_configured():
        logger.info("Stripe is not configured: no subscriptions to reconcile")
        return []
    options = request_options()
    corrections: list[Correction] = []
    # Users' customers and teams' customers alike (a team's has no user).
    customers = StripeCustomer.objects.filter(
        Q(user__isnull=False) | Q(team__isnull=False, unlinked_at__isnull=True)
    ).order_by("pk")
    for customer_id in list(customers.values_list("stripe_customer_id", flat=True)):
        try:
            listing = stripe.Subscription.list(
                customer=customer_id, status="all", limit=100, **options
            )
            at = _stripe_time(listing)
            for subscription in listing.auto_paging_iter():
                for correction in reconcile_subscription(subscription.to_dict(), at=at):
                    logger.warning("Reconciled with Stripe: %s", correction)
                    corrections.append(correction)
        except (stripe.StripeError, DeferEventError, ValueError) as exc:
            logger.warning("Could not reconcile the subscriptions of %s: %s", customer_id, exc)
    return corrections
