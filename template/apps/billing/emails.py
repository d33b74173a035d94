"""Billing emails, the same in both modes: stored once per Stripe event, sent after commit.

A webhook handler calls `queue_email()` inside the webhook's transaction. The row is keyed by
the Stripe event id, so a redelivered event finds it and sends nothing more; the email goes
out only once that transaction commits, so a rollback never leaves a sent email behind.

No request waits on SMTP: the send is a Celery task (`send_billing_email`), run by a worker,
retried with exponential backoff while SMTP fails, and bounded by EMAIL_TIMEOUT. An email that
still could not be sent stays pending with its error: the periodic
`send_pending_billing_emails` (and `manage.py billing_send_emails`) sends it later, and staff
can send it from the admin. Never lost. Without a broker (development, tests) the task runs
in-process once the transaction has committed, and is not retried there.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.db import models, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from .money import format_money

logger = logging.getLogger(__name__)


class BillingEmail(models.Model):
    """One email about billing, sent at most once per Stripe event."""

    class Kind(models.TextChoices):
        PAYMENT_FAILED = "payment_failed", "Payment failed"
        PAYMENT_ACTION_REQUIRED = "payment_action_required", "Payment needs authentication"
        TRIAL_WILL_END = "trial_will_end", "Trial ends soon"

    stripe_event_id = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=40, choices=Kind.choices)
    email = models.EmailField(max_length=254)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        app_label = "billing"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        state = "sent" if self.sent_at else "pending"
        return f"{self.get_kind_display()} to {self.email} ({state})"


def billing_page_url() -> str:
    """The absolute URL of the billing page: where billing emails send people to act. Not the
    portal, which opens only from a signed-in POST."""
    return settings.SITE_URL.rstrip("/") + reverse("billing:subscription")


def invoice_context(invoice: dict[str, Any], *, link_name: str) -> dict[str, Any]:
    """What an email about an invoice says: its amount due (in its currency), its number, and
    as `link_name` its hosted page (where the customer pays or confirms), else the billing page."""
    currency = str(invoice.get("currency") or settings.BILLING_CURRENCY)
    return {
        "amount": format_money(int(invoice.get("amount_due") or 0), currency),
        "invoice_number": invoice.get("number") or "",
        link_name: invoice.get("hosted_invoice_url") or billing_page_url(),
    }


def queue_email(
    *,
    event_id: str,
    kind: str,
    to: str,
    subject: str,
    template: str,
    context: dict[str, Any],
) -> BillingEmail | None:
    """Store the email of this event (once) and send it after the current transaction commits.

    Returns None when there is no recipient. A concurrent delivery of the same event settles
    on the unique event id (get_or_create), so the email is stored and sent once.
    """
    if not to:
        logger.warning("No recipient for the %s email of event %s", kind, event_id)
        return None
    body = render_to_string(template, {"project_name": settings.PROJECT_NAME, **context})
    email, created = BillingEmail.objects.get_or_create(
        stripe_event_id=event_id,
        defaults={"kind": kind, "email": to[:254], "subject": subject[:255], "body": body},
    )
    if created:
        transaction.on_commit(lambda: dispatch(email.pk))
    return email


#: Retries of a failed send: 30 s, 1 min, 2 min, ... capped at 30 min; then the periodic sweep.
RETRY_BACKOFF_CAP = 1800
MAX_RETRIES = 8


def dispatch(email_id: int) -> None:
    """Hand the email to a worker (in-process without a broker)."""
    send_billing_email.delay(email_id)


@shared_task(bind=True, max_retries=MAX_RETRIES)
def send_billing_email(self: Task, email_id: int) -> bool:
    """Send one pending email; retried with backoff while sending fails (SMTP down)."""
    if send_email(email_id):
        return True
    pending = BillingEmail.objects.filter(pk=email_id, sent_at__isnull=True).exists()
    # In-process (no broker) a retry would run at once, in the request; after the last retry
    # the email waits, pending, for the periodic sweep.
    if pending and not self.request.is_eager and self.request.retries < MAX_RETRIES:
        raise self.retry(countdown=min(RETRY_BACKOFF_CAP, 30 * 2**self.request.retries))
    return False


@shared_task
def send_pending_billing_emails() -> tuple[int, int]:
    """Periodic: send every email still pending; (sent, failed)."""
    return send_pending_emails()


def send_email(email_id: int) -> bool:
    """Send a pending email (locked: never twice). False if it is not pending or sending failed."""
    with transaction.atomic():
        email = (
            BillingEmail.objects.select_for_update(skip_locked=True)
            .filter(pk=email_id, sent_at__isnull=True)
            .first()
        )
        if email is None:
            return False
        email.attempts += 1
        try:
            send_mail(
                subject=email.subject,
                message=email.body,
                from_email=settings.BILLING_FROM_EMAIL,
                recipient_list=[email.email],
            )
        except Exception as exc:  # SMTP errors are many; the email stays pending
            email.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            email.save(update_fields=["attempts", "last_error"])
            logger.exception("Billing email %s not sent", email.pk)
            return False
        email.sent_at = timezone.now()
        email.last_error = ""
        email.save(update_fields=["attempts", "last_error", "sent_at"])
        return True


def send_pending_emails() -> tuple[int, int]:
    """Send every pending email, oldest first; (sent, failed)."""
    sent = failed = 0
    pending = BillingEmail.objects.filter(sent_at__isnull=True).order_by("created_at", "pk")
    for email_id in list(pending.values_list("pk", flat=True)):
        if send_email(email_id):
            sent += 1
        else:
            failed += 1
    return sent, failed
