"""Checkout, the success page and the portal as a customer meets them, in both billing modes,
against the offline Stripe over HTTP with webhooks signed by a real HMAC.

`billing_stripe` (each mode's conftest) is the offline Stripe of one test, with a purchasable
plan (`price_id`) and `deliver()`, which posts the queued events to the mode's endpoint.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe
from django.test import Client
from django.urls import reverse

from apps.billing.selectors import get_active_subscription, stripe_customer_id_of
from apps.billing.views import SUCCESS_MAX_CHECKS

pytestmark = pytest.mark.django_db
CARD_OK = "4242 4242 4242 4242"
DAY = 86_400


def start_checkout(client: Client, price_id: str) -> str:
    """POST the pricing form; the URL of the offline Stripe's hosted Checkout page."""
    response = client.post(reverse("billing:checkout"), {"price_id": price_id})
    assert response.status_code == 302, response.content[:300]
    assert "/c/pay/cs_" in response["Location"]
    return str(response["Location"])


def session_id_of(checkout_url: str) -> str:
    return urlsplit(checkout_url).path.rsplit("/", 1)[-1]


def pay(billing_stripe: Any, client: Client, card: str = CARD_OK) -> str:
    """Checkout and pay; the success URL Stripe sends the customer back to."""
    result = billing_stripe.fake.submit_checkout(
        start_checkout(client, billing_stripe.price_id), card
    )
    assert result.status == 303, result
    return str(result.location)


def fail_renewals(billing_stripe: Any, user: Any) -> None:
    """The customer's card now declines every charge (Stripe's 4000 0000 0000 0341)."""
    created = billing_stripe.fake.events("customer.subscription.created")[-1]["data"]["object"]
    card = stripe.PaymentMethod.attach("pm_card_chargeCustomerFail", customer=created["customer"])
    stripe.Subscription.modify(created["id"], default_payment_method=card.id)


