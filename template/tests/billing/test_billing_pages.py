"""The billing page and the pricing page as a customer reads them, in both billing modes: every
value is text (formatted money and dates, never None/True/False), the billing page answers
"what am I paying, when, with what", and pricing knows the visitor's plan."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

import pytest
import stripe
from django.test import Client
from django.urls import reverse

from apps.billing.money import format_money
from apps.billing.overview import describe_card, describe_discount, invoice_rows, limit_lines
from apps.billing.plans import ENFORCED_LIMITS

from .test_checkout_lifecycle import pay, session_id_of, start_checkout

pytestmark = pytest.mark.django_db
PYTHON_VALUES = (">None<", ">True<", ">False<", " None ", "None API")


@pytest.fixture
def signed_in(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def no_python_values(html: str) -> bool:
    return not any(value in html for value in PYTHON_VALUES)


def test_the_billing_page_says_what_when_and_with_what(billing_stripe, signed_in):
    signed_in.get(pay(billing_stripe, signed_in))
    billing_stripe.deliver()
    html = signed_in.get(reverse("billing:subscription")).content.decode()
    assert "/month" in html  # the plan's price, formatted
    assert "Next invoice" in html and ">Active<" in html
    price = stripe.Price.retrieve(billing_stripe.price_id)
    assert format_money(price.unit_amount, price.currency) in html  # the preview's amount
    assert "Visa ending in 4242" in html
    assert "Invoices" in html and ">Paid<" in html and ">PDF<" in html
    assert "History" not in html  # the current subscription is not repeated
    assert "could not reach Stripe" not in html
    assert no_python_values(html)


def test_the_billing_page_renders_while_stripe_is_down(subscribe, signed_in):
    subscribe("pro")
    down = stripe.APIConnectionError("Stripe is unreachable")
    with patch("stripe.Subscription.retrieve", side_effect=down):
        response = signed_in.get(reverse("billing:subscription"))
    html = response.content.decode()
    assert response.status_code == 200
    assert "Pro" in html and "could not reach Stripe" in html
    assert no_python_values(html)


def test_the_billing_page_without_a_subscription(signed_in):
    html = signed_in.get(reverse("billing:subscription")).content.decode()
    assert "have a subscription yet" in html and "See the plans" in html


def test_pricing_marks_the_subscribers_plan(subscribe, signed_in):
    subscribe("pro")
    html = signed_in.get(reverse("billing:pricing")).content.decode()
    assert "Your plan" in html and "Your current plan" in html
    assert "Most popular" not in html  # not pushed at someone who already chose
    assert 'name="price_id"' not in html  # subscribers change plan, they do not buy another
    assert no_python_values(html)


def test_pricing_for_visitors_lists_only_enforced_limits(client):
    html = client.get(reverse("billing:pricing")).content.decode()
    assert no_python_values(html)
    if ENFORCED_LIMITS is not None and "api_calls" not in ENFORCED_LIMITS:
        assert "API calls" not in html


def test_limits_read_as_sentences():
    lines = limit_lines({"team_members": 10, "api_calls": None, "storage": True})
    assert "Up to 10 team members" in lines
    if ENFORCED_LIMITS is None:
        assert "Unlimited API calls" in lines
    assert not any("True" in line or "None" in line for line in lines)


def test_promotion_codes_reach_checkout_when_allowed(billing_stripe, signed_in, settings):
    settings.BILLING_ALLOW_PROMOTION_CODES = True
    session = session_id_of(start_checkout(signed_in, billing_stripe.price_id))
    assert stripe.checkout.Session.retrieve(session).allow_promotion_codes is True


def test_promotion_codes_are_off_by_default(billing_stripe, signed_in):
    session = session_id_of(start_checkout(signed_in, billing_stripe.price_id))
    assert not stripe.checkout.Session.retrieve(session).allow_promotion_codes


@pytest.mark.parametrize(
    ("discount", "expected"),
    [
        (
            {"coupon": {"percent_off": 20, "duration": "forever"}, "promotion_code": {"code": "A"}},
            "20% off (A), for as long as you subscribe",
        ),
        (
            {"source": {"coupon": {"amount_off": 500, "currency": "usd", "duration": "once"}}},
            "$5.00 off on your next invoice",
        ),
        ({"coupon": {"percent_off": 12.5, "name": "Launch"}, "end": 1798761600}, None),
        ({}, ""),
    ],
)
def test_discounts_read_as_words(discount, expected):
    text = describe_discount(discount)
    if expected is None:
        assert text.startswith("12.5% off (Launch) until ") and "2027" in text
    else:
        assert text == expected


def test_cards_and_invoices_read_as_words():
    card = {"card": {"brand": "amex", "last4": "0005", "exp_month": 3, "exp_year": 2031}}
    assert describe_card(card) == ("American Express ending in 0005", "03/2031")
    assert describe_card(None) == ("", "")
    rows = invoice_rows(
        [
            {"status": "draft", "amount_due": 100, "currency": "usd"},
            {"number": "A-1", "status": "open", "amount_due": 2900, "currency": "usd"},
            {"number": "A-0", "status": "paid", "amount_paid": 2900, "currency": "usd"},
        ]
    )
    assert [(r.number, r.status, r.amount) for r in rows] == [
        ("A-1", "Due", "$29.00"),
        ("A-0", "Paid", "$29.00"),
    ]


def test_a_per_seat_plan_reads_per_seat():
    from django.contrib.auth.models import AnonymousUser

    from apps.billing.overview import plan_cards

    team = {"name": "Team", "price": 12, "price_id": "price_team", "per_seat": True}
    solo = {"name": "Solo", "price": 9, "price_id": "price_solo"}
    cards = plan_cards(AnonymousUser(), [team, solo])
    assert cards[0].price.endswith("/month per seat") and "per seat" not in cards[1].price
