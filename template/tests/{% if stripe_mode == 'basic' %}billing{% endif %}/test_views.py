from __future__ import annotations

from unittest.mock import MagicMock, patch

import pytest
import stripe
from django.conf import settings
from django.urls import reverse

from apps.billing.money import format_price

pytestmark = pytest.mark.django_db


def per_month(amount: int) -> str:
    return format_price(amount, settings.BILLING_CURRENCY, "month")


def test_pricing_lists_the_configured_plans(client):
    response = client.get(reverse("billing:pricing"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Pro" in html and "Enterprise" in html
    # In the project's currency (BILLING_CURRENCY): $29.00, €29.00, ...
    assert per_month(2900) in html and per_month(9900) in html
    assert "Get started" in html  # anonymous visitors are sent to sign up


def test_pricing_offers_checkout_to_logged_in_users(client, user):
    client.force_login(user)
    html = client.get(reverse("billing:pricing")).content.decode()
    assert 'name="price_id" value="price_test_123"' in html
    assert "csrfmiddlewaretoken" in html


def test_checkout_requires_login(client):
    response = client.post(reverse("billing:checkout"), {"price_id": "price_test_123"})
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_checkout_only_accepts_post(client, user):
    client.force_login(user)
    assert client.get(reverse("billing:checkout")).status_code == 405


@pytest.mark.parametrize("price_id", ["", "price_unknown", "price_test_123 ", "<script>"])
def test_checkout_refuses_unconfigured_prices_without_calling_stripe(client, user, price_id):
    client.force_login(user)
    with patch("stripe.checkout.Session.create") as create:
        response = client.post(reverse("billing:checkout"), {"price_id": price_id})
    assert response.status_code == 400
    create.assert_not_called()


def test_checkout_redirects_to_stripe(client, user):
    client.force_login(user)
    with patch("stripe.checkout.Session.create") as create:
        create.return_value = MagicMock(url="https://checkout.stripe.com/c/pay/cs_test_1")
        response = client.post(reverse("billing:checkout"), {"price_id": "price_test_123"})
    assert response.status_code == 302
    assert response["Location"] == "https://checkout.stripe.com/c/pay/cs_test_1"
    params = create.call_args.kwargs
    assert (
        params["success_url"]
        == "http://testserver/billing/success/?session_id={CHECKOUT_SESSION_ID}"
    )
    assert params["metadata"]["plan_slug"] == "pro"


def test_checkout_without_stripe_keys_shows_a_clear_message(client, user, settings):
    settings.STRIPE_SECRET_KEY = ""
    client.force_login(user)
    response = client.post(reverse("billing:checkout"), {"price_id": "price_test_123"})
    assert response.status_code == 503
    assert "Stripe is not configured: set STRIPE_SECRET_KEY" in response.content.decode()


def test_pricing_says_when_stripe_is_not_configured(client, settings):
    settings.STRIPE_SECRET_KEY = ""
    response = client.get(reverse("billing:pricing"))
    assert response.status_code == 200
    assert "Stripe is not configured: set STRIPE_SECRET_KEY" in response.content.decode()


def test_stripe_errors_become_a_readable_page(client, user):
    client.force_login(user)
    with patch("stripe.checkout.Session.create", side_effect=stripe.APIConnectionError("down")):
        response = client.post(reverse("billing:checkout"), {"price_id": "price_test_123"})
    assert response.status_code == 502
    assert "Stripe could not start checkout" in response.content.decode()


def test_subscribers_are_not_sent_to_checkout_twice(client, user, make_subscription):
    make_subscription(status="active")
    client.force_login(user)
    with patch("stripe.checkout.Session.create") as create:
        response = client.post(reverse("billing:checkout"), {"price_id": "price_test_123"})
    assert response.status_code == 302
    assert response["Location"] == reverse("billing:subscription")
    create.assert_not_called()


def test_portal_without_a_customer_redirects_to_pricing(client, user):
    client.force_login(user)
    response = client.post(reverse("billing:customer_portal"))
    assert response.status_code == 302
    assert response["Location"] == reverse("billing:pricing")


def test_portal_redirects_to_stripe(client, user, customer):
    client.force_login(user)
    with patch("stripe.billing_portal.Session.create") as create:
        create.return_value = MagicMock(url="https://billing.stripe.com/p/session/test_1")
        response = client.post(reverse("billing:customer_portal"))
    assert response.status_code == 302
    assert response["Location"] == "https://billing.stripe.com/p/session/test_1"
    assert create.call_args.kwargs["customer"] == "cus_Rtestcustomer001"
    assert create.call_args.kwargs["return_url"] == "http://testserver/billing/subscription/"


def test_portal_requires_login(client):
    assert client.post(reverse("billing:customer_portal")).status_code == 302


def test_subscription_page_shows_the_status(client, user, make_subscription):
    make_subscription(status="trialing")
    client.force_login(user)
    html = client.get(reverse("billing:subscription")).content.decode()
    assert "Your plan" in html
    assert ">Trial" in html  # "Trial ends on …" when Stripe set trial_end
    assert "Update payment method" in html


def test_a_forged_session_id_grants_nothing(client, user):
    client.force_login(user)
    response = client.get(reverse("billing:success") + "?session_id=cs_test_forged")
    assert response.status_code == 404
    assert not user.has_active_subscription
    assert "Checkout not found" in response.content.decode()


def test_the_documented_pricing_view_with_plain_dict_plans_renders(rf, user):
    # The documented "Basic Mode Example Flow" pricing view, as written.
    from django.shortcuts import render

    def pricing(request):
        plans = [
            {"name": "Pro", "price": 29, "price_id": "price_test_123"},
            {"name": "Enterprise", "price": 99, "price_id": "price_test_enterprise"},
        ]
        return render(request, "billing/pricing.html", {"plans": plans})

    request = rf.get("/pricing/")
    request.user = user
    html = pricing(request).content.decode()
    assert per_month(2900) in html and per_month(9900) in html
    assert 'value="price_test_123"' in html
