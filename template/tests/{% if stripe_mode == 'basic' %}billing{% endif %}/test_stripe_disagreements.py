"""When Stripe and the project disagree about a customer (basic mode): what the project does,
and what it leaves in the log for whoever investigates later."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import stripe

from apps.billing.checkout_state import CheckoutOutcome
from apps.billing.models import StripeCustomer, Subscription
from apps.billing.services import (
    close_billing_account,
    confirm_checkout_session,
    create_checkout_session,
    get_or_create_customer,
    reconcile_subscriptions,
)

pytestmark = pytest.mark.django_db
URLS = {"success_url": "http://testserver/ok", "cancel_url": "http://testserver/no"}
SERVICES = "apps.billing.services"


def test_a_customer_deleted_at_stripe_is_replaced_and_logged(
    offline: Any, user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    first = get_or_create_customer(user=user)
    stripe.Customer.delete(first.stripe_customer_id, api_key=offline.fake.api_key)

    with caplog.at_level(logging.WARNING, logger=SERVICES):
        second = get_or_create_customer(user=user)

    assert second.stripe_customer_id != first.stripe_customer_id
    assert f"Stripe no longer has customer {first.stripe_customer_id}" in caplog.messages
    old = StripeCustomer.objects.get(stripe_customer_id=first.stripe_customer_id)
    assert (old.user, old.former_user) == (None, user)


def test_closing_an_account_whose_customer_stripe_deleted_is_done_and_logged(
    offline: Any, user: Any, caplog: pytest.LogCaptureFixture
) -> None:
    offline.subscribe()
    offline.deliver()
    customer_id = Subscription.objects.get().customer.stripe_customer_id
    stripe.Customer.delete(customer_id, api_key=offline.fake.api_key)  # its webhook not sent

    with caplog.at_level(logging.INFO, logger=SERVICES):
        close_billing_account(user=user)

    assert f"Stripe customer {customer_id} was already deleted" in caplog.messages
    customer = StripeCustomer.objects.get(stripe_customer_id=customer_id)
    assert (customer.user, customer.former_user) == (None, user)


def test_an_unreadable_checkout_session_is_logged_with_its_id(
    offline: Any, user: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    session = create_checkout_session(user=user, price_id=offline.pro, **URLS)
    monkeypatch.setattr(stripe, "api_base", "http://127.0.0.1:9")  # nothing listens there

    with caplog.at_level(logging.WARNING, logger=SERVICES):
        confirmation = confirm_checkout_session(user=user, session_id=session.id)

    assert confirmation.outcome == CheckoutOutcome.UNAVAILABLE
    assert f"Could not read Checkout session {session.id}: " in caplog.text


def test_a_reconciliation_stripe_cannot_answer_is_logged_per_customer(
    offline: Any, user: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = get_or_create_customer(user=user)
    monkeypatch.setattr(stripe, "api_base", "http://127.0.0.1:9")  # nothing listens there

    with caplog.at_level(logging.WARNING, logger=SERVICES):
        assert reconcile_subscriptions() == []

    assert f"Could not reconcile the subscriptions of {customer.stripe_customer_id}: " in (
        caplog.text
    )
