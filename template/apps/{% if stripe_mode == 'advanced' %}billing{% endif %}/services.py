"""Writes to Stripe and to the database (advanced mode): the customer, checkout and its
confirmation, closing a billing account, and each subscription's entitlements
(`SubscriptionMetadata`).

One Stripe customer per user: `get_or_create_customer` creates it before the first Checkout,
with the user's row locked, so two concurrent first checkouts find one customer. A customer
Stripe no longer knows (deleted there) is unlinked (`forget_customer`) and the next checkout
creates a new one. Subscriptions reach the database through dj-stripe's sync
(`Subscription.sync_from_stripe_data`) and then `subscription_changed`, from the webhook and
from the success page alike (`apply_subscription`).
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import TYPE_CHECKING, Any

import stripe
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from djstripe.models import Customer, IdempotencyKey, Price
from djstripe.models import Subscription as StripeSubscription

from .checkout_state import CheckoutConfirmation, CheckoutOutcome
from .errors import StripeNotConfiguredError
from .lifecycle import (
    UNENDED_STATUSES,
    customer_exists_at_stripe,
    is_missing,
    lock_user,
    start_subscription_checkout,
)
from .models import PlanConfiguration, Subscription, SubscriptionMetadata, subscription_period
from .selectors import get_customer
from .stripe_api import livemode, request_options
from .stripe_objects import object_id

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

#: The Customer metadata key dj-stripe links users by (djstripe SUBSCRIBER_CUSTOMER_KEY).
SUBSCRIBER_KEY = "djstripe_subscriber"


# --- the customer ---------------------------------------------------------------------------


def _idempotency_key(user: AbstractBaseUser) -> str:
    """The same key for every attempt to create this user's customer (a retry after a lost
    response gets the same customer back), and a new one once a customer of theirs is gone."""
    gone = Customer.objects.filter(
        metadata__djstripe_subscriber=str(user.pk), date_purged__isnull=False
    ).count()
    mode = "live" if livemode() else "test"
    return f"customer-create-{mode}-{user.pk}-{gone}"


def get_or_create_customer(*, user: AbstractBaseUser) -> Customer:
    """The user's dj-stripe Customer, created at Stripe (and linked) if they have none.

    The user's row is locked meanwhile, so concurrent calls (two tabs, a double click) wait
    and then find the customer the first one created; the Stripe call carries an idempotency
    key derived from the user as well. A linked customer that Stripe deleted is unlinked and
    replaced. Raises StripeError (and StripeNotConfiguredError) when Stripe cannot be used.
    """
    options = request_options()
    with transaction.atomic():
        lock_user(user)
        customer = get_customer(user)
        if customer is not None:
            if customer_exists_at_stripe(customer.id, options):
                return customer
            logger.warning("Stripe customer %s of user %s is gone: unlinked", customer.id, user.pk)
            forget_customer(customer.id)
        created = stripe.Customer.create(
            email=getattr(user, "email", "") or None,
            metadata={SUBSCRIBER_KEY: str(user.pk)},
            idempotency_key=_idempotency_key(user),
            **options,
        )
        # dj-stripe links the row to the user from the metadata, as a webhook would.
        return Customer.sync_from_stripe_data(created, api_key=options["api_key"])


def forget_customer(stripe_customer_id: str) -> None:
    """Unlink a customer that Stripe says no longer exists, so its user can start over.

    The row stays (its invoices and subscriptions are history) with no user and
    `date_purged` set, as dj-stripe's own purge leaves it; the user's next checkout creates a
    new customer. Nothing is sent to Stripe. Idempotent.
    """
    customer = Customer.objects.filter(id=stripe_customer_id).first()
    if customer is None:
        return
    if customer.subscriber_id is not None:
        # dj-stripe's own Customer.get_or_create would replay its stored key and get the
        # deleted customer back: forget it, as dj-stripe's purge does.
        IdempotencyKey.objects.filter(action=f"customer:create:{customer.subscriber_id}").delete()
    customer.subscriber = None
    customer.date_purged = customer.date_purged or timezone.now()
    customer.stripe_data = {**(customer.stripe_data or {}), "deleted": True}
    customer.save()


# --- checkout -------------------------------------------------------------------------------


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


def _had_subscription(customer: Customer, user: AbstractBaseUser, options: dict[str, Any]) -> bool:
    """Whether this customer (or user, under an earlier customer) ever had a subscription:
    Stripe gives a trial to every new subscription that asks for one, so we ask only once."""
    local = StripeSubscription.objects.filter(
        Q(customer_id=customer.id)
        | Q(customer__subscriber_id=user.pk)
        | Q(metadata__djstripe_subscriber=str(user.pk))
    )
    if local.exists():
        return True
    found = stripe.Subscription.list(customer=customer.id, status="all", limit=1, **options)
    return bool(found["data"])


def create_checkout_session(
    user: AbstractBaseUser,
    price_id: str,
    success_url: str,
    cancel_url: str,
    metadata: dict[str, str] | None = None,
) -> stripe.checkout.Session:
    """Start a Stripe Checkout session that subscribes `user` to `price_id`.

    The session pays as the user's Stripe customer (`get_or_create_customer`), never by email
    alone, so every subscription of a user is on one customer and in one portal. The user's
    other open subscription Checkouts are expired first, so two tabs can never both pay.
    `metadata` is passed through to the session and the subscription; a trial of
    BILLING_TRIAL_PERIOD_DAYS is added only if the customer never had a subscription (one
    free trial per customer). `{CHECKOUT_SESSION_ID}` in `success_url` is Stripe's
    placeholder, also when `request.build_absolute_uri()` has percent-encoded its braces.
    """
    options = request_options()
    customer = get_or_create_customer(user=user)
    meta = {**(metadata or {}), SUBSCRIBER_KEY: str(user.pk)}
    return start_subscription_checkout(
        user=user,
        customer_id=customer.id,
        had_subscription=lambda: _had_subscription(customer, user, options),
        subscription_data={"metadata": meta},
        options=options,
        line_items=_line_items(price_id),
        success_url=_ENCODED_SESSION_ID.sub("{CHECKOUT_SESSION_ID}", success_url),
        cancel_url=cancel_url,
        metadata=meta,
    )


#: What a Checkout Session id looks like; anything else is not asked of Stripe.
_SESSION_ID = re.compile(r"^cs_[A-Za-z0-9_]{1,250}$")


def _belongs_to(session: dict[str, Any], user: AbstractBaseUser) -> bool:
    if session.get("client_reference_id") == str(user.pk):
        return True
    customer_id = object_id(session.get("customer"))
    return bool(customer_id) and Customer.objects.filter(id=customer_id, subscriber=user).exists()


def confirm_checkout_session(*, user: AbstractBaseUser, session_id: str) -> CheckoutConfirmation:
    """What the success page can tell `user` about their Checkout Session, read from Stripe.

    A complete session's subscription is applied at once, through the code the webhook runs
    (`apply_subscription`), so a paying customer has access before the webhook arrives; the
    webhook then finds it applied. A session of another user, or an id Stripe does not know,
    is NOT_FOUND. Never raises for Stripe problems: they are UNAVAILABLE.
    """
    if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
        return CheckoutConfirmation(CheckoutOutcome.NOT_FOUND)
    try:
        options = request_options()
        found = stripe.checkout.Session.retrieve(session_id, expand=["subscription"], **options)
    except StripeNotConfiguredError:
        return CheckoutConfirmation(CheckoutOutcome.UNAVAILABLE)
    except stripe.InvalidRequestError:
        return CheckoutConfirmation(CheckoutOutcome.NOT_FOUND)
    except stripe.StripeError as exc:
        logger.warning("Checkout Session %s could not be read: %s", session_id, exc)
        return CheckoutConfirmation(CheckoutOutcome.UNAVAILABLE)
    session = found.to_dict()
    if not _belongs_to(session, user) or session.get("mode") != "subscription":
        return CheckoutConfirmation(CheckoutOutcome.NOT_FOUND)
    if session.get("status") == "open":
        return CheckoutConfirmation(CheckoutOutcome.OPEN)
    if session.get("status") != "complete":
        return CheckoutConfirmation(CheckoutOutcome.EXPIRED)
    if not isinstance(session.get("subscription"), dict):
        return CheckoutConfirmation(CheckoutOutcome.PROCESSING)
    try:
        subscription = apply_subscription(found["subscription"], api_key=options["api_key"])
    except stripe.StripeError as exc:  # dj-stripe fetches related objects it lacks
        logger.warning("Subscription of Checkout Session %s not applied: %s", session_id, exc)
        return CheckoutConfirmation(CheckoutOutcome.UNAVAILABLE)
    if session.get("payment_status") == "unpaid" or not subscription.is_active:
        # e.g. a delayed payment method: the webhooks grant access once Stripe has the money.
        return CheckoutConfirmation(CheckoutOutcome.PROCESSING, subscription)
    return CheckoutConfirmation(CheckoutOutcome.CONFIRMED, subscription)


# --- subscriptions --------------------------------------------------------------------------


def lock_stripe_object(stripe_id: str) -> None:
    """Hold a lock on one Stripe object until the current transaction ends.

    Taken before dj-stripe re-fetches an object (a worker applying an event about it, the
    nightly reconciliation), so two workers never sync one object at once: the one that read
    Stripe later also writes later, and an older state never overwrites a newer one. On
    PostgreSQL a transaction-level advisory lock on the id; SQLite already runs one writing
    transaction at a time.
    """
    if connection.vendor != "postgresql" or not stripe_id:
        return
    if not connection.in_atomic_block:
        raise RuntimeError("lock_stripe_object() needs a transaction to hold the lock in.")
    digest = hashlib.blake2b(f"stripe-object:{stripe_id}".encode(), digest_size=8).digest()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)]
        )


def apply_subscription(data: Any, *, api_key: str) -> Subscription:
    """Store a subscription as Stripe sent it (dj-stripe's sync, which links its customer),
    then `subscription_changed`: the webhook's path, for the success page."""
    with transaction.atomic():
        synced = StripeSubscription.sync_from_stripe_data(data, api_key=api_key)
        subscription_changed(synced)
    return Subscription.objects.get(pk=synced.pk)


def subscription_changed(subscription: StripeSubscription) -> None:
    """After dj-stripe synced a subscription: entitlements from its plan, and an error for
    staff if its customer now has a second subscription that is not over."""
    sync_subscription_metadata(subscription)
    report_second_live_subscription(subscription)


def live_subscriptions_beside(subscription: StripeSubscription) -> list[str]:
    """Ids of the other unended subscriptions of this subscription's customer or user."""
    if subscription.status not in UNENDED_STATUSES:
        return []
    owner = Q(customer_id=subscription.customer_id)
    subscriber_id = (
        Customer.objects.filter(id=subscription.customer_id)
        .values_list("subscriber_id", flat=True)
        .first()
    )
    if subscriber_id is not None:
        owner |= Q(customer__subscriber_id=subscriber_id)
    others = StripeSubscription.objects.filter(
        owner, livemode=subscription.livemode, stripe_data__status__in=UNENDED_STATUSES
    ).exclude(id=subscription.id)
    return sorted(others.values_list("id", flat=True))


def report_second_live_subscription(subscription: StripeSubscription) -> None:
    """Log an error naming both subscriptions when a customer has more than one that is not
    over. Nothing is cancelled automatically: staff decide (the admin's Subscriptions list,
    filter "Customers with more than one live subscription"), and Stripe bills both until
    they do."""
    others = live_subscriptions_beside(subscription)
    if others:
        logger.error(
            "Customer %s has more than one live subscription: %s and %s. Both are billed "
            "until staff cancel one (admin: Subscriptions, filter 'Customers with more than "
            "one live subscription').",
            subscription.customer_id,
            subscription.id,
            ", ".join(others),
        )


# --- closing an account ---------------------------------------------------------------------


def close_billing_account(*, user: AbstractBaseUser) -> None:
    """Stop all billing of a user whose account is being deleted.

    Every subscription of the user's Stripe customer that is not over is cancelled now (no
    proration credit), then the customer is deleted at Stripe; a customer Stripe already
    deleted counts as done. The local rows stay, unlinked from the user (`forget_customer`),
    with the subscriptions' cancelled state: invoices and subscriptions remain as history.
    Raises the StripeError when Stripe fails: the customer stays linked to the user, so the
    caller can keep the account flagged and call again later. Idempotent: a second call
    finds no customer linked to the user, and a subscription already cancelled is skipped.
    """
    options = request_options()
    customers = Customer.objects.filter(subscriber=user, livemode=livemode())
    for customer in list(customers):
        try:
            listed = stripe.Subscription.list(customer=customer.id, status="all", **options)
            for remote in listed.auto_paging_iter():
                if remote["status"] in UNENDED_STATUSES:
                    canceled = stripe.Subscription.cancel(remote["id"], **options)
                    apply_subscription(canceled, api_key=options["api_key"])
            stripe.Customer.delete(customer.id, **options)
        except stripe.InvalidRequestError as exc:
            if not is_missing(exc):
                raise
            # Stripe deleted the customer already (its subscriptions with it).
        forget_customer(customer.id)
        logger.info("Billing of user %s closed: customer %s deleted", user.pk, customer.id)


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
