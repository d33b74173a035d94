"""Billing emails from Stripe's events: payment failed, payment needs authentication, trial
ending. One per Stripe event, sent after the webhook commits, amounts in the currency's own
format, and kept until sent when the mail server is down."""

from __future__ import annotations

import smtplib
from io import StringIO
from typing import Any

import pytest
import stripe
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command

from apps.billing.emails import BillingEmail
from apps.billing.notifications import queue_payment_failed_email

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
    email = BillingEmail.objects.get()
    assert email.kind == BillingEmail.Kind.PAYMENT_FAILED
    assert email.sent_at is None and "mail server down" in email.last_error

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    out = StringIO()
    call_command("billing_flush_outbox", stdout=out)
    assert "Emails: 1 sent, 0 failed." in out.getvalue()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    call_command("billing_flush_outbox", stdout=StringIO())
    call_command("billing_send_emails", stdout=StringIO())
    assert len(mail.outbox) == 1


def test_the_email_falls_back_to_the_linked_user_and_the_billing_page(
    user, django_capture_on_commit_callbacks
):
    customer = factories.customer(user=user)
    invoice = {
        "id": "in_1",
        "customer": customer.id,
        "customer_email": None,
        "amount_due": 2900,
        "currency": "usd",
    }
    with django_capture_on_commit_callbacks(execute=True):
        queue_payment_failed_email(event_id="evt_1", invoice=invoice)
        queue_payment_failed_email(event_id="evt_1", invoice=invoice)  # a duplicate
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    assert "http://testserver/billing/subscription/" in mail.outbox[0].body
    assert "$29.00" in mail.outbox[0].body


def test_no_email_without_a_recipient(db):
    invoice = {"id": "in_1", "customer": "cus_unknown", "customer_email": ""}
    assert queue_payment_failed_email(event_id="evt_1", invoice=invoice) is None
    assert not BillingEmail.objects.exists()


def test_a_zero_decimal_currency_is_not_divided_by_100(user, stripe_fake):
    """2900 JPY is ¥2,900, not 29.00 JPY: the failed-payment email of a yen subscription."""
    options = {"api_key": stripe_fake.api_key}
    price = stripe.Price.create(
        product_data={"name": "Pro JPY"},
        unit_amount=2900,
        currency="jpy",
        recurring={"interval": "month"},
        **options,
    )
    customer = factories.stripe_customer(user=user)
    stripe.Subscription.create(customer=customer.id, items=[{"price": price.id}], **options)
    stripe_fake.deliver()
    factories.fail_next_payments(customer.id)
    stripe_fake.advance(days=31)
    stripe_fake.deliver()
    assert len(mail.outbox) == 1
    assert "¥2,900" in mail.outbox[0].body
    assert "29.00" not in mail.outbox[0].body


def test_a_renewal_that_needs_authentication_sends_one_email_with_the_invoice_link(
    client, user, stripe_fake, catalog
):
    subscription = factories.stripe_subscription(user=user, plan=catalog["pro"])
    stripe_fake.deliver()
    options = {"api_key": stripe_fake.api_key}
    card = stripe.PaymentMethod.attach(
        "pm_card_authenticationRequired", customer=subscription.customer, **options
    )
    stripe.Customer.modify(
        subscription.customer, invoice_settings={"default_payment_method": card.id}, **options
    )
    stripe_fake.duplicate_next(3)
    stripe_fake.advance(days=31)
    stripe_fake.deliver()

    events = stripe_fake.events("invoice.payment_action_required")
    assert len(events) == 1
    invoice = events[0]["data"]["object"]
    email = BillingEmail.objects.get(kind=BillingEmail.Kind.PAYMENT_ACTION_REQUIRED)
    assert email.stripe_event_id == events[0]["id"] and email.sent_at is not None
    sent = [m for m in mail.outbox if m.subject == email.subject]
    assert len(sent) == 1 and sent[0].to == [user.email]
    assert invoice["hosted_invoice_url"] in sent[0].body
    assert "$29.00" in sent[0].body
    assert not BillingEmail.objects.filter(kind=BillingEmail.Kind.PAYMENT_FAILED).exists()
    # The link works: the customer can authenticate there.
    assert stripe_fake.page(invoice["hosted_invoice_url"]).status == 200


@pytest.mark.parametrize("reminders", [True, False])
def test_a_trial_ending_sends_one_reminder_unless_turned_off(
    client, settings, user, stripe_fake, catalog, reminders
):
    settings.BILLING_TRIAL_PERIOD_DAYS = 14
    settings.BILLING_TRIAL_REMINDER_EMAILS = reminders
    client.force_login(user)
    response = client.post("/billing/checkout/", {"price_id": catalog["pro"].stripe_price_id})
    assert stripe_fake.submit_checkout(response["Location"]).status == 303
    stripe_fake.deliver()
    assert mail.outbox == []

    stripe_fake.duplicate_next(3)
    stripe_fake.advance(days=12)  # Stripe announces the end 3 days before
    stripe_fake.deliver()
    assert len(stripe_fake.events("customer.subscription.trial_will_end")) == 1
    if not reminders:
        assert mail.outbox == [] and not BillingEmail.objects.exists()
        return
    email = BillingEmail.objects.get()
    assert email.kind == BillingEmail.Kind.TRIAL_WILL_END
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    body = mail.outbox[0].body
    assert "trial of Pro ends on" in body
    assert "your payment method is charged automatically" in body  # paid by card at checkout
    assert "http://testserver/billing/subscription/" in body
