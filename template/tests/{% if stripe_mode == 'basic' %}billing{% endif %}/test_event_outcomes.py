"""What staff read on a processed event (basic mode): its status and the outcome recorded with
it (the admin's "last error" column), for the events a handler applies and those it ignores on
purpose, and who is emailed when Stripe names an address."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.core import mail

from apps.billing.customers import link_customer, unlink_customer
from apps.billing.models import WebhookEvent
from tests.stripe_events import make_event

from .harness import deliver

pytestmark = pytest.mark.django_db
Status = WebhookEvent.Status
TRIAL_END = 1_893_456_000


def outcome(client: Any, event: dict[str, Any]) -> tuple[str, str]:
    response = deliver(client, event)
    assert response.status_code == 200, response.content
    row = WebhookEvent.objects.get(stripe_event_id=event["id"])
    return row.status, row.last_error


def trial_ending(customer: str, **fields: Any) -> dict[str, Any]:
    obj = {"id": "sub_T", "object": "subscription", "customer": customer, "status": "trialing"}
    return make_event("customer.subscription.trial_will_end", {**obj, **fields})


def test_a_deleted_customer_is_recorded_as_unlinked(client: Any, user: Any) -> None:
    link_customer(user=user, stripe_customer_id="cus_Del")
    event = make_event("customer.deleted", {"id": "cus_Del", "object": "customer"})
    assert outcome(client, event) == (Status.PROCESSED, "Unlinked deleted customer cus_Del.")


def test_trial_reminders_switched_off_are_recorded_as_such(
    client: Any, user: Any, settings: Any
) -> None:
    settings.BILLING_TRIAL_REMINDER_EMAILS = False
    link_customer(user=user, stripe_customer_id="cus_T")
    assert outcome(client, trial_ending("cus_T", trial_end=TRIAL_END)) == (
        Status.IGNORED,
        "Trial reminders are off (BILLING_TRIAL_REMINDER_EMAILS).",
    )
    assert mail.outbox == []


def test_a_reminder_for_a_subscription_without_a_trial_end_is_ignored(
    client: Any, user: Any
) -> None:
    link_customer(user=user, stripe_customer_id="cus_T")
    assert outcome(client, trial_ending("cus_T")) == (
        Status.IGNORED,
        "The subscription has no trial end.",
    )
    assert mail.outbox == []


def test_nobody_is_reminded_once_stripe_deleted_the_customer(client: Any, user: Any) -> None:
    link_customer(user=user, stripe_customer_id="cus_T")
    unlink_customer("cus_T")
    assert outcome(client, trial_ending("cus_T", trial_end=TRIAL_END)) == (
        Status.IGNORED,
        "Its Stripe customer was deleted: nobody to remind.",
    )
    assert mail.outbox == []


def test_a_trial_reminder_goes_to_the_customers_user(client: Any, user: Any) -> None:
    link_customer(user=user, stripe_customer_id="cus_T")
    status, _ = outcome(client, trial_ending("cus_T", trial_end=TRIAL_END))
    assert status == Status.PROCESSED
    assert [message.to for message in mail.outbox] == [[user.email]]


def failed_payment(customer: str, **fields: Any) -> dict[str, Any]:
    obj = {"id": "in_F", "object": "invoice", "customer": customer, "amount_due": 1900}
    return make_event("invoice.payment_failed", {**obj, **fields})


def test_a_failed_payment_of_a_deleted_customer_emails_nobody(client: Any, user: Any) -> None:
    link_customer(user=user, stripe_customer_id="cus_F")
    unlink_customer("cus_F")
    assert outcome(client, failed_payment("cus_F", customer_email="billing@acme.test")) == (
        Status.IGNORED,
        "Its Stripe customer was deleted: nobody to email.",
    )
    assert mail.outbox == []


def test_a_failed_payment_email_goes_to_the_invoices_address(client: Any, user: Any) -> None:
    link_customer(user=user, stripe_customer_id="cus_F")
    status, detail = outcome(client, failed_payment("cus_F", customer_email="billing@acme.test"))
    assert (status, detail) == (
        Status.PROCESSED,
        "Payment failed email queued for billing@acme.test.",
    )
    assert [message.to for message in mail.outbox] == [["billing@acme.test"]]


def test_an_invoice_of_an_unknown_subscription_is_recorded_as_such(client: Any) -> None:
    invoice = {
        "id": "in_P",
        "object": "invoice",
        "customer": "cus_P",
        "billing_reason": "subscription_cycle",
        "parent": {"subscription_details": {"subscription": "sub_Unknown"}},
    }
    event = make_event("invoice.paid", invoice)
    assert outcome(client, event) == (
        Status.PROCESSED,
        "Invoice in_P paid for sub_Unknown, not known here.",
    )
    # An invoice that starts no period (a one-off, a proration) says so.
    one_off = make_event("invoice.paid", {**invoice, "id": "in_O", "billing_reason": "manual"})
    assert outcome(client, one_off) == (Status.PROCESSED, "Invoice in_O paid (no period starts).")


def test_a_checkout_without_a_known_user_is_ignored_and_logged(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    session = {
        "id": "cs_Nobody",
        "object": "checkout.session",
        "mode": "subscription",
        "customer": "cus_N",
        "client_reference_id": "999999",
    }
    with caplog.at_level(logging.WARNING):
        result = outcome(client, make_event("checkout.session.completed", session))
    assert result == (Status.IGNORED, "No user or customer on the session.")
    assert "Checkout session cs_Nobody has no known user" in caplog.messages
