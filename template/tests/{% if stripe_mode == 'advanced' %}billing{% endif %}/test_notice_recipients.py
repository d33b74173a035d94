"""Who the billing emails of advanced mode go to and what the trial reminder promises: the
address on the invoice first, else the customer's user, else the customer's own; a reminder
says whether a payment method is on file (on the subscription or the customer)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from djstripe.models import Customer

from apps.billing.emails import BillingEmail
from apps.billing.notifications import (
    queue_payment_action_required_email,
    queue_payment_failed_email,
    queue_trial_will_end_email,
)

from . import factories

pytestmark = pytest.mark.django_db
TRIAL_END = 1_767_225_600  # 2026-01-01


def invoice(customer_id: str, email: str | None = None) -> dict[str, Any]:
    return {
        "id": "in_1",
        "customer": customer_id,
        "customer_email": email,
        "amount_due": 2900,
        "currency": "usd",
        "hosted_invoice_url": "https://invoice.example/in_1",
    }


def lone_customer(email: str = "", **stripe_data: Any) -> Customer:
    """A Stripe customer no user is linked to."""
    return Customer.objects.create(
        id="cus_lone",
        livemode=False,
        email=email,
        stripe_data={"object": "customer", "email": email, **stripe_data},
    )


@pytest.mark.parametrize("queue", [queue_payment_failed_email, queue_payment_action_required_email])
def test_an_invoice_email_goes_to_the_invoices_address(
    user: Any, queue: Any, django_capture_on_commit_callbacks: Any
) -> None:
    customer = factories.customer(user=user)
    with django_capture_on_commit_callbacks(execute=True):
        stored = queue(event_id="evt_1", invoice=invoice(customer.id, "accounts@corp.example"))
    assert stored is not None and stored.email == "accounts@corp.example"
    assert [message.to for message in mail.outbox] == [["accounts@corp.example"]]
    assert "https://invoice.example/in_1" in mail.outbox[0].body


def test_without_one_it_goes_to_the_linked_user(user: Any) -> None:
    customer = factories.customer(user=user)
    Customer.objects.filter(pk=customer.pk).update(email="stripe-side@example.com")
    stored = queue_payment_failed_email(event_id="evt_1", invoice=invoice(customer.id))
    assert stored is not None
    assert (stored.email, stored.kind) == (user.email, BillingEmail.Kind.PAYMENT_FAILED)
    assert stored.subject == f"Payment failed for your {settings.PROJECT_NAME} subscription"


def test_a_customer_without_a_user_is_emailed_at_its_own_address(db: Any) -> None:
    lone_customer("owner@shop.example")
    stored = queue_payment_action_required_email(event_id="evt_1", invoice=invoice("cus_lone"))
    assert stored is not None
    assert (stored.email, stored.kind) == (
        "owner@shop.example",
        BillingEmail.Kind.PAYMENT_ACTION_REQUIRED,
    )
    assert stored.subject == f"Confirm your {settings.PROJECT_NAME} payment"


def test_nobody_to_email_stores_nothing(db: Any) -> None:
    lone_customer("")
    assert queue_payment_failed_email(event_id="evt_1", invoice=invoice("cus_lone")) is None
    assert queue_payment_failed_email(event_id="evt_2", invoice=invoice("")) is None
    assert not BillingEmail.objects.exists()


def trial(customer_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": "sub_1", "customer": customer_id, "trial_end": TRIAL_END, **fields}


def test_a_trial_reminder_names_the_plan_and_the_day(user: Any) -> None:
    customer = factories.customer(user=user)
    stored = queue_trial_will_end_email(
        event_id="evt_1", subscription=trial(customer.id), plan_name="Pro"
    )
    assert stored is not None
    assert (stored.email, stored.kind) == (user.email, BillingEmail.Kind.TRIAL_WILL_END)
    assert stored.subject == f"Your {settings.PROJECT_NAME} trial ends soon"
    assert "trial of Pro ends on" in stored.body
    assert "2026" in stored.body
    assert "Add a payment method" in stored.body
    assert "http://testserver/billing/subscription/" in stored.body


@pytest.mark.parametrize(
    ("fields", "customer_settings"),
    [
        ({"default_payment_method": "pm_1"}, {}),
        ({"default_source": "card_1"}, {}),
        ({}, {"invoice_settings": {"default_payment_method": "pm_2"}}),
    ],
    ids=["subscription-method", "subscription-source", "customer-default"],
)
def test_a_trial_reminder_knows_a_payment_method_is_on_file(
    db: Any, fields: dict[str, Any], customer_settings: dict[str, Any]
) -> None:
    lone_customer("owner@shop.example", **customer_settings)
    stored = queue_trial_will_end_email(event_id="evt_1", subscription=trial("cus_lone", **fields))
    assert stored is not None
    assert "charged automatically" in stored.body
    assert "Add a payment method" not in stored.body


@pytest.mark.parametrize("trial_end", [None, "1767225600", True])
def test_no_reminder_without_a_trial_end(user: Any, trial_end: Any) -> None:
    customer = factories.customer(user=user)
    subscription = trial(customer.id, trial_end=trial_end)
    assert queue_trial_will_end_email(event_id="evt_1", subscription=subscription) is None
    assert not BillingEmail.objects.exists()


def test_no_reminder_when_reminders_are_off(user: Any, settings: Any) -> None:
    settings.BILLING_TRIAL_REMINDER_EMAILS = False
    customer = factories.customer(user=user)
    assert queue_trial_will_end_email(event_id="evt_1", subscription=trial(customer.id)) is None
    assert not BillingEmail.objects.exists()
