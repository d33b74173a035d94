"""The success page's confirmation (basic mode), beyond the paid session of its own user: a
session that needs no payment, one whose customer the user has no link to yet, and the events
that waited for that customer, which the confirmation applies."""

from __future__ import annotations

from typing import Any

import pytest

from apps.billing.checkout_state import CheckoutOutcome
from apps.billing.models import StripeCustomer, Subscription, WebhookEvent
from apps.billing.selectors import get_active_subscription
from apps.billing.services import confirm_checkout_session, create_checkout_session
from tests.stripe_events import load_fixture, make_event

from .harness import Offline, deliver

pytestmark = pytest.mark.django_db
URLS = {"success_url": "http://testserver/ok", "cancel_url": "http://testserver/cancel"}


def paid_session(offline: Offline, user: Any) -> Any:
    session = create_checkout_session(user=user, price_id=offline.pro, **URLS)
    assert offline.fake.submit_checkout(session.url).status == 303
    return session


def test_a_session_that_needs_no_payment_is_confirmed(offline: Offline, user: Any) -> None:
    session = paid_session(offline, user)
    with offline.fake.state.lock:
        offline.fake.state.objects[session.id]["payment_status"] = "no_payment_required"
    confirmation = confirm_checkout_session(user=user, session_id=session.id)
    assert confirmation.outcome == CheckoutOutcome.CONFIRMED
    assert confirmation.subscription == get_active_subscription(user)


def test_a_processing_session_still_shows_its_subscription(offline: Offline, user: Any) -> None:
    session = paid_session(offline, user)
    with offline.fake.state.lock:
        offline.fake.state.objects[session.id]["payment_status"] = "unpaid"
    confirmation = confirm_checkout_session(user=user, session_id=session.id)
    assert confirmation.outcome == CheckoutOutcome.PROCESSING
    assert confirmation.subscription == Subscription.objects.get()


def test_the_users_own_session_links_its_customer_and_replays_what_waited(
    offline: Offline, user: Any, client: Any
) -> None:
    session = paid_session(offline, user)
    customer_id = StripeCustomer.objects.get(user=user).stripe_customer_id
    StripeCustomer.objects.all().delete()  # as if Checkout had made the customer itself
    invoice = load_fixture("invoice", customer=customer_id, customer_email=None)
    waiting = make_event("invoice.payment_failed", invoice)
    assert deliver(client, waiting).status_code == 200
    assert WebhookEvent.objects.get(stripe_event_id=waiting["id"]).status == "deferred"

    confirmation = confirm_checkout_session(user=user, session_id=session.id)

    assert confirmation.outcome == CheckoutOutcome.CONFIRMED
    assert StripeCustomer.objects.get(user=user).stripe_customer_id == customer_id
    assert WebhookEvent.objects.get(stripe_event_id=waiting["id"]).status == "processed"


def test_someone_elses_session_links_nothing_to_them(
    offline: Offline, user: Any, other_user: Any
) -> None:
    session = paid_session(offline, user)
    StripeCustomer.objects.all().delete()
    confirmation = confirm_checkout_session(user=other_user, session_id=session.id)
    assert confirmation.outcome == CheckoutOutcome.NOT_FOUND
    assert not StripeCustomer.objects.exists()
    assert not Subscription.objects.exists()
