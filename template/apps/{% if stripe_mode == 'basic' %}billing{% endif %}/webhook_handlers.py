"""Stripe event handlers (basic mode): one small function per event type.

Handled events:
- checkout.session.completed       links the Stripe customer Checkout created to the user
- customer.subscription.created    creates the Subscription row
- customer.subscription.updated    updates it (newer events only)
- customer.subscription.deleted    marks it canceled: access ends
- invoice.payment_succeeded        logged (the period moves with customer.subscription.updated)
- invoice.payment_failed           emails the customer a link to fix their payment method

Handlers run inside a transaction opened by the intake in `webhooks`, once per event.
Other event types are stored and marked ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse

from .fast_sql import update_subscription_if_newer
from .models import EVENT_RANK, TERMINAL_STATUSES, StripeCustomer, Subscription, WebhookEvent
from .plans import get_plan_by_price_id
from .services import link_customer
from .stripe_objects import invoice_subscription_id, object_id

logger = logging.getLogger(__name__)

Status = WebhookEvent.Status


class DeferEventError(Exception):
    """Raised by a handler when an event cannot be applied yet (it will be replayed)."""


@dataclass(frozen=True)
class Outcome:
    status: str = Status.PROCESSED
    detail: str = ""
    #: Set when the event linked a Stripe customer to a user: deferred events are replayed.
    linked_customer_id: str = ""


Handler = Callable[[dict[str, Any]], Outcome]


def to_datetime(timestamp: Any) -> datetime | None:
    if timestamp in (None, ""):
        return None
    return datetime.fromtimestamp(int(timestamp), tz=UTC)


#: Events whose handler a concurrent delivery of the same event may run again harmlessly: what
#: they write is a function of the event, guarded by the ordering check, and they send nothing.
#: These are applied first and stored after (one round trip fewer each; see webhooks). Types
#: without a handler are stored as ignored the same way. Anything that emails, or otherwise
#: acts outside the database, must stay out of this set.
REPEATABLE_TYPES = frozenset(
    {
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.payment_succeeded",
    }
)


def is_repeatable(event_type: str) -> bool:
    return event_type in REPEATABLE_TYPES or event_type not in HANDLERS


def apply_event(event: dict[str, Any]) -> Outcome:
    handler = HANDLERS.get(event["type"])
    if handler is None:
        return Outcome(Status.IGNORED, f"No handler for {event['type']}.")
    return handler(event)


# --- customers --------------------------------------------------------------------------------


def _user_from_reference(reference: Any) -> Any:
    if reference in (None, ""):
        return None
    try:
        return get_user_model().objects.filter(pk=int(reference)).first()
    except (TypeError, ValueError):
        return None


def _resolve_customer(obj: dict[str, Any]) -> tuple[StripeCustomer, bool]:
    """The StripeCustomer of an object and whether this call linked it (metadata), or defer."""
    customer_id = object_id(obj.get("customer"))
    customer = StripeCustomer.objects.filter(stripe_customer_id=customer_id).first()
    if customer is not None:
        return customer, False
    user = _user_from_reference((obj.get("metadata") or {}).get("user_id"))
    if user is not None and customer_id:
        return link_customer(user=user, stripe_customer_id=customer_id), True
    raise DeferEventError(f"Stripe customer {customer_id or '?'} is not linked to a user yet.")


def handle_checkout_completed(event: dict[str, Any]) -> Outcome:
    session = event["data"]["object"]
    if session.get("mode") != "subscription":
        return Outcome(Status.IGNORED, "Not a subscription checkout.")
    customer_id = object_id(session.get("customer"))
    reference = session.get("client_reference_id") or (session.get("metadata") or {}).get("user_id")
    user = _user_from_reference(reference)
    if user is None or not customer_id:
        logger.warning("Checkout session %s has no known user", session.get("id"))
        return Outcome(Status.IGNORED, "No user or customer on the session.")
    link_customer(user=user, stripe_customer_id=customer_id)
    return Outcome(
        detail=f"Linked {customer_id} to user {user.pk}.", linked_customer_id=customer_id
    )


# --- subscriptions ----------------------------------------------------------------------------


def subscription_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """Model fields from a Stripe subscription, periods read from its items (API ≥ 2025-03-31)."""
    items = ((obj.get("items") or {}).get("data")) or []
    item = items[0] if items else {}
    price = item.get("price") or {}
    price_id = object_id(price)
    plan = get_plan_by_price_id(price_id)
    if plan is not None:
        plan_name = plan.name
    elif isinstance(price, dict):
        plan_name = price.get("nickname") or price_id
    else:
        plan_name = price_id

    def period(key: str) -> datetime | None:
        # Current API: on the item. Older API versions: on the subscription.
        return to_datetime(item.get(key) if item.get(key) is not None else obj.get(key))

    return {
        "status": str(obj.get("status") or ""),
        "price_id": price_id,
        "plan_name": plan_name[:100],
        "quantity": int(item.get("quantity") or 1),
        "current_period_start": period("current_period_start"),
        "current_period_end": period("current_period_end"),
        "cancel_at_period_end": bool(obj.get("cancel_at_period_end")),
        "cancel_at": to_datetime(obj.get("cancel_at")),
        "canceled_at": to_datetime(obj.get("canceled_at")),
        "ended_at": to_datetime(obj.get("ended_at")),
        "trial_end": to_datetime(obj.get("trial_end")),
    }


def _is_stale(row: Subscription, event: dict[str, Any], new_status: str) -> str:
    """Why this event must not overwrite the row ('' if it may). `fast_sql
    .update_subscription_if_newer` is the same rule as a WHERE clause; a test holds the two to
    each other."""
    if row.status in TERMINAL_STATUSES and new_status not in TERMINAL_STATUSES:
        return f"subscription is already {row.status}"
    if row.last_event_at is None:
        return ""
    event_at = to_datetime(event["created"])
    assert event_at is not None
    if event_at < row.last_event_at:
        return "a newer event was already applied"
    if event_at == row.last_event_at and EVENT_RANK.get(event["type"], 1) < EVENT_RANK.get(
        row.last_event_type, 1
    ):
        return "a later lifecycle event of the same second was already applied"
    return ""


def handle_subscription_event(event: dict[str, Any]) -> Outcome:
    obj = event["data"]["object"]
    subscription_id = object_id(obj.get("id"))
    if not subscription_id.startswith("sub_"):
        raise ValueError(f"Event {event['id']} carries no subscription id.")
    fields = subscription_fields(obj)
    fields.update(last_event_at=to_datetime(event["created"]), last_event_type=event["type"])
    customer_id = object_id(obj.get("customer"))
    if customer_id and update_subscription_if_newer(subscription_id, customer_id, event, fields):
        return Outcome(detail=f"Updated {subscription_id} ({fields['status']}).")

    # A new subscription, a stale event, or a customer not linked (to this row) yet.
    row = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(stripe_subscription_id=subscription_id)
        .first()
    )
    linked = False
    if row is not None and row.customer.stripe_customer_id == customer_id:
        customer = row.customer
    else:
        customer, linked = _resolve_customer(obj)
    linked_customer_id = customer.stripe_customer_id if linked else ""
    if row is None:
        try:
            with transaction.atomic():
                Subscription.objects.create(
                    customer=customer, stripe_subscription_id=subscription_id, **fields
                )
            return Outcome(
                detail=f"Created {subscription_id} ({fields['status']}).",
                linked_customer_id=linked_customer_id,
            )
        except IntegrityError:
            # Created concurrently by another delivery: fall through to the ordered update.
            row = (
                Subscription.objects.select_for_update()
                .filter(stripe_subscription_id=subscription_id)
                .first()
            )
            if row is None:
                raise
    stale = _is_stale(row, event, fields["status"])
    if stale:
        return Outcome(detail=f"Skipped: {stale}.", linked_customer_id=linked_customer_id)
    for name, value in fields.items():
        setattr(row, name, value)
    row.customer = customer
    row.save()
    return Outcome(
        detail=f"Updated {subscription_id} ({row.status}).", linked_customer_id=linked_customer_id
    )


# --- invoices ---------------------------------------------------------------------------------


def handle_payment_succeeded(event: dict[str, Any]) -> Outcome:
    invoice = event["data"]["object"]
    subscription_id = invoice_subscription_id(invoice)
    logger.info("Invoice %s paid (subscription %s)", invoice.get("id"), subscription_id or "-")
    return Outcome(detail=f"Invoice paid for {subscription_id or 'no subscription'}.")


def handle_payment_failed(event: dict[str, Any]) -> Outcome:
    invoice = event["data"]["object"]
    email = invoice.get("customer_email") or ""
    if not email:
        customer = (
            StripeCustomer.objects.select_related("user")
            .filter(stripe_customer_id=object_id(invoice.get("customer")))
            .first()
        )
        if customer is None:
            raise DeferEventError("No email on the invoice and its customer is not linked yet.")
        email = customer.user.email
    fix_url = invoice.get("hosted_invoice_url") or (
        settings.SITE_URL.rstrip("/") + reverse("billing:customer_portal")
    )
    context = {
        "project_name": settings.PROJECT_NAME,
        "amount_due": (invoice.get("amount_due") or 0) / 100,
        "currency": str(invoice.get("currency") or settings.BILLING_CURRENCY).upper(),
        "fix_url": fix_url,
        "invoice_id": invoice.get("id", ""),
    }
    send_mail(
        subject=f"Payment failed for your {settings.PROJECT_NAME} subscription",
        message=render_to_string("emails/payment_failed.txt", context),
        from_email=settings.BILLING_FROM_EMAIL,
        recipient_list=[email],
    )
    return Outcome(detail=f"Payment-failed email sent to {email}.")


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": handle_checkout_completed,
    "customer.subscription.created": handle_subscription_event,
    "customer.subscription.updated": handle_subscription_event,
    "customer.subscription.deleted": handle_subscription_event,
    "invoice.payment_succeeded": handle_payment_succeeded,
    "invoice.payment_failed": handle_payment_failed,
}
