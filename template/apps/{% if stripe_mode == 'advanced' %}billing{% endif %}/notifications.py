"""Billing emails of advanced mode: what each email says and to whom, built from a Stripe event.

Storing and sending is shared (`apps.billing.emails.queue_email`): the email is stored once per
Stripe event inside the webhook's transaction and sent after it commits, never before, so a
rolled-back webhook sends nothing and a redelivered event sends nothing more. An email that
could not be sent stays pending and is sent by `manage.py billing_send_emails` (or
`billing_flush_outbox`).

- invoice.payment_failed                     PAYMENT_FAILED, with a link to fix the payment
- invoice.payment_action_required            PAYMENT_ACTION_REQUIRED, with the hosted invoice
                                              link where the customer authenticates (3D Secure)
- customer.subscription.trial_will_end       TRIAL_WILL_END (unless
                                              BILLING_TRIAL_REMINDER_EMAILS is off)
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from djstripe.models import Customer

from .emails import BillingEmail, billing_page_url, invoice_context, queue_email
from .stripe_objects import object_id

logger = logging.getLogger(__name__)


def _customer(customer_id: str) -> Customer | None:
    if not customer_id:
        return None
    return Customer.objects.select_related("subscriber").filter(id=customer_id).first()


def recipient(*, customer_id: str, email: str = "") -> str:
    """Where a customer's billing email goes: the address Stripe gave, else the linked user's,
    else the customer's own."""
    if email:
        return str(email)
    customer = _customer(customer_id)
    if customer is None:
        return ""
    if customer.subscriber is not None and customer.subscriber.email:
        return str(customer.subscriber.email)
    return str(customer.email or "")


def _invoice_recipient(invoice: dict[str, Any]) -> str:
    return recipient(
        customer_id=object_id(invoice.get("customer")),
        email=str(invoice.get("customer_email") or ""),
    )


def queue_payment_failed_email(*, event_id: str, invoice: dict[str, Any]) -> BillingEmail | None:
    """The payment-failed email of this event: the amount and a link to fix the payment."""
    return queue_email(
        event_id=event_id,
        kind=BillingEmail.Kind.PAYMENT_FAILED,
        to=_invoice_recipient(invoice),
        subject=f"Payment failed for your {settings.PROJECT_NAME} subscription",
        template="emails/payment_failed.txt",
        context=invoice_context(invoice, link_name="fix_url"),
    )


def queue_payment_action_required_email(
    *, event_id: str, invoice: dict[str, Any]
) -> BillingEmail | None:
    """The bank wants the customer to authenticate a payment (3D Secure): Stripe's hosted
    invoice page is where they do it."""
    return queue_email(
        event_id=event_id,
        kind=BillingEmail.Kind.PAYMENT_ACTION_REQUIRED,
        to=_invoice_recipient(invoice),
        subject=f"Confirm your {settings.PROJECT_NAME} payment",
        template="emails/payment_action_required.txt",
        context=invoice_context(invoice, link_name="confirm_url"),
    )


def _has_payment_method(subscription: dict[str, Any], customer: Customer | None) -> bool:
    if subscription.get("default_payment_method") or subscription.get("default_source"):
        return True
    if customer is None:
        return False
    invoice_settings = (customer.stripe_data or {}).get("invoice_settings") or {}
    return bool(invoice_settings.get("default_payment_method"))


def queue_trial_will_end_email(
    *, event_id: str, subscription: dict[str, Any], plan_name: str = ""
) -> BillingEmail | None:
    """The reminder Stripe asks for three days before a trial ends (none if the setting
    BILLING_TRIAL_REMINDER_EMAILS is off)."""
    if not settings.BILLING_TRIAL_REMINDER_EMAILS:
        return None
    trial_end = subscription.get("trial_end")
    if not isinstance(trial_end, int) or isinstance(trial_end, bool):
        logger.warning("Trial-end event %s has no trial_end; no reminder sent", event_id)
        return None
    customer_id = object_id(subscription.get("customer"))
    return queue_email(
        event_id=event_id,
        kind=BillingEmail.Kind.TRIAL_WILL_END,
        to=recipient(customer_id=customer_id),
        subject=f"Your {settings.PROJECT_NAME} trial ends soon",
        template="emails/trial_will_end.txt",
        context={
            "plan_name": plan_name,
            "trial_end": datetime.fromtimestamp(trial_end, tz=UTC),
            "has_payment_method": _has_payment_method(subscription, _customer(customer_id)),
            "manage_url": billing_page_url(),
        },
    )
