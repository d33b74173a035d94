"""Applying a stored Stripe event (advanced mode): dj-stripe's processing, then the project's
reactions to it, as receivers of dj-stripe's webhook signals.

A worker calls `apply_webhook_event` for each event the webhook stored (`webhooks`,
`tasks.process_webhook_event`). In one transaction, holding a lock on the event's Stripe
object (`services.lock_stripe_object`, so events about one object are applied one at a time,
in whatever order they come), dj-stripe stores the Event once by its id, re-fetches the object
from Stripe and syncs it, and sends the signal the receivers below handle. A receiver that
raises rolls everything back: the event is kept as failed and tried again. dj-stripe never
sends the signal twice for one event id, and every receiver here is idempotent anyway. Events
of the other Stripe mode, and changes to customers Stripe has deleted since, are recorded as
ignored instead (`ignore_event`).

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
.WEBHOOK_SIGNALS`. dj-stripe's own handlers are connected before these, so the synced objects
are in the database when these run.
"""

from __future__ import annotations

import enum
import logging
from datetime import UTC, datetime, timedelta
from traceback import format_exc
from typing import Any

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

# dj-stripe's own receivers (they sync each event's object) are connected before the ones
# below, whichever module Django imports first (the admin imports this one, through the
# tasks, before dj-stripe's ready()): receivers run in the order they were connected.
from djstripe import event_handlers  # noqa: F401
from djstripe.models import Customer, Event, WebhookEventTrigger
from djstripe.models import Subscription as StripeSubscription
from djstripe.settings import djstripe_settings
from djstripe.signals import WEBHOOK_SIGNALS

from . import notifications, usage
from .lifecycle import UNENDED_STATUSES
from .models import IgnoredEvent, PlanConfiguration, WebhookEvent
from .services import forget_customer, lock_stripe_object, subscription_changed
from .stripe_api import livemode
from .stripe_objects import invoice_subscription_id, object_id

logger = logging.getLogger(__name__)
SIGNALS = WEBHOOK_SIGNALS

# --- applying a stored event -------------------------------------------------------------------


class Outcome(enum.StrEnum):
    PROCESSED = "processed"
    IGNORED = "ignored"
    FAILED = "failed"
    #: Nothing to do: the event is done, or another worker is applying it right now.
    SKIPPED = "skipped"


PENDING_STATUSES = (WebhookEvent.Status.RECEIVED, WebhookEvent.Status.FAILED)
#: WebhookEventTrigger.exception is a short column; the whole message is on the WebhookEvent.
EXCEPTION_LENGTH = 128


def apply_webhook_event(event_pk: int, *, retry_in: float | None = None) -> Outcome:
    """Apply one stored event through dj-stripe, once, whichever worker gets it.

    The stored event's row is locked (a worker that finds it locked or done leaves it), and so
    is its Stripe object for the transaction. A failure rolls dj-stripe's work back and is
    recorded: the error on the event, the traceback on its trigger (dj-stripe's admin), and
    `next_attempt_at`, `retry_in` seconds from now (None: no further automatic attempt).
    """
    with transaction.atomic():
        stored = (
            WebhookEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("trigger__webhook_endpoint")
            .filter(pk=event_pk, status__in=PENDING_STATUSES)
            .first()
        )
        if stored is None:
            return Outcome.SKIPPED
        trigger = stored.trigger
        event = trigger.json_body
        lock_stripe_object(object_id(event["data"]["object"].get("id")) or event["id"])
        reason = reason_to_ignore(event)
        if reason:
            record_ignored(event, reason)
            trigger.processed = True
            trigger.save(update_fields=["processed", "updated"])
            return _finish(stored, WebhookEvent.Status.IGNORED)
        stored.attempts += 1
        try:
            with transaction.atomic():
                trigger.process(save=True, api_key=_api_key(trigger))
        except Exception as exc:  # anything a receiver or Stripe raises: kept, tried again
            trigger.exception = str(exc)[:EXCEPTION_LENGTH]
            trigger.traceback = format_exc()
            trigger.processed = False
            trigger.save(update_fields=["exception", "traceback", "processed", "updated"])
            stored.status = WebhookEvent.Status.FAILED
            stored.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            stored.next_attempt_at = (
                timezone.now() + timedelta(seconds=retry_in) if retry_in is not None else None
            )
            stored.save(update_fields=["status", "attempts", "last_error", "next_attempt_at"])
            logger.exception(
                "Stripe event %s (%s) failed, attempt %d",
                stored.stripe_event_id,
                stored.type,
                stored.attempts,
            )
            return Outcome.FAILED
        return _finish(stored, WebhookEvent.Status.PROCESSED)


def _finish(stored: WebhookEvent, status: str) -> Outcome:
    stored.status = status
    stored.processed_at = timezone.now()
    stored.last_error = ""
    stored.next_attempt_at = None
    stored.save(
        update_fields=["status", "attempts", "processed_at", "last_error", "next_attempt_at"]
    )
    return Outcome(status)


def _api_key(trigger: WebhookEventTrigger) -> str:
    """The key dj-stripe's own processing would use: the Connect account's, else the key of
    the endpoint's mode."""
    account = trigger.stripe_trigger_account
    endpoint = trigger.webhook_endpoint
    return (account.default_api_key if account else None) or (
        djstripe_settings.get_default_api_key(endpoint.livemode if endpoint else livemode())
    )


# --- events that are recorded and not applied ---------------------------------------------------


def _mode(live: bool) -> str:
    return "live" if live else "test"


def reason_to_ignore(event: dict[str, Any]) -> str:
    """Why this event must not be applied, or "" to apply it."""
    event_live = event.get("livemode") is True
    if event_live != livemode():
        # With a live key a test-mode event must never change state, and the reverse:
        # dj-stripe would store it and re-fetch its object with the key in use.
        return (
            f"{_mode(event_live).capitalize()}-mode event received while the project uses "
            f"{_mode(livemode())}-mode Stripe (STRIPE_LIVE_MODE): not applied."
        )
    obj = event["data"]["object"]
    if (
        obj.get("object") == "customer"
        and event["type"] != "customer.deleted"
        and Customer.objects.filter(id=obj.get("id"), date_purged__isnull=False).exists()
    ):
        # dj-stripe would re-fetch the customer, which Stripe no longer serves: the event
        # would fail on every retry. The customer's deletion has been applied already.
        return "The customer was deleted at Stripe since: its earlier changes no longer apply."
    return ""


def record_ignored(event: dict[str, Any], reason: str) -> IgnoredEvent:
    """The event's IgnoredEvent (stored once), with the reason."""
    ignored, _ = IgnoredEvent.objects.get_or_create(
        stripe_event_id=event["id"],
        defaults={
            "type": event["type"],
            "livemode": event.get("livemode") is True,
            "reason": reason,
        },
    )
    logger.warning("Stripe event %s ignored: %s", event["id"], ignored.reason)
    return ignored


def ignore_event(event: dict[str, Any]) -> IgnoredEvent | None:
    """Record the event as ignored (once) and return it when it must not be applied: an event
    of the other Stripe mode, or a change to a customer Stripe has deleted since. None for an
    event to apply."""
    reason = reason_to_ignore(event)
    return record_ignored(event, reason) if reason else None


# --- the receivers ------------------------------------------------------------------------------

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
