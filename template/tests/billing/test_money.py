"""Amounts as people read them: the currency's own minor unit, symbol and interval."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from apps.billing.money import format_money, format_price, to_major_units


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (2900, "usd", "$29.00"),
        (2900, "jpy", "¥2,900"),  # zero-decimal: 2900 is ¥2,900, not ¥29
        (2900, "krw", "₩2,900"),
        (2900, "bhd", "BHD2.900"),  # three decimals
        (99, "eur", "€0.99"),
        ("0.1", "usd", "$0.001"),  # a metered unit price of a tenth of a cent is not rounded away
    ],
)
def test_amounts_use_the_currency_exponent(amount, currency, expected):
    with translation.override("en-us"):
        assert format_money(amount, currency).replace("\xa0", " ") == expected


def test_major_units_are_exact():
    assert to_major_units(1999, "usd") == Decimal("19.99")
    assert to_major_units(1999, "JPY") == Decimal(1999)


def test_prices_carry_their_interval():
    with translation.override("en-us"):
        assert format_price(2900, "usd", "month") == "$29.00/month"
        assert format_price(29000, "jpy", "year") == "¥29,000/year"
        assert format_price(900, "usd", "month", 3) == "$9.00/3 months"
        assert format_price("0.1", "usd", "month", per_unit=True) == "$0.001 per unit/month"
        assert format_price(None, "usd", "month") == ""


def test_template_filters():
    template = Template(
        "{% load billing_tags %}{{ amount|money:'jpy' }}|{{ price|price }}|{{ bad|money:'usd' }}"
    )
    price = {"unit_amount": 1500, "currency": "eur", "recurring": {"interval": "year"}}
    with translation.override("en-us"):
        text = template.render(Context({"amount": 2900, "price": price, "bad": "x"}))
    assert text == "¥2,900|€15.00/year|"
