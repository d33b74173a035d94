"""Billing emails are stored once per event, sent after commit, and never hold a request."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from django.core import mail
from django.db import transaction

from apps.billing.emails import (
    BillingEmail,
    queue_email,
    send_billing_email,
    send_pending_billing_emails,
)
from config.celery import app as celery_app

pytestmark = pytest.mark.django_db(transaction=True)
CONTEXT = {"amount": "$29.00", "invoice_number": "A-0001", "fix_url": "https://pay.example/i"}


def queue(event_id: str = "evt_1") -> BillingEmail | None:
    return queue_email(
        event_id=event_id,
        kind=BillingEmail.Kind.PAYMENT_FAILED,
        to="payer@example.com",
        subject="Payment failed",
        template="emails/payment_failed.txt",
        context=CONTEXT,
    )


def test_sent_once_per_event_after_commit():
    with transaction.atomic():
        queue()
        assert mail.outbox == []  # nothing leaves before the commit
    with transaction.atomic():
        queue()  # a redelivered event
    assert len(mail.outbox) == 1
    assert "$29.00" in mail.outbox[0].body and "A-0001" in mail.outbox[0].body
    assert BillingEmail.objects.get().sent_at is not None


def test_a_rolled_back_transaction_sends_nothing():
    with pytest.raises(RuntimeError), transaction.atomic():
        queue()
        raise RuntimeError("the webhook failed after the email was queued")
    assert mail.outbox == [] and not BillingEmail.objects.exists()


@pytest.fixture
def hanging_smtp() -> Iterator[int]:
    """An SMTP server that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_hanging_smtp_server_holds_no_request(settings, hanging_smtp):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", hanging_smtp
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 1
    # As with a broker: the request only enqueues (here into Celery's in-memory transport).
    celery_app.conf.task_always_eager = False
    try:
        started = time.monotonic()
        with transaction.atomic():
            email = queue()
        assert time.monotonic() - started < 0.5  # the commit does not wait for SMTP
    finally:
        celery_app.conf.task_always_eager = True
    email.refresh_from_db()
    assert email.attempts == 0 and email.sent_at is None

    # The worker's send gives up after EMAIL_TIMEOUT and keeps the email, with the error.
    started = time.monotonic()
    assert send_billing_email.apply(args=[email.pk]).get() is False
    assert time.monotonic() - started < 5
    email.refresh_from_db()
    assert email.attempts == 1 and email.sent_at is None
    assert "timed out" in email.last_error.lower() or "timeout" in email.last_error.lower()

    # Pending, not lost: the periodic sweep sends it once SMTP answers.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert send_pending_billing_emails.apply().get() == (1, 0)
    assert len(mail.outbox) == 1
    assert not BillingEmail.objects.filter(sent_at__isnull=True).exists()
