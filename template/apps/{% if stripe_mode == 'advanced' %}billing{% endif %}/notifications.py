"""Billing emails (advanced mode): one payment-failed email per Stripe event.

The webhook receiver stores a `PaymentFailedNotice` keyed by the event id inside the webhook's
transaction, and the email goes out once that transaction commits. A duplicate delivery finds
the notice and sends nothing; an email that could not be sent stays pending and is sent by
`manage.py billing_flush_outbox`.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from djstripe.models import Customer

from .models import PaymentFailedNotice

logger = logging.getLogger(__name__)


def _recipient(invoice: dict[str, Any]) -> str:
    email = invoice.get("customer_email") or ""
    if email:
        return str(email)
    customer_id = invoice.get("customer")
    if isinstance(customer_id, dict):
        customer_id = customer_id.get("id")
    customer = Customer.objects.select_related("subscriber").filter(id=customer_id).first()
    if customer is None:
        return ""
    if customer.subscriber is not None and customer.subscriber.email:
        return str(customer.subscriber.email)
    return str(customer.email or "")


def queue_payment_failed_notice(
    *, event_id: str, invoice: dict[str, Any]
) -> PaymentFailedNotice | None:
    """Store the notice of this event (once) and send it when the transaction commits."""
    email = _recipient(invoice)
    if not email:
        logger.warning("Invoice %s failed but its customer has no email", invoice.get("id"))
        return None
    fix_url = invoice.get("hosted_invoice_url") or (
        settings.SITE_URL.rstrip("/") + reverse("billing:customer_portal")
    )
    # get_or_create also settles a concurrent delivery of the same event (IntegrityError, then
    # a read); any other database error propagates and the webhook answers 500.
    notice, created = PaymentFailedNotice.objects.get_or_create(
        stripe_event_id=event_id,
        defaults={
            "stripe_invoice_id": str(invoice.get("id") or ""),
            "email": email,
            "fix_url": str(fix_url)[:2000],
            "amount_due": int(invoice.get("amount_due") or 0),
            "currency": str(invoice.get("currency") or settings.BILLING_CURRENCY)[:3],
        },
    )
    if created:
        transaction.on_commit(lambda: send_notice(notice.pk))
    return notice


def send_notice(notice_id: int) -> bool:
    """Send a pending notice (locked: never twice). False if it is not pending or failed."""
    with transaction.atomic():
        notice = (
            PaymentFailedNotice.objects.select_for_update(skip_locked=True)
            .filter(pk=notice_id, sent_at__isnull=True)
            .first()
        )
        if notice is None:
            return False
        notice.attempts += 1
        context = {
            "project_name": settings.PROJECT_NAME,
            "amount_due": notice.amount_due / 100,
            "currency": notice.currency.upper(),
            "fix_url": notice.fix_url,
            "invoice_id": notice.stripe_invoice_id,
        }
        try:
            send_mail(
                subject=f"Payment failed for your {settings.PROJECT_NAME} subscription",
                message=render_to_string("emails/payment_failed.txt", context),
                from_email=settings.BILLING_FROM_EMAIL,
                recipient_list=[notice.email],
            )
        except Exception as exc:  # SMTP errors are many; the notice stays pending
            notice.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            notice.save(update_fields=["attempts", "last_error"])
            logger.exception("Payment-failed email %s not sent", notice.pk)
            return False
        notice.sent_at = timezone.now()
        notice.last_error = ""
        notice.save(update_fields=["attempts", "last_error", "sent_at"])
        return True


def send_pending_notices() -> tuple[int, int]:
    """Send every pending notice; (sent, failed)."""
    sent = failed = 0
    pending = PaymentFailedNotice.objects.filter(sent_at__isnull=True).order_by("created_at")
    for notice_id in list(pending.values_list("pk", flat=True)):
        if send_notice(notice_id):
            sent += 1
        else:
            failed += 1
    return sent, failed
