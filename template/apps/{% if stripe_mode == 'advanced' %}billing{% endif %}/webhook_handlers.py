"""Reactions to Stripe events (advanced mode), as receivers of dj-stripe's webhook signals.

dj-stripe verifies each webhook, stores its Event once and syncs the object it is about
(re-fetched from Stripe) before these receivers run, in the same transaction: a receiver that
raises rolls everything back and the webhook answers 500, so Stripe retries. dj-stripe never
sends the signal twice for one event id, and every receiver here is idempotent anyway. An event
of the other Stripe mode never gets here (see `webhooks.ignore_event`).

- customer.subscription.created / .updated   SubscriptionMetadata from the plan's configuration,
                                              and an error log line if the customer now has a
                                              second live subscription
                                              (`services.subscription_changed`)
- customer.subscription.deleted               access ends (the subscription is canceled)
- customer.subscription.trial_will_end        one reminder email (BILLING_TRIAL_REMINDER_EMAILS)
- customer.deleted                            the customer is unlinked from its user (dj-stripe
                                              purges it first), who can subscribe again
- invoice.paid / invoice.payment_succeeded    a paid renewal starts a new usage period, once
                                              whichever arrives (an invoice paid out of band
                                              sends invoice.paid only)
- invoice.payment_failed                      one email per event, with a link to fix payment
- invoice.payment_action_required             one email per event, with the hosted invoice link
                                              where the customer authenticates the payment

`from djstripe import webhooks` no longer exists: the signals are `djstripe.signals
.WEBHOOK_SIGNALS`. This module is imported by `BillingConfig.ready()`, after dj-stripe's own
handlers are connected, so the synced objects are in the database when these run. The request
reaches dj-stripe through the intake in `webhooks`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.dispatch import receiver
from djstripe.models import Event
from djstripe.models import Subscription as StripeSubscription
from djstripe.signals import WEBHOOK_SIGNALS

from . import notifications, usage
from .lifecycle import UNENDED_STATUSES
from .models import PlanConfiguration
from .services import forget_customer, subscription_changed
from .stripe_objects import invoice_subscription_id, object_id

logger = logging.getLogger(__name__)
SIGNALS = WEBHOOK_SIGNALS

#: Invoices that open a new billing period (a trial's end is a subscription_cycle too).
PERIOD_INVOICE_REASONS = ("subscription_create", "subscription_cycle")


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return datetime.fromtimestamp(value, tz=UTC)


def _synced_subscription(subscription_id: str) -> StripeSubscription | None:
    subscription = StripeSubscription.objects.filter(id=subscription_id).first()
    if subscription is None:
        logger.warning("Subscription %s is not in the database; event skipped", subscription_id)
    return subscription


@receiver(
    SIGNALS["customer.subscription.created"], sender=Event, dispatch_uid="billing.sub_created"
)
@receiver(
    SIGNALS["customer.subscription.updated"], sender=Event, dispatch_uid="billing.sub_updated"
)
def handle_subscription_changed(sender: Any, event: Event, **kwargs: Any) -> None:
    """Give the subscription its plan's features and limits; flag a second live one."""
    subscription = _synced_subscription(object_id(event.data["object"].get("id")))
    if subscription is not None:
        subscription_changed(subscription)


@receiver(
    SIGNALS["customer.subscription.deleted"], sender=Event, dispatch_uid="billing.sub_deleted"
)
def handle_subscription_deleted(sender: Any, event: Event, **kwargs: Any) -> None:
    """Revoke access: the subscription no longer counts as active anywhere."""
    data = event.data["object"]
    subscription = _synced_subscription(object_id(data.get("id")))
    if subscription is None:
        return
    if subscription.status in UNENDED_STATUSES:
        # dj-stripe synced an older state than this event reports: a deleted subscription
        # never comes back, so trust the event.
        subscription.stripe_data = {**subscription.stripe_data, "status": data.get("status")}
        subscription.save(update_fields=["stripe_data"])
    logger.info("Subscription %s canceled: access revoked", subscription.id)


@receiver(
    SIGNALS["customer.subscription.trial_will_end"],
    sender=Event,
    dispatch_uid="billing.trial_will_end",
)
def handle_trial_will_end(sender: Any, event: Event, **kwargs: Any) -> None:
    """Remind the customer once that their trial ends (Stripe sends this 3 days before)."""
    data = event.data["object"]
    subscription = StripeSubscription.objects.filter(id=object_id(data.get("id"))).first()
    plan = PlanConfiguration.for_subscription(subscription) if subscription else None
    notifications.queue_trial_will_end_email(
        event_id=event.id, subscription=data, plan_name=plan.name if plan else ""
    )


@receiver(SIGNALS["customer.deleted"], sender=Event, dispatch_uid="billing.customer_deleted")
def handle_customer_deleted(sender: Any, event: Event, **kwargs: Any) -> None:
    """The customer is gone at Stripe: its user keeps no link to it and can subscribe again
    (their next checkout creates a new customer). dj-stripe's own handler has purged the row
    already; this also covers a customer it did not know."""
    customer_id = object_id(event.data["object"].get("id"))
    forget_customer(customer_id)
    logger.info("Stripe customer %s deleted: unlinked from its user", customer_id)


@receiver(SIGNALS["invoice.paid"], sender=Event, dispatch_uid="billing.invoice_paid")
@receiver(
    SIGNALS["invoice.payment_succeeded"], sender=Event, dispatch_uid="billing.invoice_succeeded"
)
def handle_invoice_paid(sender: Any, event: Event, **kwargs: Any) -> None:
    """A paid renewal starts a new usage period: the counters of the new period start at 0.

    Stripe sends invoice.paid for every paid invoice (also one marked paid out of band) and
    invoice.payment_succeeded only when it collected the payment; the period moves forward
    to the invoice's period end once, whichever of the two comes first.
    """
    invoice = event.data["object"]
    subscription_id = invoice_subscription_id(invoice)
    if not subscription_id or invoice.get("billing_reason") not in PERIOD_INVOICE_REASONS:
        return
    subscription = _synced_subscription(subscription_id)
    if subscription is None:
        return
    starts_at = _timestamp(invoice.get("period_end")) or event.created
    if usage.start_new_period(subscription=subscription, starts_at=starts_at):
        logger.info("Usage of %s reset for the period from %s", subscription_id, starts_at)


@receiver(SIGNALS["invoice.payment_failed"], sender=Event, dispatch_uid="billing.invoice_failed")
def handle_payment_failed(sender: Any, event: Event, **kwargs: Any) -> None:
    """Email the customer once per event, with a link to fix their payment method."""
    notifications.queue_payment_failed_email(event_id=event.id, invoice=event.data["object"])


@receiver(
    SIGNALS["invoice.payment_action_required"],
    sender=Event,
    dispatch_uid="billing.invoice_action_required",
)
def handle_payment_action_required(sender: Any, event: Event, **kwargs: Any) -> None:
    """Email the customer once per event: their bank wants them to confirm the payment."""
    notifications.queue_payment_action_required_email(
        event_id=event.id, invoice=event.data["object"]
    )
