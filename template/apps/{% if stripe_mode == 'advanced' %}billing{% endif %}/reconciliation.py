"""The nightly reconciliation (advanced mode): local subscriptions made equal to Stripe's.

A webhook that never arrived (an endpoint disabled for a while, a rotated secret not yet
deployed, an event Stripe gave up on) leaves a subscription as it was. Once a night
(`tasks.reconcile_subscriptions`, or `reconcile_subscriptions()` by hand) every subscription
that Stripe lists as not canceled, and every local one that has not ended, is compared with
Stripe. One that differs, or that has no entitlements yet, is read again from Stripe and synced
the way a webhook syncs it: dj-stripe's `Subscription.sync_from_stripe_data`, then
`services.subscription_changed` (which runs `sync_subscription_metadata`), holding the
subscription's lock so a webhook applied meanwhile is not overwritten. Each correction is
logged with what changed (field: old → new).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import stripe
from django.db import transaction
from djstripe.models import Subscription as StripeSubscription

from .lifecycle import UNENDED_STATUSES, is_missing
from .models import SubscriptionMetadata
from .services import lock_stripe_object, subscription_changed
from .stripe_api import livemode, request_options
from .stripe_objects import object_id

logger = logging.getLogger(__name__)

#: What a subscription grants and bills, as compared between Stripe and the database.
TRACKED_FIELDS = ("status", "cancel_at_period_end", "cancel_at", "canceled_at", "ended_at")


@dataclass(frozen=True)
class Correction:
    subscription_id: str
    #: field -> (value in the database, value at Stripe); `subscription` (None → id) when the
    #: database did not have it, `entitlements` when its SubscriptionMetadata was missing.
    changes: dict[str, tuple[Any, Any]]

    def describe(self) -> str:
        return "; ".join(f"{name}: {old!r} → {new!r}" for name, (old, new) in self.changes.items())


@dataclass
class ReconcileResult:
    checked: int = 0
    corrections: list[Correction] = field(default_factory=list)
    #: Subscriptions that could not be read from Stripe this time (tried again next night).
    failed: list[str] = field(default_factory=list)


def subscription_state(data: dict[str, Any] | None) -> dict[str, Any]:
    """The fields of a subscription (as Stripe sends it) that reconciliation compares."""
    data = data or {}
    items = (data.get("items") or {}).get("data") or []
    ends = [item["current_period_end"] for item in items if item.get("current_period_end")]
    state = {name: data.get(name) for name in TRACKED_FIELDS}
    state["cancel_at_period_end"] = bool(state["cancel_at_period_end"])
    state["prices"] = sorted(object_id(item.get("price")) for item in items)
    state["quantities"] = sorted(int(item.get("quantity") or 0) for item in items)
    state["current_period_end"] = max(ends, default=None)
    return state


def reconcile_subscriptions(*, api_key: str | None = None) -> ReconcileResult:
    """Compare every live subscription with Stripe and correct those that differ."""
    options = request_options(api_key=api_key)
    result = ReconcileResult()
    listed: set[str] = set()
    # Without `status`, Stripe lists every subscription that is not canceled.
    for remote in stripe.Subscription.list(limit=100, **options).auto_paging_iter():
        listed.add(remote["id"])
        _check(remote["id"], remote.to_dict(), options, result)
    # Not listed but not ended here: canceled at Stripe without the webhook reaching us.
    local = StripeSubscription.objects.filter(
        livemode=livemode(), stripe_data__status__in=UNENDED_STATUSES
    ).values_list("id", flat=True)
    for subscription_id in list(local):
        if subscription_id not in listed:
            _check(subscription_id, None, options, result)
    logger.info(
        "Reconciled %d subscriptions with Stripe: %d corrected, %d could not be read",
        result.checked,
        len(result.corrections),
        len(result.failed),
    )
    return result


def _check(
    subscription_id: str,
    listed: dict[str, Any] | None,
    options: dict[str, Any],
    result: ReconcileResult,
) -> None:
    result.checked += 1
    local = StripeSubscription.objects.filter(id=subscription_id).first()
    if (
        listed is not None
        and local is not None
        and subscription_state(local.stripe_data) == subscription_state(listed)
        and SubscriptionMetadata.objects.filter(subscription_id=subscription_id).exists()
    ):
        return  # in step with Stripe: nothing more to read
    try:
        correction = correct_subscription(subscription_id, options=options)
    except stripe.StripeError as exc:
        logger.error("Subscription %s could not be reconciled: %s", subscription_id, exc)
        result.failed.append(subscription_id)
        return
    if correction is not None:
        logger.warning(
            "Subscription %s corrected from Stripe (a webhook was missed): %s",
            subscription_id,
            correction.describe(),
        )
        result.corrections.append(correction)


def correct_subscription(subscription_id: str, *, options: dict[str, Any]) -> Correction | None:
    """Read one subscription from Stripe and sync it as a webhook would; what changed, if
    anything. Holds the subscription's lock meanwhile, so a webhook applied at the same time
    waits, and whichever reads Stripe later writes later."""
    with transaction.atomic():
        lock_stripe_object(subscription_id)
        local = StripeSubscription.objects.filter(id=subscription_id).first()
        had_metadata = SubscriptionMetadata.objects.filter(subscription_id=subscription_id).exists()
        try:
            fresh = stripe.Subscription.retrieve(subscription_id, **options)
        except stripe.InvalidRequestError as exc:
            if not is_missing(exc):
                raise
            # Not in this Stripe account (e.g. a database restored from another one).
            logger.warning("Subscription %s is unknown to Stripe: left as it is", subscription_id)
            return None
        synced = StripeSubscription.sync_from_stripe_data(fresh, api_key=options["api_key"])
        subscription_changed(synced)
    before = subscription_state(local.stripe_data) if local is not None else None
    after = subscription_state(synced.stripe_data)
    changes: dict[str, tuple[Any, Any]] = {}
    if before is None:
        changes["subscription"] = (None, subscription_id)
    else:
        changes.update(
            {name: (before[name], value) for name, value in after.items() if before[name] != value}
        )
    if not had_metadata:
        changes["entitlements"] = (None, "created from the plan")
    return Correction(subscription_id, changes) if changes else None