@pytest.fixture
def signed_in(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def test_success_page_grants_access_before_the_webhook(billing_stripe, signed_in, user):
    success_url = pay(billing_stripe, signed_in)
    assert get_active_subscription(user) is None  # no webhook delivered yet

    page = signed_in.get(success_url)
    assert page.status_code == 200
    assert "Thank you" in page.content.decode()
    subscription = get_active_subscription(user)
    assert subscription is not None and subscription.status == "active"

    # The webhooks that follow apply the same state: still one subscription, still active.
    billing_stripe.deliver()
    assert get_active_subscription(user).pk == subscription.pk
    assert page["Cache-Control"] and "no-store" in page["Cache-Control"]


def test_success_page_of_another_users_session_is_not_found(billing_stripe, signed_in, other_user):
    success_url = pay(billing_stripe, signed_in)
    intruder = Client()
    intruder.force_login(other_user)
    page = intruder.get(success_url)
    assert page.status_code == 404
    assert get_active_subscription(other_user) is None


def test_unfinished_checkout_says_so_and_stops(billing_stripe, signed_in, user):
    checkout_url = start_checkout(signed_in, billing_stripe.price_id)
    page = signed_in.get(reverse("billing:success"), {"session_id": session_id_of(checkout_url)})
    html = page.content.decode()
    assert "Checkout not finished" in html
    assert 'http-equiv="refresh"' not in html
    assert get_active_subscription(user) is None


def test_success_page_checks_again_a_bounded_number_of_times(signed_in, settings, monkeypatch):
    # Stripe cannot be reached: the page says so, checks again, then stops with a next step.
    monkeypatch.setattr(stripe, "api_base", "http://127.0.0.1:9")
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    url = reverse("billing:success")
    first = signed_in.get(url, {"session_id": "cs_test_unreachable", "check": 1}).content.decode()
    assert "cannot reach Stripe" in first
    refresh = first.split('http-equiv="refresh" content="', 1)[1].split('"', 1)[0]
    seconds, target = refresh.split(";url=")
    assert int(seconds) > 0
    assert parse_qs(urlsplit(target.replace("&amp;", "&")).query)["check"] == ["2"]

    last = signed_in.get(
        url, {"session_id": "cs_test_unreachable", "check": SUCCESS_MAX_CHECKS}
    ).content.decode()
    assert 'http-equiv="refresh"' not in last
    assert "Still confirming your payment" in last
    assert reverse("billing:subscription") in last


def test_a_new_checkout_expires_the_open_one(billing_stripe, signed_in, user):
    first = session_id_of(start_checkout(signed_in, billing_stripe.price_id))
    second = session_id_of(start_checkout(signed_in, billing_stripe.price_id))
    assert billing_stripe.fake.get(first)["status"] == "expired"
    assert billing_stripe.fake.get(second)["status"] == "open"
    # Both sessions pay as the same Stripe customer, created before the first checkout.
    customer = stripe_customer_id_of(user)
    assert customer and customer.startswith("cus_")
    assert billing_stripe.fake.get(first)["customer"] == customer
    assert billing_stripe.fake.get(second)["customer"] == customer


def test_checkout_is_refused_while_a_subscription_is_past_due(billing_stripe, signed_in, user):
    signed_in.get(pay(billing_stripe, signed_in))
    fail_renewals(billing_stripe, user)
    billing_stripe.deliver()
    billing_stripe.fake.advance(days=32)  # the renewal is declined: past_due while Stripe retries
    billing_stripe.deliver()
    customer = stripe_customer_id_of(user)
    sessions_before = len(stripe.checkout.Session.list(customer=customer, limit=100).data)

    response = signed_in.post(reverse("billing:checkout"), {"price_id": billing_stripe.price_id})
    assert response.status_code == 302
    assert response["Location"] == reverse("billing:subscription")
    sessions_after = len(stripe.checkout.Session.list(customer=customer, limit=100).data)
    assert sessions_after == sessions_before  # no second subscription can start

    page = signed_in.get(reverse("billing:subscription")).content.decode()
    assert "Update payment method" in page
    assert "Past due" in page
    # Stripe is retrying: access continues by default, and ends when the setting says so.
    assert get_active_subscription(user) is not None


def test_past_due_access_is_a_setting(billing_stripe, signed_in, user, settings):
    signed_in.get(pay(billing_stripe, signed_in))
    fail_renewals(billing_stripe, user)
    billing_stripe.fake.advance(days=32)
    billing_stripe.deliver()
    assert get_active_subscription(user).status == "past_due"
    settings.BILLING_PAST_DUE_ACCESS = False
    assert get_active_subscription(user) is None
    assert not user.has_active_subscription


def test_one_free_trial_per_customer(billing_stripe, signed_in, user, settings):
    settings.BILLING_TRIAL_PERIOD_DAYS = 14
    signed_in.get(pay(billing_stripe, signed_in))
    first = get_active_subscription(user)
    assert first.status == "trialing"
    created = billing_stripe.fake.events("customer.subscription.created")
    first_id = created[0]["data"]["object"]["id"]
    stripe.Subscription.cancel(first_id)
    billing_stripe.deliver()
    assert get_active_subscription(user) is None

    signed_in.get(pay(billing_stripe, signed_in))
    second = get_active_subscription(user)
    assert second is not None and second.status == "active"  # no second trial
    assert billing_stripe.fake.get(first_id)["status"] == "canceled"


def test_portal_opens_from_a_post_only(billing_stripe, signed_in):
    signed_in.get(pay(billing_stripe, signed_in))
    page = signed_in.get(reverse("billing:customer_portal"))
    assert page.status_code == 200
    assert 'method="post"' in page.content.decode()  # a button, not a redirect to Stripe
    response = signed_in.post(reverse("billing:customer_portal"))
    assert response.status_code == 302
    assert "/p/session/" in response["Location"]


def test_a_customer_deleted_at_stripe_is_forgotten(billing_stripe, signed_in, user):
    signed_in.get(pay(billing_stripe, signed_in))
    old_customer = stripe_customer_id_of(user)
    stripe.Customer.delete(old_customer)  # in the Dashboard; its webhook has not arrived

    response = signed_in.post(reverse("billing:customer_portal"))
    assert response.status_code == 302
    assert response["Location"] == reverse("billing:pricing")
    user.refresh_from_db()  # drop the customer this instance has cached
    assert stripe_customer_id_of(user) != old_customer

    # The user can subscribe again, as a new customer.
    signed_in.get(pay(billing_stripe, signed_in))
    user.refresh_from_db()
    assert stripe_customer_id_of(user) not in (None, old_customer)
    assert get_active_subscription(user) is not None


def test_billing_pages_are_never_cached(signed_in):
    for name in ("billing:subscription", "billing:pricing", "billing:customer_portal"):
        header = signed_in.get(reverse(name))["Cache-Control"]
        assert "private" in header and "no-store" in header, (name, header)
