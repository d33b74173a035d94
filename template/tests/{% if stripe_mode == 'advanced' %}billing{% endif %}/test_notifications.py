"""Payment-failed emails: one per Stripe event, sent after the webhook commits, and kept
until sent when the mail server is down."""

from __future__ import annotations

import smtplib
from io import StringIO
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command

from apps.billing.models import PaymentFailedNotice
from apps.billing.notifications import queue_payment_failed_notice

from . import factories

pytestmark = pytest.mark.django_db


class BrokenBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Any) -> int:
        raise smtplib.SMTPServerDisconnected("mail server down")


def test_an_email_that_could_not_be_sent_is_sent_by_the_flush(settings, user, stripe_fake, catalog):
    subscription = factories.stripe_subscription(user=user, plan=catalog["pro"])
    stripe_fake.deliver()
    factories.fail_next_payments(subscription.customer)
    stripe_fake.advance(days=31)
    settings.EMAIL_BACKEND = "tests.billing.test_notifications.BrokenBackend"
    stripe_fake.deliver()  # the webhook still succeeds: the email is only queued
    notice = PaymentFailedNotice.objects.get()
    assert notice.sent_at is None and "mail server down" in notice.last_error

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    out = StringIO()
    call_command("billing_flush_outbox", stdout=out)
    assert "Emails: 1 sent, 0 failed." in out.getvalue()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    call_command("billing_flush_outbox", stdout=StringIO())
    assert len(mail.outbox) == 1


def test_the_email_falls_back_to_the_linked_user_and_the_portal(
    user, django_capture_on_commit_callbacks
):
    customer = factories.customer(user=user)
    invoice = {"id": "in_1", "customer": customer.id, "customer_email": None, "amount_due": 2900}
    with django_capture_on_commit_callbacks(execute=True):
        queue_payment_failed_notice(event_id="evt_1", invoice=invoice)
        queue_payment_failed_notice(event_id="evt_1", invoice=invoice)  # a duplicate
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    assert "http://testserver/billing/portal/" in mail.outbox[0].body
    assert "29.00 USD" in mail.outbox[0].body


def test_no_email_without_a_recipient(db):
    invoice = {"id": "in_1", "customer": "cus_unknown", "customer_email": ""}
    assert queue_payment_failed_notice(event_id="evt_1", invoice=invoice) is None
    assert not PaymentFailedNotice.objects.exists()
